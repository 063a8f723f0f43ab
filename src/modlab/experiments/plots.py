"""Figures shared by the experiments (matplotlib, headless), and the house style they share.

Every `plot_*` function runs under `styled` (one font scale, constrained layout, so titles,
colourbars and outside legends get their own room). Helpers: `count_axis` (integer ticks for a
count), `step_axis` ("training step", 10k-style labels), `legend_outside` (one legend beside
the panels, never over data), `colorbar` (labelled with quantity and unit) and `excluded`
(the caption clause naming diverged runs left out of the lines).
"""
from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402

from ..metrics import reorder_network  # noqa: E402
from .members import Trained  # noqa: E402

STYLE = {
    "font.size": 8, "axes.titlesize": 8.5, "axes.labelsize": 8, "xtick.labelsize": 7,
    "ytick.labelsize": 7, "legend.fontsize": 7, "legend.title_fontsize": 7,
    "figure.titlesize": 9.5, "figure.constrained_layout.use": True,
    "legend.frameon": False, "axes.spines.top": False, "axes.spines.right": False,
}


def house_style():
    """Context manager: figures made (and saved) inside it get the house style."""
    return plt.rc_context(STYLE)


def styled(fn):
    """Run a plotting function under the house style (fonts, constrained layout)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with house_style():
            return fn(*args, **kwargs)
    return wrapper


def save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


# ------------------------------------------------------------------------- style helpers

def count_axis(axis, nbins: int | str = "auto") -> None:
    """Integer ticks on an axis that counts something (k, n, m, depth, units)."""
    axis.set_major_locator(MaxNLocator(nbins=nbins, integer=True))


def thousands(x: float, _pos=None) -> str:
    """Tick label for a step count: 0, 500, 5k, 12.5k, 1M."""
    if abs(x) >= 1e6:
        return f"{x / 1e6:g}M"
    if abs(x) >= 1e3:
        return f"{x / 1e3:g}k"
    return f"{x:g}"


def log_label(x: float, _pos=None) -> str:
    """Tick label on a log axis: 10⁻³, 2×10⁻⁴ (mathtext)."""
    if x <= 0 or not np.isfinite(x):
        return ""
    e = int(np.floor(np.log10(x) + 1e-9))
    m = round(x / 10.0 ** e, 6)
    return f"$10^{{{e}}}$" if m == 1 else f"${m:g}\\times10^{{{e}}}$"


def log_axis(axis) -> None:
    """Readable log ticks: decades only over a wide range; 1, 2, 5 × 10^e over < 2 decades
    (where the default puts crowded labels on minor ticks); no minor labels."""
    from matplotlib.ticker import LogLocator, NullFormatter

    lo, hi = sorted(axis.get_view_interval())
    narrow = lo > 0 and np.log10(hi / lo) < 2
    axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0) if narrow else (1.0,)))
    axis.set_major_formatter(FuncFormatter(log_label))
    axis.set_minor_formatter(NullFormatter())


def step_axis(ax, label: str = "training step") -> None:
    """x axis of a training curve: integer step ticks as 5k, 10k, … (no run-together digits)."""
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10], integer=True,
                                           min_n_ticks=3))
    ax.xaxis.set_major_formatter(FuncFormatter(thousands))
    ax.set_xlabel(label)


def legend_outside(fig, handles=None, labels=None, where: str = "right", **kw):
    """One figure legend outside every panel: "right" (a column) or "bottom" (a row).

    Without handles, the labelled artists of all axes are collected (first label wins)."""
    if handles is None:
        seen: dict[str, object] = {}
        for ax in fig.axes:
            for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
                seen.setdefault(lab, h)
        handles, labels = list(seen.values()), list(seen)
    if not handles:
        return None
    if where == "bottom":
        kw.setdefault("ncols", min(len(handles), 5))
        return fig.legend(handles, labels, loc="outside lower center", **kw)
    return fig.legend(handles, labels, loc="outside right upper", **kw)


def colorbar(fig, mappable, axes, label: str, **kw):
    """A colourbar for `axes` (one Axes or a list) labelled with the quantity and its unit."""
    kw.setdefault("shrink", 0.8)
    return fig.colorbar(mappable, ax=axes, label=label, **kw)


def excluded(n_left_out: int, total: int, what: str = "run") -> str:
    """Caption clause for runs left out of the lines: '' when none was."""
    if not n_left_out:
        return ""
    return f"{n_left_out} of {total} {what}{'s' if total != 1 else ''} diverged (not shown)"


def grid_shape(n: int, max_cols: int = 4) -> tuple[int, int]:
    """(rows, cols) for n panels, at most max_cols wide, rows as evenly filled as possible."""
    rows = -(-n // max_cols)
    return rows, -(-n // rows)


def hide_unused(axes) -> None:
    for ax in np.ravel(axes):
        if not ax.has_data():
            ax.set_visible(False)


def first_seed_per_setting(trained: Sequence[Trained]) -> dict[str, Trained]:
    out: dict[str, Trained] = {}
    for t in trained:
        out.setdefault(t.setting, t)
    return out


# ------------------------------------------------------------------------- the figures

def _boundaries(labels: np.ndarray) -> np.ndarray:
    """Positions (between pixels) where consecutive reordered neurons change cluster."""
    labels = np.asarray(labels)
    return np.flatnonzero(labels[1:] != labels[:-1]) + 0.5


@styled
def plot_reordered_weights(trained: Sequence[Trained], path: Path, k_star: bool = False) -> Path:
    """|W| of every layer, rows clustered by the Laplacian spectrum and reordered (one seed).

    Clusters: the task's module count per layer, or each layer's own k* when `k_star`; red
    lines mark the cluster borders (rows: this layer's, columns: the previous layer's). Each
    panel is scaled by its own max |W| (one shared colourbar, 0 to 1).
    """
    live = [t for t in trained if not t.diverged]
    chosen = first_seed_per_setting(live)
    if not chosen:
        return path
    n_layers = max(len(t.weights) for t in chosen.values())
    fig, axes = plt.subplots(len(chosen), n_layers, squeeze=False,
                             figsize=(1.9 * n_layers + 1.0, 1.75 * len(chosen) + 0.6))
    im = None
    for row, (name, t) in enumerate(chosen.items()):
        ks = [None if k_star else t.n_modules] * len(t.weights)
        mats, labels = reorder_network(t.weights, ks)
        for col in range(n_layers):
            ax = axes[row, col]
            if col >= len(mats):
                ax.set_visible(False)
                continue
            a = mats[col]
            im = ax.imshow(a / max(a.max(), 1e-12), cmap="Greys", vmin=0, vmax=1,
                           aspect="auto", interpolation="nearest")
            for b in _boundaries(labels[col]) if col < len(mats) - 1 else []:
                ax.axhline(b, color="C3", lw=0.7)
            for b in _boundaries(labels[col - 1]) if col > 0 else []:
                ax.axvline(b, color="C3", lw=0.7)
            n_post, n_pre = a.shape
            ax.set_xticks([0, n_pre - 1])
            ax.set_yticks([0, n_post - 1])
            ax.tick_params(length=2, pad=1, labelsize=6)
            if row == 0:
                k = "k*" if k_star or t.n_modules is None else f"k = {t.n_modules}"
                ax.set_title(f"layer {col} ({n_pre}→{n_post})" + (f", {k}" if col < len(mats) - 1
                                                                  else ""), fontsize=8)
            if row == len(chosen) - 1:
                ax.set_xlabel("pre unit (reordered)")
            if col == 0:
                ax.set_ylabel(f"{name}, seed {t.seed}\npost unit (reordered)")
    colorbar(fig, im, axes.ravel().tolist(), "|W| / max|W| of the panel",
             shrink=min(0.8, 2.4 / len(chosen)), aspect=20)
    dropped = excluded(len(trained) - len(live), len(trained))
    fig.suptitle("|W| reordered by spectral clustering (first seed per setting)"
                 + (f"; {dropped}" if dropped else ""))
    return save(fig, path)


def _by_setting_layer(rows: Sequence[dict], key) -> dict[tuple[str, int], list[np.ndarray]]:
    by: dict[tuple[str, int], list[np.ndarray]] = defaultdict(list)
    for r in rows:
        if not r.get("diverged") and len(r["eigvals"]):
            by[(r["setting"], r["layer"])].append(key(np.asarray(r["eigvals"], dtype=float)))
    return by


def _diverged_note(rows: Sequence[dict]) -> str:
    runs = {r.get("run_id", (r.get("setting"), r.get("seed"))): bool(r.get("diverged"))
            for r in rows}
    return excluded(sum(runs.values()), len(runs))


@styled
def plot_eigengaps(rows: Sequence[dict], path: Path, max_k: int = 10,
                   true_k: int | None = None) -> Path:
    """Eigengap g_k against k: one panel per (setting, layer), mean ± sd over seeds; the
    dashed line marks the task's module count `true_k`. Diverged rows are left out (and
    counted in the title)."""
    by = _by_setting_layer(rows, lambda e: np.diff(e)[:max_k])
    layers = sorted({k[1] for k in by})
    settings = list(dict.fromkeys(k[0] for k in by))
    if not by:
        return path
    fig, axes = plt.subplots(len(settings), len(layers), sharex=True, sharey=True,
                             squeeze=False, figsize=(1.9 * len(layers) + 0.6,
                                                     1.25 * len(settings) + 0.7))
    for row, name in enumerate(settings):
        for col, layer in enumerate(layers):
            ax = axes[row, col]
            gaps = by.get((name, layer))
            if true_k is not None:
                ax.axvline(true_k, color="0.6", ls="--", lw=0.8)
            if gaps:
                n = min(len(g) for g in gaps)
                g = np.stack([x[:n] for x in gaps])
                ax.errorbar(np.arange(1, n + 1), g.mean(0), yerr=g.std(0), marker="o", ms=2.5,
                            lw=1, capsize=1.5, color="C0")
            if row == 0:
                ax.set_title(f"layer {layer}")
            if row == len(settings) - 1:
                ax.set_xlabel("k")
            if col == 0:
                ax.set_ylabel(f"{name}\n$g_k$", fontsize=7.5)
    count_axis(axes[0, 0].xaxis)
    ax0 = axes[0, 0]
    ax0.set_xlim(0.5, max_k + 0.5)
    note = _diverged_note(rows)
    fig.suptitle("eigengap $g_k = \\lambda_{k+1} - \\lambda_k$ of $L_{rw}$, mean ± sd over "
                 "seeds" + (f"\ndashed: k = {true_k} modules" if true_k else "")
                 + (f"\n{note}" if note else ""))
    return save(fig, path)


@styled
def plot_loss_curves(trained: Sequence[Trained], path: Path) -> Path:
    """Noise-free test MSE and mean minibatch training MSE over steps: one panel per setting,
    one line per seed. Diverged seeds are left out (named in the panel's title)."""
    settings = list(dict.fromkeys(t.setting for t in trained))
    if not settings:
        return path
    nrows, ncols = grid_shape(len(settings))
    fig, axes = plt.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False,
                             figsize=(2.5 * ncols + 1.2, 1.9 * nrows + 0.4))
    for ax, name in zip(axes.ravel(), settings, strict=False):
        mine = [t for t in trained if t.setting == name]
        for t in mine:
            if t.diverged:
                continue
            ax.plot(t.curve_steps, t.test_curve, color="C0", lw=1, alpha=0.8)
            ax.plot(t.curve_steps, t.train_curve, color="C1", lw=1, alpha=0.7, ls="--")
        gone = [t.seed for t in mine if t.diverged]
        title = name + (f"\nseed {', '.join(map(str, gone))} diverged (not shown)" if gone else "")
        ax.set_title(title)
        ax.set_yscale("log")
    for ax in axes[-1]:
        step_axis(ax)
    for ax in axes[:, 0]:
        ax.set_ylabel("MSE (log scale)")
    hide_unused(axes)
    for ax in axes.ravel():            # a hidden bottom panel leaves its column unlabelled
        if ax.get_visible() and not ax.xaxis.get_label().get_text():
            step_axis(ax)
            ax.xaxis.set_tick_params(labelbottom=True)
    from matplotlib.lines import Line2D

    legend_outside(fig, [Line2D([], [], color="C0"), Line2D([], [], color="C1", ls="--")],
                   ["test (noise-free)", "train (minibatch mean\nwhile training)"],
                   title="one line per seed")
    return save(fig, path)


