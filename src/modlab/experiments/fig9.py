"""Figures 9, 12, 13: module depth m = 1..5 before an FC head on the Eq. 1 task. Deep enough
modules (m ≥ 3) compute their f_i themselves; shallow ones leave part of the nonlinearity to the
FC head, more often the deeper the head."""
from __future__ import annotations

from collections import defaultdict

import numpy as np
from pydantic import Field

from ..metrics import affine_fit, affine_r2, deviation_from_linear
from ..train import RunConfig
from .base import Context, Experiment, ExperimentConfig, Run, register
from .catalog import describe
from .compositional import ArchRun, group_runs, module_readout, module_targets
from .plots import plt, save


class Fig9Config(ExperimentConfig):
    """Defaults: spec 1, Fig. 9 (4 modules of width 16, FC 64, Adam 1e-4, wd 1e-5, batch 50)."""

    m_values: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5])
    fc_depths: list[int] = Field(default_factory=lambda: [3], description="FC head hidden layers")
    n: int = Field(4, ge=1)
    module_width: int = Field(16, ge=1)
    head_width: int = Field(64, ge=1)
    amp: tuple[float, float] = (0.7, 1.0)
    omega: tuple[float, float] = (0.8, 3.6)
    x_range: float = Field(2.0, gt=0)
    n_train: int = Field(1000, ge=1)
    n_test: int = Field(1000, ge=1)
    steps: int = Field(40_000, ge=1)
    batch_size: int = Field(50, ge=1)
    lr: float = Field(1e-4, gt=0)
    weight_decay: float = Field(1e-5, ge=0, description="Adam's (coupled) weight decay")
    eval_every: int = Field(1000, ge=1)
    activation: str = "leaky_relu"
    threshold: float = Field(0.1, gt=0, description="deviation above which the FC head is "
                                                    "counted as computing part of f_i")
    fit_threshold: float = Field(1e-2, gt=0, description="test MSE above which a network has "
                                                         "not learned the task (excluded)")

    def run_config(self, m: int, depth: int, seed: int) -> RunConfig:
        """Depth-m modules, a depth-`depth` FC head; every seed draws its own functions
        ("many different functions and random seeds")."""
        task = {"n": self.n, "task_seed": seed, "data_seed": seed, "n_train": self.n_train,
                "n_test": self.n_test, "x_range": self.x_range, "amp": list(self.amp),
                "omega": list(self.omega)}
        return RunConfig(
            task={"name": "modular", "params": task}, seed=seed,
            net={"kind": "modular", "arch": "modular", "block_widths": [self.module_width] * m + [1],
                 "head_widths": [self.head_width] * depth, "activation": self.activation},
            optim={"steps": self.steps, "batch_size": self.batch_size, "lr": self.lr,
                   "optimizer": "adam", "weight_decay": self.weight_decay,
                   "eval_every": min(self.eval_every, self.steps), "eval_train": True})


def grid(cfg: Fig9Config) -> np.ndarray:
    return np.linspace(-cfg.x_range, cfg.x_range, 401)


def deviations(cfg: Fig9Config, run: ArchRun, datasets) -> tuple[np.ndarray, np.ndarray]:
    """(M, n) deviation from linear and affine R² of every module against its f_i."""
    g = grid(cfg)
    out = np.moveaxis(module_readout(run.model, g), 1, -1)              # (M, n, G)
    target = np.stack([module_targets(d, g).T for d in datasets])      # (M, n, G)
    return deviation_from_linear(out, target), affine_r2(out, target)


def result_rows(cfg: Fig9Config, m: int, depth: int, run: ArchRun, datasets) -> list[dict]:
    """One row per network. Networks that did not fit the task (test MSE > fit_threshold: a
    dead module, say) have no meaningful module readout: their deviation and fc_nonlinear are
    NaN/None (kept out of the means) and `fitted` is false; `deviations` keeps the raw values."""
    dev, r2 = deviations(cfg, run, datasets)
    rows = []
    for i, seed in enumerate(run.seeds):
        fitted = bool(run.ood_loss[i] <= cfg.fit_threshold)
        rows.append({
            "m": m, "fc_depth": depth, "seed": seed, "test_loss": float(run.ood_loss[i]),
            "train_loss": float(run.id_loss[i]), "fitted": fitted,
            "deviation": float(dev[i].mean()) if fitted else float("nan"),
            "deviation_max": float(dev[i].max()) if fitted else float("nan"),
            "deviations": [float(v) for v in dev[i]],
            "module_r2_min": float(r2[i].min()) if fitted else float("nan"),
            "fc_nonlinear": bool(dev[i].max() > cfg.threshold) if fitted else None,
            "params": run.params})
    return rows


def plan(cfg: Fig9Config) -> list[Run]:
    return [Run(cfg.run_config(m, depth, s), {"m": m, "fc_depth": depth, "seed": s})
            for depth in cfg.fc_depths for m in cfg.m_values for s in cfg.seed_list()]


def analyze(cfg: Fig9Config, trained, ctx: Context) -> list[dict]:
    rows, examples = [], {}
    for (m, depth), run_ in group_runs(trained, "m", "fc_depth").items():
        rows += result_rows(cfg, m, depth, run_, run_.datasets)
        if depth == cfg.fc_depths[-1]:
            examples[m] = run_
    plot_deviation(rows, "deviation", "deviation from linear (mean over modules)",
                   ctx.out / "deviation_vs_m.png")
    plot_deviation(rows, "fc_nonlinear", f"fraction with FC computing part of f (> {cfg.threshold})",
                   ctx.out / "fraction_fc_nonlinear.png")
    if examples:
        plot_examples(cfg, examples, next(iter(examples.values())).datasets[0],
                      ctx.out / "module_examples.png")
    return rows


