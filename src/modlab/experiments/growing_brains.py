"""Growing brains (Liu, Khona, Fiete & Tegmark 2023; spec 2): leaky RNNs on the Yang-2019
cognitive tasks with no regularisation, L1, or BIMT (wiring cost on a √N × √N grid + neuron
swaps). Functional clusters (task variance, Yang 2019) should become spatially local and
densely interconnected under BIMT (anatomical modularity), and BIMT should trade error for
sparsity better than L1."""
from __future__ import annotations

import numpy as np
import torch
from pydantic import Field

from ..metrics import (
    functional_clusters,
    locality,
    recurrent_modularity,
    sparsity,
    task_variance,
    wiring_locality,
)
from ..tasks.yang19 import RULES
from ..train import RunConfig, with_overrides
from .base import Context, Experiment, ExperimentConfig, Run, check_settings, register
from .catalog import describe
from .plots import excluded, plt, save

SETTINGS = ("none", "L1", "L1+local", "L1+swap", "BIMT")


class GrowingBrainsConfig(ExperimentConfig):
    hidden: int = Field(400, ge=4, description="recurrent units, a perfect square (400 = 20 × 20)")
    dt: float = Field(20.0, gt=0, le=100, description="the tasks' time step, ms")
    tau: float = Field(100.0, gt=0, description="τ: the units' time constant, ms (α = dt/τ)")
    rules: list[str] = Field(default_factory=lambda: list(RULES), min_length=1)
    settings: list[str] = Field(default_factory=lambda: ["none", "L1", "BIMT"])
    lam: float = Field(1e-4, ge=0, description="λ of the wiring cost (L1 when A = 0)")
    pareto_lams: list[float] = Field(default_factory=list,
                                     description="extra λ values for L1 and BIMT (the Pareto front)")
    locality: float = Field(2.0, ge=0, description="A: distance weight of the cost")
    l0: float = Field(1.0, ge=0)
    swap_every: int = Field(200, ge=1)
    top_k: int = Field(30, ge=1, description="recurrent units that try a swap each time")
    steps: int = Field(40_000, ge=1, description="the step cap")
    stop_accuracy: float = Field(0.9, ge=0, le=1,
                                 description="stop a run once every task reaches this accuracy")
    batch_size: int = Field(64, ge=1)
    lr: float = Field(1e-3, gt=0)
    eval_every: int = Field(1000, ge=1)
    test_trials: int = Field(32, ge=1, description="test trials per task")
    prune: float = Field(1e-2, gt=0, lt=1,
                         description="prune |w| below this fraction of the max |w| of W_rec")
    max_k: int = Field(29, ge=2, description="largest k tried by the silhouette search")


def overrides(cfg: GrowingBrainsConfig, name: str, lam: float) -> dict:
    if name == "none":
        return {}
    reg = {"reg.wiring": lam, "reg.wiring_l0": cfg.l0,
           "reg.wiring_locality": cfg.locality if name in ("L1+local", "BIMT") else 0.0,
           "reg.schedule": [(0.25, 10.0), (0.75, 1.0)]}
    if name in ("L1+swap", "BIMT"):
        reg |= {"reg.swap_every": cfg.swap_every, "reg.swap_top_k": cfg.top_k}
    return reg


def base_config(cfg: GrowingBrainsConfig) -> RunConfig:
    if round(cfg.hidden ** 0.5) ** 2 != cfg.hidden:
        raise ValueError(f"invalid 'hidden' value {cfg.hidden}: the units sit on a square grid, "
                         "use a perfect square (64, 100, 400, …)")
    bad = [r for r in cfg.rules if r not in RULES]
    if bad:
        raise ValueError(f"invalid 'rules' value {bad[0]!r}; allowed: {', '.join(RULES)}")
    return RunConfig(task={"name": "yang19", "params": {"rules": cfg.rules, "dt": cfg.dt,
                                                        "test_trials": cfg.test_trials}},
                     net={"kind": "rnn", "hidden": cfg.hidden, "tau": cfg.tau},
                     optim={"steps": cfg.steps, "batch_size": cfg.batch_size, "lr": cfg.lr,
                            "eval_every": min(cfg.eval_every, cfg.steps),
                            "stop_accuracy": cfg.stop_accuracy})


