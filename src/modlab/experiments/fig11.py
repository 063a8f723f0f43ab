"""Figure 11 (Appendix A): the fan-shaped ID/OOD split of the Gaussian task. OOD loss against the
fan's opening r: the modular network reaches the true function at a much smaller r; a few
modular seeds find the alternative "ridge" solution (Eqs. 30–33) instead."""
from __future__ import annotations

from collections import defaultdict

import numpy as np
from pydantic import Field

from ..atomic import atomic_write_text
from ..metrics import affine_r2, step_quadratic_fit, trimmed_mean
from .base import Context, Experiment, Run, register
from .catalog import describe
from .compositional import (
    ArchRun,
    ArchTrainConfig,
    group_runs,
    module_readout,
    module_targets,
    seed_runs,
)
from .plots import plt, save

GRID = np.linspace(-1, 1, 201)
ARCHS = ("modular", "fc", "bottleneck", "fc_matched")


class Fig11Config(ArchTrainConfig):
    architectures: list[str] = Field(default_factory=lambda: ["modular", "fc", "bottleneck"])
    r_values: list[float] = Field(default_factory=lambda: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7,
                                                           0.8, 0.9])
    s: float = Field(0.5, gt=0)
    n_points: int = Field(5000, ge=10)
    data_seed: int = 0
    activation: str = "prelu"
    ridge_threshold: float = Field(
        0.05, gt=0, description="|jump / quadratic coefficient| above which a module has a step")


def check(cfg: Fig11Config) -> None:
    bad = [a for a in cfg.architectures if a not in ARCHS]
    if bad:
        raise ValueError(f"invalid 'architectures' value {bad[0]!r}; allowed: {', '.join(ARCHS)}")
    bad_r = [r for r in cfg.r_values if not 0 < r < 1]
    if bad_r:
        raise ValueError(f"invalid 'r_values' value {bad_r[0]}: r must lie in (0, 1) "
                         "(r = 0 has no training data, r = 1 no OOD data)")


def ridge_scores(grid: np.ndarray, outputs: np.ndarray) -> np.ndarray:
    """(M,) how strongly two modules carry cancelling steps (Eq. 30); outputs (M, 2, len(grid)).

    Each module output is fitted as a·x² + b + c·H(x); the score is min_i |c_i/a_i| when the
    normalised jumps c_i/a_i have opposite signs (so they cancel where xy > 0, as the ridge
    solution's do), else 0. The Gaussian solution has no step: score ≈ 0.
    """
    m, g, n = outputs.shape
    a, c = step_quadratic_fit(grid, outputs.reshape(m * g, n))
    jump = (c / np.where(np.abs(a) > 1e-9, a, np.nan)).reshape(m, g)
    opposite = np.sign(jump[:, 0]) != np.sign(jump[:, 1])
    return np.where(opposite, np.nanmin(np.abs(jump), axis=1), 0.0)


def result_rows(cfg: Fig11Config, r: float, run: ArchRun, data) -> list[dict]:
    modular = run.arch == "modular"
    if modular:
        out = np.moveaxis(module_readout(run.model, GRID), 1, -1)          # (M, 2, grid)
        scores = ridge_scores(GRID, out)
        r2 = affine_r2(out, module_targets(data, GRID).T[None]).min(axis=1)
    rows = []
    for i, seed in enumerate(run.seeds):
        row = {"arch": run.arch, "r": r, "seed": seed, "params": run.params,
               "id_loss": float(run.id_loss[i]), "ood_loss": float(run.ood_loss[i]),
               "n_id": data.info["n_id"], "n_ood": data.info["n_ood"]}
        if modular:
            # The other outlier: a module that is not even in its input (R² ≈ 0 against x²).
            row |= {"ridge_score": float(scores[i]), "ridge": bool(scores[i] > cfg.ridge_threshold),
                    "module_r2_min": float(r2[i]), "odd_module": bool(r2[i] < 0.5)}
        rows.append(row)
    return rows


def plan(cfg: Fig11Config) -> list[Run]:
    check(cfg)
    return [run for r in cfg.r_values for arch in cfg.architectures
            for run in seed_runs(cfg.run_config(arch, cfg.activation, "gaussian",
                                                {"s": cfg.s, "r": r, "n_points": cfg.n_points,
                                                 "data_seed": cfg.data_seed}),
                                 cfg.seed_list(), r=r, arch=arch)]


