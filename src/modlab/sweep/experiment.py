"""Run a registered experiment end to end: plan → train (store, resumable) → analyse → a run
directory that never lies.

A run directory `<out>/<name>` appears only when complete: everything is validated before
anything is written, the run is built in a hidden staging directory
`<out>/.<name>.incomplete-<pid>` (with an INCOMPLETE marker naming its command) and renamed
into place at the end. A finished run directory is never overwritten: by default the new
run goes to `<out>/<name>-2` (-3, …); `overwrite=True` replaces it. The trained runs
themselves live in the results store `<out>/store`, shared by every experiment of `<out>`:
a killed experiment resumes from it (and from its training checkpoints), and experiments
that need the same runs (fig12 and fig13) train them once.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..atomic import atomic_write_bytes, atomic_write_text
from ..experiments import get_experiment
from ..experiments.base import Context, Run
from ..experiments.members import Trained
from ..experiments.results import summary_table, write_parquet
from ..results import Store
from .execute import CHECKPOINT_EVERY, Report, execute
from .resources import check_resources

INCOMPLETE = "INCOMPLETE"
FINISHED = "config.json"   # written last before the rename: a directory with it is finished


class RunFailed(RuntimeError):
    """Some planned runs failed to train (each listed with its config and error)."""

    def __init__(self, report: Report, staging: Path):
        self.report, self.staging = report, staging
        first = report.failed[0]
        super().__init__(f"{len(report.failed)} run(s) failed, e.g. {first.config.key()}: "
                         f"{first.error} (partial output kept in {staging})")


@dataclass
class Outcome:
    """What `run_experiment` did: where it wrote, what it trained, what diverged."""

    path: Path
    report: Report
    rows: list[dict] = field(default_factory=list)
    diverged: list[dict] = field(default_factory=list)   # labels + step of diverged runs
    runs: int = 0

    @property
    def all_diverged(self) -> bool:
        return self.runs > 0 and len(self.diverged) == self.runs


def plan_runs(exp, cfg) -> list[Run]:
    """The experiment's runs, every config validated (one-line ValueError naming the field)."""
    try:
        runs = exp.plan(cfg)
    except ValidationError as err:
        e = err.errors()[0]
        loc = ".".join(str(p) for p in e["loc"])
        raise ValueError(f"invalid {loc!r} for {exp.name} (value {e.get('input')!r}): "
                         f"{e['msg']}") from None
    if not runs:
        raise ValueError(f"{exp.name}: this configuration plans no runs")
    return runs


def check_out(out: Path) -> None:
    """`out` must be (or be creatable as) a writable directory: one-line errors, not tracebacks."""
    probe = out
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise ValueError(f"--out {out}: {probe} is a file, not a directory")
    if str(out.resolve()).startswith(("/proc", "/sys", "/dev")) or not os.access(probe, os.W_OK):
        raise ValueError(f"--out {out}: {probe} is not writable")


def target_dir(out: Path, name: str, overwrite: bool) -> Path:
    """Where the finished run goes: <out>/<name>, or the first free <name>-k when a finished
    run is already there (unless overwrite)."""
    path = out / name
    if overwrite or not (path / FINISHED).exists():
        return path
    k = 2
    while (out / f"{name}-{k}" / FINISHED).exists():
        k += 1
    return out / f"{name}-{k}"


def interrupted_runs(out: Path, name: str) -> list[Path]:
    """Staging directories of killed runs of `name` in `out` (reported, then reused)."""
    return sorted(out.glob(f".{name}.incomplete-*")) if out.exists() else []


def run_experiment(name: str, preset: str = "quick", out: str | Path = "runs",
                   overrides: dict[str, Any] | None = None, *, workers: int | None = None,
                   executor=None, progress=None, overwrite: bool = False, force: bool = False,
                   checkpoint_every: int = CHECKPOINT_EVERY) -> Outcome:
    """Plan, train (only what the store lacks), analyse and write <out>/<name>."""
    exp = get_experiment(name)
    cfg = exp.make_config(preset, overrides)
    runs = plan_runs(exp, cfg)
    check_resources([r.config for r in runs], force=force)
    out = Path(out)
    check_out(out)
    from ..train.runtime import resolve_device

    resolve_device(cfg.device)   # a missing GPU is bad input, before anything is written
    staging = open_staging(out, name, preset, overrides)
    store = Store(out / "store")
    start = time.perf_counter()
    report = execute([r.config for r in runs], store, executor=executor,
                     workers=workers or cfg.workers, device=cfg.device, progress=progress,
                     checkpoint_every=checkpoint_every)
    if not report.ok:
        raise RunFailed(report, staging)
    return analyse_into(exp, cfg, runs, store, staging, target_dir(out, name, overwrite),
                        preset, overrides, report, overwrite, start)


