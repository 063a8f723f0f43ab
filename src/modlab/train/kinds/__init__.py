"""Model kinds (`net.kind`): each registers its config, factory, objective and measures."""
from . import autoencoder, mlp, modular, rnn  # noqa: F401  (registration)
from .base import MODEL_KINDS, ModelKind, get_kind, register_model

__all__ = ["MODEL_KINDS", "ModelKind", "get_kind", "register_model"]