def plot_deviation(rows: list[dict], key: str, label: str, path) -> None:
    """Figs. 9e / 12 (deviation) and 13 (fraction): a metric against m, one line per FC depth.
    Networks that did not fit the task are left out (counted in the title)."""
    from matplotlib.lines import Line2D

    from .plots import house_style

    by: dict[int, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        if row["fitted"]:
            by[row["fc_depth"]][row["m"]].append(float(row[key]))
    fraction = key == "fc_nonlinear"
    with house_style():
        fig, ax = plt.subplots(figsize=(4.6, 3.1))
        depths = sorted(by)
        for i, depth in enumerate(depths):
            per_m = by[depth]
            ms = sorted(per_m)
            vals = [np.asarray(per_m[m]) for m in ms]
            err = [v.std() / np.sqrt(len(v)) for v in vals] if fraction else [v.std() for v in vals]
            # Side by side, so the depths' bars and dots do not hide each other.
            dx = 0.08 * (i - (len(depths) - 1) / 2)
            ax.errorbar(np.asarray(ms) + dx, [v.mean() for v in vals], yerr=err, marker="o",
                        ms=4, capsize=2, color=f"C{i}", label=f"FC depth {depth}")
            if not fraction:
                for m, v in zip(ms, vals, strict=True):
                    ax.scatter(np.full(len(v), m + dx), v, s=6, alpha=0.35, color=f"C{i}", lw=0)
        ms_all = sorted({m for per_m in by.values() for m in per_m} | {r["m"] for r in rows})
        ax.set_xticks(ms_all)
        ax.set_xlabel("module depth m (layers)")
        ax.set_ylabel(label)
        if fraction:
            ax.set_ylim(-0.05, 1.05)
        if by:                                   # empty when no network fitted the task
            handles, names = ax.get_legend_handles_labels()
            what = "mean ± se (binomial)" if fraction else "mean ± sd; dots: single networks"
            if not fraction:
                handles.append(Line2D([], [], ls="", marker="o", ms=3, color="0.5", alpha=0.5))
                names.append("one network")
            ax.legend(handles, names, title=what, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        unfit = sum(1 for r in rows if not r["fitted"])
        if unfit:
            ax.set_title(f"{unfit} of {len(rows)} networks did not fit the task (not shown)")
        save(fig, path)


def plot_examples(cfg: Fig9Config, runs: dict[int, ArchRun], data, path) -> None:
    """Fig. 9c: module output (first seed) against its target f_i, with the best linear fit."""
    from matplotlib.lines import Line2D

    from .plots import house_style, legend_outside

    g = grid(cfg)
    target = module_targets(data, g)                                   # (G, n)
    ms = sorted(runs)
    with house_style():
        fig, axes = plt.subplots(len(ms), cfg.n, squeeze=False,
                                 figsize=(2.0 * cfg.n + 1.4, 1.8 * len(ms) + 0.4))
        for row, m in enumerate(ms):
            out = module_readout(runs[m].model, g)[0]                       # (G, n)
            for i in range(cfg.n):
                a, b, _ = affine_fit(out[:, i], target[:, i])
                ax = axes[row, i]
                ax.plot(target[:, i], out[:, i], color="C3", lw=1.2)
                # The fit maps output → target; draw it as the line output = (target − b) / a.
                if abs(a) > 1e-12:
                    ax.plot(target[:, i], (target[:, i] - b) / a, color="k", ls="--", lw=0.8)
                dev = deviation_from_linear(out[:, i], target[:, i])
                ax.set_title(f"m = {m}, module {i + 1}: dev {dev:.3f}", fontsize=7)
                ax.tick_params(labelsize=6)
        for i, ax in enumerate(axes[-1]):
            ax.set_xlabel(f"target $f_{i + 1}(x_{i + 1})$")
        for ax in axes[:, 0]:
            ax.set_ylabel("module output")
        legend_outside(fig, [Line2D([], [], color="C3", lw=1.2),
                             Line2D([], [], color="k", ls="--", lw=0.8)],
                       [f"output (seed {runs[ms[0]].seeds[0]})", "best affine fit"])
        fig.suptitle(f"module output against its target $f_i$, FC head depth "
                     f"{cfg.fc_depths[-1]}")
        save(fig, path)


COMMON = dict(
    config=Fig9Config,
    plan=plan,
    analyze=analyze,
    summary_metrics=("deviation", "deviation_max", "fc_nonlinear", "module_r2_min", "fitted",
                     "test_loss"),
    group_by=("fc_depth", "m"),
)

register(Experiment(
    name="fig9",
    **describe("fig9"),
    presets={
        # Adam at lr 1e-4 fits only half the m = 1 networks by 6k steps; 15k fits most.
        "quick": {"steps": 15_000, "seeds": 4, "m_values": [1, 3], "eval_every": 1000},
        "paper": {"steps": 40_000, "seeds": 10},
    },
    **COMMON,
))

for _name in ("fig12", "fig13"):   # the same runs: fig13 reuses fig12's from the store
    register(Experiment(
        name=_name,
        **describe(_name),
        presets={
            "quick": {"steps": 15_000, "seeds": 4, "m_values": [1, 3], "fc_depths": [1, 3],
                      "eval_every": 1000},
            "paper": {"steps": 40_000, "seeds": 10, "fc_depths": [1, 2, 3, 4]},
        },
        **COMMON,
    ))
