"""Model kinds (`net.kind`): each registers one record with everything kind-specific."""
from . import autoencoder, mlp, modular, rnn  # noqa: F401  (registration)
from .base import MODEL_KINDS, ModelKind, Size, get_kind, register_model

__all__ = ["MODEL_KINDS", "ModelKind", "Size", "get_kind", "register_model"]
