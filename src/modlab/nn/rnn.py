"""The leaky ReLU RNN of Yang et al. 2019 (spec 2), as an ensemble of M members.

    h_t = (1 − α)·h_{t−1} + α·φ(W_rec h_{t−1} + W_in (x_t + σ_x ξ'_t) + b + √(2/α)·σ_rec·ξ_t)
    ŷ_t = sigmoid(W_out h_t + b_out)

α = dt/τ = 0.2, φ = ReLU, σ_rec = 0.05, σ_x = 0.01, h_0 = 0, W_rec random orthogonal
(gain 1), W_in ~ N(0, 1/n_in), W_out Glorot-uniform, biases 0 (Yang's defaults). Noise is on
in training mode only. Inputs (M, B, T, n_in) or (B, T, n_in) shared; outputs (M, B, T, n_out).
All noise of a forward pass is drawn before the time loop, member i from generator i, in the
order (input noise, recurrent noise), for max(T, `max_steps`) steps: with `max_steps` set to
the task's longest trial, the numbers a member draws do not depend on how far its batch was
padded to match other members'. The hand-derived engine (train/engine_rnn.py) draws
exactly the same numbers.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn

from .rng import fill_member_randn_, make_generators


class RNNForward(NamedTuple):
    output: torch.Tensor           # (M, B, T, n_out), after the sigmoid
    hidden: list[torch.Tensor]     # [h (M, B, T, N)]


def random_orthogonal(n: int, generator: torch.Generator | None) -> torch.Tensor:
    """A Haar-random orthogonal matrix (QR of a Gaussian, signs fixed by R's diagonal)."""
    a = torch.randn(n, n, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(a)
    return (q * torch.sign(torch.diagonal(r))).float()


class LeakyRNN(nn.Module):
    """M leaky RNNs in one batched computation; weights (M, post, pre) like `nn.Linear`."""

    def __init__(self, n_in: int, hidden: int, n_out: int, *, members: int = 1,
                 alpha: float = 0.2, sigma_rec: float = 0.05, sigma_x: float = 0.01,
                 activation: str = "relu", w_rec_gain: float = 1.0, init: str = "orthogonal",
                 seeds: Sequence[int] | None = None):
        super().__init__()
        if not 0 < alpha <= 1:
            raise ValueError(f"alpha (dt/τ) must be in (0, 1], got {alpha}")
        if activation not in ("relu", "softplus", "tanh"):
            raise ValueError(f"activation must be relu, softplus or tanh, got {activation!r}")
        if seeds is not None and len(seeds) != members:
            raise ValueError(f"need {members} seeds, got {len(seeds)}")
        self.members, self.n_in, self.hidden_size, self.n_out = members, n_in, hidden, n_out
        self.alpha, self.sigma_rec, self.sigma_x = alpha, sigma_rec, sigma_x
        self.activation_name = activation
        self.w_in = nn.Parameter(torch.empty(members, hidden, n_in))
        self.w_rec = nn.Parameter(torch.empty(members, hidden, hidden))
        self.b = nn.Parameter(torch.zeros(members, hidden))
        self.w_out = nn.Parameter(torch.empty(members, n_out, hidden))
        self.b_out = nn.Parameter(torch.zeros(members, n_out))
        self.reset_parameters(make_generators(seeds) if seeds is not None else None, w_rec_gain,
                              init)
        self.generators = make_generators(seeds, "noise") if seeds is not None else None
        self.max_steps = 0      # the task's longest trial (0: the batch's T); see the docstring

    @torch.no_grad()
    def reset_parameters(self, generators, gain: float = 1.0, init: str = "orthogonal") -> None:
        bound = math.sqrt(6.0 / (self.hidden_size + self.n_out))
        for i in range(self.members):
            g = generators[i] if generators is not None else None
            self.w_in[i].normal_(0.0, 1.0 / math.sqrt(self.n_in), generator=g)
            if init == "orthogonal":
                self.w_rec[i].copy_(gain * random_orthogonal(self.hidden_size, g))
            elif init == "diagonal":
                self.w_rec[i].copy_(gain * torch.eye(self.hidden_size))
            else:
                self.w_rec[i].normal_(0.0, gain / math.sqrt(self.hidden_size), generator=g)
            self.w_out[i].uniform_(-bound, bound, generator=g)

    @property
    def weights(self) -> list[torch.Tensor]:
        """[W_in, W_rec, W_out], each (M, post, pre): the weights a wiring cost covers."""
        return [self.w_in, self.w_rec, self.w_out]

    @property
    def noise_std(self) -> float:
        """Standard deviation of the recurrent noise inside φ: √(2/α)·σ_rec."""
        return math.sqrt(2.0 / self.alpha) * self.sigma_rec

    def phi(self, z: torch.Tensor) -> torch.Tensor:
        if self.activation_name == "relu":
            return torch.relu(z)
        if self.activation_name == "softplus":
            return nn.functional.softplus(z)
        return torch.tanh(z)

    def draw_noise(self, x: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """(input noise (M, B, T, n_in), recurrent noise (M, T, B, N)), standard normal,
        or None where off (eval mode or σ = 0)."""
        if not self.training:
            return None, None
        m, b, t = self.members, x.shape[-3], x.shape[-2]
        steps = max(t, self.max_steps)
        opts = {"dtype": x.dtype, "device": x.device}
        ex = fill_member_randn_(torch.empty(m, b, steps, self.n_in, **opts), self.generators)[
            :, :, :t] if self.sigma_x > 0 else None
        er = fill_member_randn_(torch.empty(m, steps, b, self.hidden_size, **opts),
                                self.generators)[:, :t] if self.sigma_rec > 0 else None
        return ex, er

    def forward_hidden(self, x: torch.Tensor) -> RNNForward:
        """The reference (autograd) forward pass."""
        if x.dim() == 3:
            x = x.expand(self.members, *x.shape)
        ex, er = self.draw_noise(x)
        if ex is not None:
            x = x + self.sigma_x * ex
        m, b, t, _ = x.shape
        u = torch.baddbmm(self.b.unsqueeze(1), x.reshape(m, b * t, -1),
                          self.w_in.transpose(1, 2)).view(m, b, t, -1)
        if er is not None:
            u = u + (self.noise_std * er).transpose(1, 2)
        h = x.new_zeros(m, b, self.hidden_size)
        states = []
        w_rec_t = self.w_rec.transpose(1, 2)
        for step in range(t):
            h = (1 - self.alpha) * h + self.alpha * self.phi(torch.baddbmm(u[:, :, step], h, w_rec_t))
            states.append(h)
        hs = torch.stack(states, 2)                                   # (M, B, T, N)
        z = torch.baddbmm(self.b_out.unsqueeze(1), hs.reshape(m, b * t, -1),
                          self.w_out.transpose(1, 2)).view(m, b, t, -1)
        return RNNForward(torch.sigmoid(z), [hs])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_hidden(x).output

    def outgoing_weights(self) -> list[torch.Tensor]:
        """The weight leaving the hidden layer (for activity-weighted terms): W_out."""
        return [self.w_out]

    def wiring_layout(self) -> list[tuple[tuple, tuple]]:
        """Where the neurons each weight of `weights` connects sit (spec 2), as (post, pre)
        placements: the recurrent units on a √N × √N grid in [0, 1]², the inputs on a line
        left of it, the outputs on a line right of it (see `train.terms.wiring_distances`)."""
        grid = ("grid", self.hidden_size)
        return [(grid, ("line", self.n_in, "left")), (grid, grid),
                (("line", self.n_out, "right"), grid)]
