"""BIMT on MLPs (Liu, Gan & Tegmark 2023; spec 2): neurons on lines, the wiring cost
Σ|W|·(A·d + l₀), and neuron swaps make the modules of a modular task visible as separate
sub-networks; plain L1 sparsifies without localising."""
from __future__ import annotations

import numpy as np
import torch
from pydantic import Field

from ..metrics import layer_report, sparsity
from ..regularizers.bimt import connection_cost
from ..train import RunConfig, with_overrides
from ..train.terms import wiring_distances
from .base import Context, Experiment, ExperimentConfig, Run, check_settings, register
from .catalog import describe
from .plots import plt, save

TASKS = {"modular": {"n": 4}, "symbolic": {}}
SETTINGS = ("none", "L1", "L1+local", "L1+swap", "BIMT")


class BIMTMLPConfig(ExperimentConfig):
    tasks: list[str] = Field(default_factory=lambda: list(TASKS), min_length=1)
    settings: list[str] = Field(default_factory=lambda: list(SETTINGS))
    hidden: list[int] = Field(default_factory=lambda: [20, 20], min_length=1)
    lam: float = Field(1e-3, ge=0, description="λ of the wiring cost (L1 when A = 0)")
    locality: float = Field(2.0, ge=0, description="A: the distance weight of BIMT's cost")
    l0: float = Field(1.0, ge=0, description="l₀: the per-connection constant of the cost")
    swap_every: int = Field(200, ge=1, description="steps between neuron swaps (BIMT code: 200)")
    top_k: int = Field(6, ge=1, description="neurons per layer that try a swap")
    steps: int = Field(20_000, ge=1)
    batch_size: int = Field(128, ge=1)
    lr: float = Field(2e-3, gt=0)
    eval_every: int = Field(1000, ge=1)
    prune: float = Field(1e-2, gt=0, lt=1,
                         description="prune |w| below this fraction of each layer's max |w|")


def setting_overrides(cfg: BIMTMLPConfig, name: str) -> dict:
    if name == "none":
        return {}
    reg = {"reg.wiring": cfg.lam, "reg.wiring_l0": cfg.l0,
           "reg.wiring_locality": cfg.locality if name in ("L1+local", "BIMT") else 0.0,
           # the BIMT code's ramp: λ ×10 from ¼ of training, back to ×1 from ¾
           "reg.schedule": [(0.25, 10.0), (0.75, 1.0)]}
    if name in ("L1+swap", "BIMT"):
        reg |= {"reg.swap_every": cfg.swap_every, "reg.swap_top_k": cfg.top_k}
    return reg


def base_config(cfg: BIMTMLPConfig, task: str) -> RunConfig:
    return RunConfig(task={"name": task, "params": TASKS[task]},
                     net={"kind": "mlp", "hidden": cfg.hidden, "activation": "relu"},
                     optim={"steps": cfg.steps, "batch_size": cfg.batch_size, "lr": cfg.lr,
                            "eval_every": min(cfg.eval_every, cfg.steps)})


def plan(cfg: BIMTMLPConfig) -> list[Run]:
    check_settings(cfg.settings, SETTINGS)
    bad = [t for t in cfg.tasks if t not in TASKS]
    if bad:
        raise ValueError(f"invalid 'tasks' value {bad[0]!r}; allowed: {', '.join(TASKS)}")
    return [Run(with_overrides(base_config(cfg, task), {**setting_overrides(cfg, name),
                                                       "seed": s}),
                {"task": task, "setting": name, "seed": s})
            for task in cfg.tasks for name in cfg.settings for s in cfg.seed_list()]


@torch.no_grad()
def pruned_loss(t, fraction: float) -> tuple[float, float]:
    """(test MSE, fraction of weights kept) after zeroing |w| < fraction·max|w| per layer."""
    model = t.result.model()
    kept = []
    for w in model.weights:
        keep = w.abs() >= fraction * w.abs().max()
        w.mul_(keep)
        kept.append(keep.float().mean())
    data = t.dataset
    loss = float(((model(data.x_test) - data.y_test) ** 2).mean())
    return loss, float(torch.stack(kept).mean())


