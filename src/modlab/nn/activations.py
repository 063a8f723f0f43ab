"""Named activation functions (Eq. 3 and the controls)."""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


def leaky_relu(z: torch.Tensor) -> torch.Tensor:
    """Eq. 3: φ(z) = z for z > 0, 0.1·z otherwise."""
    return F.leaky_relu(z, 0.1)


def identity(z: torch.Tensor) -> torch.Tensor:
    """The linear control (a named function, not a lambda, so models pickle to worker processes)."""
    return z


ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "leaky_relu": leaky_relu,
    "relu": torch.relu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "identity": identity,
}


def get_activation(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]
