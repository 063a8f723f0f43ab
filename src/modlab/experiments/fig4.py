"""Figures 4 and 10: the weighted-activity regulariser and the alternatives it is compared with."""
from __future__ import annotations

from pydantic import Field

from .base import Context, Experiment, register
from .noise_figures import MLPFigureConfig, base_run, run_settings

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


def run(cfg: Fig4Config, ctx: Context) -> list[dict]:
    unknown = [s for s in cfg.settings if s not in SETTINGS]
    if unknown:
        raise ValueError(f"unknown setting {unknown[0]!r}; allowed: {', '.join(SETTINGS)}")
    settings = {name: {k: (cfg.lam if v == "lam" else v) for k, v in SETTINGS[name].items()}
                for name in cfg.settings}
    return run_settings(cfg, ctx, {"mlp": base_run(cfg)}, settings)[1]


register(Experiment(
    name="fig4",
    title="Weighted-activity regularisation and its alternatives",
    paper="Qian, Liang & Fiete 2025, Figs. 4 and 10",
    claim="WA (ReLU) modular with k* = 4; activity modular with dead neurons; L2 not; "
          "tanh/sigmoid less modular",
    config=Fig4Config,
    run=run,
    presets={
        # WA separates from L2 by 5k steps (spec 1 calibration).
        "quick": {"steps": 5_000, "seeds": 3, "eval_every": 500},
        "paper": {"steps": 50_000, "seeds": 5},
    },
    summary_metrics=("k_star", "gap_at_true_k", "test_loss", "dead_neurons"),
))
