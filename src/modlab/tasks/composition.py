"""Compositional tasks z = f₃(f₁(x) + f₂(y)) with in-distribution (train) / OOD (test) splits.

Eq. 23 is the general form; Eq. 24 the 2-D Gaussian; Appendix A (Eq. 26) the fan-shaped split.
Each task returns a `Dataset` whose train set is the ID set and whose test set is the OOD set;
`info["module_targets"]` names what each module should compute up to an affine map.
"""
from __future__ import annotations

import numpy as np

from .base import Dataset, as_tensor, register_task
from .regression import SineFunctions, sine_functions


def gaussian_target(x: np.ndarray, y: np.ndarray, s: float = 0.5) -> np.ndarray:
    """Eq. 24, 2-D Gaussian: z = exp(−(x² + y²) / (2s²)); f₁ = x², f₂ = y², f₃(u) = exp(−u/2s²)."""
    return np.exp(-(x**2 + y**2) / (2 * s**2))


def fan_in_distribution(x: np.ndarray, y: np.ndarray, r: float) -> np.ndarray:
    """Eq. 26 (Appendix A), fan-shaped ID set: |arctan((y − x)/(y + x))| < (π/2)·r.

    arctan2(|y−x|, |y+x|) is the same angle without dividing by zero on the line y = −x.
    r = 0: nothing is ID; r = 0.5: ID = {xy > 0}; r = 1: everything off y = −x is ID.
    """
    return np.arctan2(np.abs(y - x), np.abs(y + x)) < (np.pi / 2) * r


def disc_points(n: int, rng: np.random.Generator) -> np.ndarray:
    """n points uniform in the unit disc, (n, 2)."""
    radius = np.sqrt(rng.uniform(0, 1, n))
    angle = rng.uniform(0, 2 * np.pi, n)
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)


def patch_in_distribution(xy: np.ndarray, grid: int, id_patches: np.ndarray) -> np.ndarray:
    """Whether each point of [−1, 1]² lies in one of the ID patches of a grid × grid tiling."""
    cell = np.clip(((xy + 1) / 2 * grid).astype(int), 0, grid - 1)
    return np.isin(cell[:, 0] * grid + cell[:, 1], id_patches)


def split(xy: np.ndarray, z: np.ndarray, in_dist: np.ndarray, info: dict) -> Dataset:
    if not in_dist.any():
        raise ValueError("the ID (training) set is empty; raise r or id_fraction")
    info = {**info, "n_id": int(in_dist.sum()), "n_ood": int((~in_dist).sum())}
    return Dataset(as_tensor(xy[in_dist]), as_tensor(z[in_dist, None]),
                   as_tensor(xy[~in_dist]), as_tensor(z[~in_dist, None]), n_modules=2, info=info)


@register_task("gaussian")
def gaussian_composition(s: float = 0.5, r: float = 0.5, n_points: int = 5000,
                         data_seed: int = 0) -> Dataset:
    """Eq. 24 on n_points uniform in the unit disc; ID = the fan of Eq. 26 (r = 0.5: xy > 0)."""
    if not 0 <= r <= 1:
        raise ValueError(f"r must lie in [0, 1], got {r}")
    xy = disc_points(n_points, np.random.default_rng(data_seed))
    z = gaussian_target(xy[:, 0], xy[:, 1], s)
    return split(xy, z, fan_in_distribution(xy[:, 0], xy[:, 1], r),
                 {"s": s, "r": r, "module_targets": ["x^2", "y^2"]})


SINE_SCHEMES = ("modlab", "authors")


def authors_sine_draw(task_seed: int, grid: int, id_fraction: float, amp, omega, n_points: int):
    """The authors' sinusoid task (dq219/NoiseMod, modular_generalisation_Random, seed 42): one
    legacy NumPy stream seeded by `task_seed` shuffles the grid² patches (the first
    int(id_fraction·grid²) are ID, numbered column + grid·row with the column from x), then
    draws a, ω, φ for f₁, f₂, f₃, then the points. Returns (functions, ID patches in this
    module's numbering x_cell·grid + y_cell, points)."""
    rs = np.random.RandomState(task_seed)
    order = np.arange(grid * grid)
    rs.shuffle(order)
    theirs = order[:int(grid * grid * id_fraction)]
    f = SineFunctions(rs.uniform(*amp, size=3), rs.uniform(*omega, size=3),
                      rs.uniform(0, 2 * np.pi, size=3))
    xy = rs.uniform(-1, 1, size=(n_points, 2))
    return f, np.sort((theirs % grid) * grid + theirs // grid), xy


@register_task("sine_composition")
def sine_composition(task_seed: int = 0, data_seed: int = 0, n_points: int = 5000, grid: int = 8,
                     id_fraction: float = 0.8, amp=(0.7, 1.0), omega=(0.8, 3.6),
                     scheme: str = "modlab") -> Dataset:
    """Eq. 23 with sinusoids: z = f₃(f₁(x) + f₂(y)), f = a sin(ωx + φ), x, y ~ U[−1, 1].

    The square is tiled grid × grid. scheme "modlab": round(id_fraction · grid²) patches,
    drawn from task_seed, are ID; f₁, f₂, f₃ are `sine_functions(3, task_seed)`; the points
    come from data_seed. scheme "authors": everything from the authors' single stream
    (`authors_sine_draw`; data_seed is unused), their task being task_seed = 42.
    """
    if not 0 < id_fraction <= 1:
        raise ValueError(f"id_fraction must lie in (0, 1], got {id_fraction}")
    if scheme not in SINE_SCHEMES:
        raise ValueError(f"scheme must be one of {list(SINE_SCHEMES)}, got {scheme!r}")
    if scheme == "authors":
        f, id_patches, xy = authors_sine_draw(task_seed, grid, id_fraction, amp, omega, n_points)
    else:
        f = sine_functions(3, task_seed, amp, omega)
        n_id = round(id_fraction * grid * grid)
        id_patches = np.sort(np.random.default_rng(task_seed).permutation(grid * grid)[:n_id])
        xy = np.random.default_rng(data_seed).uniform(-1, 1, size=(n_points, 2))
    z = sine_compose(f, xy)
    return split(xy, z, patch_in_distribution(xy, grid, id_patches),
                 {"functions": f.as_dict(), "id_patches": id_patches.tolist(), "grid": grid,
                  "scheme": scheme, "module_targets": ["f1(x)", "f2(y)"]})


def inner_functions(f: SineFunctions) -> SineFunctions:
    """(f₁, f₂) of a three-component composition: applied to (N, 2) inputs column-wise."""
    return SineFunctions(f.amp[:2], f.omega[:2], f.phase[:2])


def sine_compose(f: SineFunctions, xy: np.ndarray) -> np.ndarray:
    """Eq. 23: z = f₃(f₁(x) + f₂(y)) for three `SineFunctions` components (index 0, 1, 2)."""
    inner = inner_functions(f)(xy).sum(axis=1)
    outer = SineFunctions(f.amp[2:], f.omega[2:], f.phase[2:])
    return outer(inner[:, None])[:, 0]