def analyze(cfg: Fig11Config, trained, ctx: Context) -> list[dict]:
    rows = [row for (r, _arch), run_ in group_runs(trained, "r", "arch").items()
            for row in result_rows(cfg, r, run_, run_.datasets[0])]
    atomic_write_text(ctx.out / "trimmed.md", trimmed_table(rows))
    plot_ood_vs_r(rows, ctx.out / "fig11_ood_vs_r.png")
    return rows


def by_arch_r(rows: list[dict], key: str) -> dict[tuple[str, float], list]:
    out: dict[tuple[str, float], list] = defaultdict(list)
    for row in rows:
        out[(row["arch"], row["r"])].append(row.get(key))
    return out


def trimmed_table(rows: list[dict]) -> str:
    """25–75 % trimmed mean of the OOD loss per (architecture, r), and modular ridge counts."""
    ood, ridge, odd = by_arch_r(rows, "ood_loss"), by_arch_r(rows, "ridge"), by_arch_r(rows, "odd_module")
    archs = list(dict.fromkeys(a for a, _ in ood))
    rs = sorted({r for _, r in ood})
    lines = ["| r | " + " | ".join(f"{a} OOD (trimmed)" for a in archs)
             + " | modular ridge | modular odd module |", "|---" * (len(archs) + 3) + "|"]
    for r in rs:
        cells = [f"{trimmed_mean(ood[(a, r)]):.2e}" for a in archs]
        for counts in (ridge, odd):
            flags = [f for f in counts.get(("modular", r), []) if f is not None]
            cells.append(f"{sum(flags)}/{len(flags)}" if flags else "–")
        lines.append(f"| {r:g} | " + " | ".join(cells) + " |")
    return "# Fig. 11: OOD loss, 25–75 % trimmed mean over seeds\n\n" + "\n".join(lines) + "\n"


def plot_ood_vs_r(rows: list[dict], path) -> None:
    """Fig. 11c: trimmed-mean OOD loss against r (lines), every seed (dots); ridge seeds ringed."""
    from matplotlib.lines import Line2D

    from .plots import house_style

    ood = by_arch_r(rows, "ood_loss")
    with house_style():
        fig, ax = plt.subplots(figsize=(5.2, 3.3))
        handles, names = [], []
        archs = list(dict.fromkeys(a for a, _ in ood))
        for k, arch in enumerate(archs):
            rs = sorted(r for a, r in ood if a == arch)
            dx = 0.006 * (k - (len(archs) - 1) / 2)      # side by side: dots do not stack
            ax.plot(np.asarray(rs) + dx, [trimmed_mean(ood[(arch, r)]) for r in rs],
                    color=f"C{k}", marker="o", ms=4)
            for r in rs:
                ax.scatter(np.full(len(ood[(arch, r)]), r + dx), ood[(arch, r)], color=f"C{k}",
                           s=7, alpha=0.45, lw=0)
            handles.append(Line2D([], [], color=f"C{k}", marker="o", ms=4))
            names.append(arch)
        handles.append(Line2D([], [], ls="", marker="o", ms=3, color="0.5", alpha=0.6))
        names.append("one seed")
        ridge = [row for row in rows if row.get("ridge")]
        if ridge:
            ax.scatter([row["r"] for row in ridge], [row["ood_loss"] for row in ridge], s=40,
                       facecolors="none", edgecolors="k")
            handles.append(Line2D([], [], ls="", marker="o", ms=6, mfc="none", mec="k"))
            names.append("ridge solution (modular)")
        rs_all = sorted({r for _, r in ood})
        ax.set_xticks(rs_all, [f"{r:g}" for r in rs_all])
        ax.set_yscale("log")
        ax.set_xlabel("fan opening r (fraction of the domain that is ID)")
        ax.set_ylabel("OOD MSE (log scale)")
        ax.legend(handles, names, title="lines: 25–75 % trimmed mean", loc="upper left",
                  bbox_to_anchor=(1.01, 1.0))
        save(fig, path)


register(Experiment(
    name="fig11",
    **describe("fig11"),
    config=Fig11Config,
    plan=plan,
    analyze=analyze,
    presets={
        "quick": {"steps": 3000, "seeds": 4, "r_values": [0.2, 0.35, 0.5, 0.7]},
        "paper": {"steps": 10_000, "seeds": 20},
    },
    summary_metrics=("id_loss", "ood_loss", "ridge", "odd_module", "module_r2_min"),
    group_by=("arch", "r"),
))
