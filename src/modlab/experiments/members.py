"""From (setting × seed) member configs to trained ensembles and per-layer result rows."""
from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save as safetensors_bytes

from ..metrics import dead_neurons, layer_report
from ..train import RunConfig, train_ensemble
from ..train.config import shared_part
from .base import Context
from .results import atomic_write_bytes, atomic_write_text


@dataclass(frozen=True)
class Member:
    setting: str
    seed: int
    config: RunConfig


@dataclass
class Trained:
    """One trained member, detached from its ensemble: what the analyses and plots need."""

    setting: str
    seed: int
    config: RunConfig
    weights: list[np.ndarray]          # W^0 … W^L, (post, pre)
    hidden_test: list[np.ndarray]      # activations on the test set, (N, units)
    test_loss: float
    curve_steps: np.ndarray
    train_curve: np.ndarray
    test_curve: np.ndarray
    diverged_at: int
    n_modules: int | None


def with_overrides(base: RunConfig, overrides: dict) -> RunConfig:
    """A copy of `base` with dotted-path overrides, e.g. {"reg.wa": 1e-3, "net.activation": "tanh"}."""
    data = base.model_dump()
    for path, value in overrides.items():
        node = data
        *parents, leaf = path.split(".")
        for p in parents:
            node = node[p]
        node[leaf] = value
    return RunConfig.model_validate(data)


def make_members(base: RunConfig, settings: dict[str, dict], seeds: Sequence[int]) -> list[Member]:
    return [Member(name, s, with_overrides(base, {**ov, "seed": s}))
            for name, ov in settings.items() for s in seeds]


def group_members(members: Sequence[Member]) -> list[list[Member]]:
    """Split members into ensembles of batchable configs (same architecture and optimiser)."""
    groups: dict[str, list[Member]] = {}
    for m in members:
        groups.setdefault(json.dumps(shared_part(m.config), sort_keys=True), []).append(m)
    return list(groups.values())


def _detach(group: Sequence[Member], run) -> list[Trained]:
    model = run.model
    model.eval()
    out = []
    arrays = run.history.as_arrays()
    for i, m in enumerate(group):
        data = run.datasets[i]
        with torch.no_grad():
            hidden = model.forward_hidden(data.x_test.to(model.weights[0].device)).hidden
        out.append(Trained(
            setting=m.setting, seed=m.seed, config=m.config,
            weights=[w[i].detach().cpu().numpy() for w in model.weights],
            hidden_test=[h[i].cpu().numpy() for h in hidden],
            test_loss=float(arrays["test_loss"][-1, i]), curve_steps=arrays["steps"],
            train_curve=arrays["train_loss"][:, i], test_curve=arrays["test_loss"][:, i],
            diverged_at=int(run.history.diverged_at[i]), n_modules=data.n_modules))
    return out


def save_checkpoint(run, path: Path) -> None:
    """safetensors weights + JSON member configs (no pickle)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in run.model.state_dict().items()}
    atomic_write_bytes(path.with_suffix(".safetensors"), safetensors_bytes(tensors))
    atomic_write_text(path.with_suffix(".json"),
                      json.dumps([c.model_dump() for c in run.configs], indent=1))


def _train_one(group: Sequence[Member], ctx: Context, device: str, label: str):
    steps = group[0].config.optim.steps
    name = f"{label}{group[0].setting}…" if len(group) > 1 else f"{label}{group[0].setting}"
    advance: Callable[[int], None] | None = ctx.progress(name, steps) if ctx.progress else None
    return train_ensemble([m.config for m in group], device=device,
                          on_eval=(lambda step, _h: advance(step)) if advance else None)


def _train_parallel(groups: Sequence[Sequence[Member]], ctx: Context, device: str, label: str,
                    workers: int) -> list:
    from ..sweep import ProcessExecutor, ensemble_job

    advance = ctx.progress(f"{label}{len(groups)} ensembles", len(groups)) if ctx.progress else None
    done = [0]

    def tick(_index, _run) -> None:
        done[0] += 1
        if advance:
            advance(done[0])

    with ProcessExecutor(max_workers=min(workers, len(groups))) as ex:
        return ex.run([ensemble_job([m.config for m in g], device=device) for g in groups],
                      on_result=tick)


def train_groups(groups: Sequence[Sequence[Member]], ctx: Context, device: str = "cpu",
                 label: str = "", workers: int = 1) -> list[Trained]:
    """Train each given group of batchable members as one ensemble (checkpoint
    `<label>group<i>`), in `workers` processes when workers > 1 (modlab.sweep)."""
    groups = [list(g) for g in groups]
    if workers > 1 and len(groups) > 1:
        runs = _train_parallel(groups, ctx, device, label, workers)
    else:
        runs = (_train_one(g, ctx, device, label) for g in groups)
    trained = []
    for gi, (group, run) in enumerate(zip(groups, runs, strict=True)):
        save_checkpoint(run, ctx.out / "checkpoints" / f"{label}group{gi}")
        trained.extend(_detach(group, run))
    return trained


def train_members(members: Sequence[Member], ctx: Context, device: str = "cpu",
                  label: str = "", workers: int = 1) -> list[Trained]:
    """Train every group of batchable members as one ensemble; checkpoints go to ctx.out."""
    return train_groups(group_members(members), ctx, device, label, workers)


def modularity_rows(trained: Sequence[Trained], collapsed: bool = False) -> list[dict]:
    """One row per (member, weight layer): k*, the gap at the true k, losses, dead neurons."""
    rows = []
    for t in trained:
        report = layer_report(t.weights, true_k=t.n_modules, collapsed=collapsed)
        act = t.config.net.activation
        for r in report:
            layer = r["layer"]
            hidden = t.hidden_test[layer] if layer < len(t.hidden_test) else None
            dead = int(dead_neurons(torch.from_numpy(hidden), act)) if hidden is not None else 0
            rows.append({"setting": t.setting, "seed": t.seed, "layer": layer,
                         "k_star": r["k_star"], "gap_at_true_k": r["gap_at_true_k"],
                         "test_loss": t.test_loss, "dead_neurons": dead,
                         "dropped_neurons": r["dropped_neurons"], "diverged": t.diverged_at >= 0,
                         "eigvals": r["eigvals"]})
    return rows
