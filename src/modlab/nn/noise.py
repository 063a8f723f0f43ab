"""Activity-dependent noise (Eqs. 2 and 4) and dropout as a noise."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .rng import member_rand, member_randn

SITES = ("pre", "post")


def noise_amplitude(z: torch.Tensor, alpha: torch.Tensor | float, eps: float = 1e-3) -> torch.Tensor:
    """|z|^{α/2}, smoothed as (z² + ε²)^{α/4} (Eq. 4).

    For α < 2 the derivative of |z|^{α/2} is unbounded at z = 0 and α = 1 trains into NaN;
    the smoothing keeps the gradient through the amplitude (the regularising part of the
    noise) but bounds it by ~ε^{α/2-1}. α = 0 gives exactly 1.
    """
    return (z * z + eps * eps) ** (torch.as_tensor(alpha, dtype=z.dtype, device=z.device) / 4)


def activity_noise(z: torch.Tensor, sigma, alpha, standard_normal: torch.Tensor,
                   eps: float = 1e-3) -> torch.Tensor:
    """Eq. 2 + 4: ξ = σ·ε·|z|^{α/2}, so Var ξ_j = σ²|z_j|^α (α=0 additive, 1 Poisson, 2 multiplicative)."""
    return sigma * standard_normal * noise_amplitude(z, alpha, eps)


def _per_member(value, members: int) -> torch.Tensor:
    t = torch.as_tensor(value, dtype=torch.float32).reshape(-1)
    if t.numel() == 1:
        t = t.expand(members)
    if t.numel() != members:
        raise ValueError(f"expected 1 or {members} values, got {t.numel()}")
    return t.clone().reshape(members, 1, 1)


class ActivityNoise(nn.Module):
    """Adds ξ = σ·ε·|z|^{α/2} (Eq. 2/4) to ensemble tensors of shape (members, batch, units).

    Active in training mode only; `test_time=True` switches it on in eval mode too (Fig. 7's
    robustness test). σ and α may differ per member. `site` says where the caller applies it:
    "pre" (paper: h = φ(z + ξ)) or "post" (authors' code: h + σ·ε·|h|^{α/2}).
    """

    def __init__(self, sigma=0.1, alpha=2.0, *, members: int = 1, site: str = "pre",
                 eps: float = 1e-3, generators: Sequence[torch.Generator] | None = None):
        super().__init__()
        if site not in SITES:
            raise ValueError(f"site must be one of {SITES}, got {site!r}")
        self.site = site
        self.eps = eps
        self.generators = generators
        self.test_time = False
        self.register_buffer("sigma", _per_member(sigma, members))
        self.register_buffer("alpha", _per_member(alpha, members))

    @property
    def active(self) -> bool:
        return (self.training or self.test_time) and bool((self.sigma != 0).any())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if not self.active:
            return z
        eps = member_randn(z.shape, self.generators, device=z.device, dtype=z.dtype)
        return z + activity_noise(z, self.sigma, self.alpha, eps, self.eps)


class MemberDropout(nn.Module):
    """Inverted dropout with per-member generators: multiplicative noise of variance ∝ h² (Fig. 10)."""

    def __init__(self, p: float, generators: Sequence[torch.Generator] | None = None):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {p}")
        self.p = p
        self.generators = generators

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return h
        keep = member_rand(h.shape, self.generators, device=h.device, dtype=h.dtype) >= self.p
        return h * keep / (1.0 - self.p)