def measures(t, cfg: BIMTMLPConfig) -> dict:
    """Wiring length, sparsity, pruning, and the spectrum of the *pruned* weights: L1-type
    penalties leave dead units with weights ~1e-4 of the max, which normalisation (Eq. 5)
    would blow up to full-size rows of noise; pruning at `prune` removes them."""
    weights = [w[0] for w in t.model.weights]
    pruned = [w * (w.abs() >= cfg.prune * w.abs().max()) for w in weights]
    wiring = float(connection_cost([w.unsqueeze(0) for w in weights],
                                   wiring_distances(t.model), 1.0, 0.0)[0])
    report = layer_report([w.numpy() for w in pruned], true_k=t.n_modules)
    pruned_loss_value, kept = pruned_loss(t, cfg.prune)
    absw = torch.cat([w.abs().flatten() for w in weights])
    return {"wiring_length": wiring, "l1": float(absw.sum()),
            "sparsity": sparsity([w.numpy() for w in weights], cfg.prune * float(absw.max())).fraction,
            "k_star_first": report[0]["k_star"], "gap_first": report[0]["gap_at_true_k"],
            "k_star_last_hidden": report[-2]["k_star"], "pruned_test_loss": pruned_loss_value,
            "kept_fraction": kept}


def analyze(cfg: BIMTMLPConfig, trained, ctx: Context) -> list[dict]:
    rows = []
    for t in trained:
        row = {**t.labels, "test_loss": t.test_loss, "diverged": t.diverged}
        if not t.diverged:
            row |= measures(t, cfg)
        rows.append(row)
    plot_networks([t for t in trained if not t.diverged], ctx.out / "bimt_mlp_networks.png")
    plot_tradeoff(rows, ctx.out / "bimt_mlp_wiring_vs_loss.png")
    return rows


def plot_networks(trained, path) -> None:
    """The first seed of every (task, setting), drawn with neurons at their coordinates."""
    from .drawing import draw_mlp, sign_handles
    from .plots import house_style, legend_outside

    chosen: dict = {}
    for t in trained:
        chosen.setdefault((t.labels["task"], t.labels["setting"]), t)
    if not chosen:
        return
    tasks = list(dict.fromkeys(k[0] for k in chosen))
    settings = list(dict.fromkeys(k[1] for k in chosen))
    with house_style():
        fig, axes = plt.subplots(len(tasks), len(settings), squeeze=False, sharey=True,
                                 figsize=(2.0 * len(settings) + 1.0, 2.5 * len(tasks) + 0.4))
        for (task, setting), t in chosen.items():
            ax = axes[tasks.index(task), settings.index(setting)]
            weights = [w[0].numpy() for w in t.model.weights]
            coords = [(np.arange(n) + 0.5) / n for n in t.model.widths]
            draw_mlp(ax, weights, coords, min_frac=0.05, legend=False,
                     node_size=min(30.0, 240.0 / max(t.model.widths)),
                     title=f"{task}: {setting} (seed {t.seed})\ntest MSE {t.test_loss:.1e}")
        for ax in axes.ravel():
            if not ax.has_data():
                ax.set_visible(False)
        for ax in axes[:-1].ravel():
            ax.set_xlabel("")
        handles = sign_handles()
        legend_outside(fig, handles, [h.get_label() for h in handles],
                       title="line width ∝ |w|\n(< 5 % of the layer's\nmax |w| hidden)")
        fig.suptitle("neurons at their BIMT coordinates (first seed per setting)")
        save(fig, path)


def plot_tradeoff(rows, path) -> None:
    """Wiring length Σ|W|·d against test MSE, every seed, one colour per setting."""
    from .plots import house_style, legend_outside

    live = [r for r in rows if "wiring_length" in r]
    if not live:
        return
    tasks = list(dict.fromkeys(r["task"] for r in live))
    settings = list(dict.fromkeys(r["setting"] for r in live))
    markers = "osD^vP*X"
    with house_style():
        fig, axes = plt.subplots(1, len(tasks), figsize=(3.6 * len(tasks) + 1.2, 3.1),
                                 squeeze=False)
        for ax, task in zip(axes[0], tasks, strict=True):
            for i, s in enumerate(settings):
                pts = [r for r in live if r["task"] == task and r["setting"] == s]
                ax.scatter([r["wiring_length"] for r in pts], [r["test_loss"] for r in pts],
                           color=f"C{i}", marker=markers[i % len(markers)], s=20, label=s)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("wiring length Σ|W|·d (log scale)")
            ax.set_ylabel("test MSE (log scale)")
            gone = sum(1 for r in rows if r["task"] == task and "wiring_length" not in r)
            ax.set_title(task + (f" ({gone} diverged run(s) not shown)" if gone else ""))
        legend_outside(fig, title="setting (one\nmarker per seed)")
        save(fig, path)


register(Experiment(
    name="bimt-mlp",
    **describe("bimt-mlp"),
    config=BIMTMLPConfig,
    plan=plan,
    analyze=analyze,
    presets={
        "quick": {"steps": 3000, "seeds": 2, "eval_every": 500, "swap_every": 100},
        "paper": {"steps": 20_000, "seeds": 5},
    },
    summary_metrics=("test_loss", "wiring_length", "sparsity", "pruned_test_loss", "k_star_first",
                     "gap_first"),
    group_by=("task", "setting"),
))
