"""Qian, Liang & Fiete 2025, Figs. 1–7 (docs/figures.md, docs/figures-noise.md)."""
from __future__ import annotations

from ..data import counts, mean, mode_count, ordered, pm, sci, table
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


@register("fig7/paper")
def fig7(pkg) -> str:
    """Per N: layer-0 g₄ and k* of WA and L2 only, their noisy test MSE, the L2/WA ratio with
    its per-seed range (seeds paired: a seed draws one data set for both), noise-free MSE."""
    rows = layer(pkg.rows, 0)
    out = []
    for n in sorted(rows.n_train.unique()):
        at = rows[rows.n_train == n]
        wa, l2 = at[at.setting == "WA"].set_index("seed"), at[at.setting == "L2 only"].set_index(
            "seed")
        paired = (l2.noisy_test_loss / wa.noisy_test_loss).dropna()
        out.append([f"{n:,}", f"{mean(wa.gap_at_true_k):.2f}, {mode_count(wa.k_star)}",
                    f"{mean(l2.gap_at_true_k):.2f}, {mode_count(l2.k_star)}",
                    sci(mean(wa.noisy_test_loss)), sci(mean(l2.noisy_test_loss)),
                    f"{mean(l2.noisy_test_loss) / mean(wa.noisy_test_loss):.2f} "
                    f"({paired.min():.2f}–{paired.max():.2f})",
                    f"{sci(mean(wa.test_loss))} / {sci(mean(l2.test_loss))}"])
    return table(["N", "WA g₄, k\\* (seeds)", "L2 g₄, k\\* (seeds)", "WA noisy MSE",
                  "L2 noisy MSE",
                  "L2 / WA noisy (per seed)", "WA / L2 noise-free MSE"], out)


@register("fig2/paper")
def fig2(pkg) -> str:
    rows = layer(pkg.rows, 0)
    out = [[f"{sigma:g}", pm(g.gap_at_true_k), counts(g.k_star), sci(mean(g.test_loss))]
           for sigma in sorted(rows.sigma.unique()) for g in [rows[rows.sigma == sigma]]]
    return table(["σ", "layer-0 g_4", "k\\* (seeds)", "noise-free test MSE"], out)


def fig6_fits(pkg):
    fits = pkg.rows[pkg.rows.setting.str.startswith("sigmoid fit")].sort_values("modules")
    points = pkg.rows[pkg.rows.n_train.notna()]
    return fits, points


@register("fig6/nstar")
def fig6(pkg) -> str:
    """Per n: N* of the sigmoid fit (± its delta-method error), se(log N*), whether it is
    identifiable (docs/figures-noise.md), the ratio to the previous n, and g_n at the largest N."""
    fits, points = fig6_fits(pkg)
    largest = points.n_train.max()
    out, previous = [], None
    for _, f in fits.iterrows():
        top = points[(points.modules == f.modules) & (points.n_train == largest)]
        step = f"{f.nstar / previous:.2f}" if previous and f.determined else ""
        out.append([int(f.modules), f"{f.nstar:.1f} ± {f.nstar_se:.1f}", f"{f.log_nstar_se:.2f}",
                    "yes" if f.determined else "no", step, pm(top.gap_at_true_k)])
        previous = f.nstar if f.determined else None
    return table(["n", "N*", "se(log N*)", "determined", "N*(n) / N*(n − 1)",
                  f"layer-0 g_n at N = {int(largest):,}"], out)


@register("fig6/growth")
def fig6_growth(pkg) -> str:
    """The determined N* against n: the experiment's weighted exponential fit, and both an
    exponential and a power law fitted by weighted least squares on log N* (weights
    1/se(log N*)) with their χ², to compare the two laws on equal terms."""
    import numpy as np

    fits, _ = fig6_fits(pkg)
    ok = fits[fits.determined.astype(bool)]
    exp = pkg.rows[pkg.rows.setting == "exponential fit"]
    out = []
    if len(exp):
        e = exp.iloc[0]
        out.append(["exponential (the experiment's fit)", f"r = {e.exp_rate:.2f} ± "
                    f"{e.exp_rate_se:.2f}; N* doubles every {e.doubling:.2f} ± "
                    f"{e.doubling_se:.2f} modules", ""])
    if len(ok) >= 3:
        y, w = ok.log_nstar.to_numpy(), 1 / ok.log_nstar_se.to_numpy()
        for name, x, label in (("exponential N* ∝ e^(r n)", ok.modules.to_numpy(float), "r"),
                               ("power law N* ∝ n^p", np.log(ok.modules.to_numpy(float)), "p")):
            slope, icept = np.polyfit(x, y, 1, w=w)
            chi2 = float(np.sum((w * (y - (icept + slope * x))) ** 2))
            out.append([name, f"{label} = {slope:.2f}", f"{chi2:.0f} ({len(ok) - 2} dof)"])
    return table(["law", "fit", "χ² (weighted least squares on log N*)"], out)
