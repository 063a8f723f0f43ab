"""A live view of training: runs done / running / failed, elapsed time and ETA (rich)."""
from __future__ import annotations

import time

from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.text import Text


def _clock(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class RichProgress:
    """`modlab.sweep.execute.Progress` as a rich live display; failed runs are printed as
    they fail (their config and error), the others go on."""

    def __init__(self, console: Console, labels: dict[str, dict] | None = None):
        self.console, self.labels = console, labels or {}
        self.live: Live | None = None

    # -- Progress protocol ------------------------------------------------------------------
    def start(self, total: int, cached: int, jobs: int, workers: int) -> None:
        self.total, self.cached, self.jobs, self.workers = total, cached, jobs, max(workers, 1)
        self.n_done = self.failed_runs = self.jobs_finished = 0
        self.steps_total = self.steps_done = 0
        self.t0 = time.perf_counter()
        if total - cached:
            self.live = Live(self._render(), console=self.console, refresh_per_second=2,
                             transient=False)
            self.live.__enter__()
        elif total:
            self.console.print(f"all {total} runs are already in the store")

    def expect(self, steps_total: int) -> None:
        self.steps_total = steps_total

    def done(self, configs, seconds: float) -> None:
        self._finished(configs, ok=True)

    def failed(self, configs, failure) -> None:
        self._finished(configs, ok=False)
        self.console.print(f"[red]failed[/red] {len(configs)} run(s) ({failure.name}): "
                           f"{failure.error}")
        for c in configs[:5]:
            labels = self.labels.get(c.key(), {})
            self.console.print(f"  run {c.key()} {labels or ''}: net {c.net.kind}, seed {c.seed}")

    def finish(self) -> None:
        if self.live is not None:
            self.live.update(self._render())
            self.live.__exit__(None, None, None)
            self.live = None

    # -- display -----------------------------------------------------------------------------
    def _finished(self, configs, ok: bool) -> None:
        self.jobs_finished += 1
        if ok:
            self.n_done += len(configs)
        else:
            self.failed_runs += len(configs)
        self.steps_done += sum(c.optim.steps for c in configs)
        if self.live is not None:
            self.live.update(self._render())

    def _render(self):
        todo = self.total - self.cached
        finished = self.n_done + self.failed_runs
        running_jobs = min(self.workers, self.jobs - self.jobs_finished)
        elapsed = time.perf_counter() - self.t0
        frac = self.steps_done / self.steps_total if self.steps_total else finished / max(todo, 1)
        eta = elapsed * (1 - frac) / frac if frac > 0 else None
        line = Text.assemble(
            (f"{self.n_done}", "green"), f" done, {running_jobs} ensemble(s) running, ",
            (f"{self.failed_runs} failed", "red" if self.failed_runs else ""),
            f", {todo - finished} to go, {self.cached} from the store · elapsed "
            f"{_clock(elapsed)}" + (f" · ETA {_clock(eta)}" if eta is not None else ""))
        return Group(ProgressBar(total=max(todo, 1), completed=finished, width=50), line)
