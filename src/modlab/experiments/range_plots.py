"""Figures of the range-independence condition (Theorems 2.1 and 2.2) for 2 sources."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from matplotlib.backend_bases import FigureCanvasBase
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator
from scipy.spatial import ConvexHull, QhullError

from ..metrics.disentanglement import active_latents
from ..metrics.range_condition import RangeCheck, ellipse_boundary
from .plots import plt

FORMATS = sorted(FigureCanvasBase.get_supported_filetypes())


def figure_path(path: Path | str) -> Path:
    """The file a figure at `path` will be written to: ".png" appended when there is no
    extension (as matplotlib does), checked to be a known format in an existing, writable
    directory; a one-line ValueError otherwise."""
    path = Path(path)
    if path.is_dir() or not path.name:
        raise ValueError(f"plot path {str(path)!r} is a directory; give a file name")
    if not path.suffix:
        path = path.with_suffix(".png")
    if path.suffix[1:].lower() not in FORMATS:
        raise ValueError(f"plot path {str(path)!r} has extension {path.suffix!r}; "
                         f"allowed: {', '.join('.' + f for f in FORMATS)}")
    folder = path.parent
    if not folder.is_dir():
        why = "does not exist" if not folder.exists() else "is not a directory"
        raise ValueError(f"cannot write the plot {str(path)!r}: {str(folder)!r} {why}")
    if not os.access(folder, os.W_OK):
        raise ValueError(f"cannot write the plot {str(path)!r}: directory {str(folder)!r} "
                         "is not writable")
    return path


def draw_range_check(ax, s: np.ndarray, check: RangeCheck, w: np.ndarray | None = None,
                     z: np.ndarray | None = None, names: tuple[str, str] | None = None) -> list:
    """Demeaned data, convex hull, Theorem 2.2's ellipse xᵀF⁻¹x ≤ 1, the witness −w of the
    margin (orange: the arrow reaches the ellipse's support √(wᵀFw), the cross the hull's
    |min_t wᵀs_t|) and, optionally, the directions of the active latents' encoder weights.
    `names` labels the axes (none for small panels, whose caller labels them). Returns legend
    handles: the caller places the legend, outside the data."""
    d = s - s.mean(0)
    ax.scatter(d[:, 0], d[:, 1], s=7, c="0.35", lw=0, zorder=2)
    handles = [Line2D([], [], ls="", marker="o", ms=3, c="0.35", label="samples")]
    try:
        hull = ConvexHull(d)
        ring = np.append(hull.vertices, hull.vertices[0])
        ax.plot(d[ring, 0], d[ring, 1], c="C0", lw=1.2, zorder=3)
        handles.append(Line2D([], [], c="C0", lw=1.2, label="convex hull"))
    except QhullError:
        pass
    try:
        ell = ellipse_boundary(check.F)
        ax.plot(ell[:, 0], ell[:, 1], c="C3", lw=1.2, zorder=3)
        handles.append(Line2D([], [], c="C3", lw=1.2, label=r"ellipse $x^\top F^{-1}x=1$"))
    except ValueError:
        ax.text(0.02, 0.02, "F not positive definite: no ellipse", transform=ax.transAxes,
                fontsize=7)
    handles += _draw_witness(ax, d, check)
    if w is not None:
        r = np.abs(d).max()
        active = active_latents(z) if z is not None else np.ones(len(w), bool)
        for row in w[active]:
            u = row / np.linalg.norm(row) * r
            ax.plot([0, u[0]], [0, u[1]], c="C2", lw=1.5, zorder=4)
        handles.append(Line2D([], [], c="C2", lw=1.5, label="encoder directions"))
    ax.set_aspect("equal", adjustable="datalim")
    if names:
        ax.set_xlabel(f"{names[0]} (demeaned)", fontsize=8)
        ax.set_ylabel(f"{names[1]} (demeaned)", fontsize=8)
    ax.tick_params(labelsize=7)
    _same_ticks(ax, d)
    ax.set_title(f"margin {check.margin:.3g}: {check.verdict}", fontsize=8)
    return handles


def _draw_witness(ax, d: np.ndarray, check: RangeCheck) -> list:
    """The arrow along −w to the ellipse's support √(wᵀFw) (Theorem 2.2) and a cross where the
    hull's support |min_t wᵀs_t| along −w ends: their gap is the shortfall behind g(w) < 0."""
    w = check.direction
    reach = -float((d @ w).min())
    need = float(np.sqrt(max(w @ check.F @ w, 0.0)))
    tip, foot = -w * max(need, reach), -w * reach
    ax.annotate("", xy=tip, xytext=(0, 0), zorder=5,
                arrowprops={"arrowstyle": "-|>", "color": "C1", "lw": 1.4})
    ax.plot(*foot, ls="", marker="X", ms=7, mfc="C1", mec="k", mew=0.6, zorder=6)
    what = "witness" if check.margin < -check.tolerance else "tightest direction"
    return [Line2D([], [], c="C1", lw=1.4, label=what + r" $-w$, to $\sqrt{w^\top Fw}$"),
            Line2D([], [], ls="", marker="X", ms=6, mfc="C1", mec="k", mew=0.6,
                   label=r"hull's reach $|\min_t w^\top s_t|$")]


def _same_ticks(ax, d: np.ndarray) -> None:
    """One tick step for both axes (the aspect is equal), about 5 ticks over the wider range."""
    from matplotlib.ticker import MultipleLocator

    span = float(np.ptp(d, axis=0).max())
    step = MaxNLocator(5).tick_values(0, span)
    step = float(step[1] - step[0])
    ax.xaxis.set_major_locator(MultipleLocator(step))
    ax.yaxis.set_major_locator(MultipleLocator(step))


def plot_range_check(s: np.ndarray, check: RangeCheck, path: Path, title: str = "",
                     names: tuple[str, str] = ("s₁", "s₂")) -> Path:
    """`draw_range_check` on its own figure, the legend below the axes; returns the path
    actually written (see `figure_path`). A path that cannot be written is a ValueError."""
    path = figure_path(path)
    fig, ax = plt.subplots(figsize=(4.6, 5.4))
    handles = draw_range_check(ax, s, check, names=names)
    lo, hi = check.interval
    ax.set_title(f"margin {check.margin:.3g} (sample: {check.sample_verdict}), verdict "
                 f"{check.verdict}\nfinite-sample interval [{lo:.3g}, {hi:.3g}]", fontsize=8)
    ax.legend(handles=handles, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14),
              ncol=2, frameon=False)
    if title:
        fig.suptitle(title, fontsize=9)
    try:
        fig.savefig(path, dpi=110, bbox_inches="tight")
    except OSError as err:
        raise ValueError(f"cannot write the plot {str(path)!r}: {err.strerror or err}") from None
    finally:
        plt.close(fig)
    return path