def plan(cfg: GrowingBrainsConfig) -> list[Run]:
    check_settings(cfg.settings, SETTINGS)
    base = base_config(cfg)
    runs = []
    for name in cfg.settings:
        lams = [cfg.lam] + ([lam for lam in cfg.pareto_lams if lam != cfg.lam]
                            if name in ("L1", "BIMT") else [])
        for lam in (lams if name != "none" else [0.0]):
            runs += [Run(with_overrides(base, {**overrides(cfg, name, lam), "seed": s}),
                         {"setting": name, "lam": lam, "seed": s}) for s in cfg.seed_list()]
    return runs


@torch.no_grad()
def activity_by_rule(t) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Hidden activity (trials, T, N) on each rule's test trials (noise off) and the mask of
    steps used for task variance: after fixation (Yang: the fixation epoch excluded), within
    each trial's own length."""
    task, model = t.dataset, t.model
    acts, masks = [], []
    for batch in task.test_batches.values():
        h = model.forward_hidden(torch.from_numpy(batch.x)).hidden[0][0].numpy()
        steps = np.arange(batch.n_steps)[None]
        fix_end = batch.epochs["fix1"][:, 1:2]
        use = (steps >= np.maximum(fix_end, 0)) & (steps < batch.length[:, None])
        acts.append(h)
        masks.append(use)
    return acts, masks


@torch.no_grad()
def pruned_accuracy(t, fraction: float) -> tuple[float, float]:
    model = t.result.model()
    for w in model.weights:
        w.mul_(w.abs() >= fraction * model.w_rec.abs().max())
    task = t.dataset
    y = model(torch.from_numpy(task.test_set()[0]))[0].numpy()
    acc = task.accuracy(y)
    kept = float(np.mean([(w != 0).float().mean() for w in model.weights]))
    return float(np.mean(list(acc.values()))), kept


def network_measures(t, cfg: GrowingBrainsConfig, seed: int) -> dict:
    """Functional clusters (task variance, k by silhouette), their Newman Q and spectrum on
    |W_rec|, spatial locality of the clusters and of the wiring against shuffled positions,
    sparsity and pruning."""
    from ..regularizers.bimt import grid_coords

    acts, masks = activity_by_rule(t)
    tv = task_variance(acts, masks)
    clusters = functional_clusters(tv, ks=range(2, cfg.max_k + 1), seed=seed)
    w_rec = t.model.w_rec[0].detach().numpy()
    coords = grid_coords(cfg.hidden).numpy()
    out = {"active_units": int(clusters.active.sum()), "clusters": int(clusters.k)}
    if clusters.k >= 2:
        rm = recurrent_modularity(w_rec, clusters.labels)
        loc = locality(coords, clusters.labels, n_shuffle=500, seed=seed)
        out |= {"q": rm.q, "k_star_w_rec": rm.k_star, "locality_z": loc.z}
    absw = np.abs(w_rec)
    if absw.sum() > 0:
        out["wiring_z"] = wiring_locality(w_rec, coords, n_shuffle=500, seed=seed).z
    out["sparsity"] = sparsity(w_rec, cfg.prune * absw.max()).fraction
    acc_pruned, kept = pruned_accuracy(t, cfg.prune)
    out |= {"pruned_accuracy": acc_pruned, "kept_fraction": kept,
            "labels": clusters.labels.tolist(), "task_variance": tv.tolist()}
    return out


