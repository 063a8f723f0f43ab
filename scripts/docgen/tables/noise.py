"""Qian, Liang & Fiete 2025, Figs. 1–7 (docs/figures.md, docs/figures-noise.md)."""
from __future__ import annotations

from ..data import counts, mean, ordered, pm, sci, table
from . import table as register


def layer(rows, n: int):
    return rows[rows.layer == n]


@register("fig3/w_in")
def fig3(pkg) -> str:
    rows = layer(pkg.rows, 0)
    out = [[s, counts(g.k_star), pm(g.gap_at_true_k, 3), sci(mean(g.test_loss))]
           for s in ordered(rows, "setting") for g in [rows[rows.setting == s]]]
    return table(["setting", "k\\* (seeds)", "g_4", "test MSE"], out)


@register("fig5/layers")
def fig5(pkg) -> str:
    rows = pkg.rows
    layers = sorted(rows.layer.unique())
    out = []
    for s in ordered(rows, "setting"):
        g = rows[rows.setting == s].sort_values(["layer", "seed"])
        cells = [", ".join(str(int(k)) for k in layer(g, n).k_star) for n in layers]
        first = layer(g, 0)
        out.append([s, *cells, f"{pm(first.gap_at_n_minus_1)} / {pm(first.gap_at_true_k)}"])
    names = [f"layer {n}" + (" (output)" if n == layers[-1] else "") for n in layers]
    return table(["task", *names, "layer-0 g_3 / g_4"], out)


FIG1_NAMES = {"alpha=0": "α = 0 (additive)", "alpha=1": "α = 1 (Poisson)",
              "alpha=2": "α = 2 (multiplicative)", "linear alpha=2": "linear, α = 2"}
FIG1_REFERENCE = {"alpha=0": "not modular", "alpha=1": "modular", "alpha=2": "≈ 0.87",
                  "linear alpha=2": "not modular"}


@register("fig1/layer0")
def fig1(pkg) -> str:
    rows = layer(pkg.rows, 0)
    out = [[FIG1_NAMES.get(s, s), counts(g.k_star), pm(g.gap_at_true_k),
            FIG1_REFERENCE.get(s, "–"), sci(mean(g.test_loss))]
           for s in ordered(rows, "setting") for g in [rows[rows.setting == s]]]
    return table(["setting", "k\\* (seeds)", "g₄ (ours)", "reference", "test MSE"], out)


def hidden_layers(pkg, names: dict[str, str]) -> str:
    """g₄ and k* of every hidden layer (the output layer has no g₄ of its own)."""
    rows = pkg.rows[pkg.rows.gap_at_true_k.notna() | (pkg.rows.layer == 0)]
    layers = sorted(rows.layer.unique())
    out = []
    for s in ordered(rows, "setting"):
        g = rows[rows.setting == s]
        out.append([names.get(s, s), *(f"{pm(layer(g, n).gap_at_true_k)}, k\\* "
                                       f"{counts(layer(g, n).k_star)}" for n in layers)])
    return table(["setting", *(f"layer {n}" for n in layers)], out)


@register("fig1/layers")
def fig1_layers(pkg) -> str:
    return hidden_layers(pkg, FIG1_NAMES)


FIG4_REFERENCE = {"WA": "0.84–0.90", "activity": "modular, dead neurons", "L2 only": "≈ 0.18",
                  "WA tanh": "less modular", "WA sigmoid": "less modular",
                  "WA alpha=1": "modular", "L1": "not modular", "L12": "modular",
                  "dropout 0.05": "modular"}
FIG4_NAMES = {"WA alpha=1": "WA α = 1", "L1": "L1 (λ = 1e-3)", "L12": "L_{1,2}"}


@register("fig4/layer0")
def fig4(pkg) -> str:
    rows = layer(pkg.rows, 0)
    out = [[FIG4_NAMES.get(s, s), counts(g.k_star), pm(g.gap_at_true_k),
            FIG4_REFERENCE.get(s, "–"), sci(mean(g.test_loss)), f"{mean(g.dead_neurons):.1f}"]
           for s in ordered(rows, "setting") for g in [rows[rows.setting == s]]]
    return table(["setting", "k\\* (seeds)", "g₄ (ours)", "reference", "test MSE",
                  "dead (layer 0)"], out)


@register("fig4/spectrum", "fig1", "fig4")
def spectrum(fig1_pkg, fig4_pkg) -> str:
    """Layer-0 g₄ with the exact spectrum and with the authors' (`gap_reference`), and whether
    k* ever differs between the two."""
    out = []
    for pkg, names in ((fig1_pkg, FIG1_NAMES), (fig4_pkg, FIG4_NAMES)):
        rows = layer(pkg.rows, 0)
        for s in ordered(rows, "setting"):
            g = rows[rows.setting == s]
            same = int((g.k_star == g.k_star_reference).sum())
            out.append([pkg.name, names.get(s, s), f"{mean(g.gap_at_true_k):.2f} → "
                        f"{mean(g.gap_reference):.2f}", f"{same}/{len(g)}"])
    return table(["run", "setting", "g₄ exact → authors'", "same k\\* (seeds)"], out)
