"""Figure 5: early and late mixing (Eqs. 21–22) under WA — the network mixes only where it must."""
from __future__ import annotations

import math

from pydantic import Field

from ..metrics import gap_at
from .base import Context, Experiment, Run, register
from .catalog import describe
from .noise_figures import MLPFigureConfig, analyze_settings, base_run, plan_settings
from .plots import plot_reordered_weights, plot_spectra


class Fig5Config(MLPFigureConfig):
    theta: float = Field(math.pi / 4, description="rotation angle of factors 2 and 3 (paper's is lost)")
    lam: float = Field(1e-3, ge=0, description="λ of the WA regulariser")
    wa_alpha: float = Field(2.0, gt=0)


def plan(cfg: Fig5Config) -> list[Run]:
    if cfg.n < 3:
        raise ValueError(f"invalid 'n' for fig5: mixing rotates factors 2 and 3, need n >= 3, got {cfg.n}")
    task = {"theta": cfg.theta, "task_seed": cfg.task_seed}
    bases = {"early": base_run(cfg, task="early_mixing", **task),
             "late": base_run(cfg, task="late_mixing", **task)}
    wa = {"reg.wa": cfg.lam, "reg.wa_alpha": cfg.wa_alpha}
    settings = {"early mixing": {**wa, "base": "early"}, "late mixing": {**wa, "base": "late"}}
    return plan_settings(cfg, bases, settings)


def analyze(cfg: Fig5Config, trained, ctx: Context) -> list[dict]:
    rows = analyze_settings(cfg, trained, ctx)
    for r in rows:
        # g_{n−1}: early mixing merges two factors in layer 0, leaving n − 1 modules there.
        r["gap_at_n_minus_1"] = float(gap_at(r["eigvals"], cfg.n - 1)) if r["eigvals"] \
            else float("nan")
    plot_reordered_weights(trained, ctx.out / "weights_reordered_kstar.png", k_star=True)
    plot_spectra(rows, ctx.out / "spectra.png")
    return rows


register(Experiment(
    name="fig5",
    **describe("fig5"),
    config=Fig5Config,
    plan=plan,
    analyze=analyze,
    presets={
        # Layer 0 settles by ~4k steps; deeper layers are still sorting themselves at 12k.
        "quick": {"steps": 20_000, "seeds": 3, "eval_every": 1000},
        "paper": {"steps": 50_000, "seeds": 5},
    },
    summary_metrics=("k_star", "gap_at_n_minus_1", "gap_at_true_k", "test_loss"),
))
