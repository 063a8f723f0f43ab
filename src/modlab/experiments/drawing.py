"""Drawings of BIMT networks (spec 2, "Drawing"): MLPs with neurons at their coordinates and
every weight a line, and an RNN's grid coloured by functional cluster.

matplotlib is imported inside the functions; pass an Axes from any figure.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..metrics.spectral import ArrayLike, as_numpy

POSITIVE, NEGATIVE = "tab:blue", "tab:red"


def _weight_lines(segments: np.ndarray, w: np.ndarray, min_frac: float, max_width: float,
                  alpha: float):
    """LineCollection of the weights ≥ min_frac·max|w|: width ∝ |w|/max|w|, blue +, red −."""
    from matplotlib.collections import LineCollection

    mag = np.abs(w)
    top = mag.max() if mag.size else 0.0
    keep = (mag >= min_frac * top) & (mag > 0) if top > 0 else np.zeros_like(mag, dtype=bool)
    colors = np.where(w[keep] > 0, POSITIVE, NEGATIVE)
    return LineCollection(segments[keep], linewidths=max_width * mag[keep] / (top or 1.0),
                          colors=list(colors), alpha=alpha, zorder=1, capstyle="round")


def draw_mlp(ax, weights: Sequence[ArrayLike], coords_per_layer: Sequence[ArrayLike], *,
             layer_gap: float = 1.0, min_frac: float = 0.0, max_width: float = 3.0,
             alpha: float = 0.8, node_size: float = 30.0, layer_names: Sequence[str] | None = None,
             title: str | None = None, legend: bool = True):
    """Layered net with neuron i of layer l at (x_i, l·layer_gap), input layer at the bottom.

    `weights[l]` is (post, pre) from layer l to l + 1 (one member); `coords_per_layer[l]` is
    (n_l,) or (n_l, 1) in-layer x-coordinates. Each weight is a line of width ∝ |w| / max|w|
    (max over its own layer, as in the BIMT code's plots), blue positive, red negative; lines
    below `min_frac` of the layer's max are hidden. `legend=False` leaves the sign legend to
    the caller (one for a grid of drawings: `sign_handles()`). Returns `ax`.
    """
    xs = [_line_x(c, f"coords_per_layer[{k}]") for k, c in enumerate(coords_per_layer)]
    if len(weights) != len(xs) - 1:
        raise ValueError(f"need len(coords_per_layer) = len(weights) + 1, got {len(xs)} and "
                         f"{len(weights)}")
    for layer, w in enumerate(weights):
        w = as_numpy(w)
        if w.shape != (len(xs[layer + 1]), len(xs[layer])):
            raise ValueError(f"weights[{layer}] has shape {w.shape}, coordinates need "
                             f"{(len(xs[layer + 1]), len(xs[layer]))}")
        y0, y1 = layer * layer_gap, (layer + 1) * layer_gap
        post, pre = np.meshgrid(xs[layer + 1], xs[layer], indexing="ij")
        seg = np.stack([np.stack([pre, np.full_like(pre, y0)], -1),
                        np.stack([post, np.full_like(post, y1)], -1)], axis=-2)
        ax.add_collection(_weight_lines(seg, w, min_frac, max_width, alpha))
    for layer, x in enumerate(xs):
        ax.scatter(x, np.full_like(x, layer * layer_gap), s=node_size, c="black", zorder=2)
    names = layer_names or ["input", *[f"hidden {k}" for k in range(1, len(xs) - 1)], "output"]
    ax.set_yticks(np.arange(len(xs)) * layer_gap, names[:len(xs)])
    ax.set_xlabel("in-layer position x")
    ax.set_xticks([0, 0.5, 1])
    ax.set_xlim(-0.05, 1.05)
    ax.set_ylim(-0.3 * layer_gap, (len(xs) - 0.7) * layer_gap)
    if legend:
        _sign_legend(ax)
    if title:
        ax.set_title(title)
    return ax


def draw_rnn_grid(ax, coords: ArrayLike, labels: Sequence[int], w_rec: ArrayLike, *,
                  top: int = 200, max_width: float = 2.5, alpha: float = 0.6,
                  node_size: float = 40.0, title: str | None = None):
    """Recurrent units at their 2-D coordinates, coloured by functional cluster (label −1 =
    inactive, hollow grey), with the `top` strongest off-diagonal recurrent weights drawn as
    lines (width ∝ |w| / max|w|, blue positive, red negative). Legend: clusters and signs.
    Returns `ax`.
    """
    import matplotlib.pyplot as plt

    xy, labels, w = as_numpy(coords), np.asarray(labels), as_numpy(w_rec)
    n = xy.shape[0]
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ValueError(f"coords must be (units, 2), got shape {xy.shape}")
    if labels.shape != (n,) or w.shape != (n, n):
        raise ValueError(f"labels must be ({n},) and w_rec ({n}, {n}), got {labels.shape} and "
                         f"{w.shape}")
    mag = np.abs(w).copy()
    np.fill_diagonal(mag, 0.0)
    strongest = np.argsort(mag, axis=None)[::-1][:max(int(top), 0)]
    post, pre = np.unravel_index(strongest, w.shape)
    seg = np.stack([xy[pre], xy[post]], axis=1)
    chosen = w[post, pre]
    ax.add_collection(_weight_lines(seg, chosen, 0.0, max_width, alpha))
    clusters = [c for c in np.unique(labels) if c >= 0]
    cmap = plt.get_cmap("tab10" if len(clusters) <= 10 else "tab20")
    for c in clusters:
        at = labels == c
        ax.scatter(xy[at, 0], xy[at, 1], s=node_size, color=cmap(c % cmap.N), zorder=2,
                   edgecolors="black", linewidths=0.4, label=f"cluster {c} ({at.sum()})")
    dead = labels < 0
    if dead.any():
        ax.scatter(xy[dead, 0], xy[dead, 1], s=node_size, facecolors="none",
                   edgecolors="grey", zorder=2, label=f"inactive ({dead.sum()})")
    ax.set_aspect("equal")
    ax.set_xlabel("grid position x")
    ax.set_ylabel("grid position y")
    ax.set_xticks([0, 0.5, 1])
    ax.set_yticks([0, 0.5, 1])
    handles, names = ax.get_legend_handles_labels()
    sign = sign_handles()
    ax.legend(handles + sign, names + [h.get_label() for h in sign], loc="upper left",
              bbox_to_anchor=(1.02, 1.0), fontsize=7, frameon=False,
              title="cluster (units)", title_fontsize=7)
    ax.set_title(title or f"recurrent units by functional cluster, {len(chosen)} strongest "
                          f"weights")
    return ax


def _line_x(c: ArrayLike, name: str) -> np.ndarray:
    c = as_numpy(c)
    if c.ndim == 2 and c.shape[1] == 1:
        c = c[:, 0]
    if c.ndim != 1:
        raise ValueError(f"{name} must be 1-D in-layer coordinates (n,) or (n, 1), "
                         f"got shape {c.shape}")
    return c


def sign_handles():
    """Legend handles for the weight colours: blue w > 0, red w < 0."""
    from matplotlib.lines import Line2D

    return [Line2D([], [], color=POSITIVE, lw=2, label="w > 0"),
            Line2D([], [], color=NEGATIVE, lw=2, label="w < 0")]


def _sign_legend(ax) -> None:
    ax.legend(handles=sign_handles(), loc="upper left", bbox_to_anchor=(1.02, 1.0),
              fontsize=8, frameon=False)
