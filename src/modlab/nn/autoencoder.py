"""Autoencoders of spec 3 as ensembles of M members (restarts = members with different seeds)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn

from .ensemble import EnsembleLinear
from .mlp import MLP
from .rng import derive_seed, make_generators

NONNEG_FORMS = ("penalty", "bias")


class AEForward(NamedTuple):
    """Reconstruction (M, B, ds) and latents (M, B, dz); as a model `Forward`, the output is
    the reconstruction and the one hidden layer the latent."""

    recon: torch.Tensor
    latent: torch.Tensor

    @property
    def output(self) -> torch.Tensor:
        return self.recon

    @property
    def hidden(self) -> list[torch.Tensor]:
        return [self.latent]


def _check_form(nonneg: str) -> None:
    if nonneg not in NONNEG_FORMS:
        raise ValueError(f"nonneg must be one of {list(NONNEG_FORMS)}, got {nonneg!r}")


def exact_nonneg_shift(pre: torch.Tensor) -> torch.Tensor:
    """The exact-nonnegativity bias: b_j = −min over the sample of unit j's pre-activation, so
    z = pre + b ≥ 0 on every sample and the smallest such bias (cheapest energy). pre: (M, B, dz)."""
    return pre - pre.amin(-2, keepdim=True)


class _Autoencoder(nn.Module):
    """Shared forward pass: subclasses set `encoder`, `decoder` and `nonneg`."""

    def latent(self, x: torch.Tensor) -> torch.Tensor:
        pre = self.encoder(x)
        return exact_nonneg_shift(pre) if self.nonneg == "bias" else pre

    def forward_latent(self, x: torch.Tensor) -> AEForward:
        z = self.latent(x)
        return AEForward(self.decoder(z), z)

    forward_hidden = forward_latent

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_latent(x).recon


class LinearAutoencoder(_Autoencoder):
    """The biologically constrained linear autoencoder: z = W_in s + b_in, ŝ = W_out z + b_out.

    nonneg="penalty": b_in is a parameter and nonnegativity is encouraged by the objective.
    nonneg="bias": b_in is not a parameter but recomputed in every forward pass as
    −min over the batch of W_in s (exact on the sample when the batch is the full sample).
    """

    def __init__(self, sources: int, latents: int, *, members: int = 1,
                 seeds: Sequence[int] | None = None, nonneg: str = "penalty"):
        super().__init__()
        _check_form(nonneg)
        if seeds is not None and len(seeds) != members:
            raise ValueError(f"need {members} seeds, got {len(seeds)}")
        self.members, self.nonneg = members, nonneg
        gens = make_generators(seeds) if seeds is not None else None
        self.encoder = EnsembleLinear(members, sources, latents, bias=nonneg == "penalty",
                                      generators=gens)
        self.decoder = EnsembleLinear(members, latents, sources, generators=gens)

    @property
    def weights(self) -> list[torch.Tensor]:
        """[W_in (M, dz, ds), W_out (M, ds, dz)]: the weights the energy cost penalises."""
        return [self.encoder.weight, self.decoder.weight]

    @property
    def encoder_weight(self) -> torch.Tensor:
        return self.encoder.weight



class MLPAutoencoder(_Autoencoder):
    """ReLU MLP autoencoder: encoder widths e.g. 3→16→16→6 (linear latent), mirrored decoder.

    The latent is linear (its nonnegativity comes from the objective's penalty, or exactly
    from `exact_nonneg_shift` with nonneg="bias"). Encoder and decoder are `MLP` ensembles;
    the decoder's init is seeded from a stream derived from each member's seed.
    """

    def __init__(self, widths: Sequence[int] = (3, 16, 16, 6), *, members: int = 1,
                 seeds: Sequence[int] | None = None, activation: str = "relu",
                 nonneg: str = "penalty"):
        super().__init__()
        _check_form(nonneg)
        self.members, self.nonneg = members, nonneg
        dec_seeds = [derive_seed(int(s), "decoder") for s in seeds] if seeds is not None else None
        self.encoder = MLP(list(widths), members=members, activation=activation, seeds=seeds)
        self.decoder = MLP(list(widths)[::-1], members=members, activation=activation,
                           seeds=dec_seeds)

    @property
    def weights(self) -> list[torch.Tensor]:
        return self.encoder.weights + self.decoder.weights

