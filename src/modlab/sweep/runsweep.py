"""Run a sweep (spec.py): train its runs into `<out>/store`, then analyse every grid point of
an experiment sweep into `<out>/<experiment>/<point>/`. `index` trains one run alone (job
arrays: `modlab sweep SPEC --index $SLURM_ARRAY_TASK_ID`), bitwise the same as packed."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..atomic import atomic_write_text
from ..results import Store
from .execute import CHECKPOINT_EVERY, Report, execute
from .executor import SerialExecutor
from .experiment import Outcome, analyse_into, check_out, open_staging, target_dir
from .resources import check_resources
from .spec import Sweep


@dataclass
class SweepOutcome:
    sweep: Sweep
    report: Report
    points: list[Outcome] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)      # points with failed runs

    @property
    def ok(self) -> bool:
        return self.report.ok


def status(sweep: Sweep) -> list[dict]:
    """Every indexed run: index, run id, labels, finished or not."""
    store = Store(sweep.out / "store")
    return [{"index": i, "run_id": r.config.key(), "done": store.has(r.config.key()), **r.labels}
            for i, r in enumerate(sweep.runs)]


def run_sweep(sweep: Sweep, *, index: int | None = None, executor=None, workers: int = 1,
              device: str = "cpu", progress=None, force: bool = False,
              checkpoint_every: int = CHECKPOINT_EVERY) -> SweepOutcome:
    runs = sweep.runs
    check_resources([r.config for r in runs], force=force)
    check_out(sweep.out)
    store = Store(sweep.out / "store")
    _write_index(sweep)
    if index is not None:
        if not 0 <= index < len(runs):
            raise ValueError(f"--index {index} is out of range: this sweep has {len(runs)} runs "
                             f"(0 … {len(runs) - 1}; see --dry-run)")
        report = execute([runs[index].config], store, executor=SerialExecutor(), device=device,
                         progress=progress, checkpoint_every=checkpoint_every)
        return SweepOutcome(sweep, report)
    start = time.perf_counter()
    report = execute([r.config for r in runs], store, executor=executor, workers=workers,
                     device=device, progress=progress, checkpoint_every=checkpoint_every)
    outcome = SweepOutcome(sweep, report)
    if sweep.experiment is None:
        return outcome
    failed = {f.config.key() for f in report.failed}
    exp = sweep.experiment
    for point in sweep.points:
        if any(r.config.key() in failed for r in point.runs):
            outcome.skipped.append(point.slug)
            continue
        name = f"{exp.name}/{point.slug}"
        staging = open_staging(sweep.out, name.replace("/", "_"), sweep.spec.preset,
                               point.overrides)
        outcome.points.append(analyse_into(
            exp, point.config, point.runs, store, staging,
            target_dir(sweep.out / exp.name, point.slug, overwrite=True), sweep.spec.preset,
            {**sweep.spec.set, **point.overrides}, report, True, start))
    return outcome


def _write_index(sweep: Sweep) -> None:
    atomic_write_text(Path(sweep.out) / "sweep.json", json.dumps(
        {"name": sweep.name, "spec": sweep.spec.model_dump(),
         "runs": [{"index": i, "run_id": r.config.key(), **r.labels}
                  for i, r in enumerate(sweep.runs)]}, indent=1, default=str))
