"""RayExecutor on a real local Ray cluster that listens on 127.0.0.1 only (spec 4).

One head node per module (`ray start --head --block`, stopped by ending that process, which
stops exactly the Ray processes it started; `ray stop` would also stop any other Ray cluster
of this user on the machine). Skipped where Ray is not installed.
"""
from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from modlab.sweep import Job, SerialExecutor, ensemble_job
from modlab.sweep.ray_executor import INSTALL_HINT, LOOPBACK_ENV, JobFailure, RayExecutor
from modlab.train import RunConfig

HAS_RAY = importlib.util.find_spec("ray") is not None
needs_ray = pytest.mark.skipif(not HAS_RAY, reason="ray is not installed: "
                                                   "pip install 'modlab[ray]'")
TESTS_DIR = Path(__file__).resolve().parent
LOOPBACK_IPS = {"127.0.0.1", "::ffff:127.0.0.1"}
START_TIMEOUT_S = 120


# -- jobs (module level: Ray workers import this module, see `head`) -------------------------
def die_once(marker: str, value: int):
    """SIGKILL this worker on the first attempt (noting its pid), return on the next."""
    path = Path(marker)
    if not path.exists():
        path.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return value * 2, os.getpid()


def die_always():
    os.kill(os.getpid(), signal.SIGKILL)


def boom(message: str, attempts: str):
    with open(attempts, "a") as f:
        f.write("x")
    raise ValueError(message)


def identity(x):
    return x


def worker_setup():
    return torch.get_num_threads(), os.environ.get("MODLAB_THREADS"), os.getpid()


# -- the cluster ---------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ray_cli() -> str:
    here = Path(sys.executable).with_name("ray")
    return str(here) if here.exists() else (shutil.which("ray") or "ray")


