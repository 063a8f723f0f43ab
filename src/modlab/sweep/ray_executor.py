"""Run sweep jobs as Ray tasks: on a local Ray instance or on an existing cluster.

>>> from modlab.sweep.ray_executor import RayExecutor
>>> with RayExecutor() as ex:                          # a local instance, 127.0.0.1 only
...     runs = ex.run([ensemble_job(configs_a), ensemble_job(configs_b)])
>>> with RayExecutor("auto") as ex: ...                # the cluster this node belongs to
>>> with RayExecutor("10.0.0.1:6379") as ex: ...       # that head node

Each job is one Ray task holding `num_cpus_per_job` CPUs and running on one torch thread, as
in `ProcessExecutor`. Results travel back to the driver through Ray's object store, so the
nodes need no shared filesystem. A task whose worker process dies (killed, out of memory) is
retried up to `max_retries` times; an exception raised by the job itself is not retried.

Loopback (spec 4): a local instance (address=None) and a driver that connects to a loopback
address set RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 before importing Ray, which makes Ray bind
and advertise 127.0.0.1 instead of the machine's network address. Ray reads the variable
when it is imported, so a process that imported Ray before without it is refused here.
Ray is an optional extra: `pip install 'modlab[ray]'`.
"""
from __future__ import annotations

import ipaddress
import os
import sys
import traceback as tb
from collections.abc import Callable, Iterable
from typing import Any

from .executor import ErrorCallback, Job, JobFailure, ResultCallback, _init_worker, as_job

LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
USAGE_STATS_ENV = "RAY_USAGE_STATS_ENABLED"
INSTALL_HINT = "the ray executor needs Ray: pip install 'modlab[ray]'"


def _run_in_worker(job: Job) -> Any:
    """Body of every Ray task: one torch thread (as ProcessExecutor's workers), then the job."""
    _init_worker(1, False, None)
    return job()


def _host_of(address: str) -> str:
    host, _, _port = address.rpartition(":")
    return host.strip("[]")