def open_staging(out: Path, name: str, preset: str, overrides) -> Path:
    """A fresh hidden staging directory, marked INCOMPLETE with the command that made it."""
    staging = out / f".{name}.incomplete-{os.getpid()}"
    staging.mkdir(parents=True, exist_ok=True)
    atomic_write_text(staging / INCOMPLETE, json.dumps(
        {"experiment": name, "preset": preset, "overrides": overrides or {},
         "started": time.strftime("%Y-%m-%d %H:%M:%S"), "argv": sys.argv}, indent=1))
    return staging


def analyse_into(exp, cfg, runs: list[Run], store: Store, staging: Path, target: Path,
                 preset: str, overrides, report: Report, overwrite: bool,
                 start: float) -> Outcome:
    """Analyse stored runs into `staging`, then move it to `target` (the only visible step)."""
    trained = [Trained(r, store.load(r.config.key())) for r in runs]
    rows = exp.analyze(cfg, trained, Context(out=staging))
    diverged = [{**t.labels, "diverged_at": t.diverged_at} for t in trained if t.diverged]
    write_run_directory(staging, exp, cfg, preset, overrides, runs, trained, rows, diverged,
                        time.perf_counter() - start, report)
    _move_into_place(staging, target, overwrite)
    return Outcome(target, report, rows, diverged, len(runs))


def write_run_directory(staging: Path, exp, cfg, preset, overrides, runs, trained, rows,
                        diverged, wall: float, report: Report) -> None:
    write_parquet(rows, staging / "results.parquet")
    atomic_write_text(staging / "runs.json", json.dumps(
        [{"run_id": r.config.key(), **r.labels} for r in runs], indent=1))
    for t in trained:
        _write_checkpoint(staging / "checkpoints", t)
    table = summary_table(rows, exp.group_by, exp.summary_metrics)
    sets = ", ".join(f"`{k}={json.dumps(v)}`" for k, v in (overrides or {}).items())
    lines = [f"# {exp.name}: {exp.title}", "", f"{exp.paper}. Claim: {exp.claim}.", "",
             f"Preset `{preset}`" + (f" with {sets}" if sets else "") +
             f", {cfg.seeds} seeds, {len(runs)} runs ({len(report.trained)} trained now, "
             f"{len(report.cached)} from the store), wall time {wall:.0f} s. "
             "Mean ± sd over seeds.", ""]
    if diverged:
        lines += [f"**{len(diverged)} of {len(runs)} runs diverged** (their metrics are marked "
                  "n/a, not computed from frozen weights):", ""]
        lines += [f"- {_describe(d)}" for d in diverged[:50]] + [""]
    atomic_write_text(staging / "summary.md", "\n".join(lines) + "\n" + table)
    atomic_write_text(staging / FINISHED, json.dumps(
        {"experiment": exp.name, "preset": preset, "overrides": overrides or {},
         "config": cfg.model_dump()}, indent=1))
    (staging / INCOMPLETE).unlink()


def _describe(labels: dict) -> str:
    step = labels.get("diverged_at")
    rest = ", ".join(f"{k} {v}" for k, v in labels.items() if k != "diverged_at")
    return f"{rest}: at step {step}"


def _write_checkpoint(folder: Path, t: Trained) -> None:
    """The run's parameters (safetensors) and config (JSON sidecar): `modlab analyze` reads
    these like any modlab checkpoint."""
    from safetensors.torch import save as to_bytes

    name = "-".join(f"{k}={v}" for k, v in t.labels.items()).replace("/", "_").replace(" ", "")
    name = name[:120] or t.result.key
    atomic_write_bytes(folder / f"{name}.safetensors", to_bytes(
        {k: v.contiguous() for k, v in t.result.state.items()}))
    atomic_write_text(folder / f"{name}.json", json.dumps(
        [{**t.config.model_dump(mode="json"), "labels": t.labels, "run_id": t.result.key}],
        indent=1))


def _move_into_place(staging: Path, target: Path, overwrite: bool) -> None:
    if target.exists():
        if not overwrite and (target / FINISHED).exists():
            raise ValueError(f"{target} is a finished run; not overwriting it")
        trash = target.with_name(f".{target.name}.replaced-{os.getpid()}")
        os.replace(target, trash)
        os.replace(staging, target)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(staging, target)