def errorbar_by(ax, rows: Sequence[dict], x: str, y: str, hue: str = "setting", **kw) -> None:
    """Mean ± sd of `y` over the rows sharing (hue, x) — seeds — one line per hue value.
    Non-finite values (diverged runs) are left out."""
    by: dict[object, dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r.get(y) is not None and np.isfinite(r[y]):
            by[r[hue]][r[x]].append(r[y])
    kw.setdefault("marker", "o")
    kw.setdefault("ms", 3)
    kw.setdefault("capsize", 2)
    for name, points in by.items():
        xs = sorted(points)
        vals = [np.asarray(points[v]) for v in xs]
        ax.errorbar(xs, [v.mean() for v in vals], yerr=[v.std() for v in vals],
                    label=str(name), **kw)


@styled
def plot_spectra(rows: Sequence[dict], path: Path, settings: Sequence[str] | None = None,
                 layers: Sequence[int] | None = None) -> Path:
    """Full L_rw spectra: eigenvalue λ_i against i, one panel per layer, mean ± sd over seeds.
    Diverged rows are left out (and counted in the title)."""
    settings = list(settings) if settings is not None else list(dict.fromkeys(r["setting"] for r in rows))
    layers = list(layers) if layers is not None else sorted({r["layer"] for r in rows})
    by = _by_setting_layer(rows, lambda e: e)
    fig, axes = plt.subplots(1, len(layers), figsize=(2.6 * len(layers) + 1.6, 2.6),
                             squeeze=False, sharey=True)
    markers = "osD^vP*X"
    for ax, layer in zip(axes[0], layers, strict=True):
        for j, name in enumerate(settings):
            vals = by.get((name, layer))
            if not vals:
                continue
            n = min(len(v) for v in vals)
            v = np.stack([x[:n] for x in vals])
            # Hollow markers, shrinking per series: identical spectra stay visible.
            ax.errorbar(np.arange(1, n + 1), v.mean(0), yerr=v.std(0), marker=markers[j % 8],
                        ms=max(5.0 - 0.6 * j, 2.0), mfc="none", mew=0.8, capsize=1, lw=0.9,
                        color=f"C{j % 10}", label=name)
        ax.set_title(f"layer {layer}")
        ax.set_xlabel("eigenvalue index i")
        count_axis(ax.xaxis)
        ax.set_ylim(-0.05, 2.05)
    axes[0, 0].set_ylabel("eigenvalue $\\lambda_i$ of $L_{rw}$")
    legend_outside(fig, title="mean ± sd over seeds")
    note = _diverged_note([r for r in rows if r["setting"] in settings])
    if note:
        fig.suptitle(note)
    return save(fig, path)


# ------------------------------------------------------------------------- a reviewer's checks

def layout_problems(fig) -> list[str]:
    """What a reviewer would flag in a drawn figure, as one line each (empty: none found):
    overlapping tick labels, an axis label overlapping its tick labels, an axis with data but
    no label (unless an axis it shares with is labelled), a legend over data or over another
    panel, and a colour-mapped image or scatter without a labelled colourbar."""
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    axes = [ax for ax in fig.axes if ax.get_visible()]
    bars = [ax for ax in axes if hasattr(ax, "_colorbar")]
    panels = [ax for ax in axes if ax not in bars]
    out: list[str] = []
    for i, ax in enumerate(panels):
        name = f"axes {i} ({ax.get_title()[:30]!r})"
        for which, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
            labels = [t for t in axis.get_ticklabels(which="major") + axis.get_ticklabels(
                which="minor") if t.get_visible() and t.get_text()]
            boxes = [t.get_window_extent(r) for t in labels]
            clash = [(labels[a].get_text(), labels[b].get_text())
                     for a in range(len(boxes)) for b in range(a + 1, len(boxes))
                     if boxes[a].overlaps(boxes[b])]
            if clash:
                out.append(f"{name}: {which} tick labels overlap: {clash[:3]}")
            title = axis.get_label()
            if title.get_visible() and title.get_text() and any(
                    title.get_window_extent(r).overlaps(b) for b in boxes):
                out.append(f"{name}: {which} label {title.get_text()!r} overlaps its ticks")
            if ax.has_data() and not _labelled(ax, which):
                out.append(f"{name}: no {which} label")
        for leg in [ax.get_legend()] if ax.get_legend() else []:
            box = leg.get_window_extent(r)
            if _covers_data(ax, box):
                out.append(f"{name}: legend covers data")
        if _colour_mapped(ax) and not any(b._colorbar.ax.get_ylabel() or b._colorbar.ax.get_xlabel()
                                          for b in bars):
            out.append(f"{name}: colour carries a value but no labelled colourbar")
    for leg in fig.legends:
        box = leg.get_window_extent(r)
        for i, ax in enumerate(panels):
            if box.overlaps(ax.get_window_extent(r)):
                out.append(f"figure legend overlaps axes {i}")
    return out


def _labelled(ax, which: str) -> bool:
    """The axis, or one it shares with (shared axes, twins, a column's bottom panel), is
    labelled; tick labels that name the categories (text ticks) count as a label."""
    get = "get_xlabel" if which == "x" else "get_ylabel"
    group = (ax.get_shared_x_axes() if which == "x" else ax.get_shared_y_axes()).get_siblings(ax)
    group += _grid_line(ax, which)
    if any(getattr(a, get)() for a in group if a.get_visible()):
        return True
    for a in [ax, *group]:
        axis = a.xaxis if which == "x" else a.yaxis
        if any(t.get_text() and t.get_visible() and not _numeric(t.get_text())
               for t in axis.get_ticklabels()):
            return True
    return False


def _grid_line(ax, which: str) -> list:
    """The panels of ax's grid column (x) or row (y): outer labels name the whole line."""
    spec = ax.get_subplotspec() if hasattr(ax, "get_subplotspec") else None
    if spec is None:
        return []
    mine = spec.colspan if which == "x" else spec.rowspan
    out = []
    for other in ax.figure.axes:
        o = other.get_subplotspec() if hasattr(other, "get_subplotspec") else None
        if o is not None and o.get_gridspec() is spec.get_gridspec() and \
                (o.colspan if which == "x" else o.rowspan) == mine:
            out.append(other)
    return out


def _numeric(text: str) -> bool:
    text = text.replace("\u2212", "-").replace("$", "").replace("\\mathdefault{", "").rstrip("}")
    try:
        float(text.replace("k", "e3").replace("M", "e6").replace("^", "e").replace("{", ""))
    except ValueError:
        return "10" in text               # log-axis labels such as 10^{-2}
    return True


def _covers_data(ax, box) -> bool:
    """Some data point (line vertices, densified; scatter offsets) lies inside `box`."""
    for line in ax.lines:
        xy = line.get_transform().transform(np.asarray(line.get_xydata(), dtype=float))
        xy = xy[np.isfinite(xy).all(1)]
        if len(xy) > 1:             # points along each segment, so a line through counts
            t = np.linspace(0, 1, 25)[:, None, None]
            xy = (xy[:-1] * (1 - t) + xy[1:] * t).reshape(-1, 2)
        if _inside(box, xy):
            return True
    for coll in ax.collections:
        offsets = np.asarray(coll.get_offsets(), dtype=float)
        if offsets.size:
            xy = coll.get_offset_transform().transform(offsets)
            if _inside(box, xy[np.isfinite(xy).all(1)]):
                return True
    return False


def _inside(box, xy: np.ndarray) -> bool:
    return bool(((xy[:, 0] > box.x0) & (xy[:, 0] < box.x1) & (xy[:, 1] > box.y0)
                 & (xy[:, 1] < box.y1)).any())


def _colour_mapped(ax) -> bool:
    if ax.images:
        return True
    return any(getattr(c, "get_array", lambda: None)() is not None
               and np.size(c.get_array()) > 1 and c.get_cmap() is not None
               and type(c).__name__ in ("PathCollection", "QuadMesh", "PolyCollection")
               for c in ax.collections)
