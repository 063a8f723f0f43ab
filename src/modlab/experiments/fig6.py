"""Figure 6: sample complexity — the training-set size N* at which WA finds the n modules grows
exponentially with n."""
from __future__ import annotations

import json
from typing import Annotated

import matplotlib.pyplot as plt
import numpy as np
from pydantic import Field

from ..atomic import atomic_write_text
from ..metrics import exponential, fit_exponential, fit_sigmoid_log, sigmoid_log
from .base import Context, Experiment, Run, register
from .catalog import describe
from .members import modularity_rows, with_overrides
from .noise_figures import MLPFigureConfig, base_run
from .plots import errorbar_by, save


class Fig6Config(MLPFigureConfig):
    """`n`, `hidden` and `n_train` of the base config are replaced by the sweep below."""

    ns: list[Annotated[int, Field(ge=2)]] = Field(default_factory=lambda: [2, 3, 4, 5, 6],
                                                  min_length=1)
    width_per_n: int = Field(8, ge=1, description="hidden width = width_per_n · n")
    sizes: list[Annotated[int, Field(ge=1)]] = Field(
        default_factory=lambda: [2 ** k for k in range(0, 16)], min_length=4,
        description="training-set sizes N (log-spaced; >= 4 for the sigmoid fit). From N = 1:"
                    " n = 2's transition (N* ≈ 9) needs its lower plateau (N = 1, 2) sampled")
    lam: float = Field(1e-3, ge=0, description="λ of the WA regulariser")


def runs_for(cfg: Fig6Config, n: int, n_train: int) -> list[Run]:
    """Seeds of one (n, N) point. Each seed draws its own training set (data_seed = seed):
    N* should not hinge on one lucky draw."""
    base = base_run(cfg.model_copy(update={"n": n, "hidden": cfg.width_per_n * n,
                                           "n_train": n_train}))
    return [Run(with_overrides(base, {"seed": s, "reg.wa": cfg.lam, "task.params.data_seed": s}),
                {"setting": f"n={n} N={n_train}", "seed": s, "modules": n, "n_train": n_train})
            for s in cfg.seed_list()]


def plan(cfg: Fig6Config) -> list[Run]:
    return [r for n in cfg.ns for size in cfg.sizes for r in runs_for(cfg, n, size)]


def analyze(cfg: Fig6Config, trained, ctx: Context) -> list[dict]:
    rows = [r for r in modularity_rows(trained, collapsed=cfg.collapsed)
            if r["layer"] == 0]      # the figure's quantity: layer-0 g_n
    fits = fit_rows([r for r in rows if not r["diverged"]], cfg.ns)
    plot_gap_vs_size(rows, fits, ctx)
    atomic_write_text(ctx.out / "fits.json", json.dumps(fits, indent=1))
    return rows + fits


def determined(fit, sizes: list[int], max_log_se: float = float(np.log(2))) -> bool:
    """An identifiable N*: the fit converged, N* lies between the second-smallest and the
    second-largest sampled size (at least two sizes on each side pin the two plateaus, so N*
    is interpolated, not extrapolated from one edge point), and it is known to within a
    factor 2 (se of log N* < ln 2). Only such N* are reported as measured and enter the
    exponential fit."""
    grid = np.log(np.unique(sizes))
    return bool(fit.converged and grid[1] <= fit["log_nstar"] <= grid[-2]
                and fit.stderr["log_nstar"] < max_log_se)


def fit_rows(rows: list[dict], ns: list[int]) -> list[dict]:
    """Sigmoid fit in log N per n (all seeds' points), then N* = c·exp(r n) across the n whose
    N* is determined."""
    fits = []
    for n in ns:
        pts = [(r["n_train"], r["gap_at_true_k"]) for r in rows if r["modules"] == n]
        try:
            f = fit_sigmoid_log(*zip(*pts, strict=True))
        except ValueError:
            continue
        fits.append({"setting": f"sigmoid fit n={n}", "layer": 0, "modules": n,
                     "converged": f.converged, "determined": determined(f, [p[0] for p in pts]),
                     **f.params, **{f"{k}_se": v for k, v in f.stderr.items()},
                     "log10_nstar": f["log_nstar"] / np.log(10)})
    ok = [f for f in fits if f["determined"]]
    if len(ok) >= 2:
        e = fit_exponential([f["modules"] for f in ok], [f["nstar"] for f in ok],
                            [f["nstar_se"] for f in ok])
        fits.append({"setting": "exponential fit", "layer": 0, "converged": True,
                     "fitted_ns": [f["modules"] for f in ok],
                     "exp_rate": e["rate"], "exp_rate_se": e.stderr["rate"],
                     "exp_log_c": e["log_c"], "exp_log_c_se": e.stderr["log_c"],
                     "doubling": e["doubling"], "doubling_se": e.stderr["doubling"]})
    return fits


