"""Figure 2: the noise-strength trade-off — stronger multiplicative noise, more modular, worse fit."""
from __future__ import annotations

from typing import Annotated

import matplotlib.pyplot as plt
from pydantic import Field

from .base import Context, Experiment, Run, register
from .catalog import describe
from .noise_figures import MLPFigureConfig, analyze_settings, base_run, plan_settings
from .plots import errorbar_by, plot_spectra, save


class Fig2Config(MLPFigureConfig):
    alpha: float = Field(2.0, ge=0, description="noise exponent (2 = multiplicative)")
    sigmas: list[Annotated[float, Field(ge=0)]] = Field(
        default_factory=lambda: [0.0, 0.025, 0.05, 0.1, 0.2, 0.4], min_length=1)
    noise_site: str = Field("pre", pattern="^(pre|post)$")
    spectra_at: list[float] = Field(default_factory=lambda: [0.0, 0.05, 0.1, 0.4],
                                    description="σ values whose full spectra are drawn")


def setting_name(sigma: float) -> str:
    return f"sigma={sigma:g}"


def plan(cfg: Fig2Config) -> list[Run]:
    settings = {setting_name(s): {"noise.sigma": s, "noise.alpha": cfg.alpha,
                                  "noise.site": cfg.noise_site} for s in cfg.sigmas}
    return plan_settings(cfg, {"mlp": base_run(cfg)}, settings)


def analyze(cfg: Fig2Config, trained, ctx: Context) -> list[dict]:
    rows = analyze_settings(cfg, trained, ctx)
    sigma_of = {setting_name(s): s for s in cfg.sigmas}
    for r in rows:
        r["sigma"] = sigma_of[r["setting"]]
    plot_tradeoff(rows, ctx)
    shown = [setting_name(s) for s in cfg.spectra_at if setting_name(s) in sigma_of]
    plot_spectra(rows, ctx.out / "spectra.png", settings=shown or None)
    return rows


def plot_tradeoff(rows: list[dict], ctx: Context) -> None:
    """Fig. 2a: noise-free test loss (left axis) and layer-0 g_n (right axis) against σ, mean ±
    sd over seeds; diverged runs are left out and counted in the title."""
    from matplotlib.lines import Line2D
    from matplotlib.ticker import NullLocator

    from .plots import excluded, house_style, legend_outside, log_axis

    first = [r for r in rows if r["layer"] == 0]
    live = [r for r in first if not r.get("diverged")]
    with house_style():
        fig, ax = plt.subplots(figsize=(4.8, 3.2))
        errorbar_by(ax, live, "sigma", "test_loss", hue="layer", color="C3")
        ax.set_yscale("log")
        sigmas = sorted({r["sigma"] for r in first})
        positive = [s for s in sigmas if s > 0]
        if positive and positive[0] < positive[-1] / 4:
            # geometric σ grids crowd their small values on a linear axis (0, 0.025, 0.05)
            ax.set_xscale("symlog", linthresh=positive[0], linscale=0.6)
            ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticks(sigmas, [f"{s:g}" for s in sigmas])
        ax.set_xlabel("training-noise strength σ"
                      + (" (log scale above 0)" if ax.get_xscale() == "symlog" else ""))
        ax.set_ylabel("noise-free test MSE (log scale)", color="C3")
        ax.tick_params(axis="y", colors="C3", which="both")
        twin = ax.twinx()
        twin.spines["right"].set_visible(True)
        errorbar_by(twin, live, "sigma", "gap_at_true_k", hue="layer", color="C0", ls="--")
        twin.set_ylabel("layer-0 eigengap $g_n$", color="C0")
        twin.tick_params(axis="y", colors="C0")
        log_axis(ax.yaxis)
        legend_outside(fig, [Line2D([], [], color="C3", marker="o", ms=3),
                             Line2D([], [], color="C0", ls="--", marker="o", ms=3)],
                       ["test MSE (left axis)", "$g_n$ (right axis)"], where="bottom",
                       title="mean ± sd over seeds")
        gone = excluded(len(first) - len(live), len(first))
        if gone:
            ax.set_title(gone)
        save(fig, ctx.out / "tradeoff.png")


register(Experiment(
    name="fig2",
    **describe("fig2"),
    config=Fig2Config,
    plan=plan,
    analyze=analyze,
    presets={
        # Noise needs ~20k steps to separate from the noise-free net (spec 1 calibration).
        "quick": {"steps": 20_000, "seeds": 3, "eval_every": 1000,
                  "sigmas": [0.0, 0.05, 0.1, 0.2, 0.4]},
        "paper": {"steps": 50_000, "seeds": 5},
    },
    summary_metrics=("k_star", "gap_at_true_k", "test_loss"),
))
