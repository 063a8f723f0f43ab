"""Figure 7: noise robustness — WA-trained nets, once modular, lose less under test-time noise."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import matplotlib.pyplot as plt
import torch
from pydantic import Field

from ..train import evaluate_mse
from .base import Context, Experiment, Run, register
from .catalog import describe
from .members import Trained, modularity_rows, with_overrides
from .noise_figures import MLPFigureConfig, base_run
from .plots import errorbar_by, save


class Fig7Config(MLPFigureConfig):
    """`n_train` of the base config is replaced by `sizes`."""

    sizes: list[Annotated[int, Field(ge=1)]] = Field(
        default_factory=lambda: [2 ** k for k in range(6, 15)], min_length=1,
        description="training-set sizes N")
    lam: float = Field(1e-3, ge=0, description="λ of the WA regulariser")
    test_sigma: float = Field(0.1, ge=0, description="σ of the test-time noise")
    test_alpha: float = Field(2.0, ge=0, description="α of the test-time noise (2 = multiplicative)")
    noise_repeats: int = Field(10, ge=1, description="noise draws averaged per test point")


SETTINGS = {"WA": {"reg.wa": "lam"}, "L2 only": {}}


@contextmanager
def with_test_noise(model, sigma: float, alpha: float) -> Iterator[None]:
    """Switch the model's activity noise on in eval mode (`ActivityNoise.test_time`) at (σ, α)."""
    noise = model.noise
    saved = noise.sigma.clone(), noise.alpha.clone(), noise.test_time
    noise.sigma.fill_(sigma)
    noise.alpha.fill_(alpha)
    noise.test_time = True
    try:
        yield
    finally:
        noise.sigma.copy_(saved[0])
        noise.alpha.copy_(saved[1])
        noise.test_time = saved[2]


def noisy_test_loss(t: Trained, sigma: float, alpha: float, repeats: int) -> float:
    """Test MSE of a trained network with noise on, averaged over `repeats` draws (its own
    noise stream, seeded by its config: the number is a function of the run)."""
    model, data = t.model, t.dataset
    with with_test_noise(model, sigma, alpha):
        losses = torch.stack([evaluate_mse(model, data.x_test, data.y_test) for _ in range(repeats)])
    return float(losses.mean())


def runs_for(cfg: Fig7Config, n_train: int) -> list[Run]:
    """WA and L2-only × seeds at one N; each seed draws its own training set."""
    base = base_run(cfg.model_copy(update={"n_train": n_train}))
    return [Run(with_overrides(base, {"seed": s, "task.params.data_seed": s,
                                      **{k: (cfg.lam if v == "lam" else v) for k, v in ov.items()}}),
                {"setting": name, "seed": s, "n_train": n_train})
            for name, ov in SETTINGS.items() for s in cfg.seed_list()]


def plan(cfg: Fig7Config) -> list[Run]:
    return [r for size in cfg.sizes for r in runs_for(cfg, size)]


def analyze(cfg: Fig7Config, trained, ctx: Context) -> list[dict]:
    rows = []
    for t in trained:
        noisy = float("nan") if t.diverged else noisy_test_loss(
            t, cfg.test_sigma, cfg.test_alpha, cfg.noise_repeats)
        rows += [{**r, "noisy_test_loss": noisy}
                 for r in modularity_rows([t], collapsed=cfg.collapsed) if r["layer"] == 0]
    plot_robustness(rows, ctx)
    return rows


def plot_robustness(rows: list[dict], ctx: Context) -> None:
    """Fig. 7b: noisy and noise-free test loss (top) and layer-0 g_n (bottom) against N."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(4.8, 5.2), sharex=True)
    for i, name in enumerate(dict.fromkeys(r["setting"] for r in rows)):
        mine = [r for r in rows if r["setting"] == name]
        errorbar_by(top, [{**r, "setting": f"{name}, test noise"} for r in mine], "n_train",
                    "noisy_test_loss", color=f"C{i}")
        errorbar_by(top, [{**r, "setting": f"{name}, noise-free"} for r in mine], "n_train",
                    "test_loss", color=f"C{i}", ls=":", alpha=0.6)
        errorbar_by(bottom, mine, "n_train", "gap_at_true_k", color=f"C{i}")
    top.set_yscale("log")
    top.set_ylabel("test MSE")
    top.legend(fontsize=7)
    bottom.set_xscale("log")
    bottom.set_xlabel("training-set size N")
    bottom.set_ylabel("layer-0 eigengap $g_n$")
    bottom.legend(fontsize=7)
    save(fig, ctx.out / "robustness.png")


register(Experiment(
    name="fig7",
    **describe("fig7"),
    config=Fig7Config,
    plan=plan,
    analyze=analyze,
    presets={
        # WA separates from L2 by 5k steps at N = 1000 (spec 1 calibration).
        "quick": {"sizes": [64, 256, 1024, 4096], "seeds": 3, "steps": 5_000, "eval_every": 1000,
                  "workers": 2},
        "paper": {"seeds": 5, "steps": 50_000, "workers": 2},
    },
    summary_metrics=("gap_at_true_k", "k_star", "test_loss", "noisy_test_loss"),
    group_by=("setting", "n_train"),
))
