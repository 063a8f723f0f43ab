"""Figure 8: a modular first layer learns the component functions of z = f₃(f₁(x) + f₂(y)) and
extrapolates out of distribution; fully connected and bottleneck networks do not."""
from __future__ import annotations

import numpy as np
from matplotlib.colors import LogNorm
from pydantic import Field

from ..metrics import affine_fit, affine_r2
from ..nn import ARCHITECTURES
from ..tasks import Dataset
from .base import Context, Experiment, Run, register
from .catalog import describe
from .compositional import (
    ArchRun,
    ArchTrainConfig,
    group_runs,
    module_readout,
    module_targets,
    predict,
    seed_runs,
)
from .plots import plt, save

TASKS = ("gaussian", "sine")
GRID = np.linspace(-1, 1, 201)


class Fig8Config(ArchTrainConfig):
    """Defaults: spec 1, Fig. 8 (architectures, activations, AdamW lr 1e-3, 5,000 points)."""

    tasks: list[str] = Field(default_factory=lambda: list(TASKS))
    architectures: list[str] = Field(default_factory=lambda: list(ARCHITECTURES))
    s: float = Field(0.5, gt=0, description="Gaussian width (Eq. 24)")
    r: float = Field(0.5, gt=0, lt=1, description="fan split of Eq. 26; 0.5 gives ID = {xy > 0}")
    n_points: int = Field(5000, ge=10)
    data_seed: int = 0
    sine_task_seeds: list[int] = Field(default_factory=lambda: [0, 1, 2],
                                       description="one sinusoid task (f₁, f₂, f₃, patches) each")
    sine_authors_seeds: list[int] = Field(
        default_factory=list, description="sinusoid tasks drawn the authors' way (one legacy "
                                          "NumPy stream; their notebook uses 42)")
    grid: int = Field(8, ge=2)
    id_fraction: float = Field(0.8, gt=0, le=1)
    gaussian_activation: str = "prelu"
    sine_activation: str = "leaky_relu"


def check(cfg: Fig8Config) -> None:
    for field, values, allowed in (("tasks", cfg.tasks, TASKS),
                                   ("architectures", cfg.architectures, ARCHITECTURES)):
        bad = [v for v in values if v not in allowed]
        if bad:
            raise ValueError(f"invalid {field!r} value {bad[0]!r}; allowed: {', '.join(allowed)}")


def task_params(cfg: Fig8Config) -> list[tuple[str, str, str, dict]]:
    """(task label, activation, registered task, its params) for every task instance."""
    out = []
    if "gaussian" in cfg.tasks:
        out.append(("gaussian", cfg.gaussian_activation, "gaussian",
                    {"s": cfg.s, "r": cfg.r, "n_points": cfg.n_points, "data_seed": cfg.data_seed}))
    if "sine" in cfg.tasks:
        for ts in cfg.sine_task_seeds:
            out.append((f"sine{ts}", cfg.sine_activation, "sine_composition",
                        {"task_seed": ts, "data_seed": cfg.data_seed, "n_points": cfg.n_points,
                         "grid": cfg.grid, "id_fraction": cfg.id_fraction}))
        for ts in cfg.sine_authors_seeds:
            out.append((f"sine{ts}-authors", cfg.sine_activation, "sine_composition",
                        {"task_seed": ts, "n_points": cfg.n_points, "grid": cfg.grid,
                         "id_fraction": cfg.id_fraction, "scheme": "authors"}))
    return out


def plan(cfg: Fig8Config) -> list[Run]:
    check(cfg)
    return [r for label, activation, task, params in task_params(cfg)
            for arch in cfg.architectures
            for r in seed_runs(cfg.run_config(arch, activation, task, params), cfg.seed_list(),
                               task=label, arch=arch)]


def module_r2(run: ArchRun, data: Dataset) -> np.ndarray | None:
    """(M, n_modules) R² of the affine map from each module's output to its target."""
    if run.arch != "modular":
        return None
    out = module_readout(run.model, GRID)                     # (M, G, n)
    target = module_targets(data, GRID)                       # (G, n)
    return affine_r2(np.moveaxis(out, 1, -1), target.T[None])


def result_rows(task: str, run: ArchRun, data: Dataset) -> list[dict]:
    r2 = module_r2(run, data)
    rows = []
    for i, seed in enumerate(run.seeds):
        row = {"task": task, "arch": run.arch, "seed": seed, "params": run.params,
               "id_loss": float(run.id_loss[i]), "ood_loss": float(run.ood_loss[i]),
               "ood_over_id": float(run.ood_loss[i] / run.id_loss[i]),
               "n_id": data.info["n_id"], "n_ood": data.info["n_ood"]}
        if r2 is not None:
            row["module_r2_min"] = float(r2[i].min())
            row["module_r2"] = [float(v) for v in r2[i]]
        rows.append(row)
    return rows


def analyze(cfg: Fig8Config, trained, ctx: Context) -> list[dict]:
    runs = group_runs(trained, "task", "arch")
    rows = [r for (task, _arch), run_ in runs.items()
            for r in result_rows(task, run_, run_.datasets[0])]
    tasks = {task: run_.datasets[0] for (task, _arch), run_ in runs.items()}
    plot_loss_curves(runs, ctx.out / "fig8_loss_curves.png")
    plot_modules(runs, tasks, ctx.out / "fig8_modules.png")
    plot_predictions(runs, tasks, ctx.out / "fig8_predictions.png")
    return rows


