"""Figures 4 and 10: the weighted-activity regulariser and the alternatives it is compared with."""
from __future__ import annotations

from pydantic import Field

from .base import Experiment, Run, check_settings, register
from .catalog import describe
from .noise_figures import MLPFigureConfig, analyze_settings, base_run, plan_settings

SETTINGS = {
    "WA": {"reg.wa": "lam"},
    "activity": {"reg.activity": "lam"},
    "L2 only": {},
    "WA tanh": {"reg.wa": "lam", "net.activation": "tanh"},
    "WA sigmoid": {"reg.wa": "lam", "net.activation": "sigmoid"},
    "WA alpha=1": {"reg.wa": "lam", "reg.wa_alpha": 1.0},
    "L1": {"reg.l1": "lam"},
    "L12": {"reg.l12": "lam"},
    "dropout 0.05": {"net.dropout": 0.05},
}


class Fig4Config(MLPFigureConfig):
    lam: float = Field(1e-3, ge=0, description="λ of WA, activity, L1 and L1,2 (authors' code)")
    settings: list[str] = Field(default_factory=lambda: list(SETTINGS))


def plan(cfg: Fig4Config) -> list[Run]:
    check_settings(cfg.settings, SETTINGS)
    settings = {name: {k: (cfg.lam if v == "lam" else v) for k, v in SETTINGS[name].items()}
                for name in cfg.settings}
    return plan_settings(cfg, {"mlp": base_run(cfg)}, settings)


register(Experiment(
    name="fig4",
    **describe("fig4"),
    config=Fig4Config,
    plan=plan,
    analyze=analyze_settings,
    presets={
        # WA separates from L2 by 5k steps (spec 1 calibration).
        "quick": {"steps": 5_000, "seeds": 3, "eval_every": 500},
        "paper": {"steps": 50_000, "seeds": 5},
    },
    summary_metrics=("k_star", "gap_at_true_k", "gap_reference", "test_loss", "dead_neurons"),
))
