"""Layers holding M independent members, computed in one batched matmul."""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


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
        if self.bias is None:
            return torch.bmm(x, self.weight.transpose(1, 2))
        return torch.baddbmm(self.bias.unsqueeze(1), x, self.weight.transpose(1, 2))

    def extra_repr(self) -> str:
        return (f"members={self.members}, in_features={self.in_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")
