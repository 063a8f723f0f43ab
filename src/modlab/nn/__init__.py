"""Layers, noise and architectures."""
from .activations import ACTIVATIONS, get_activation, leaky_relu
from .autoencoder import LinearAutoencoder, MLPAutoencoder  # noqa: F401  (spec 3)
from .ensemble import EnsembleLinear
from .mlp import MLP, Forward
from .modular import (
    ARCHITECTURES,
    DenseNet,
    EnsemblePReLU,
    ModularNet,
    make_architecture,
    parameter_count,
)
from .noise import ActivityNoise, MemberDropout, activity_noise, noise_amplitude
from .rng import derive_seed, make_generators
from .rnn import LeakyRNN

__all__ = ["LeakyRNN", "LinearAutoencoder", "MLPAutoencoder", "ARCHITECTURES", "DenseNet", "EnsemblePReLU", "ModularNet", "make_architecture",
           "parameter_count", "ACTIVATIONS", "ActivityNoise", "EnsembleLinear", "Forward", "MLP", "MemberDropout",
           "activity_noise", "derive_seed", "get_activation", "leaky_relu", "make_generators",
           "noise_amplitude"]
