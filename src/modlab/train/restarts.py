"""Restarts: independent runs of one configuration that differ only in their seed, of which
the caller keeps the best (local optima are common in the autoencoders of spec 3)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..nn import derive_seed


def restart_seeds(seeds: Sequence[int], restarts: int) -> list[int]:
    """Run seeds, seed-major: entries s·restarts … are the restarts of seeds[s]."""
    if restarts < 1:
        raise ValueError(f"restarts must be ≥ 1, got {restarts}")
    return [derive_seed(int(s), f"restart{r}") for s in seeds for r in range(restarts)]


def best_restarts(loss: np.ndarray, restarts: int) -> np.ndarray:
    """Index of the lowest-loss member within each block of `restarts` (NaN never wins)."""
    blocks = np.where(np.isfinite(loss), loss, np.inf).reshape(-1, restarts)
    return np.arange(len(blocks)) * restarts + blocks.argmin(1)
