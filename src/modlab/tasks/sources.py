"""Source data sets of spec 3 (range independence) and the what–where task, all seeded.

Sources are returned as (T, n) float arrays, not demeaned (the condition checker and the
autoencoder task demean them). Grids are built from integer indices and filtered with exact
integer arithmetic, so boundary points such as s1 + s2 = 1.2 are kept on both sides
(filtering floats directly drops some of them at random: see docs/range-independence.md).

Named data sets (`make_sources(spec)`; "name" or "name:value"):
  2 sources: grid, corner_cut:c (s1 + s2 ≥ −c), band:b (|s1 + s2| ≤ b), gaussian:ρ,
             gaussian_clipped:ρ, grid_diagonal:k (diagonal repeated k extra times)
  3 sources: independent, corner:q, diagonal_strengthen:n, diagonal_remove:q
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .base import Dataset, as_tensor, register_task


def _grid_indices(points: int, dims: int) -> np.ndarray:
    axes = np.meshgrid(*[np.arange(points)] * dims, indexing="ij")
    return np.stack(axes, -1).reshape(-1, dims) - (points - 1) // 2


def _check_points(points: int) -> int:
    if points < 3 or points % 2 == 0:
        raise ValueError(f"points must be odd and ≥ 3 (a grid symmetric about 0), got {points}")
    return (points - 1) // 2


def grid_sources(points: int = 11, dims: int = 2) -> np.ndarray:
    """Uniform grid on [−1, 1]^dims with `points` values per source (modular)."""
    half = _check_points(points)
    return _grid_indices(points, dims) / half


def corner_cut_sources(c: float = 0.5, points: int = 11) -> np.ndarray:
    """The 2-D grid with a corner cut: keep s1 + s2 ≥ −c (mixed for a large enough cut)."""
    half = _check_points(points)
    k = _grid_indices(points, 2)
    return k[k.sum(1) >= -round(c * half, 9)] / half


def band_sources(b: float = 1.2, points: int = 11) -> np.ndarray:
    """The 2-D grid restricted to the band |s1 + s2| ≤ b (mixed)."""
    half = _check_points(points)
    k = _grid_indices(points, 2)
    return k[np.abs(k.sum(1)) <= round(b * half, 9)] / half


def gaussian_sources(rho: float = 0.8, samples: int = 400, seed: int = 0) -> np.ndarray:
    """Correlated unit Gaussians, corr ρ (mixed: a Gaussian's corners are never jointly reached)."""
    if not -1 < rho < 1:
        raise ValueError(f"rho must be in (−1, 1), got {rho}")
    rng = np.random.default_rng(seed)
    return rng.multivariate_normal([0.0, 0.0], [[1.0, rho], [rho, 1.0]], samples)


def clipped_gaussian_sources(rho: float = 0.8, samples: int = 400, seed: int = 0,
                             clip: float = 1.5) -> np.ndarray:
    """`gaussian_sources` clipped to [−clip, clip]² plus the box's 4 corners (modular although
    correlated: the corners restore range independence)."""
    s = np.clip(gaussian_sources(rho, samples, seed), -clip, clip)
    corners = clip * np.array([[-1, -1], [-1, 1], [1, -1], [1, 1]], dtype=float)
    return np.concatenate([s, corners])


def diagonal_sources(extra: int = 10, points: int = 11) -> np.ndarray:
    """The 2-D grid plus its diagonal s1 = s2 repeated `extra` more times (ρ = k/(k + 11) for the
    11-point grid: 0.48 at k = 10; modular although correlated)."""
    if extra < 0:
        raise ValueError(f"extra must be ≥ 0, got {extra}")
    g = grid_sources(points, 2)
    diag = g[g[:, 0] == g[:, 1]]
    return np.concatenate([g, *[diag] * int(extra)])


# ---------------------------------------------------------------------------- 3 sources

def three_corner_sources(q: float = 0.5, points: int = 21) -> np.ndarray:
    """3 sources, corner (−1, −1, −1) cut off: drop Σ_i (s_i + 1)/2 < q (q = 0: none; q = 1:
    the simplex reaching the three neighbouring corners; q ≤ 1.5)."""
    if not 0 <= q <= 1.5:
        raise ValueError(f"corner cut q must be in [0, 1.5], got {q}")
    half = _check_points(points)
    k = _grid_indices(points, 3)
    units = (k + half).sum(1)                      # Σ (s_i + 1)/2 in units of 1/(2·half)
    return k[units >= round(q * 2 * half, 9)] / half


def three_diagonal_strengthen_sources(n: int = 10, points: int = 21) -> np.ndarray:
    """3-source grid plus its main diagonal s1 = s2 = s3 repeated n more times."""
    if n < 0:
        raise ValueError(f"diagonal_strengthen n must be ≥ 0, got {n}")
    g = grid_sources(points, 3)
    diag = g[(g[:, 0] == g[:, 1]) & (g[:, 1] == g[:, 2])]
    return np.concatenate([g, *[diag] * int(n)])


def three_diagonal_remove_sources(q: float = 0.5, points: int = 21) -> np.ndarray:
    """3-source grid minus every point within distance q of the main diagonal, except the
    box's corners (dependent sources whose range stays complete)."""
    if not 0 <= q <= 2 * np.sqrt(2 / 3):
        raise ValueError(f"diagonal_remove q must be in [0, 1.63], got {q}")
    g = grid_sources(points, 3)
    along = g.mean(1, keepdims=True)
    dist = np.linalg.norm(g - along, axis=1)
    corner = np.all(np.abs(g) == 1, axis=1)
    return g[(dist >= q - 1e-12) | corner]


@dataclass(frozen=True)
class SourceFamily:
    build: Callable[..., np.ndarray]
    param: str | None          # name of the optional ":value" parameter
    cast: Callable = float
    seeded: bool = False


SOURCES: dict[str, SourceFamily] = {
    "grid": SourceFamily(grid_sources, None),
    "corner_cut": SourceFamily(corner_cut_sources, "c"),
    "band": SourceFamily(band_sources, "b"),
    "gaussian": SourceFamily(gaussian_sources, "rho", seeded=True),
    "gaussian_clipped": SourceFamily(clipped_gaussian_sources, "rho", seeded=True),
    "grid_diagonal": SourceFamily(diagonal_sources, "extra", int),
    "independent": SourceFamily(lambda points=21: grid_sources(points, 3), None),
    "corner": SourceFamily(three_corner_sources, "q"),
    "diagonal_strengthen": SourceFamily(three_diagonal_strengthen_sources, "n", int),
    "diagonal_remove": SourceFamily(three_diagonal_remove_sources, "q"),
}


def make_sources(spec: str, seed: int = 0, points: int | None = None) -> np.ndarray:
    """Build a named source set from "name" or "name:value" (see the module docstring).

    `points` overrides the grid resolution (values per source) of the grid-based sets."""
    name, _, value = spec.partition(":")
    if name not in SOURCES:
        raise ValueError(f"source data set must be one of {sorted(SOURCES)}, got {name!r}")
    fam = SOURCES[name]
    kwargs = {"seed": seed} if fam.seeded else {}
    if points is not None and not fam.seeded:
        kwargs["points"] = points
    if value:
        if fam.param is None:
            raise ValueError(f"source data set {name!r} takes no parameter, got {spec!r}")
        try:
            kwargs[fam.param] = fam.cast(value)
        except ValueError:
            raise ValueError(f"bad {fam.param} in {spec!r}: {value!r}") from None
    return fam.build(**kwargs)


@register_task("sources")
def sources_task(spec: str = "grid", seed: int = 0, points: int | None = None,
                 demean: bool = True) -> Dataset:
    """Autoencoding a source set: x = y = the (demeaned) sample, test set = the same sample."""
    s = make_sources(spec, seed, points)
    if demean:
        s = s - s.mean(0)
    t = as_tensor(s)
    return Dataset(t, t, t, t, n_modules=s.shape[1], info={"spec": spec, "samples": len(s)})


# ---------------------------------------------------------------------------- what–where

DROP_MODES = ("corner", "diagonal")


def dropped_cells(drop: int, mode: str = "corner", shapes: int = 9, positions: int = 9) -> np.ndarray:
    """The (shape, position) combinations removed, (drop, 2).

    corner: in order of shape + position from the (0, 0) corner, so the triangular numbers
    1, 3, 6, … drop whole anti-diagonals. diagonal: cells nearest the main diagonal
    shape = position, from the centre outwards, never one of the grid's 4 corners, so the
    range of (shape, position) stays complete.
    """
    if mode not in DROP_MODES:
        raise ValueError(f"mode must be one of {list(DROP_MODES)}, got {mode!r}")
    cells = np.array([(i, j) for i in range(shapes) for j in range(positions)])
    if mode == "corner":
        order = np.lexsort((cells[:, 0], cells.sum(1)))
    else:
        corner = np.isin(cells[:, 0], [0, shapes - 1]) & np.isin(cells[:, 1], [0, positions - 1])
        cells = cells[~corner]
        centre = np.abs(cells.sum(1) - (shapes - 1 + positions - 1) / 2)
        order = np.lexsort((cells[:, 0], centre, np.abs(cells[:, 0] - cells[:, 1])))
    if not 0 <= drop <= len(order) - 1:
        raise ValueError(f"drop must be in [0, {len(order) - 1}] for mode {mode!r}, got {drop}")
    return cells[order[:drop]]


def support_components(drop: int, mode: str = "corner", shapes: int = 9, positions: int = 9) -> int:
    """Number of 4-connected pieces of the kept (shape, position) cells. Diagonal drops keep
    one piece up to 20 cells: the box corners and their neighbours bridge the two triangles
    either side of the diagonal. From 21 the corners are cut off one by one, and from 23 the
    band |shape − position| ≤ 1 is gone: the triangles are apart (4 pieces)."""
    from scipy.ndimage import label

    kept = np.ones((shapes, positions), dtype=int)
    for i, j in dropped_cells(drop, mode, shapes, positions):
        kept[i, j] = 0
    return int(label(kept)[1])


@register_task("what_where")
def what_where_task(drop: int = 0, mode: str = "corner", shapes: int = 9,
                    positions: int = 9) -> Dataset:
    """One-hot (shape, position) input (shapes·positions dims) → (shape, position) values in
    [−1, 1]; the combinations of `dropped_cells` never occur. Test set = training set."""
    gone = {tuple(c) for c in dropped_cells(drop, mode, shapes, positions)}
    kept = np.array([(i, j) for i in range(shapes) for j in range(positions) if (i, j) not in gone])
    x = np.zeros((len(kept), shapes * positions))
    x[np.arange(len(kept)), kept[:, 0] * positions + kept[:, 1]] = 1.0
    y = np.stack([np.linspace(-1, 1, shapes)[kept[:, 0]],
                  np.linspace(-1, 1, positions)[kept[:, 1]]], 1)
    xt, yt = as_tensor(x), as_tensor(y)
    return Dataset(xt, yt, xt, yt, n_modules=2,
                   info={"shape": kept[:, 0].tolist(), "position": kept[:, 1].tolist(),
                         "drop": drop, "mode": mode})