def wait_started(proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if "Ray runtime started" in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    raise RuntimeError(f"ray start did not come up:\n{log.read_text(errors='replace')[-3000:]}")


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM to `ray start --block` stops the processes it started; then its group."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)   # stragglers of this session only
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


@pytest.fixture(scope="module")
def head():
    # Ray's unix socket paths must fit in 107 bytes: a short temp dir, not pytest's
    temp = Path(tempfile.mkdtemp(prefix="mlray", dir="/tmp"))
    log = temp / "head.log"
    port = free_port()
    # token auth, so that other users of this machine cannot use the cluster either; set
    # explicitly (else Ray turns it on only where ~/.ray/auth_token happens to exist)
    auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    # workers inherit the head's environment: PYTHONPATH lets them import this module, whose
    # jobs Ray sends by reference (like any user code installed on every node)
    path = os.pathsep.join(filter(None, [str(TESTS_DIR), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, **auth, "PYTHONPATH": path, LOOPBACK_ENV: "0",
           "RAY_USAGE_STATS_ENABLED": "0"}
    cmd = [ray_cli(), "start", "--head", "--block", f"--port={port}", "--num-cpus=2",
           "--include-dashboard=false", "--disable-usage-stats",
           "--object-store-memory=100000000", f"--temp-dir={temp}",
           # fixed by default (10001, 52365): free ones, so parallel clusters do not clash
           f"--ray-client-server-port={free_port()}",
           f"--dashboard-agent-listen-port={free_port()}"]
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_started(proc, log)
        yield f"127.0.0.1:{port}", proc, auth
    finally:
        stop(proc)
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def ex(head):
    address, _, auth = head
    with pytest.MonkeyPatch.context() as mp:
        for name, value in auth.items():
            mp.setenv(name, value)
        executor = RayExecutor(address)
        executor.connect()
        yield executor
        executor.shutdown()


def listening_ips(pids) -> set[str]:
    import psutil  # after `import ray`, which puts its own psutil on sys.path

    return {c.laddr.ip for c in psutil.net_connections("inet")
            if c.status == psutil.CONN_LISTEN and c.pid in pids}


def process_tree(pid: int) -> set[int]:
    import psutil

    root = psutil.Process(pid)
    return {pid} | {p.pid for p in root.children(recursive=True)}


# -- without a cluster ---------------------------------------------------------------------
def test_without_ray_constructing_raises_the_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)   # `import ray` now fails
    with pytest.raises(ImportError) as info:
        RayExecutor("auto")
    assert str(info.value) == INSTALL_HINT == "the ray executor needs Ray: pip install 'modlab[ray]'"


@pytest.mark.parametrize("kwargs, field", [
    ({"address": "nohost"}, "address"), ({"address": "h:0"}, "address"),
    ({"address": "h:port"}, "address"), ({"address": 6379}, "address"),
    ({"max_retries": -1}, "max_retries"), ({"max_retries": 1.5}, "max_retries"),
    ({"num_cpus_per_job": 0}, "num_cpus_per_job"), ({"runtime_env": "x"}, "runtime_env")])
def test_bad_arguments_raise_one_line_value_errors(kwargs, field):
    with pytest.raises(ValueError, match=f"^{field} must be") as info:
        RayExecutor(**kwargs)
    assert "\n" not in str(info.value)


# -- on the cluster ------------------------------------------------------------------------
@needs_ray
def test_cluster_is_on_loopback_only(head, ex):
    import ray

    nodes = ray.nodes()
    assert nodes[0]["NodeManagerAddress"] == "127.0.0.1"
    assert {n["NodeManagerAddress"] for n in nodes} == {"127.0.0.1"}
    ex.run([Job(identity, (0,))])            # so that workers exist and are counted too
    ips = listening_ips(process_tree(head[1].pid) | {os.getpid()})
    assert ips and ips <= LOOPBACK_IPS, ips


@needs_ray
def test_sweep_matches_serial_bit_for_bit(ex):
    def configs(activation, seed0):
        return [RunConfig(seed=s, net={"activation": activation, "hidden": [16, 16]},
                          reg={"wa": 1e-3, "l2": 1e-4}, optim={"steps": 200, "eval_every": 50})
                for s in (seed0, seed0 + 1)]

    jobs = [ensemble_job(configs("leaky_relu", 0), name="a"),
            ensemble_job(configs("tanh", 2), name="b"),
            ensemble_job(configs("leaky_relu", 4), name="c")]
    seen = []
    remote = ex.run(jobs, on_result=lambda i, r: seen.append(i))
    local = SerialExecutor().run(jobs)
    assert sorted(seen) == [0, 1, 2]
    for a, b in zip(local, remote, strict=True):
        assert a.configs == b.configs
        for p, q in zip(a.model.parameters(), b.model.parameters(), strict=True):
            assert torch.equal(p, q)
        for key in ("train_loss", "test_loss"):
            assert np.array_equal(np.stack(getattr(a.history, key)),
                                  np.stack(getattr(b.history, key)))
    # the runs differ from each other, so equality above is not vacuous
    assert not torch.equal(local[0].model.layers[0].weight, local[2].model.layers[0].weight)
    setups = ex.run([Job(worker_setup), Job(worker_setup)])
    assert [s[:2] for s in setups] == [(1, "1"), (1, "1")]
    assert os.getpid() not in {s[2] for s in setups}


@needs_ray
def test_application_error_is_reported_not_retried(ex, tmp_path):
    attempts = tmp_path / "attempts"
    failures, finished = [], []
    jobs = [Job(identity, (1,)), Job(boom, ("bad value 7", str(attempts)), name="boomer"),
            Job(identity, (3,))]
    results = ex.run(jobs, on_result=lambda i, r: finished.append(i),
                     on_error=lambda i, f: failures.append(f))
    assert results[0] == 1 and results[2] == 3 and sorted(finished) == [0, 2]
    failure = results[1]
    assert failures == [failure]
    assert (failure.index, failure.name, failure.error) == (1, "boomer", "ValueError: bad value 7")
    assert "in boom" in failure.traceback and "raise ValueError(message)" in failure.traceback
    assert attempts.read_text() == "x"       # application errors are not retried
    with pytest.raises(ValueError, match="^bad value 8$"):
        ex.run([Job(boom, ("bad value 8", str(attempts)))])


@needs_ray
def test_killed_worker_is_retried(ex, tmp_path):
    marker = tmp_path / "died"
    results = ex.run([Job(die_once, (str(marker), 21)), Job(identity, (5,))])
    assert results[0][0] == 42 and results[1] == 5
    assert marker.exists() and int(marker.read_text()) != results[0][1]   # a new process


@needs_ray
def test_worker_that_keeps_dying_is_a_failure(ex):
    import ray

    no_retry = RayExecutor(ex.address, max_retries=0)
    failures = []
    results = no_retry.run([Job(identity, (1,)), Job(die_always, name="dies")],
                           on_error=lambda i, f: failures.append((i, f)))
    assert results[0] == 1 and isinstance(results[1], JobFailure)
    assert failures == [(1, results[1])]
    assert results[1].name == "dies" and results[1].error.startswith("WorkerCrashedError")
    no_retry.shutdown()                      # it reused this process's connection: left open
    assert ray.is_initialized()


LOCAL_SCRIPT = """
import json, os, time
from modlab.sweep import Job
from modlab.sweep.ray_executor import RayExecutor
t0 = time.monotonic()
def pid_and_flag():                  # defined in __main__: Ray sends it by value
    return os.getpid(), os.environ.get("MODLAB_RAY_TEST")
with RayExecutor(runtime_env={"env_vars": {"MODLAB_RAY_TEST": "on"}}) as ex:
    ex.connect()
    t1 = time.monotonic()
    pids, flags = zip(*ex.run([Job(pid_and_flag), Job(pid_and_flag)]))
    t2 = time.monotonic()
    import psutil, ray
    kids = {p.pid for p in psutil.Process().children(recursive=True)}
    ips = sorted({c.laddr.ip for c in psutil.net_connections("inet")
                  if c.status == psutil.CONN_LISTEN and c.pid in kids | {os.getpid()}})
    nodes = [n["NodeManagerAddress"] for n in ray.nodes()]
def alive(pid):
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
deadline = time.monotonic() + 30
while time.monotonic() < deadline and any(alive(p) for p in kids):
    time.sleep(0.2)
left = [p for p in kids if alive(p)]
print(f"init {t1 - t0:.1f} s, jobs {t2 - t1:.1f} s, stop {time.monotonic() - t2:.1f} s")
print(json.dumps({"pids": pids, "flags": flags, "ips": ips, "nodes": nodes, "left": left,
                  "me": os.getpid()}))
"""


@needs_ray
def test_local_instance_is_loopback_only_and_stopped(tmp_path):
    # a fresh process without the loopback variable: the executor must set it itself
    env = {k: v for k, v in os.environ.items()
           if k not in (LOOPBACK_ENV, "RAY_ADDRESS") and not k.startswith("RAY_AUTH")}
    env["HOME"] = str(tmp_path)              # Ray writes ~/.ray/auth_token for a local instance
    temp = tempfile.mkdtemp(prefix="mlray", dir="/tmp")   # short: see `head`
    env["RAY_TMPDIR"] = temp                 # its session logs, instead of /tmp/ray
    try:
        out = subprocess.run([sys.executable, "-c", LOCAL_SCRIPT], env=env, text=True,
                             capture_output=True, timeout=240, cwd=tmp_path)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["nodes"] == ["127.0.0.1"]
    assert report["ips"] and set(report["ips"]) <= LOOPBACK_IPS, report["ips"]
    assert report["me"] not in report["pids"]
    assert report["flags"] == ["on", "on"]   # runtime_env reaches the tasks
    assert report["left"] == []              # shutdown stopped what it started


@needs_ray
def test_sweep_through_ray_stores_the_same_bits_as_local(ex, tmp_path):
    # A sweep spec of two architectures × two seeds: packed into ensembles, run as Ray tasks,
    # results sent back to this driver, which writes the store (no shared filesystem).
    import yaml

    from modlab.results import Store
    from modlab.sweep.runsweep import run_sweep
    from modlab.sweep.spec import build, load_spec

    def sweep_at(out):
        spec = {"base": {"reg": {"wa": 1e-3}, "optim": {"steps": 150, "eval_every": 50}},
                "grid": {"net.hidden": [[8], [12]]}, "seeds": 2, "out": str(out)}
        path = tmp_path / f"{out.name}.yaml"
        path.write_text(yaml.safe_dump(spec))
        return build(load_spec(path), path)

    ray_sweep, local_sweep = sweep_at(tmp_path / "ray"), sweep_at(tmp_path / "local")
    assert run_sweep(ray_sweep, executor=ex).ok
    assert run_sweep(local_sweep, executor=SerialExecutor()).ok
    a, b = Store(tmp_path / "ray" / "store"), Store(tmp_path / "local" / "store")
    assert a.keys() == b.keys() and len(a) == 4
    for key in a.keys():
        ra, rb = a.load(key), b.load(key)
        assert all(torch.equal(ra.state[k], rb.state[k]) for k in ra.state)
        assert np.array_equal(ra.curves["test_loss"], rb.curves["test_loss"])