def analyze(cfg: GrowingBrainsConfig, trained, ctx: Context) -> list[dict]:
    rows = []
    for t in trained:
        m = t.result.metrics
        row = {**t.labels, "test_loss": t.test_loss, "diverged": t.diverged,
               "mean_accuracy": m.get("mean_accuracy"), "min_accuracy": min(m.get("accuracy", [0])),
               "steps_trained": int(t.curve_steps[-1]),
               "stopped_at": t.result.extra.get("stopped_at", -1)}
        row |= {f"acc_{r}": a for r, a in zip(m.get("rules", []), m.get("accuracy", []))}
        if not t.diverged:
            row |= network_measures(t, cfg, t.seed)
        rows.append(row)
    main = [r for r in rows if r["lam"] in (cfg.lam, 0.0)]
    plot_grids(cfg, [t for t in trained if t.labels["lam"] in (cfg.lam, 0.0) and not t.diverged],
               main, ctx.out / "grid_clusters.png")
    plot_task_variance(main, cfg.rules, ctx.out / "task_variance.png")
    plot_pareto(rows, ctx.out / "pareto.png")
    plot_accuracy(main, cfg.rules, ctx.out / "accuracy.png")
    for r in rows:                       # keep the table small: big lists stay in the figures
        r.pop("labels", None)
        r.pop("task_variance", None)
    return rows


def plot_grids(cfg, trained, rows, path) -> None:
    """First seed per setting: the grid coloured by functional cluster, strongest W_rec."""
    from ..regularizers.bimt import grid_coords
    from .drawing import draw_rnn_grid
    from .plots import house_style

    chosen = {}
    for t, r in zip(trained, [r for r in rows if not r["diverged"]], strict=False):
        chosen.setdefault(r["setting"], (t, r))
    if not chosen:
        return
    with house_style():
        fig, axes = plt.subplots(1, len(chosen), figsize=(3.7 * len(chosen), 3.6), squeeze=False)
        for ax, (name, (t, r)) in zip(axes[0], chosen.items(), strict=True):
            draw_rnn_grid(ax, grid_coords(cfg.hidden).numpy(), np.asarray(r["labels"]),
                          t.model.w_rec[0].detach().numpy(), top=min(200, cfg.hidden),
                          node_size=min(40.0, 2400.0 / cfg.hidden))
            ax.set_title(f"{name} (seed {r['seed']}): {r['clusters']} clusters, "
                         f"Q {r.get('q', float('nan')):.2f},\n"
                         f"cluster locality z {r.get('locality_z', float('nan')):.1f}, "
                         f"wiring z {r.get('wiring_z', float('nan')):.1f}")
        fig.suptitle(f"units on the grid, coloured by functional cluster; the "
                     f"{min(200, cfg.hidden)} strongest recurrent weights (width ∝ |w|)")
        save(fig, path)


def plot_task_variance(rows, rules, path) -> None:
    """Normalised task variance (units × tasks), units sorted by functional cluster."""
    from .plots import colorbar, count_axis, house_style

    live = [r for r in rows if "task_variance" in r]
    chosen = {}
    for r in live:
        chosen.setdefault(r["setting"], r)
    if not chosen:
        return
    with house_style():
        fig, axes = plt.subplots(1, len(chosen), figsize=(2.4 * len(chosen) + 1.2, 3.8),
                                 squeeze=False)
        for ax, (name, r) in zip(axes[0], chosen.items(), strict=True):
            tv, labels = np.asarray(r["task_variance"]), np.asarray(r["labels"])
            keep = labels >= 0
            order = np.argsort(labels[keep], kind="stable")
            norm = tv[keep] / np.maximum(tv[keep].max(1, keepdims=True), 1e-12)
            im = ax.imshow(norm[order], aspect="auto", cmap="magma", interpolation="nearest",
                           vmin=0, vmax=1)
            sorted_labels = labels[keep][order]
            for b in np.flatnonzero(sorted_labels[1:] != sorted_labels[:-1]) + 0.5:
                ax.axhline(b, color="C2", lw=0.8)
            ax.set_xticks(range(len(rules)), rules, rotation=90 if len(rules) > 6 else 0,
                          fontsize=6 if len(rules) > 6 else 7)
            count_axis(ax.yaxis)
            ax.set_xlabel("task")
            ax.set_ylabel("active unit (sorted by cluster)")
            ax.set_title(f"{name} (seed {r['seed']}): {r['clusters']} clusters")
        colorbar(fig, im, axes.ravel().tolist(),
                 "task variance / unit's max (green: cluster borders)")
        save(fig, path)


