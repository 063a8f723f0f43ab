"""The MLP of the noise-modularity paper, as an ensemble of M members."""
from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn

from .activations import get_activation
from .ensemble import EnsembleLinear
from .noise import ActivityNoise, MemberDropout
from .rng import make_generators


class Forward(NamedTuple):
    """Output plus every hidden layer's activation h^l (l = 1..L), each (M, B, units)."""

    output: torch.Tensor
    hidden: list[torch.Tensor]


class MLP(nn.Module):
    """widths[0] → … → widths[-1], activation on hidden layers only, M members batched.

    Inputs are (M, B, in) or (B, in) shared by all members; outputs are (M, B, out).
    `seeds` (one per member) seed each member's init, noise and dropout streams.
    """

    def __init__(self, widths: Sequence[int], *, members: int = 1, activation: str = "leaky_relu",
                 bias: bool = True, noise_sigma=0.0, noise_alpha=2.0, noise_site: str = "pre",
                 noise_eps: float = 1e-3, dropout: float = 0.0, seeds: Sequence[int] | None = None):
        super().__init__()
        if len(widths) < 2:
            raise ValueError("widths needs at least input and output sizes")
        if seeds is not None and len(seeds) != members:
            raise ValueError(f"need {members} seeds, got {len(seeds)}")
        self.widths, self.members = list(widths), members
        self.activation_name = activation
        self.activation = get_activation(activation)
        init_g = make_generators(seeds) if seeds is not None else None
        self.layers = nn.ModuleList(
            EnsembleLinear(members, a, b, bias=bias, generators=init_g)
            for a, b in zip(widths[:-1], widths[1:])
        )
        noise_g = make_generators(seeds, "noise") if seeds is not None else None
        self.noise = ActivityNoise(noise_sigma, noise_alpha, members=members, site=noise_site,
                                   eps=noise_eps, generators=noise_g)
        drop_g = make_generators(seeds, "dropout") if seeds is not None else None
        self.dropout = MemberDropout(dropout, drop_g)

    @property
    def weights(self) -> list[torch.Tensor]:
        """W^0 … W^L, each (M, post, pre); W^0 maps the input to the first hidden layer."""
        return [layer.weight for layer in self.layers]

    def forward_hidden(self, x: torch.Tensor) -> Forward:
        hidden = []
        h = x
        for layer in self.layers[:-1]:
            z = layer(h)
            if self.noise.site == "pre":
                z = self.noise(z)
            h = self.activation(z)
            if self.noise.site == "post":
                h = self.noise(h)
            h = self.dropout(h)
            hidden.append(h)
        return Forward(self.layers[-1](h), hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_hidden(x).output

    def wiring_layout(self) -> list[tuple[tuple, tuple]]:
        """Each layer's neurons on a line (BIMT: x = (i + ½)/N, layers stacked), as (post,
        pre) placements of every weight (see `train.terms.wiring_distances`)."""
        return [(("line", b), ("line", a)) for a, b in zip(self.widths[:-1], self.widths[1:])]

    def member(self, i: int) -> dict[str, torch.Tensor]:
        """Member i's parameters as plain `nn.Linear`-shaped tensors (for export or inspection)."""
        return {k: v[i].detach().clone() for k, v in self.state_dict().items()
                if k.startswith("layers.")}
