"""The biologically constrained autoencoder objective (spec 3) and keep-the-best restarts.

Restarts are ensemble members: member (seed, r) has its own init and batch stream, all train
in one `fit`, and per seed the member with the lowest final objective on the full sample wins.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..nn import derive_seed
from ..regularizers import activity, weight_l2
from .loop import Data, History, fit
from .objective import mse_per_member

TERMS = ("recon", "activity", "nonneg", "weight")


def negativity(z: torch.Tensor) -> torch.Tensor:
    """Nonnegativity penalty ⟨Σ_j relu(−z_j)⟩ over the batch dim (-2), one value per member."""
    return torch.relu(-z).mean(-2).sum(-1)


@dataclass
class AutoencoderObjective:
    """recon·MSE + activity·⟨‖z‖²⟩ + nonneg·⟨Σ relu(−z)⟩ + weight·Σ‖W‖²_F (spec 3, "practical
    training"); biases are not penalised. Defaults: the spec's linear-AE values, nonneg 1."""

    recon: float = 1.0
    activity: float = 0.1
    nonneg: float = 1.0
    weight: float = 0.01

    def terms(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        out = model.forward_latent(x)
        return {"recon": mse_per_member(out.recon, y),
                "activity": activity([out.latent], 2.0),
                "nonneg": negativity(out.latent),
                "weight": weight_l2(model.weights)}

    def total(self, terms: dict[str, torch.Tensor]) -> torch.Tensor:
        return sum(getattr(self, k) * terms[k] for k in TERMS)

    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor):
        """(loss per member, reconstruction MSE per member), as `fit` expects."""
        terms = self.terms(model, x, y)
        return self.total(terms), terms["recon"]


def restart_seeds(seeds: Sequence[int], restarts: int) -> list[int]:
    """Member seeds, seed-major: members seed·restarts … are the restarts of seeds[0], …"""
    if restarts < 1:
        raise ValueError(f"restarts must be ≥ 1, got {restarts}")
    return [derive_seed(int(s), f"restart{r}") for s in seeds for r in range(restarts)]


@torch.no_grad()
def final_terms(model: nn.Module, objective: AutoencoderObjective, x: torch.Tensor) -> dict:
    """Every objective term and the total on the full sample, eval mode, numpy (M,) arrays."""
    was = model.training
    model.eval()
    terms = objective.terms(model, x, x)
    model.train(was)
    out = {k: v.cpu().numpy() for k, v in terms.items()}
    out["loss"] = objective.total(terms).cpu().numpy()
    return out


def best_restarts(loss: np.ndarray, restarts: int) -> np.ndarray:
    """Index of the lowest-loss member within each block of `restarts` (NaN never wins)."""
    blocks = np.where(np.isfinite(loss), loss, np.inf).reshape(-1, restarts)
    return np.arange(len(blocks)) * restarts + blocks.argmin(1)


@dataclass
class AutoencoderRun:
    model: nn.Module
    seeds: list[int]                 # one per independent run
    restarts: int
    final: dict[str, np.ndarray]     # per member, on the full sample
    best: np.ndarray                 # member index of the kept restart, one per seed
    history: History


def fit_autoencoder(model: nn.Module, objective: Callable, x: torch.Tensor, *,
                    seeds: Sequence[int], restarts: int, steps: int, batch_size: int = 0,
                    lr: float = 1e-2, optimizer: str = "adam", weight_decay: float = 0.0,
                    eval_every: int | None = None,
                    on_eval: Callable[[int, History], None] | None = None) -> AutoencoderRun:
    """Train len(seeds)·restarts members (built with `restart_seeds`) through `fit`, y = x.

    batch_size 0 means the full sample every step (then the bias form is exact).
    """
    members = restart_seeds(seeds, restarts)
    n = x.shape[-2]
    history = fit(model, objective, Data(x, x, x, x), seeds=members, steps=steps,
                  batch_size=batch_size or n, lr=lr, optimizer=optimizer,
                  weight_decay=weight_decay, eval_every=eval_every or max(steps, 1),
                  on_eval=on_eval)
    final = final_terms(model, objective, x)
    return AutoencoderRun(model, list(seeds), restarts, final,
                          best_restarts(final["loss"], restarts), history)
