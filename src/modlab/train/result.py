"""One finished run (one ensemble member), detached from the ensemble it trained in."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .config import RunConfig
from .ensemble import EnsembleRun, build_datasets, history_of, member_state
from .kinds import get_kind


@dataclass
class RunResult:
    """What the results store keeps of a run: its config, its parameters (as a 1-member
    model's state_dict), its loss curves, divergence, the kind's final measures, and where
    and how long it ran (`env`, `wall_s`: the ensemble's training time)."""

    config: RunConfig
    state: dict[str, torch.Tensor]
    curves: dict[str, np.ndarray]            # steps, train_loss, test_loss (, train_eval)
    diverged_at: int = -1
    metrics: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    wall_s: float = 0.0
    cpu_s: float = 0.0
    members: int = 1                         # size of the ensemble it trained in
    env: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.config.key()

    @property
    def diverged(self) -> bool:
        return self.diverged_at >= 0

    @property
    def final_test_loss(self) -> float:
        return float(self.curves["test_loss"][-1]) if len(self.curves["test_loss"]) else np.nan

    def model(self, device: str | torch.device = "cpu") -> nn.Module:
        """The trained network, rebuilt as a 1-member model of its kind."""
        task = build_datasets([self.config])[0]
        model = get_kind(self.config.net.kind).build([self.config], task)
        model.load_state_dict(self.state)
        return model.to(device).eval().requires_grad_(False)


def ensemble_of(results: list[RunResult], device: str | torch.device = "cpu") -> nn.Module:
    """The trained networks of batchable runs as one M-member model again (eval mode)."""
    configs = [r.config for r in results]
    tasks = build_datasets(configs)
    model = get_kind(configs[0].net.kind).build(configs, tasks[0])
    state = {k: torch.cat([r.state[k] for r in results]) for k in results[0].state}
    model.load_state_dict(state)
    return model.to(device).eval().requires_grad_(False)


def member_extra(extra: dict, i: int, members: int) -> dict:
    """Member i's share of what callbacks logged: per-member lists become its value; the
    ensemble's own entries (when it ended) are dropped."""
    out = {}
    for key, value in extra.items():
        if key == "ended_at":
            continue
        if key == "stopped_at":
            out[key] = value[i]
        elif isinstance(value, list):
            out[key] = [v[i] if isinstance(v, (list, np.ndarray)) and len(v) == members else v
                        for v in value]
        else:
            out[key] = value
    return out


def results_of(run: EnsembleRun, env: dict | None = None) -> list[RunResult]:
    """Split a trained ensemble into its members' results (with the kind's measures)."""
    kind = get_kind(run.configs[0].net.kind)
    measures = kind.measure(run.model, run.configs, run.datasets) if kind.measure else None
    h, m = run.history, run.members
    out = []
    for i, cfg in enumerate(run.configs):
        measures_i = measures[i] if measures is not None else {}
        out.append(RunResult(
            config=cfg, state=member_state(run.model, i, m), curves=history_of(h, i),
            diverged_at=int(h.diverged_at[i]), metrics=measures_i,
            extra=member_extra(h.extra, i, m),
            wall_s=h.wall_s, cpu_s=h.cpu_s, members=m, env=dict(env or {})))
    return out
