"""Figure 1: activity-dependent noise (α = 0, 1, 2) makes modular connectivity; a linear net does not."""
from __future__ import annotations

from pydantic import Field

from .base import Experiment, Run, register
from .catalog import describe
from .noise_figures import MLPFigureConfig, analyze_settings, base_run, plan_settings


class Fig1Config(MLPFigureConfig):
    alphas: list[float] = Field(default_factory=lambda: [0.0, 1.0, 2.0])
    sigma: float = Field(0.1, ge=0)
    noise_site: str = Field("pre", pattern="^(pre|post)$")
    linear_control: bool = True


def plan(cfg: Fig1Config) -> list[Run]:
    noise = {"noise.sigma": cfg.sigma, "noise.site": cfg.noise_site}
    settings = {f"alpha={a:g}": {**noise, "noise.alpha": a} for a in cfg.alphas}
    bases = {"mlp": base_run(cfg)}
    if cfg.linear_control:
        linear = base_run(cfg, task="identity")
        linear.net.activation, linear.net.bias = "identity", False
        bases["linear"] = linear
        settings["linear alpha=2"] = {**noise, "noise.alpha": 2.0, "base": "linear"}
    return plan_settings(cfg, bases, settings)


register(Experiment(
    name="fig1",
    **describe("fig1"),
    config=Fig1Config,
    plan=plan,
    analyze=analyze_settings,
    presets={
        # Noise needs ~20k steps to separate clearly (spec 1 calibration: α=2 weak at 5k).
        "quick": {"steps": 20_000, "seeds": 3, "eval_every": 1000},
        "paper": {"steps": 50_000, "seeds": 5},
    },
    summary_metrics=("k_star", "gap_at_true_k", "gap_reference", "test_loss"),
))
