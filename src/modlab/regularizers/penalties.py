"""Regularisers as pure functions (spec 1, "Regularisers").

Weights have shape (..., post, pre) (`nn.Linear` layout, optionally with a leading member
dim); activations (..., batch, units). Every function returns one value per leading index
(a scalar for a single model, shape (M,) for an ensemble). "Hidden layer l" has activation
h^l and outgoing weight W^l (the next layer's weight), whose column j leaves neuron j.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch

Tensors = Sequence[torch.Tensor]


def _sum(values) -> torch.Tensor:
    values = list(values)
    total = values[0]
    for v in values[1:]:
        total = total + v
    return total


def _check_pairs(hidden: Tensors, outgoing: Tensors) -> None:
    if len(hidden) != len(outgoing) or not hidden:
        raise ValueError(f"need one outgoing weight per hidden layer, got "
                         f"{len(hidden)} activations and {len(outgoing)} weights")


def weight_l2(weights: Tensors) -> torch.Tensor:
    """Eq. 20, weight L2: Σ_l ‖W^l‖²_F."""
    return _sum(w.pow(2).sum((-2, -1)) for w in weights)


def weight_l1(weights: Tensors) -> torch.Tensor:
    """Weight L1: Σ_l Σ_ij |W^l_ij|."""
    return _sum(w.abs().sum((-2, -1)) for w in weights)


def batch_moment(h: torch.Tensor, alpha: float) -> torch.Tensor:
    """E_x |h_j|^α over the batch dim (-2), one value per unit.

    α may be a tensor broadcastable against h, e.g. (M, 1, 1) for per-member exponents.
    """
    if isinstance(alpha, torch.Tensor):
        return h.abs().pow(alpha).mean(-2)
    if alpha == 2:
        return h.pow(2).mean(-2)
    if alpha == 1:
        return h.abs().mean(-2)
    return h.abs().pow(alpha).mean(-2)


def activity(hidden: Tensors, alpha: float = 2.0) -> torch.Tensor:
    """Eq. 19, activity regulariser: Σ_l Σ_j E_x |h^l_j|^α (α=2 default, α=1 is L1 activity)."""
    return _sum(batch_moment(h, alpha).sum(-1) for h in hidden)


def weighted_activity(hidden: Tensors, outgoing: Tensors, alpha: float = 2.0) -> torch.Tensor:
    """Eq. 18, WA regulariser: Σ_l Σ_j ‖W^l_{:,j}‖²₂ · E_x |h^l_j|^α.

    `outgoing[l]` is the weight leaving hidden layer l, so column j holds neuron j's outgoing
    weights. The deterministic counterpart of activity-dependent noise (Eqs. 11–14).
    """
    _check_pairs(hidden, outgoing)
    return _sum((w.pow(2).sum(-2) * batch_moment(h, alpha)).sum(-1)
                for h, w in zip(hidden, outgoing))


def l12(weights: Tensors) -> torch.Tensor:
    """Eq. 15, L_{1,2}: Σ_j ‖W_out_{:,j}‖²₂ · ‖W_in_{j,:}‖₁ for every hidden neuron j.

    Layer-wise in deep nets: each consecutive pair (W^l, W^{l+1}) sandwiches hidden layer l+1.
    """
    return _sum((w_out.pow(2).sum(-2) * w_in.abs().sum(-1)).sum(-1)
                for w_in, w_out in zip(weights[:-1], weights[1:]))


def l21(weights: Tensors) -> torch.Tensor:
    """L_{2,1}, the reverse of Eq. 15: Σ_j ‖W_out_{:,j}‖₁ · ‖W_in_{j,:}‖²₂."""
    return _sum((w_out.abs().sum(-2) * w_in.pow(2).sum(-1)).sum(-1)
                for w_in, w_out in zip(weights[:-1], weights[1:]))
