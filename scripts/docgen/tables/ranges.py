"""Dorrell, Hsu et al. 2025: range-2d, range-3d, what-where (docs/range-independence.md)."""
from __future__ import annotations

import math

from ..data import finite, fixed, mean, pm, sci, table
from . import table as register


def small(values) -> str:
    """Mean ± sd with at least 3 decimals, more for means below 1e-3: 0.0004 ± 0.0002."""
    vals = finite(values)
    if not len(vals):
        return ""
    m = abs(vals.mean())
    return pm(vals, max(3, -math.floor(math.log10(m))) if m else 3)


def margin(values, digits: int = 2) -> str:
    """The range-condition margin: 0 (modular) or negative, with a real minus sign."""
    vals = finite(values)
    if not len(vals):
        return ""
    m = vals.mean()
    return "0" if abs(m) < 10 ** -(digits + 1) else f"{m:.{digits}f}".replace("-", "−")


@register("what-where/paper")
def what_where(pkg) -> str:
    rows = pkg.rows
    corner, diag = rows[rows["mode"] == "corner"], rows[rows["mode"] == "diagonal"]
    out = []
    for d in sorted(rows["drop"].unique()):
        c, g = corner[corner["drop"] == d], diag[diag["drop"] == d]
        authors = c.authors_mixing.dropna()
        out.append([int(d), small(c.mixing_index), fixed(authors.iloc[0], 3) if len(authors)
                    else "", margin(c.margin), small(g.mixing_index), margin(g.margin),
                    str(int(g.components.iloc[0])) if len(g) else ""])
    return table(["dropped", "corner (ours)", "corner (authors)", "corner margin",
                  "diagonal (ours)", "diagonal margin", "pieces (diagonal)"], out)


DATASETS = {"grid": "11×11 grid on [−1,1]²", "band:1.2": "band \\|s1+s2\\| ≤ 1.2",
            "gaussian:0.8": "Gaussian ρ = 0.8, 400 pts",
            "gaussian_clipped:0.8": "same, clipped to [−1.5,1.5]² + 4 corners",
            "grid_diagonal:10": "grid + diagonal ×10",
            "corner_cut:0.5": "(extra) corner cut s1+s2 ≥ −0.5"}


def spread(values, digits: int = 3) -> str:
    vals = finite(values)
    return f"{vals.min():.{digits}f}–{vals.max():.{digits}f}" if len(vals) else "n/a"


@register("range-2d/paper")
def range2d(pkg) -> str:
    """Per data set: the spec's margin and trained verdict, ours, and the kept code's weight
    mixing (max over active latents) in the bias form (mean ± sd) and the penalty form (range
    over seeds)."""
    rows = pkg.rows
    out = []
    for ds in list(dict.fromkeys(rows.dataset)):
        g = rows[rows.dataset == ds]
        bias, pen = g[g.form == "bias"], g[g.form == "penalty"]
        first = g.iloc[0]
        spec_m = first.spec_margin
        spec = ("–" if spec_m != spec_m else ("≥ 0" if spec_m >= 0 else margin([spec_m])))
        trained = ("–" if first.spec_mixing != first.spec_mixing else
                   "modular" if first.spec_mixing == 0 else f"mixed (≈{first.spec_mixing:g})")
        out.append([DATASETS.get(ds, ds), spec, f"{margin([first.margin], 3)} → {first.verdict}",
                    trained, small(bias.mixing_max) or "–", fixed(bias.mixing_mean.mean(), 3)
                    if len(bias) else "–", spread(pen.mixing_max) if len(pen) else "–",
                    fixed(first.rho, 2).replace("-", "−")])
    return table(["data", "spec margin", "our margin", "spec trained", "mixing max (bias)",
                  "mixing mean (bias)", "mixing max (penalty, per seed)", "ρ"], out)


def per_seed(frame, column: str) -> str:
    vals = frame.sort_values("seed")[column]
    return " / ".join(f"{v:.3f}" for v in vals if v == v) or "–"


@register("range-3d/paper")
def range3d(pkg) -> str:
    """Per variant: NSI and margin of the sources, then the kept code of each seed: the linear
    autoencoder's weight mixing and 1 − linear CInfoM, the ReLU autoencoder's 1 − linear
    CInfoM and reconstruction MSE."""
    rows = pkg.rows
    out = []
    for v in list(dict.fromkeys(rows.variant)):
        g = rows[rows.variant == v]
        lin, mlp = g[g.model == "linear"], g[g.model == "mlp"]
        out.append([v, fixed(abs(g.nsi.iloc[0]), 3), margin(g.margin.iloc[:1], 3),
                    per_seed(lin, "mixing_weights") if len(lin) else "–",
                    small(lin.mixing_linear) or "–",
                    per_seed(mlp, "mixing_linear") if len(mlp) else "–",
                    sci(mean(mlp.recon)) if len(mlp) else "–"])
    return table(["variant", "NSI", "margin", "linear AE: weight mixing, per seed",
                  "linear AE: 1 − linear CInfoM", "ReLU AE: 1 − linear CInfoM, per seed",
                  "ReLU AE: recon MSE"], out)
