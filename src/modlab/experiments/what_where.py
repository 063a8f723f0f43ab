"""What–where: dropping (shape, position) combinations from a corner mixes the hidden code."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from pydantic import Field  # noqa: E402

from ..metrics.disentanglement import variance_mixing_index  # noqa: E402
from ..metrics.range_condition import range_margin  # noqa: E402
from ..tasks import make_task  # noqa: E402
from ..tasks.sources import support_components  # noqa: E402
from ..train import RunConfig, with_overrides  # noqa: E402
from .base import Context, Experiment, ExperimentConfig, Run, register  # noqa: E402
from .catalog import describe
from .plots import excluded, save  # noqa: E402

DROPS = [0, 1, 3, 6, 10, 15, 21, 28, 36]
# Spec 3: the authors' corner-drop mixing indices for DROPS.
AUTHORS_CORNER = [0.0, 0.0, 0.002, 0.007, 0.014, 0.024, 0.040, 0.067, 0.196]
# The authors' diagonal series (kylehkhsu/modular, FigureData/panel_3/…diag_<k>.npy), where
# they report mixing ≤ 0.002; 28 and 36 are our extension (the support splits from 23 on).
AUTHORS_DIAGONAL = [0, 1, 3, 5, 7, 9, 11, 13, 15, 17]


class WhatWhereConfig(ExperimentConfig):
    drops: list[int] = Field(default_factory=lambda: list(DROPS), description="corner drops")
    diagonal_drops: list[int] = Field(default_factory=lambda: [*AUTHORS_DIAGONAL, 28, 36],
                                      description="diagonal drops")
    modes: list[str] = Field(default_factory=lambda: ["corner", "diagonal"])
    hidden: int = Field(25, ge=1)
    # Spec silent: activity 1e-2 and weight L2 1e-3 fit to MSE ~4e-4 and settle the code
    # within ~4000 full-batch steps (weaker values, 1e-3/1e-4, had not settled by 6000).
    activity: float = Field(1e-2, ge=0, description="⟨‖h‖²⟩ coefficient (energy)")
    l2: float = Field(1e-3, ge=0, description="Σ‖W‖² coefficient")
    steps: int = Field(6000, ge=1)
    lr: float = Field(1e-2, gt=0)


def run_config(cfg: WhatWhereConfig, mode: str, drop: int) -> RunConfig:
    """A one-hidden-layer ReLU network on the what–where task, full batch."""
    d = make_task("what_where", drop=drop, mode=mode)
    return RunConfig(task={"name": "what_where", "params": {"drop": drop, "mode": mode}},
                     net={"kind": "mlp", "hidden": [cfg.hidden], "activation": "relu"},
                     reg={"activity": cfg.activity, "l2": cfg.l2},
                     optim={"steps": cfg.steps, "batch_size": len(d.x_train), "lr": cfg.lr,
                            "eval_every": max(cfg.steps // 20, 1)})


def plan(cfg: WhatWhereConfig) -> list[Run]:
    bad = [m for m in cfg.modes if m not in ("corner", "diagonal")]
    if bad:
        raise ValueError(f"invalid 'modes' value {bad[0]!r}; allowed: corner, diagonal")
    drops = {"corner": cfg.drops, "diagonal": cfg.diagonal_drops}
    return [Run(with_overrides(run_config(cfg, mode, drop), {"seed": s}),
                {"mode": mode, "drop": drop, "seed": s})
            for mode in cfg.modes for drop in drops[mode] for s in cfg.seed_list()]


def analyze(cfg: WhatWhereConfig, trained, ctx: Context) -> list[dict]:
    rows, checks = [], {}
    for t in trained:
        mode, drop, d = t.labels["mode"], t.labels["drop"], t.dataset
        if (mode, drop) not in checks:
            checks[(mode, drop)] = range_margin(d.y_train.numpy().astype(float),
                                                finite_sample=False)  # designed data
        check = checks[(mode, drop)]
        with torch.no_grad():
            h = t.model.forward_hidden(d.x_train).hidden[0][0].numpy()
        authors = dict(zip(DROPS, AUTHORS_CORNER, strict=True)).get(drop) if mode == "corner" \
            else None
        rows.append({"mode": mode, "drop": drop, "seed": t.seed, "diverged": t.diverged,
                     "mixing_index": np.nan if t.diverged else
                     variance_mixing_index(h, d.info["shape"], d.info["position"]),
                     "test_loss": t.test_loss, "alive_units": int((h.max(0) > 0).sum()),
                     "margin": check.margin, "verdict": check.verdict,
                     "components": support_components(drop, mode),
                     "authors_mixing": np.nan if authors is None else authors})
    plot_mixing_vs_drops(rows, ctx.out / "mixing_vs_drops.png")
    return rows


def plot_mixing_vs_drops(rows, path: Path) -> Path:
    from .plots import count_axis, house_style

    with house_style():
        fig, ax = plt.subplots(figsize=(5.4, 3.2))
        for i, mode in enumerate(dict.fromkeys(r["mode"] for r in rows)):
            live = [r for r in rows if r["mode"] == mode and np.isfinite(r["mixing_index"])]
            drops = sorted({r["drop"] for r in live})
            vals = [[r["mixing_index"] for r in live if r["drop"] == d] for d in drops]
            ax.errorbar(drops, [np.mean(v) for v in vals], yerr=[np.std(v) for v in vals],
                        marker="o", ms=3, capsize=2, color=f"C{i}", label=f"{mode} (ours)")
        ax.plot(DROPS, AUTHORS_CORNER, "k--", lw=1, marker="x", ms=3, label="corner (authors)")
        ax.set_xlabel("(shape, position) combinations dropped")
        count_axis(ax.xaxis)
        ax.set_ylabel("mixing index of the hidden code")
        ax.legend(title="mean ± sd over seeds", loc="upper left", bbox_to_anchor=(1.01, 1.0))
        gone = excluded(sum(1 for r in rows if not np.isfinite(r["mixing_index"])), len(rows))
        if gone:
            ax.set_title(gone)
        return save(fig, path)


register(Experiment(
    name="what-where",
    **describe("what-where"),
    config=WhatWhereConfig,
    plan=plan,
    analyze=analyze,
    presets={
        "quick": {"seeds": 3, "steps": 4000, "drops": [0, 6, 15, 28, 36],
                  "diagonal_drops": [0, 1, 5, 9, 13, 17, 28, 36]},
        "paper": {"seeds": 5, "steps": 16_000},
    },
    summary_metrics=("mixing_index", "authors_mixing", "margin", "components", "test_loss",
                     "alive_units"),
    group_by=("mode", "drop"),
))
