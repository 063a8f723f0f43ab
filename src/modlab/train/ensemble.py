"""Build and train an ensemble from member configs: the entry point experiments use."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..tasks import Dataset, make_task
from .checkpoint import Checkpoint
from .config import RunConfig, check_batchable
from .data import Data, stack_datasets
from .kinds import get_kind
from .loop import Callback, History, fit
from .runtime import resolve_device


@dataclass
class EnsembleRun:
    configs: list[RunConfig]
    model: nn.Module
    history: History
    datasets: list                   # one per member (shared objects where the task is the same)

    @property
    def members(self) -> int:
        return len(self.configs)


def build_datasets(configs: Sequence[RunConfig]) -> list:
    """One task object per member; members with the same task share the object."""
    cache: dict[str, object] = {}
    out = []
    for cfg in configs:
        key = cfg.task.model_dump_json()
        if key not in cache:
            cache[key] = make_task(cfg.task.name, **cfg.task.params)
        out.append(cache[key])
    return out


def task_data(tasks: Sequence) -> Data:
    """What `fit` trains on: fixed data sets (stacked per member where they differ) or the
    members' trial streams."""
    if all(isinstance(t, Dataset) for t in tasks):
        return stack_datasets(tasks)
    from .streams import MemberStreams

    return MemberStreams(tasks)


# The 0.1 name.
stack_data = stack_datasets


def build_model(configs: Sequence[RunConfig], n_in: int, n_out: int) -> nn.Module:
    """The configs' model (their `net.kind`) with M = len(configs) members."""

    class _Sizes:
        pass

    sizes = _Sizes()
    sizes.n_in, sizes.n_out = n_in, n_out
    return get_kind(configs[0].net.kind).build(list(configs), sizes)


def reg_schedule(configs: Sequence[RunConfig]) -> Callable[[int], torch.Tensor] | None:
    """step → (M,) factors of each member's `reg.schedule`, or None when no member has one."""
    if not any(c.reg.schedule for c in configs):
        return None
    steps = configs[0].optim.steps
    return lambda step: torch.tensor([c.reg.factor_at(step, steps) for c in configs],
                                     dtype=torch.float32)


def train_ensemble(configs: Sequence[RunConfig], *, device: str | torch.device = "cpu",
                   on_eval: Callable[[int, History], None] | None = None,
                   callbacks: Sequence[Callback] = (), checkpoint: Checkpoint | None = None,
                   engine: str = "auto", threads: int | None = None,
                   pad_single: bool = False) -> EnsembleRun:
    """Train one member per config in a single batched computation.

    Members may differ in seed, task data, noise σ/α and regulariser coefficients; every other
    field must agree (a ValueError names the first that does not). The model, objective and
    callbacks come from the configs' `net.kind` (train/kinds). `device`: cpu, cuda[:N], mps
    or auto; `checkpoint`: resumable training state (see `fit`); `engine` and `threads`: see
    `fit` (default: a hand-derived engine where one exists, 1 thread).

    pad_single: train a single config as member 0 of a 2-member ensemble whose second member
    is a copy, and return it as a 1-member run. Why: with a batch of one, torch hands some
    products to an unbatched BLAS routine that rounds differently from the batched one every
    larger ensemble uses (K = 85 inputs, width-1 layers, …), so only ≥ 2-member computations
    give a run the same bits in any ensemble. The results store trains every run this way.
    """
    configs = list(configs)
    if pad_single and len(configs) == 1:
        return _single(train_ensemble(configs * 2, device=device, on_eval=on_eval,
                                      callbacks=callbacks, checkpoint=checkpoint,
                                      engine=engine, threads=threads))
    check_batchable(configs)
    device = resolve_device(device)
    kind = get_kind(configs[0].net.kind)
    datasets = build_datasets(configs)
    data = task_data(datasets)
    data = data.to(device)
    model = kind.build(configs, datasets[0]).to(device)
    objective = kind.objective(configs, model).to(device)
    o = configs[0].optim
    history = fit(model, objective, data, seeds=[c.seed for c in configs], steps=o.steps,
                  batch_size=o.batch_size, lr=o.lr, optimizer=o.optimizer,
                  weight_decay=o.weight_decay, eval_every=min(o.eval_every, max(o.steps, 1)),
                  on_eval=on_eval,
                  callbacks=[*kind.fit_callbacks(configs, model, datasets[0]), *callbacks],
                  schedule=reg_schedule(configs), eval_train=o.eval_train,
                  checkpoint=checkpoint, engine=engine, threads=threads, clip=o.clip,
                  warmup=o.warmup)
    return EnsembleRun(configs, model, history, datasets)


def _single(run: EnsembleRun) -> EnsembleRun:
    """Member 0 of a padded 2-member run as a 1-member run."""
    kind = get_kind(run.configs[0].net.kind)
    model = kind.build(run.configs[:1], run.datasets[0])
    model.load_state_dict(member_state(run.model, 0, 2))
    model.to(next(run.model.parameters()).device)
    h = run.history
    history = History(steps=h.steps, train_loss=[a[:1] for a in h.train_loss],
                      test_loss=[a[:1] for a in h.test_loss],
                      train_eval=[a[:1] for a in h.train_eval],
                      extra=_first_member_extra(h.extra),
                      diverged_at=h.diverged_at[:1], wall_s=h.wall_s, cpu_s=h.cpu_s)
    return EnsembleRun(run.configs[:1], model, history, run.datasets[:1])


def _first_member_extra(extra: dict) -> dict:
    out = {}
    for key, value in extra.items():
        if key == "stopped_at":
            out[key] = value[:1]
        elif isinstance(value, list):
            out[key] = [v[:1] if isinstance(v, (list, np.ndarray)) and len(v) == 2 else v
                        for v in value]
        elif key != "ended_at":
            out[key] = value
    return out


def member_state(model: nn.Module, i: int, members: int) -> dict[str, torch.Tensor]:
    """Member i's tensors of an M-member model, shaped as a 1-member model's state_dict:
    every modlab ensemble tensor is member-major ((M·k, …), k = 1 or blocks per member)."""
    out = {}
    for name, t in model.state_dict().items():
        if t.dim() == 0 or t.shape[0] % members:
            raise ValueError(f"{name} {tuple(t.shape)} has no member-major leading dim")
        k = t.shape[0] // members
        out[name] = t.detach().reshape(members, k, *t.shape[1:])[i].cpu().clone()
    return out


def history_of(history: History, i: int) -> dict[str, np.ndarray]:
    """Member i's curves: steps, train_loss, test_loss (and train_eval when logged), up to
    the step it stopped at (a member that reached its criterion trains no further, so its
    curves do not depend on how long the others went on)."""
    arrays = history.as_arrays()
    out = {k: (v if k == "steps" else v[:, i]) for k, v in arrays.items()}
    stop = history.extra.get("stopped_at", [-1] * (i + 1))[i]
    if stop >= 0:
        keep = out["steps"] <= stop
        out = {k: v[keep] for k, v in out.items()}
    return out
