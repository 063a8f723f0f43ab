"""Shared set-up of the noise-modularity figures: the paper's network, task and run pipeline."""
from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from ..train import NetConfig, OptimConfig, RegConfig, RunConfig, TaskConfig
from .base import Context, ExperimentConfig, Run
from .members import Trained, make_runs, modularity_rows
from .plots import plot_eigengaps, plot_loss_curves, plot_reordered_weights


class MLPFigureConfig(ExperimentConfig):
    """Defaults: spec 1 (n=4, H=32, three hidden layers, Adam 1e-3, batch 200, L2 1e-4 always)."""

    n: int = Field(4, ge=2)
    hidden: int = Field(32, ge=1, description="width of every hidden layer (8n when n varies)")
    depth: int = Field(3, ge=1, description="number of hidden layers")
    steps: int = Field(50_000, ge=1)
    batch_size: int = Field(200, ge=1)
    lr: float = Field(1e-3, gt=0)
    l2: float = Field(1e-4, ge=0, description="weight L2 added to every run (authors' code)")
    task_seed: int = 145
    n_train: int = Field(1000, ge=1)
    n_test: int = Field(1000, ge=1)
    eval_every: int = Field(500, ge=1)
    collapsed: bool = Field(False, description="use the code's collapsed deeper-layer spectrum")
    reference_spectrum: bool = Field(True, description="also report k* and g from the authors' "
                                     "spectrum (eigh on the non-symmetric L_rw; wrong, for "
                                     "comparison only)")


def base_run(cfg: MLPFigureConfig, task: str = "modular", **task_params) -> RunConfig:
    params = {"n": cfg.n, "n_train": cfg.n_train, "n_test": cfg.n_test, **task_params}
    if task == "modular":
        params.setdefault("task_seed", cfg.task_seed)
    return RunConfig(
        task=TaskConfig(name=task, params=params),
        net=NetConfig(hidden=[cfg.hidden] * cfg.depth),
        reg=RegConfig(l2=cfg.l2),
        optim=OptimConfig(steps=cfg.steps, batch_size=cfg.batch_size, lr=cfg.lr,
                          eval_every=min(cfg.eval_every, cfg.steps)),
    )


def plan_settings(cfg: MLPFigureConfig, bases: dict[str, RunConfig],
                  settings: dict[str, dict]) -> list[Run]:
    """settings × seeds as runs. `settings` maps a setting name to dotted-path overrides of a
    base run; the optional key "base" picks the base (default: the first of `bases`)."""
    default = next(iter(bases))
    runs = []
    for name, overrides in settings.items():
        base = bases[overrides.get("base", default)]
        runs += make_runs(base, {name: {k: v for k, v in overrides.items() if k != "base"}},
                          cfg.seed_list())
    return runs


def analyze_settings(cfg: MLPFigureConfig, trained: Sequence[Trained], ctx: Context) -> list[dict]:
    """Measure every layer and draw the standard figures."""
    rows = modularity_rows(trained, collapsed=cfg.collapsed, reference=cfg.reference_spectrum)
    plot_standard(trained, rows, ctx)
    return rows


def plot_standard(trained: Sequence[Trained], rows: Sequence[dict], ctx: Context) -> None:
    """Reordered |W|, eigengaps and loss curves; each figure leaves diverged runs out itself
    and says how many it left out."""
    true_k = next((t.n_modules for t in trained), None)
    plot_reordered_weights(trained, ctx.out / "weights_reordered.png")
    plot_eigengaps(rows, ctx.out / "eigengaps.png", true_k=true_k)
    plot_loss_curves(trained, ctx.out / "loss_curves.png")
