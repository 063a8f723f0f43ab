"""Figure 1: activity-dependent noise (α = 0, 1, 2) makes modular connectivity; a linear net does not."""
from __future__ import annotations

from pydantic import Field

from .base import Context, Experiment, register
from .noise_figures import MLPFigureConfig, base_run, run_settings


class Fig1Config(MLPFigureConfig):
    alphas: list[float] = Field(default_factory=lambda: [0.0, 1.0, 2.0])
    sigma: float = Field(0.1, ge=0)
    noise_site: str = Field("pre", pattern="^(pre|post)$")
    linear_control: bool = True


def run(cfg: Fig1Config, ctx: Context) -> list[dict]:
    noise = {"noise.sigma": cfg.sigma, "noise.site": cfg.noise_site}
    settings = {f"alpha={a:g}": {**noise, "noise.alpha": a} for a in cfg.alphas}
    bases = {"mlp": base_run(cfg)}
    if cfg.linear_control:
        linear = base_run(cfg, task="identity")
        linear.net.activation, linear.net.bias = "identity", False
        bases["linear"] = linear
        settings["linear alpha=2"] = {**noise, "noise.alpha": 2.0, "base": "linear"}
    return run_settings(cfg, ctx, bases, settings)[1]


register(Experiment(
    name="fig1",
    title="Activity-dependent noise drives modularity",
    paper="Qian, Liang & Fiete 2025, Fig. 1",
    claim="layer-0 g_4 large (k* = 4) for α = 1, 2; not for α = 0 nor for the linear net",
    config=Fig1Config,
    run=run,
    presets={
        # Noise needs ~20k steps to separate clearly (spec 1 calibration: α=2 weak at 5k).
        "quick": {"steps": 20_000, "seeds": 3, "eval_every": 1000},
        "paper": {"steps": 50_000, "seeds": 5},
    },
))