def plot_loss_curves(runs: dict[tuple[str, str], ArchRun], path) -> None:
    """Fig. 8d/g: ID (solid) and OOD (dashed) MSE over training, one line per seed."""
    from matplotlib.lines import Line2D

    from .plots import house_style, legend_outside, step_axis

    tasks = list(dict.fromkeys(t for t, _ in runs))
    archs = list(dict.fromkeys(a for _, a in runs))
    with house_style():
        fig, axes = plt.subplots(len(tasks), len(archs), squeeze=False, sharex=True, sharey="row",
                                 figsize=(2.6 * len(archs) + 1.4, 2.0 * len(tasks) + 0.3))
        for (task, arch), r in runs.items():
            ax = axes[tasks.index(task), archs.index(arch)]
            ax.plot(r.curve_steps, r.id_curve, color="C0", lw=1, alpha=0.8)
            ax.plot(r.curve_steps, r.ood_curve, color="C3", lw=1, ls="--", alpha=0.8)
            ax.set_yscale("log")
            # r.params counts trainable tensors: 0 on the rebuilt (frozen) model, so count all.
            model = r.model
            params = sum(q.numel() for q in model.parameters()) // getattr(model, "members", 1)
            ax.set_title(f"{task}: {arch} ({params} params)")
        for ax in axes[-1]:
            step_axis(ax)
        for ax in axes[:, 0]:
            ax.set_ylabel("MSE (log scale)")
        legend_outside(fig, [Line2D([], [], color="C0"), Line2D([], [], color="C3", ls="--")],
                       ["in distribution\n(train set)", "out of distribution\n(test set)"],
                       title="one line per seed")
        save(fig, path)


def plot_modules(runs, tasks: dict[str, Dataset], path) -> None:
    """Fig. 8e/h: each module's output, affinely mapped onto its target, against its input;
    one line per seed, their R² in the title."""
    from matplotlib.lines import Line2D

    from .plots import house_style, legend_outside

    chosen = [(t, r) for (t, a), r in runs.items() if a == "modular"]
    if not chosen:
        return
    with house_style():
        fig, axes = plt.subplots(len(chosen), 2, figsize=(6.6, 1.9 * len(chosen) + 0.4),
                                 squeeze=False, sharex=True)
        seeds = []
        for row, (task, r) in enumerate(chosen):
            outs = module_readout(r.model, GRID)                  # (M, G, n)
            target = module_targets(tasks[task], GRID)
            for i in range(outs.shape[2]):
                ax = axes[row, i]
                ax.plot(GRID, target[:, i], color="k", ls="--", lw=1.5)
                for k, out in enumerate(outs[:, :, i]):
                    a, b, _ = affine_fit(out, target[:, i])
                    ax.plot(GRID, a * out + b, color=f"C{k % 10}", lw=1)
                seeds = r.seeds if len(r.seeds) > len(seeds) else seeds
                r2 = ", ".join(f"{v:.3f}" for v in affine_r2(outs[:, :, i], target[:, i][None]))
                ax.set_title(f"{task} module {i + 1}: R² {r2}", fontsize=7)
                if i == 0:
                    ax.set_ylabel("output (affine fit\nto target)")
        for i, ax in enumerate(axes[-1]):
            ax.set_xlabel(f"module input {'xy'[i]}")
        handles = [Line2D([], [], color="k", ls="--", lw=1.5)]
        handles += [Line2D([], [], color=f"C{k % 10}") for k in range(len(seeds))]
        legend_outside(fig, handles, ["target", *[f"seed {s}" for s in seeds]])
        save(fig, path)


def plot_predictions(runs, tasks: dict[str, Dataset], path) -> None:
    """|prediction − target| over the input domain (first seed), one row per task."""
    from .plots import colorbar, house_style

    names = list(dict.fromkeys(t for t, _ in runs))
    archs = list(dict.fromkeys(a for _, a in runs))
    with house_style():
        fig, axes = plt.subplots(len(names), len(archs), squeeze=False, sharex=True, sharey=True,
                                 figsize=(2.1 * len(archs) + 1.2, 2.0 * len(names) + 0.4))
        norm = LogNorm(1e-4, 1e-1)
        for (task, arch), r in runs.items():
            ax, data = axes[names.index(task), archs.index(arch)], tasks[task]
            x = np.concatenate([data.x_train.numpy(), data.x_test.numpy()])
            y = np.concatenate([data.y_train.numpy(), data.y_test.numpy()])[:, 0]
            err = np.clip(np.abs(predict(r.model, x)[0, :, 0] - y), 1e-4, None)
            sc = ax.scatter(x[:, 0], x[:, 1], c=err, s=1.5, cmap="magma", norm=norm,
                            rasterized=True)
            ax.set_title(f"{task}: {arch}")
            ax.set_aspect("equal")
            ax.set_xticks([-1, 0, 1])
            ax.set_yticks([-1, 0, 1])
        for ax in axes[-1]:
            ax.set_xlabel("input x")
        for ax in axes[:, 0]:
            ax.set_ylabel("input y")
        colorbar(fig, sc, axes.ravel().tolist(),
                 "|prediction − target| (first seed, log scale; clipped to [1e-4, 1e-1])",
                 shrink=min(0.9, 0.45 * len(names)), extend="both")
        fig.suptitle("error over the whole domain, ID (train) and OOD (test) points together")
        save(fig, path)


register(Experiment(
    name="fig8",
    **describe("fig8"),
    config=Fig8Config,
    plan=plan,
    analyze=analyze,
    presets={
        # The sinusoid modular net needs ~5k steps to fit ID; the Gaussian separates by 2k.
        "quick": {"steps": 5000, "seeds": 3, "sine_task_seeds": [0, 1, 2], "eval_every": 250},
        "paper": {"steps": 20_000, "seeds": 5, "sine_task_seeds": [0, 1, 2, 3, 4],
                  "sine_authors_seeds": [42], "eval_every": 500},
    },
    summary_metrics=("id_loss", "ood_loss", "ood_over_id", "params", "module_r2_min"),
    group_by=("task", "arch"),
))