def plot_pareto(rows, path) -> None:
    """Error (1 − mean accuracy) against the fraction of |W_rec| above the pruning threshold,
    every run (dots); where a setting has several λ, a line joins the per-λ means."""
    from .plots import house_style

    live = [r for r in rows if r.get("sparsity") is not None and r.get("mean_accuracy") is not None]
    if not live:
        return
    with house_style():
        fig, ax = plt.subplots(figsize=(5.4, 3.3))
        markers = "osD^vP*X"
        for i, name in enumerate(dict.fromkeys(r["setting"] for r in live)):
            pts = [r for r in live if r["setting"] == name]
            ax.scatter([r["sparsity"] for r in pts], [1 - r["mean_accuracy"] for r in pts],
                       marker=markers[i % len(markers)], s=24, facecolors="none",
                       edgecolors=f"C{i}", lw=1, label=name)
            lams = sorted({r["lam"] for r in pts})
            if len(lams) > 1:
                means = [[np.mean([f(r) for r in pts if r["lam"] == lam])
                          for lam in lams] for f in (lambda r: r["sparsity"],
                                                     lambda r: 1 - r["mean_accuracy"])]
                ax.plot(*means, lw=0.8, color=f"C{i}")
        ax.set_xlabel("fraction of recurrent weights with |w| > prune · max|w|")
        ax.set_ylabel("error (1 − mean task accuracy)")
        ax.legend(title="setting (one\nmarker per run)", loc="upper left",
                  bbox_to_anchor=(1.01, 1.0))
        gone = excluded(sum(1 for r in rows if r.get("diverged")), len(rows))
        if gone:
            ax.set_title(gone)
        save(fig, path)


def plot_accuracy(rows, rules, path) -> None:
    """Per-task accuracy, mean ± sd over seeds, one bar group per setting."""
    from .plots import house_style

    settings = list(dict.fromkeys(r["setting"] for r in rows))
    if not settings:
        return
    with house_style():
        fig, ax = plt.subplots(figsize=(max(4.5, 0.3 * len(rules) * len(settings) + 1.5), 3.0))
        width = 0.8 / len(settings)
        for i, name in enumerate(settings):
            mine = [r for r in rows if r["setting"] == name]
            accs = [[r.get(f"acc_{rule}", np.nan) for r in mine] for rule in rules]
            ax.bar(np.arange(len(rules)) + i * width, [np.nanmean(a) for a in accs], width,
                   yerr=[np.nanstd(a) for a in accs], capsize=2, label=name, color=f"C{i}",
                   error_kw={"lw": 0.8})
        many = len(rules) > 6
        ax.set_xticks(np.arange(len(rules)) + 0.4 - width / 2, rules,
                      rotation=90 if many else 0, fontsize=6 if many else 7)
        ax.set_xlabel("task")
        ax.set_ylim(0, 1.02)
        ax.set_ylabel("test accuracy")
        ax.legend(title="mean ± sd over seeds", loc="upper left", bbox_to_anchor=(1.01, 1.0))
        save(fig, path)


register(Experiment(
    name="growing-brains",
    **describe("growing-brains"),
    config=GrowingBrainsConfig,
    plan=plan,
    analyze=analyze,
    presets={
        # 2 easy tasks: 600 steps reach ~0.6 accuracy on go (tests/test_rnn.py); λ 1e-5 keeps
        # the network alive (1e-3 with the ×10 ramp prunes it to nothing by 400 steps).
        "quick": {"hidden": 64, "rules": ["go", "anti"], "steps": 600, "seeds": 3,
                  "eval_every": 200, "swap_every": 50, "top_k": 8, "lam": 1e-5,
                  "stop_accuracy": 0.0, "test_trials": 16, "max_k": 12, "batch_size": 32},
        "paper": {"hidden": 400, "steps": 40_000, "seeds": 3, "pareto_lams": [1e-5, 1e-3]},
    },
    summary_metrics=("mean_accuracy", "clusters", "q", "locality_z", "wiring_z", "sparsity",
                     "pruned_accuracy", "steps_trained"),
    group_by=("setting", "lam"),
))
