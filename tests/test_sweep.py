"""Sweeps: specs validated before anything runs, indexed runs, the results store and its SQL
views, and resume after SIGKILL at both levels (finished runs are kept, a killed run resumes
from its checkpoint and ends bitwise identical to an uninterrupted one)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from modlab.cli import app
from modlab.results import Store, load, sql
from modlab.sweep import execute
from modlab.sweep.spec import build, load_spec

runner = CliRunner()

BASE = {"net": {"hidden": [16]}, "reg": {"wa": 1e-3, "l2": 1e-4},
        "optim": {"steps": 200, "eval_every": 100}}


def write_spec(path: Path, **spec) -> Path:
    path.write_text(yaml.safe_dump(spec))
    return path


def one_line(result, needle: str) -> None:
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and needle in lines[0], result.output


@pytest.mark.parametrize("spec, needle", [
    ({"grid": {"seed": [0, 1]}}, "exactly one of 'experiment'"),
    ({"base": BASE, "experiment": "fig4"}, "exactly one of 'experiment'"),
    ({"base": BASE, "grid": {"reg.wa": []}}, "has no values"),
    ({"base": BASE, "zip": {"seed": [0, 1], "reg.wa": [0.0]}}, "equal lengths"),
    ({"base": BASE, "colour": 3}, "'colour'"),
    ({"base": {**BASE, "optim": {"steps": -1}}, "seeds": 2}, "optim.steps"),
    ({"base": BASE, "grid": {"reg.nosuch": [1]}}, "reg.nosuch"),
    ({"experiment": "fig4", "set": {"lam": -1}}, "lam"),
    ({"experiment": "fig99"}, "unknown experiment 'fig99'"),
    ({"experiment": "fig4", "set": {"settings": ["bogus"]}}, "bogus"),
])
def test_bad_specs_are_one_line_errors_before_anything_runs(tmp_path, spec, needle):
    path = write_spec(tmp_path / "s.yaml", out=str(tmp_path / "out"), **spec)
    one_line(runner.invoke(app, ["sweep", str(path)]), needle)
    assert not (tmp_path / "out").exists()


def test_not_yaml_and_missing_files(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("grid: [unclosed\n")
    one_line(runner.invoke(app, ["sweep", str(bad)]), "not valid YAML")
    one_line(runner.invoke(app, ["sweep", str(tmp_path / "none.yaml")]), "no such")
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00bad")
    one_line(runner.invoke(app, ["sweep", str(binary)]), "not a UTF-8")


def test_grid_zip_and_seeds_expand_into_indexed_runs(tmp_path):
    path = write_spec(tmp_path / "s.yaml", base=BASE, grid={"reg.wa": [0.0, 1e-3]},
                      zip={"optim.lr": [1e-3, 2e-3], "optim.batch_size": [50, 100]}, seeds=3,
                      out=str(tmp_path / "out"))
    sweep = build(load_spec(path), path)
    assert len(sweep.points) == 4 and len(sweep.runs) == 12
    labels = [r.labels for r in sweep.runs]
    assert labels[0] == {"reg.wa": 0.0, "optim.lr": 1e-3, "optim.batch_size": 50, "seed": 0}
    assert len({r.config.key() for r in sweep.runs}) == 12
    result = runner.invoke(app, ["sweep", str(path), "--dry-run"])
    assert result.exit_code == 0 and "12 runs (0 done)" in result.output


def test_index_runs_one_run_alone_and_equals_the_packed_result(tmp_path):
    path = write_spec(tmp_path / "s.yaml", base=BASE, grid={"reg.wa": [0.0, 1e-3]}, seeds=2,
                      out=str(tmp_path / "alone"))
    assert runner.invoke(app, ["sweep", str(path), "--index", "3"]).exit_code == 0
    alone = Store(tmp_path / "alone" / "store")
    assert len(alone) == 1
    one_line(runner.invoke(app, ["sweep", str(path), "--index", "4"]), "out of range")
    sweep = build(load_spec(path), path)
    packed = Store(tmp_path / "packed")
    execute([r.config for r in sweep.runs], packed)   # all four runs in one ensemble
    key = sweep.runs[3].config.key()
    assert_same_result(alone, packed, key)


def assert_same_result(a: Store, b: Store, key: str) -> None:
    ra, rb = a.load(key), b.load(key)
    for name in ra.state:
        assert np.array_equal(ra.state[name].numpy(), rb.state[name].numpy()), name
    for curve in ("train_loss", "test_loss"):
        assert np.array_equal(ra.curves[curve], rb.curves[curve]), curve


def test_store_write_is_once_and_sql_views_answer(tmp_path):
    path = write_spec(tmp_path / "s.yaml", base=BASE, grid={"reg.wa": [0.0, 1e-3]}, seeds=2,
                      out=str(tmp_path / "sw"))
    assert runner.invoke(app, ["sweep", str(path)]).exit_code == 0
    again = runner.invoke(app, ["sweep", str(path)])
    assert again.exit_code == 0 and "0 runs trained, 4 already done" in again.output
    frame = load(tmp_path / "sw")
    assert len(frame) == 4 and set(frame["reg_wa"]) == {0.0, 1e-3}
    q = sql(tmp_path / "sw", "SELECT reg_wa, count(*) AS n, avg(final_test_loss) AS loss "
                              "FROM runs GROUP BY reg_wa ORDER BY reg_wa")
    assert list(q["n"]) == [2, 2]
    h = sql(tmp_path / "sw", "SELECT count(*) AS n FROM history")
    assert int(h["n"][0]) == 4 * 2                      # 2 evaluations per run
    layers = sql(tmp_path / "sw", "SELECT DISTINCT layer FROM layers ORDER BY layer")
    assert list(layers["layer"]) == [0, 1]
    out = runner.invoke(app, ["results", str(tmp_path / "sw"), "--sql",
                              "SELECT count(*) AS n FROM runs", "--csv"])
    assert out.exit_code == 0 and out.output.strip().splitlines() == ["n", "4"]
    one_line(runner.invoke(app, ["results", str(tmp_path / "sw"), "--sql", "SELEC x"]),
             "SQL error")
    one_line(runner.invoke(app, ["results", str(tmp_path / "empty")]), "no such")


# -- SIGKILL ---------------------------------------------------------------------------------

def _spawn(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "from modlab.cli import main; main()",
                             *args], cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def _wait_for(predicate, proc: subprocess.Popen, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert proc.poll() is None, "the process ended before the kill point"
        assert time.monotonic() < deadline, "timed out waiting for the kill point"
        time.sleep(0.05)


def _kill(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def test_sweep_killed_midway_resumes_without_recomputing_finished_runs(tmp_path):
    # Two ensembles (different widths), trained one after the other in one process; killed
    # once the first is stored and the second has written a checkpoint.
    spec = {"base": {**BASE, "optim": {"steps": 2500, "eval_every": 500}},
            "grid": {"net.hidden": [[16], [24]]}, "seeds": 2, "out": str(tmp_path / "sw")}
    path = write_spec(tmp_path / "s.yaml", **spec)
    store = Store(tmp_path / "sw" / "store")
    proc = _spawn(["sweep", str(path), "--workers", "1", "--checkpoint-every", "200"], tmp_path)
    ckpts = tmp_path / "sw" / "store" / "checkpoints"
    _wait_for(lambda: len(store) == 2 and any(ckpts.glob("*.json")), proc)
    _kill(proc)
    finished = {k: (store.runs / f"{k}.parquet").stat().st_mtime_ns for k in store.keys()}
    assert len(finished) == 2
    result = runner.invoke(app, ["sweep", str(path), "--workers", "1"])
    assert result.exit_code == 0 and "2 runs trained, 2 already done" in result.output
    assert len(store) == 4
    for k, mtime in finished.items():       # finished runs are neither recomputed nor touched
        assert (store.runs / f"{k}.parquet").stat().st_mtime_ns == mtime
    assert not any(ckpts.glob("*.json"))    # checkpoints are removed once stored
    reference = Store(tmp_path / "reference")
    sweep = build(load_spec(path), path)
    execute([r.config for r in sweep.runs], reference)
    for k in store.keys():
        assert_same_result(store, reference, k)
    rows = [pq.read_table(f).to_pylist()[0] for f in sorted(store.runs.glob("*.parquet"))]
    assert sorted(r["run_id"] for r in rows) == sorted(r.config.key() for r in sweep.runs)


def test_killed_or_rejected_run_leaves_the_finished_run_intact(tmp_path):
    args = ["run", "fig4", "--out", str(tmp_path), "--seeds", "1", "--set", "eval_every=100",
            "--set", 'settings=["WA"]']
    assert runner.invoke(app, [*args, "--set", "steps=200"]).exit_code == 0
    finished = tmp_path / "fig4"
    before = {p.name: p.read_bytes() for p in finished.iterdir() if p.is_file()}
    # rejected inputs: nothing written, nothing changed
    for bad in (["--set", 'settings=["bogus"]'], ["--device", "cuda"], ["--set", "steps=1e15"],
                ["--set", "settings=[]"], ["--set", "hidden=100000000"]):
        if bad[0] == "--device":
            import torch
            if torch.cuda.is_available():
                continue
        result = runner.invoke(app, [*args, "--set", "steps=300", *bad])
        assert result.exit_code == 2, (bad, result.output)
    # a run killed midway
    proc = _spawn([*args, "--set", "steps=40000", "--checkpoint-every", "500"], tmp_path)
    _wait_for(lambda: any((tmp_path / "store" / "checkpoints").glob("*.json")), proc)
    _kill(proc)
    after = {p.name: p.read_bytes() for p in finished.iterdir() if p.is_file()}
    assert after == before
    stale = list(tmp_path.glob(".fig4.incomplete-*"))
    assert stale and (stale[0] / "INCOMPLETE").exists()
    assert not (tmp_path / "fig4-2").exists()
    # a finished run is not overwritten: the next goes to fig4-2
    assert runner.invoke(app, [*args, "--set", "steps=200"]).exit_code == 0
    assert (tmp_path / "fig4-2" / "config.json").exists()
    assert {p.name: p.read_bytes() for p in finished.iterdir() if p.is_file()} == before


def test_balance_splits_ensembles_until_every_worker_has_one():
    from modlab.sweep.execute import balance

    groups = [list("abcde"), list("xy")]
    assert balance(groups, 1) == groups and balance(groups, 2) == groups
    four = balance(groups, 4)
    assert sorted(map(len, four)) == [1, 2, 2, 2]
    assert sorted(c for g in four for c in g) == sorted("abcdexy")       # nothing lost or doubled
    assert balance([["a"]], 8) == [["a"]] and balance([], 3) == []
