"""Layers holding M independent members, computed in one batched matmul."""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


def member_bmm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """x @ weightᵀ (+ bias) for a 1-member ensemble, as member 0 of a 2-member batch.

    Why: with batch 1, torch sends a matrix-vector shaped product (a dimension of 1) to a
    different BLAS routine (gemv) than the batched one every larger ensemble uses, and the two
    round differently, so a run's bits would depend on whether it trained alone. The second
    member is zeros: it adds nothing to any gradient (x + 0 is exact). Operands keep the
    layout (and so the BLAS transpose flags) that the batched path uses.
    """
    pad = lambda t: torch.cat([t, torch.zeros_like(t)])  # noqa: E731
    w = pad(weight).transpose(1, 2)
    if bias is None:
        return torch.bmm(pad(x), w)[:1]
    return torch.baddbmm(pad(bias.unsqueeze(1)), pad(x), w)[:1]


class EnsembleLinear(nn.Module):
    """M independent `nn.Linear`s: weight (M, out, in), bias (M, out), input (M, B, in).

    Member i is initialised exactly as `torch.manual_seed(seed_i); nn.Linear(in, out)` would be
    when its generator is seeded with seed_i and layers are built in order (weight, then bias).
    """

    def __init__(self, members: int, in_features: int, out_features: int, bias: bool = True,
                 generators: Sequence[torch.Generator] | None = None):
        super().__init__()
        self.members, self.in_features, self.out_features = members, in_features, out_features
        self.weight = nn.Parameter(torch.empty(members, out_features, in_features))
        self.bias = nn.Parameter(torch.empty(members, out_features)) if bias else None
        self.reset_parameters(generators)

    @torch.no_grad()
    def reset_parameters(self, generators: Sequence[torch.Generator] | None = None) -> None:
        # nn.Linear's default: kaiming_uniform(a=√5) = U(±1/√fan_in) for weight and bias.
        bound = 1.0 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
        for i in range(self.members):
            g = generators[i] if generators is not None else None
            self.weight[i].uniform_(-bound, bound, generator=g)
            if self.bias is not None:
                self.bias[i].uniform_(-bound, bound, generator=g)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            x = x.expand(self.members, *x.shape)
        if self.members == 1 and 1 in (x.shape[-2], self.in_features, self.out_features):
            return member_bmm(x, self.weight, self.bias)
        if self.bias is None:
            return torch.bmm(x, self.weight.transpose(1, 2))
        return torch.baddbmm(self.bias.unsqueeze(1), x, self.weight.transpose(1, 2))

    def extra_repr(self) -> str:
        return (f"members={self.members}, in_features={self.in_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")
