"""Train runs into a results store: skip finished ones, pack the rest into ensembles, run the
ensembles on an executor, store each member's result as it arrives.

Every ensemble job checkpoints its training state every `checkpoint_every` steps under
`<store>/checkpoints/`, so a killed sweep resumes mid-run (bitwise identical: a run's result
does not depend on its ensemble, nor on an interruption). Results travel back to the driver,
which alone writes the store: no shared filesystem is needed for results.
"""
from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..results import Store
from ..train.config import RunConfig, batch_key
from .executor import Job, JobFailure, ProcessExecutor, SerialExecutor

MAX_MEMBERS = 64        # beyond this, ensembles stop getting faster per member (docs/performance.md)
CHECKPOINT_EVERY = 1000


def data_shape(cfg: RunConfig, cache: dict) -> tuple:
    """The shapes of a run's task data: members whose data differ in shape cannot be stacked
    (e.g. Fig. 11's ID/OOD splits at different r). Built once per distinct task."""
    key = cfg.task.model_dump_json()
    if key not in cache:
        from ..tasks import make_task

        task = make_task(cfg.task.name, **cfg.task.params)
        cache[key] = tuple(tuple(getattr(task, f).shape) for f in ("x_train", "y_train", "x_test", "y_test")
                           if hasattr(task, f)) or (type(task).__name__,)
    return cache[key]


def pack(configs: Sequence[RunConfig], max_members: int = MAX_MEMBERS) -> list[list[RunConfig]]:
    """Group batchable runs (same architecture, optimiser, steps, data shapes …) into
    ensembles of at most `max_members`, in first-seen order."""
    groups: dict[tuple, list[RunConfig]] = {}
    shapes: dict = {}
    for cfg in configs:
        groups.setdefault((batch_key(cfg), data_shape(cfg, shapes)), []).append(cfg)
    return [g[i:i + max_members] for g in groups.values() for i in range(0, len(g), max_members)]


def balance(groups: list[list[RunConfig]], workers: int) -> list[list[RunConfig]]:
    """Halve the largest ensembles until every worker has one (a member's bits do not depend
    on its ensemble, so this only changes the speed: an ensemble of big RNNs is one core's
    work however many members it has)."""
    groups = list(groups)
    while len(groups) < workers:
        big = max(range(len(groups)), key=lambda i: len(groups[i]), default=None)
        if big is None or len(groups[big]) < 2:
            break
        g, half = groups[big], (len(groups[big]) + 1) // 2
        groups[big:big + 1] = [g[:half], g[half:]]
    return groups


def group_key(configs: Sequence[RunConfig]) -> str:
    """The identity of one packed ensemble (its checkpoint's name)."""
    joined = ",".join(c.key() for c in configs)
    return hashlib.sha256(joined.encode()).hexdigest()[:16]


def environment(device: str = "cpu") -> dict:
    """What, besides the config, a run's bits depend on: recorded with every result."""
    import torch

    from .. import __version__
    from ..train.runtime import describe_machine, mkl_cnr_mode

    info = describe_machine()
    return {"modlab": __version__, "torch": torch.__version__, "device": str(device),
            "cpu": info["cpu"], "torch_threads": info["torch_threads"],
            "mkl_cbwr": mkl_cnr_mode()}


def train_job(configs: list[RunConfig], device: str = "cpu", checkpoint_dir: str | None = None,
              checkpoint_every: int = CHECKPOINT_EVERY) -> list:
    """Worker side: train one packed ensemble (resuming its checkpoint if there is one) and
    return its members' `RunResult`s, parameters on the CPU."""
    from ..train import Checkpoint, train_ensemble
    from ..train.result import results_of

    key = group_key(configs)
    ckpt = None
    if checkpoint_dir is not None:
        ckpt = Checkpoint(Path(checkpoint_dir) / key, every=checkpoint_every, tag=key)
    run = train_ensemble(configs, device=device, checkpoint=ckpt, pad_single=True)
    return results_of(run, environment(device))


@dataclass
class Progress:
    """Callbacks of a live view; every method is optional to override."""

    def start(self, total: int, cached: int, jobs: int, workers: int) -> None: ...

    def done(self, configs: list[RunConfig], seconds: float) -> None: ...

    def failed(self, configs: list[RunConfig], failure: JobFailure) -> None: ...

    def finish(self) -> None: ...


@dataclass
class Failed:
    """A run whose ensemble failed: its config and the error."""

    config: RunConfig
    error: str
    traceback: str = ""


@dataclass
class Report:
    trained: list[str] = field(default_factory=list)     # keys trained now
    cached: list[str] = field(default_factory=list)      # keys already in the store
    failed: list[Failed] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed


def make_local_executor(workers: int):
    return ProcessExecutor(max_workers=workers) if workers > 1 else SerialExecutor()


def execute(configs: Sequence[RunConfig], store: Store, *, executor=None, workers: int = 1,
            device: str = "cpu", checkpoint_every: int = CHECKPOINT_EVERY,
            max_members: int = MAX_MEMBERS, progress: Progress | None = None,
            on_stored: Callable[[str], None] | None = None) -> Report:
    """Make sure every config has a result in `store`; returns what was trained, found and
    what failed (a failed ensemble does not stop the others)."""
    start = time.perf_counter()
    report = Report()
    unique = list({c.key(): c for c in configs}.values())
    missing = [c for c in unique if not store.has(c.key())]
    report.cached = [c.key() for c in unique if store.has(c.key())]
    slots = workers if executor is None else getattr(executor, "max_workers", 1)
    groups = balance(pack(missing, max_members), slots)
    ckpt_dir = store.root / "checkpoints"
    jobs = [Job(train_job, (g, device, str(ckpt_dir), checkpoint_every),
                name=f"{len(g)} × {g[0].net.kind}") for g in groups]
    own = executor is None
    executor = executor or make_local_executor(min(workers, max(len(jobs), 1)))
    submitted = time.perf_counter()
    if progress:
        progress.start(len(unique), len(report.cached), len(jobs),
                       getattr(executor, "max_workers", 1))
        if hasattr(progress, "expect"):
            progress.expect(sum(c.optim.steps for c in missing))

    def stored(i: int, results) -> None:
        for r in results:
            store.write(r)
            report.trained.append(r.key)
            if on_stored:
                on_stored(r.key)
        _remove_checkpoint(ckpt_dir, group_key(groups[i]))
        if progress:
            progress.done(groups[i], time.perf_counter() - submitted)

    def failed(i: int, failure: JobFailure) -> None:
        report.failed += [Failed(c, failure.error, failure.traceback) for c in groups[i]]
        if progress:
            progress.failed(groups[i], failure)

    try:
        if jobs:
            executor.run(jobs, on_result=stored, on_error=failed)
    finally:
        if own:
            executor.shutdown()
        if progress:
            progress.finish()
    report.wall_s = time.perf_counter() - start
    return report


def _remove_checkpoint(ckpt_dir: Path, key: str) -> None:
    for suffix in (".safetensors", ".json"):
        try:
            os.unlink(ckpt_dir / f"{key}{suffix}")
        except FileNotFoundError:
            pass