def plot_gap_vs_size(rows: list[dict], fits: list[dict], ctx: Context) -> None:
    """Fig. 6b: layer-0 g_n against N per n with the sigmoid fits; 6c: N* against n (log)."""
    from matplotlib.lines import Line2D

    from .plots import count_axis, excluded, house_style, legend_outside

    with house_style():
        fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
        ns = sorted({r["modules"] for r in rows})
        colour = {n: f"C{i % 10}" for i, n in enumerate(ns)}
        for n in ns:
            errorbar_by(left, [r for r in rows if r["modules"] == n], "n_train", "gap_at_true_k",
                        hue="modules", color=colour[n])
        grid = np.geomspace(min(r["n_train"] for r in rows), max(r["n_train"] for r in rows), 200)
        sig = [f for f in fits if f["setting"].startswith("sigmoid") and f["converged"]]
        for f in sig:
            left.plot(grid, sigmoid_log(grid, f["g0"], f["amp"], f["rate"], f["log_nstar"]),
                      ls="--", lw=1, color=colour.get(f["modules"], "k"))
        left.set_xscale("log", base=2)
        sizes = sorted({r["n_train"] for r in rows})
        shown = sizes[::max(1, -(-len(sizes) // 6))]
        left.set_xticks(shown, [str(s) for s in shown])
        left.minorticks_off()
        left.set_xlabel("training-set size N (log scale)")
        left.set_ylabel("layer-0 eigengap $g_n$")
        handles = [Line2D([], [], color=colour[n], marker="o", ms=3) for n in ns]
        handles.append(Line2D([], [], color="0.3", ls="--", lw=1))
        names = [f"n = {n} (mean ± sd over seeds)" for n in ns] + ["sigmoid fit in log N"]
        for det, style in ((True, "o"), (False, "x")):
            pts = [f for f in sig if f["determined"] == det]
            if pts:
                # ±1 se of log N*, drawn multiplicatively (it stays positive on the log axis).
                s = np.array([f["log_nstar_se"] for f in pts], dtype=float)
                s = np.minimum(np.nan_to_num(s, nan=np.inf), np.log(100))   # cap: ×100
                nstar = np.array([f["nstar"] for f in pts])
                right.errorbar([f["modules"] for f in pts], nstar,
                               yerr=[nstar * (1 - np.exp(-s)), nstar * (np.exp(s) - 1)],
                               marker=style, capsize=3, ls="none", color="k",
                               label="N*, ±1 se of log N* (capped at ×100)" if det
                               else "not determined (outside the sizes or se > ×10)")
        exp = [f for f in fits if f["setting"] == "exponential fit"]
        if exp:
            e = exp[0]
            xs = np.linspace(min(e["fitted_ns"]), max(e["fitted_ns"]), 50)
            right.plot(xs, np.exp(exponential(xs, e["exp_log_c"], e["exp_rate"])), "k--", lw=1,
                       label=f"fit N* ∝ exp({e['exp_rate']:.2f}·n)")
        more, labels = right.get_legend_handles_labels()
        legend_outside(fig, handles + more, names + labels, where="bottom", ncols=3)
        right.set_yscale("log")
        right.set_xlabel("number of modules n")
        count_axis(right.xaxis)
        right.set_xlim(min(ns) - 0.5, max(ns) + 0.5)
        right.set_ylabel("transition size N* (log scale)")
        runs = {(r["modules"], r["n_train"], r["seed"]): bool(r.get("diverged")) for r in rows}
        gone = excluded(sum(runs.values()), len(runs))
        if gone:
            fig.suptitle(gone)
        save(fig, ctx.out / "sample_complexity.png")


register(Experiment(
    name="fig6",
    **describe("fig6"),
    config=Fig6Config,
    plan=plan,
    analyze=analyze,
    presets={
        "quick": {"ns": [2, 3, 4], "sizes": [2 ** k for k in range(0, 12)], "seeds": 5,
                  "steps": 5_000, "eval_every": 1000, "workers": 2},
        "paper": {"seeds": 5, "steps": 50_000, "workers": 2},
    },
    summary_metrics=("gap_at_true_k", "k_star", "test_loss", "nstar", "nstar_se", "exp_rate",
                     "exp_rate_se"),
    group_by=("setting",),
))
