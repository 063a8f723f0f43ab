"""Figures of the range-independence condition (Theorems 2.1 and 2.2) for 2 sources."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.spatial import ConvexHull, QhullError

from ..metrics.disentanglement import active_latents
from ..metrics.range_condition import RangeCheck, ellipse_boundary
from .plots import plt, save


def draw_range_check(ax, s: np.ndarray, check: RangeCheck, w: np.ndarray | None = None,
                     z: np.ndarray | None = None) -> None:
    """Demeaned data, convex hull, Theorem 2.2's ellipse xᵀF⁻¹x ≤ 1, the margin's direction w
    (orange arrow) and (optionally) the directions of the active latents' encoder weights."""
    d = s - s.mean(0)
    ax.scatter(d[:, 0], d[:, 1], s=6, c="0.3", lw=0)
    try:
        hull = ConvexHull(d)
        ring = np.append(hull.vertices, hull.vertices[0])
        ax.plot(d[ring, 0], d[ring, 1], c="C0", lw=1, label="convex hull")
    except QhullError:
        pass
    try:
        ell = ellipse_boundary(check.F)
        ax.plot(ell[:, 0], ell[:, 1], c="C3", lw=1, label=r"$x^TF^{-1}x=1$")
    except ValueError:
        ax.text(0.02, 0.02, "F not positive definite", transform=ax.transAxes, fontsize=7)
    r = np.abs(d).max()
    ax.annotate("", xy=check.direction * r, xytext=(0, 0),
                arrowprops={"arrowstyle": "->", "color": "C1", "lw": 1})
    if w is not None:
        active = active_latents(z) if z is not None else np.ones(len(w), bool)
        for row in w[active]:
            u = row / np.linalg.norm(row) * r
            ax.plot([0, u[0]], [0, u[1]], c="C2", lw=1.5)
    ax.set_aspect("equal")
    ax.set_title(f"margin {check.margin:.3g}: {check.verdict}", fontsize=8)


def plot_range_check(s: np.ndarray, check: RangeCheck, path: Path, title: str = "") -> Path:
    fig, ax = plt.subplots(figsize=(4, 4))
    draw_range_check(ax, s, check)
    ax.legend(fontsize=7, loc="upper left")
    if title:
        fig.suptitle(title, fontsize=9)
    return save(fig, path)
