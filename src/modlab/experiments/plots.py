"""Figures shared by the experiments (matplotlib, headless)."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..metrics import reorder_network  # noqa: E402
from .members import Trained  # noqa: E402


def save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def first_seed_per_setting(trained: Sequence[Trained]) -> dict[str, Trained]:
    out: dict[str, Trained] = {}
    for t in trained:
        out.setdefault(t.setting, t)
    return out


def plot_reordered_weights(trained: Sequence[Trained], path: Path, k_star: bool = False) -> Path:
    """|W| of every layer, rows clustered by the Laplacian spectrum and reordered (one seed).

    Clusters: the task's module count per layer, or each layer's own k* when `k_star`.
    """
    chosen = first_seed_per_setting(trained)
    n_layers = max(len(t.weights) for t in chosen.values())
    fig, axes = plt.subplots(len(chosen), n_layers, figsize=(2.2 * n_layers, 2.2 * len(chosen)),
                             squeeze=False)
    for row, (name, t) in enumerate(chosen.items()):
        ks = [None if k_star else t.n_modules] * len(t.weights)
        mats, _ = reorder_network(t.weights, ks)
        for col in range(n_layers):
            ax = axes[row, col]
            ax.set_xticks([])
            ax.set_yticks([])
            if col < len(mats):
                ax.imshow(mats[col], cmap="Greys", aspect="auto", interpolation="nearest")
            if row == 0:
                ax.set_title(f"W{col}", fontsize=9)
            if col == 0:
                ax.set_ylabel(f"{name}\n(seed {t.seed})", fontsize=8)
    fig.suptitle("|W| reordered by spectral clustering")
    return save(fig, path)


def plot_eigengaps(rows: Sequence[dict], path: Path, max_k: int = 10) -> Path:
    """Eigengap g_k against k for every layer and setting, mean ± sd over seeds."""
    by: dict[tuple[str, int], list[np.ndarray]] = defaultdict(list)
    for r in rows:
        by[(r["setting"], r["layer"])].append(np.diff(np.asarray(r["eigvals"]))[:max_k])
    layers = sorted({k[1] for k in by})
    settings = list(dict.fromkeys(k[0] for k in by))
    fig, axes = plt.subplots(1, len(layers), figsize=(3.2 * len(layers), 2.8), squeeze=False)
    for ax, layer in zip(axes[0], layers, strict=True):
        for name in settings:
            gaps = by.get((name, layer))
            if not gaps:
                continue
            n = min(len(g) for g in gaps)
            g = np.stack([x[:n] for x in gaps])
            k = np.arange(1, n + 1)
            ax.errorbar(k, g.mean(0), yerr=g.std(0), marker="o", ms=3, capsize=2, label=name)
        ax.set_title(f"layer {layer}", fontsize=9)
        ax.set_xlabel("k")
    axes[0, 0].set_ylabel("eigengap $g_k$")
    axes[0, -1].legend(fontsize=7)
    return save(fig, path)


def plot_loss_curves(trained: Sequence[Trained], path: Path) -> Path:
    """Training and noise-free test loss over steps, one colour per setting."""
    fig, ax = plt.subplots(figsize=(5, 3.2))
    colours: dict[str, str] = {}
    for t in trained:
        first = t.setting not in colours
        c = colours.setdefault(t.setting, f"C{len(colours) % 10}")
        ax.plot(t.curve_steps, t.test_curve, color=c, alpha=0.8, label=t.setting if first else None)
        ax.plot(t.curve_steps, t.train_curve, color=c, alpha=0.3, ls="--")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("MSE (solid: test, dashed: train)")
    ax.legend(fontsize=7)
    return save(fig, path)


def errorbar_by(ax, rows: Sequence[dict], x: str, y: str, hue: str = "setting", **kw) -> None:
    """Mean ± sd of `y` over the rows sharing (hue, x) — seeds — one line per hue value."""
    by: dict[object, dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r.get(y) is not None and np.isfinite(r[y]):
            by[r[hue]][r[x]].append(r[y])
    for name, points in by.items():
        xs = sorted(points)
        vals = [np.asarray(points[v]) for v in xs]
        ax.errorbar(xs, [v.mean() for v in vals], yerr=[v.std() for v in vals], marker="o", ms=3,
                    capsize=2, label=str(name), **kw)


def plot_spectra(rows: Sequence[dict], path: Path, settings: Sequence[str] | None = None,
                 layers: Sequence[int] | None = None) -> Path:
    """Full L_rw spectra: eigenvalue λ_i against i, one panel per layer, mean ± sd over seeds."""
    settings = list(settings) if settings is not None else list(dict.fromkeys(r["setting"] for r in rows))
    layers = list(layers) if layers is not None else sorted({r["layer"] for r in rows})
    fig, axes = plt.subplots(1, len(layers), figsize=(3.2 * len(layers), 2.8), squeeze=False)
    for ax, layer in zip(axes[0], layers, strict=True):
        for name in settings:
            vals = [np.asarray(r["eigvals"]) for r in rows
                    if r["setting"] == name and r["layer"] == layer]
            if not vals:
                continue
            n = min(len(v) for v in vals)
            v = np.stack([x[:n] for x in vals])
            ax.errorbar(np.arange(1, n + 1), v.mean(0), yerr=v.std(0), marker=".", ms=3,
                        capsize=1, lw=1, label=name)
        ax.set_title(f"layer {layer}", fontsize=9)
        ax.set_xlabel("index i")
        ax.set_ylim(-0.05, 2.05)
    axes[0, 0].set_ylabel("eigenvalue $\\lambda_i$ of $L_{rw}$")
    axes[0, -1].legend(fontsize=7)
    return save(fig, path)