def is_loopback_host(host: str) -> bool:
    """localhost, 127.0.0.0/8 or ::1."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_address(address: str | None) -> str | None:
    """None, "auto" or "HOST:PORT" (port 1-65535); anything else raises ValueError."""
    if address is None or address == "auto":
        return address
    if not isinstance(address, str):
        raise ValueError(f"address must be None, 'auto' or 'HOST:PORT', got {address!r}")
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"address must be None, 'auto' or 'HOST:PORT' (port 1-65535), "
                         f"got {address!r}")
    return address


def _import_ray(loopback: bool):
    """Import Ray, first setting the loopback switch when this process needs 127.0.0.1."""
    already = "ray" in sys.modules
    if loopback and not already:
        os.environ[LOOPBACK_ENV] = "0"
    try:
        import ray
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    if loopback and not ray.is_initialized():
        from ray._private import ray_constants

        if getattr(ray_constants, "ENABLE_RAY_CLUSTER", False):
            raise RuntimeError(f"Ray was imported before without {LOOPBACK_ENV}=0, so it would "
                               "use this machine's network address instead of 127.0.0.1: set "
                               f"{LOOPBACK_ENV}=0 before importing ray (or start a new process)")
    return ray


def describe_error(exc: BaseException) -> tuple[BaseException, str]:
    """(the job's own exception where Ray wraps one, its worker-side traceback text)."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        # ray.get raises a RayTaskError subclass of the cause's type whose text is the trace
        return cause, getattr(exc, "traceback_str", None) or str(exc)
    return exc, "".join(tb.format_exception(exc)) if exc.__traceback__ else ""


def job_failure(index: int, job: Job, exc: BaseException) -> JobFailure:
    error, trace = describe_error(exc)
    message = str(error).strip()
    text = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return JobFailure(index=index, name=job.name, error=text, traceback=trace)


class RayExecutor:
    """Runs jobs as Ray tasks, results back in the driver in job order.

    address: None → start a local Ray instance on 127.0.0.1 (dashboard off, usage stats off;
    stopped by `shutdown`); "auto" → the cluster Ray finds from this node (RAY_ADDRESS or a
    `ray start` here); "HOST:PORT" → the cluster whose head listens there. If this process is
    already connected to Ray (`ray.init` called), that connection is used and left open.
    max_retries: reruns of a task whose worker process died (Ray's system-failure retries).
    num_cpus_per_job: CPUs Ray reserves per job (> 0; jobs still run on one torch thread).
    runtime_env: a Ray runtime environment for the tasks (e.g. {"env_vars": {...}}).
    """

    def __init__(self, address: str | None = None, *, max_retries: int = 3,
                 num_cpus_per_job: float = 1, runtime_env: dict | None = None):
        self.address = check_address(address)
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ValueError(f"max_retries must be an integer >= 0, got {max_retries!r}")
        if not isinstance(num_cpus_per_job, (int, float)) or not num_cpus_per_job > 0:
            raise ValueError(f"num_cpus_per_job must be > 0, got {num_cpus_per_job!r}")
        if runtime_env is not None and not isinstance(runtime_env, dict):
            raise ValueError(f"runtime_env must be a dict or None, got "
                             f"{type(runtime_env).__name__}")
        self.max_retries = max_retries
        self.num_cpus_per_job = num_cpus_per_job
        self.runtime_env = runtime_env
        self.loopback = address is None or (address != "auto"
                                            and is_loopback_host(_host_of(address)))
        self._ray = _import_ray(self.loopback)
        self._owns_connection = False
        self._remote = None

    # -- connection ---------------------------------------------------------------------
    def connect(self):
        """Connect (or start the local instance) now; `run` does it on first use."""
        ray = self._ray
        if ray.is_initialized():
            return ray
        if self.address is None:
            os.environ.setdefault(USAGE_STATS_ENV, "0")
            ray.init(address="local", include_dashboard=False)
        else:
            ray.init(address=self.address)
        self._owns_connection = True
        if self.address is None:
            self._check_local_nodes()
        return ray

    def _check_local_nodes(self) -> None:
        addresses = sorted({n["NodeManagerAddress"] for n in self._ray.nodes() if n["Alive"]})
        if addresses != ["127.0.0.1"]:
            self.shutdown()
            raise RuntimeError(f"the local Ray instance advertises {addresses}, not "
                               "127.0.0.1 only; it has been stopped")

    def _task_options(self, job: Job) -> dict[str, Any]:
        options: dict[str, Any] = {"num_cpus": self.num_cpus_per_job,
                                   "max_retries": self.max_retries, "retry_exceptions": False}
        if self.runtime_env is not None:
            options["runtime_env"] = self.runtime_env
        if job.name is not None:
            options["name"] = job.name
        return options

    # -- running ------------------------------------------------------------------------
    def submit(self, job):
        """Start one job; → its Ray ObjectRef."""
        job = as_job(job)
        ray = self.connect()
        if self._remote is None:
            self._remote = ray.remote(_run_in_worker)
        return self._remote.options(**self._task_options(job)).remote(job)

    def run(self, jobs: Iterable, on_result: ResultCallback | None = None,
            on_error: ErrorCallback | None = None) -> list:
        """Run all jobs; results in job order. `on_result(index, result)` fires here as each
        finishes. A failed job: without `on_error` its exception is raised here and the rest
        are cancelled; with it, `on_error(index, JobFailure)` fires, the others go on, and
        its slot in the returned list holds the JobFailure."""
        jobs = [as_job(j) for j in jobs]
        if not jobs:
            return []
        ray = self.connect()
        refs = [self.submit(j) for j in jobs]
        index = {ref: i for i, ref in enumerate(refs)}
        results: list[Any] = [None] * len(refs)
        pending = list(refs)
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                for ref in done:
                    i = index[ref]
                    try:
                        results[i] = ray.get(ref)
                    except Exception as exc:
                        if on_error is None:
                            # the job's own exception (so `except ValueError` works), with
                            # Ray's error, which holds the worker's traceback, as its cause
                            own = describe_error(exc)[0]
                            if own is exc:
                                raise
                            raise own from exc
                        results[i] = job_failure(i, jobs[i], exc)
                        on_error(i, results[i])
                        continue
                    if on_result is not None:
                        on_result(i, results[i])
        except BaseException:
            for ref in pending:
                ray.cancel(ref)
            raise
        return results

    def map(self, fn: Callable, *iterables) -> list:
        return self.run(Job(fn, args) for args in zip(*iterables, strict=True))

    def shutdown(self) -> None:
        """Disconnect; a local instance this executor started is stopped with it."""
        if self._owns_connection and self._ray.is_initialized():
            self._ray.shutdown()
        self._owns_connection = False
        self._remote = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.shutdown()

