"""Activity statistics of hidden units."""
from __future__ import annotations

import torch

RECTIFIED = ("relu", "leaky_relu")


def dead_neurons(h: torch.Tensor, activation: str = "leaky_relu", rel_tol: float = 1e-3) -> torch.Tensor:
    """Count units that never respond on a data set; h is (..., samples, units).

    Rectified units are dead when never in their positive (active) regime; other units when
    their activity range is below rel_tol × the layer's largest range (a constant unit).
    """
    if activation in RECTIFIED:
        return (h > 0).sum(-2).eq(0).sum(-1)
    spread = h.amax(-2) - h.amin(-2)
    return (spread <= rel_tol * spread.amax(-1, keepdim=True)).sum(-1)
