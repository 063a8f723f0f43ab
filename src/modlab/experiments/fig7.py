"""Figure 7: noise robustness — WA-trained nets, once modular, lose less under test-time noise."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Literal

import matplotlib.pyplot as plt
import numpy as np
import torch
from pydantic import Field

from ..atomic import atomic_write_text
from ..train import evaluate_mse
from .base import Context, Experiment, Run, register
from .catalog import describe
from .members import Trained, modularity_rows, with_overrides
from .noise_figures import MLPFigureConfig, base_run
from .plots import errorbar_by, save


class Fig7Config(MLPFigureConfig):
    """`n_train` of the base config is replaced by `sizes`."""

    sizes: list[Annotated[int, Field(ge=1)]] = Field(
        default_factory=lambda: [2 ** k for k in range(4, 15)], min_length=1,
        description="training-set sizes N (from 16: WA's noisy loss crosses L2's at N ≈ 32–64)")
    lam: float = Field(1e-3, ge=0, description="λ of the WA regulariser")
    test_sigma: float = Field(0.1, ge=0, description="σ of the test-time noise")
    test_alpha: float = Field(2.0, ge=0, description="α of the test-time noise (2 = multiplicative)")
    noise_repeats: int = Field(10, ge=1, description="noise draws averaged per test point")
    test_site: Literal["pre", "post"] = Field(
        "pre", description="where the test noise acts: pre-activation (paper) or post (code)")
    extra_sigmas: list[Annotated[float, Field(ge=0)]] = Field(
        default_factory=list, description="more test σ, each at both sites (crossover search): "
                                          "columns noisy_<site>_<σ>, table crossover.md")


SETTINGS = {"WA": {"reg.wa": "lam"}, "L2 only": {}}


@contextmanager
def with_test_noise(model, sigma: float, alpha: float, site: str | None = None) -> Iterator[None]:
    """Switch the model's activity noise on in eval mode (`ActivityNoise.test_time`) at (σ, α),
    optionally at another site ("pre" or "post") than the one it trained with."""
    noise = model.noise
    saved = noise.sigma.clone(), noise.alpha.clone(), noise.test_time, noise.site
    noise.sigma.fill_(sigma)
    noise.alpha.fill_(alpha)
    noise.test_time = True
    noise.site = site or noise.site
    try:
        yield
    finally:
        noise.sigma.copy_(saved[0])
        noise.alpha.copy_(saved[1])
        noise.test_time, noise.site = saved[2], saved[3]


def noisy_test_loss(t: Trained, sigma: float, alpha: float, repeats: int,
                    site: str | None = None) -> float:
    """Test MSE of a trained network with noise on, averaged over `repeats` draws (its own
    noise stream, seeded by its config: the number is a function of the run)."""
    model, data = t.model, t.dataset
    with with_test_noise(model, sigma, alpha, site):
        losses = torch.stack([evaluate_mse(model, data.x_test, data.y_test) for _ in range(repeats)])
    return float(losses.mean())


def extra_losses(cfg: Fig7Config, t: Trained) -> dict:
    """noisy_<site>_<σ> for every extra σ at both sites (NaN for a diverged run)."""
    return {f"noisy_{site}_{s:g}": float("nan") if t.diverged else
            noisy_test_loss(t, s, cfg.test_alpha, cfg.noise_repeats, site)
            for site in ("pre", "post") for s in cfg.extra_sigmas}


def crossover_table(cfg: Fig7Config, rows: list[dict]) -> str:
    """Markdown: per (site, σ) and N, the ratio of L2-only's to WA's mean noisy test MSE (> 1:
    WA more robust), and its range over seeds paired by seed (each seed draws one data set);
    a crossover is a ratio that changes side of 1 as N grows."""
    cols = [(cfg.test_site, cfg.test_sigma, "noisy_test_loss")]
    cols += [(site, s, f"noisy_{site}_{s:g}") for site in ("pre", "post") for s in cfg.extra_sigmas]
    sizes = sorted({r["n_train"] for r in rows})
    lines = ["| site | σ | " + " | ".join(f"N={n}" for n in sizes) + " |",
             "|---|---|" + "---|" * len(sizes)]
    for site, sigma, col in cols:
        cells = []
        for n in sizes:
            wa = {r["seed"]: r[col] for r in rows if r["setting"] == "WA" and r["n_train"] == n}
            l2 = {r["seed"]: r[col] for r in rows if r["setting"] == "L2 only" and r["n_train"] == n}
            paired = [l2[k] / wa[k] for k in wa if k in l2]
            cells.append(f"{np.mean(list(l2.values())) / np.mean(list(wa.values())):.2f} "
                         f"({min(paired):.2f}–{max(paired):.2f})" if paired else "–")
        lines.append(f"| {site} | {sigma:g} | " + " | ".join(cells) + " |")
    return ("# Fig. 7: L2-only / WA noisy test MSE (mean ratio; per-seed range)\n\n"
            + "\n".join(lines) + "\n")


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
            t, cfg.test_sigma, cfg.test_alpha, cfg.noise_repeats, cfg.test_site)
        rows += [{**r, "noisy_test_loss": noisy, **extra_losses(cfg, t)}
                 for r in modularity_rows([t], collapsed=cfg.collapsed) if r["layer"] == 0]
    plot_robustness(rows, ctx)
    atomic_write_text(ctx.out / "crossover.md", crossover_table(cfg, rows))
    return rows


def plot_robustness(rows: list[dict], ctx: Context) -> None:
    """Fig. 7b: noisy and noise-free test loss (top) and layer-0 g_n (bottom) against N, mean ±
    sd over seeds; one colour per setting, one figure legend beside the panels."""
    from matplotlib.lines import Line2D

    from .plots import excluded, house_style, legend_outside

    with house_style():
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(5.6, 5.0), sharex=True)
        names = list(dict.fromkeys(r["setting"] for r in rows))
        for i, name in enumerate(names):
            mine = [r for r in rows if r["setting"] == name]
            errorbar_by(top, mine, "n_train", "noisy_test_loss", color=f"C{i}")
            errorbar_by(top, mine, "n_train", "test_loss", color=f"C{i}", ls=":", mfc="white")
            errorbar_by(bottom, mine, "n_train", "gap_at_true_k", color=f"C{i}")
        top.set_yscale("log")
        top.set_ylabel("test MSE (log scale)")
        bottom.set_xscale("log")
        sizes = sorted({r["n_train"] for r in rows})
        bottom.set_xticks(sizes, [str(s) for s in sizes])
        bottom.minorticks_off()
        bottom.set_xlabel("training-set size N (log scale)")
        bottom.set_ylabel("layer-0 eigengap $g_n$")
        handles = [Line2D([], [], color=f"C{i}", marker="o", ms=3) for i in range(len(names))]
        handles += [Line2D([], [], color="0.3", marker="o", ms=3),
                    Line2D([], [], color="0.3", ls=":", marker="o", ms=3, mfc="white")]
        legend_outside(fig, handles, [*names, "with test-time noise", "noise-free"],
                       title="mean ± sd over seeds")
        gone = excluded(sum(1 for r in rows if r.get("diverged")), len(rows))
        if gone:
            fig.suptitle(gone)
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
