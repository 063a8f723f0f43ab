"""Run independent jobs (e.g. ensembles of different architectures) side by side.

One ensemble already uses a core well (see docs/performance.md); more torch threads inside
one small ensemble only slow it down. So a sweep gets its parallelism from *processes*: each
worker runs one job at a time on one torch thread, and results come back to the caller.

>>> from modlab.sweep import ProcessExecutor, ensemble_job
>>> with ProcessExecutor() as ex:                      # one worker per core
...     runs = ex.run([ensemble_job(configs_a), ensemble_job(configs_b)])

`SerialExecutor` runs the same jobs in this process, one after another (debugging, tests,
or a machine with one core); both return results in job order.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import time
import traceback as tb
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

import torch

ResultCallback = Callable[[int, Any], None]


@dataclass(frozen=True)
class JobFailure:
    """A job that raised: its index, name, "ExcType: message" and the formatted traceback."""

    index: int
    name: str | None
    error: str
    traceback: str = ""

    @classmethod
    def of(cls, index: int, job: Job, err: BaseException) -> JobFailure:
        text = "".join(tb.format_exception(type(err), err, err.__traceback__))
        return cls(index, job.name, f"{type(err).__name__}: {err}", text)


ErrorCallback = Callable[[int, JobFailure], None]


@dataclass(frozen=True)
class Job:
    """A picklable unit of work: `fn(*args, **kwargs)`; fn must be importable (module level)."""

    fn: Callable[..., Any]
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    name: str | None = None

    def __call__(self) -> Any:
        return self.fn(*self.args, **self.kwargs)


def train_ensemble_job(configs, device: str = "cpu", engine: str = "auto",
                       threads: int | None = None):
    """Worker side of `ensemble_job`: train, and hand the run back on the CPU."""
    from ..train import train_ensemble

    run = train_ensemble(list(configs), device=device, engine=engine, threads=threads)
    if run.model.layers[0].weight.device.type != "cpu":
        run.model.to("cpu")
    return run


def ensemble_job(configs, *, device: str = "cpu", engine: str = "auto",
                 name: str | None = None) -> Job:
    """A job that trains `configs` (a list of RunConfig) as one ensemble → EnsembleRun."""
    return Job(train_ensemble_job, (list(configs),), {"device": device, "engine": engine},
               name=name)


def as_job(job) -> Job:
    """Job as is; a list of RunConfig → `ensemble_job`; a bare callable → Job(callable)."""
    if isinstance(job, Job):
        return job
    if callable(job):
        return Job(job)
    if isinstance(job, (list, tuple)):
        return ensemble_job(job)
    raise TypeError(f"cannot run {type(job).__name__} as a job: give a Job, a callable, "
                    "or a list of RunConfig")


def available_cores() -> int:
    """Cores this process may run on (affinity-aware where the OS tells)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


class SerialExecutor:
    """Runs jobs here, in order, with `threads` torch threads (None: modlab's default, 1)."""

    def __init__(self, threads: int | None = None):
        self.threads = threads

    def run(self, jobs: Iterable, on_result: ResultCallback | None = None,
            on_error: ErrorCallback | None = None) -> list:
        """Results in job order. on_error None: the first failure raises; else it is
        reported as a `JobFailure` (also in its result slot) and the others go on."""
        from ..train.runtime import torch_threads

        results = []
        with torch_threads(self.threads):
            for i, job in enumerate(jobs):
                job = as_job(job)
                try:
                    result = job()
                except Exception as err:
                    if on_error is None:
                        raise
                    result = JobFailure.of(i, job, err)
                    on_error(i, result)
                else:
                    if on_result is not None:
                        on_result(i, result)
                results.append(result)
        return results

    def map(self, fn: Callable, *iterables) -> list:
        return self.run(Job(fn, args) for args in zip(*iterables, strict=True))

    def shutdown(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.shutdown()


_WORKER_THREADS_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def _init_worker(threads: int, pin: bool, counter) -> None:
    """Runs once in each worker: `threads` torch threads, optionally pinned to one core."""
    os.environ["MODLAB_THREADS"] = str(threads)
    for name in _WORKER_THREADS_ENV:
        os.environ[name] = str(threads)
    torch.set_num_threads(threads)
    if pin and counter is not None and hasattr(os, "sched_setaffinity"):
        with counter.get_lock():
            index = counter.value
            counter.value += 1
        cores = sorted(os.sched_getaffinity(0))
        try:
            os.sched_setaffinity(0, {cores[index % len(cores)]})
        except OSError:
            pass


def _run_job(job: Job) -> Any:
    return job()


def _pid_after(seconds: float) -> int:
    """A warm-up job: busy for a moment, so that each ready worker takes one."""
    time.sleep(seconds)
    return os.getpid()


class ProcessExecutor:
    """A pool of worker processes, each running one job at a time on `threads_per_worker`
    torch threads (default 1).

    max_workers: default = number of cores available to this process. start_method: "spawn"
    (default; safe after torch's thread pools exist, unlike fork) or "forkserver". pin: also
    pin worker i to core i (off by default: on a busy machine the scheduler does better).
    The pool starts on first use and is reused by later `run` calls until `shutdown()`.
    """

    def __init__(self, max_workers: int | None = None, threads_per_worker: int = 1,
                 start_method: str = "spawn", pin: bool = False):
        if max_workers is not None and max_workers < 1:
            raise ValueError(f"max_workers must be >= 1, got {max_workers}")
        if threads_per_worker < 1:
            raise ValueError(f"threads_per_worker must be >= 1, got {threads_per_worker}")
        self.max_workers = max_workers or available_cores()
        self.threads_per_worker = threads_per_worker
        self.start_method = start_method
        self.pin = pin
        self._pool: ProcessPoolExecutor | None = None

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            ctx = mp.get_context(self.start_method)
            counter = ctx.Value("i", 0) if self.pin else None
            self._pool = ProcessPoolExecutor(
                max_workers=self.max_workers, mp_context=ctx, initializer=_init_worker,
                initargs=(self.threads_per_worker, self.pin, counter))
        return self._pool

    def submit(self, job) -> Future:
        return self._ensure_pool().submit(_run_job, as_job(job))

    def run(self, jobs: Iterable, on_result: ResultCallback | None = None,
            on_error: ErrorCallback | None = None, retries: int = 2) -> list:
        """Run all jobs; results in job order. `on_result(index, result)` fires as each
        finishes. on_error None: the first job to raise cancels the rest and its exception
        is re-raised here; else `on_error(index, JobFailure)` fires, the failure takes the
        job's result slot and the other jobs go on. A worker process that dies (killed, out
        of memory) breaks the pool: the pool restarts and the jobs it was running are
        resubmitted up to `retries` times before they count as failed."""
        jobs = [as_job(j) for j in jobs]
        results: list = [None] * len(jobs)
        attempts = [0] * len(jobs)
        index = {self.submit(j): i for i, j in enumerate(jobs)}
        try:
            while index:
                done, _ = wait(list(index), return_when=FIRST_COMPLETED)
                broken = []
                for f in sorted(done, key=index.__getitem__):
                    i = index.pop(f)
                    err = f.exception()
                    if err is None:
                        results[i] = f.result()
                        if on_result is not None:
                            on_result(i, results[i])
                    elif isinstance(err, BrokenProcessPool) and attempts[i] < retries:
                        broken.append(i)
                    elif on_error is None:
                        raise err
                    else:
                        results[i] = JobFailure.of(i, jobs[i], err)
                        on_error(i, results[i])
                if broken:
                    # every job still in the dead pool fails too: restart and resubmit them
                    broken += [index.pop(f) for f in list(index)]
                    self.shutdown(wait=False)
                    for i in sorted(set(broken)):
                        attempts[i] += 1
                        index[self.submit(jobs[i])] = i
        except BaseException:
            for f in index:
                f.cancel()
            raise
        return results

    def map(self, fn: Callable, *iterables) -> list:
        return self.run(Job(fn, args) for args in zip(*iterables, strict=True))

    def warm_up(self, timeout: float = 300.0) -> None:
        """Start every worker now and wait until all are ready (each imports torch and modlab
        once: seconds), so that later timings exclude it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = self.run([Job(_pid_after, (0.2,)) for _ in range(self.max_workers)])
            if len(set(pids)) >= self.max_workers:
                return

    def shutdown(self, wait: bool = True) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=True)
            self._pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.shutdown()


def make_executor(kind: str = "process", max_workers: int | None = None,
                  threads: int = 1) -> SerialExecutor | ProcessExecutor:
    """"process" (default) or "serial"; `max_workers` defaults to the number of cores."""
    if kind == "serial" or (kind == "auto" and (max_workers or available_cores()) == 1):
        return SerialExecutor(threads=threads)
    if kind in ("process", "auto"):
        return ProcessExecutor(max_workers=max_workers, threads_per_worker=threads)
    raise ValueError(f"executor must be one of ['process', 'serial', 'auto'], got {kind!r}")


def train_ensembles(ensembles: Sequence[Sequence], *, executor=None, device: str = "cpu",
                    engine: str = "auto", on_result: ResultCallback | None = None) -> list:
    """Train each list of RunConfig as one ensemble, the ensembles in parallel worker
    processes (default: a ProcessExecutor with one worker per core, shut down afterwards)."""
    jobs = [ensemble_job(configs, device=device, engine=engine) for configs in ensembles]
    if executor is not None:
        return executor.run(jobs, on_result=on_result)
    with ProcessExecutor(max_workers=min(len(jobs), available_cores()) or 1) as ex:
        return ex.run(jobs, on_result=on_result)
