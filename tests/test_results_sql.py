"""`modlab results`: a query reads the store's views and nothing else (DuckDB's own settings,
not SQL parsing), paths never become SQL, and bad files in a store are skipped with a warning
naming them (issue 17, items 1, 2, 6, 7)."""
from __future__ import annotations

import os
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from typer.testing import CliRunner

from modlab.cli import app
from modlab.results import Store, connect, sql
from modlab.train import RunConfig
from modlab.train.result import RunResult

runner = CliRunner()


def fake_run(seed: int) -> RunResult:
    """A stored run without training (the store does not care how it was made)."""
    curves = {"steps": np.array([10, 20]), "train_loss": np.array([1.0, 0.5]),
              "test_loss": np.array([1.1, 0.6 + seed])}
    return RunResult(config=RunConfig(seed=seed), state={"w": torch.zeros(2, 2)}, curves=curves,
                     metrics={"k_star": [4, 2], "gap_at_true_k": [0.5, 0.1]})


def make_store(root) -> Store:
    store = Store(root)
    for s in range(2):
        store.write(fake_run(s))
    return store


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("res") / "out"
    make_store(root / "store")
    return root


def refused(args, needle: str = ""):
    result = runner.invoke(app, args)
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and needle in lines[0], result.output
    assert "Traceback" not in result.output
    return lines[0]


def test_views_answer(store_dir):
    out = runner.invoke(app, ["results", str(store_dir), "--sql",
                              "SELECT count(*) AS n FROM runs", "--csv"])
    assert out.exit_code == 0 and out.output.split() == ["n", "2"]
    assert list(sql(store_dir, "SELECT max(step) AS s FROM history")["s"]) == [20]
    assert len(sql(store_dir, "SELECT * FROM layers")) == 4


@pytest.mark.parametrize("query, needle", [
    ("COPY (SELECT 1 AS a) TO '{tmp}/x.csv'", "COPY"),
    ("EXPORT DATABASE '{tmp}/exported'", "EXPORT"),
    ("ATTACH '{tmp}/x.db' AS x", "ATTACH"),
    ("INSTALL httpfs", "LOAD"),
    ("LOAD httpfs", "LOAD"),
    ("CREATE TABLE t AS SELECT 1", "CREATE"),
    ("INSERT INTO raw SELECT * FROM raw", "INSERT"),
    ("SET enable_external_access = true", "SET"),
    ("RESET lock_configuration", ""),
    ("SELECT 1; COPY (SELECT 1) TO '{tmp}/y.csv'", "exactly one SQL statement"),
    ("SELECT 1; SELECT 2", "exactly one SQL statement"),
    ("CREATE TABLE t AS PIVOT runs ON seed", "MULTI"),
    ("SELECT * FROM read_csv('/etc/passwd')", "not allowed"),
    ("SELECT * FROM read_text('/etc/hostname')", "not allowed"),
    ("SELECT * FROM glob('/etc/*')", "not allowed"),
    ("SELECT * FROM read_parquet('{store}/runs/*.parquet')", "not allowed"),
    ("SELECT * FROM '{tmp}/x.csv'", "not allowed"),
])
def test_a_query_cannot_leave_the_store(store_dir, tmp_path, query, needle):
    query = query.format(tmp=tmp_path, store=store_dir / "store")
    refused(["results", str(store_dir), "--sql", query], needle)
    assert not any(tmp_path.iterdir())            # nothing written, no database file created


def test_the_connection_itself_is_locked_by_duckdb(store_dir, tmp_path, monkeypatch):
    """The confinement does not rest on the statement check: the connection refuses by
    itself to touch files, load extensions or change a setting."""
    import duckdb

    con = connect(store_dir)
    monkeypatch.chdir(tmp_path)     # DuckDB allows an in-memory database `<cwd>/:memory:`
    for statement in (f"COPY (SELECT 1) TO '{tmp_path}/x.csv'", f"ATTACH '{tmp_path}/a.db'",
                      "COPY (SELECT 1) TO ':memory:'", "SELECT * FROM read_text(':memory:')",
                      "SET disabled_filesystems = ''",
                      "SELECT * FROM read_text('/etc/hostname')", "INSTALL httpfs",
                      "LOAD httpfs", "SET enable_external_access = true",
                      "SET lock_configuration = false", "SET allow_community_extensions = true",
                      "SET autoload_known_extensions = true", "SET temp_directory = '/tmp'"):
        with pytest.raises(duckdb.Error):
            con.execute(statement)
    settings = dict(con.execute("SELECT name, value FROM duckdb_settings() WHERE name IN "
                                "('enable_external_access', 'lock_configuration', "
                                "'autoinstall_known_extensions', 'autoload_known_extensions', "
                                "'allowed_directories')").fetchall())
    assert settings == {"enable_external_access": "false", "lock_configuration": "true",
                        "autoinstall_known_extensions": "false",
                        "autoload_known_extensions": "false", "allowed_directories": "[]"}
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("name", ["a\"']); COPY (SELECT 42 AS pwned) TO $$INJECTED.csv$$; --",
                                  "q\"x'y"])
def test_a_crafted_directory_name_is_only_a_name(tmp_path, name):
    shared = tmp_path / "shared"
    make_store(shared / name / "store")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        result = runner.invoke(app, ["results", "shared"])
        rows = runner.invoke(app, ["results", "shared", "--sql",
                                   "SELECT count(*) AS n FROM runs", "--csv"])
    finally:
        os.chdir(cwd)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output and "runs under shared" in result.output
    assert rows.output.split() == ["n", "2"]
    assert not list(tmp_path.rglob("INJECTED*"))


def test_bad_files_in_a_store_are_skipped_with_a_warning(tmp_path):
    store = make_store(tmp_path / "store")
    good = sorted(store.runs.glob("*.parquet"))[0]
    (store.runs / "truncated.parquet").write_bytes(good.read_bytes()[:100])
    (store.runs / "random.parquet").write_bytes(os.urandom(2000))
    pq.write_table(pa.table({"x": [1, 2], "y": ["a", "b"]}), store.runs / "other.parquet")
    result = runner.invoke(app, ["results", str(tmp_path), "--sql",
                                 "SELECT count(*) AS n, count(seed) AS seeds FROM runs", "--csv"])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    warned = [ln for ln in result.output.splitlines() if ln.startswith("warning: skipped")]
    assert len(warned) == 3
    for name in ("truncated.parquet", "random.parquet", "other.parquet"):
        assert sum(name in ln for ln in warned) == 1, name
    assert "not modlab run rows" in next(ln for ln in warned if "other" in ln)
    assert result.output.splitlines()[-1] == "2,2"         # the wrong schema is not a run


def test_a_store_of_only_bad_files_is_one_line(tmp_path):
    runs = tmp_path / "store" / "runs"
    runs.mkdir(parents=True)
    (runs / "bad.parquet").write_bytes(b"PAR1 not really")
    result = runner.invoke(app, ["results", str(tmp_path)])
    assert result.exit_code == 2 and "holds no readable runs" in result.output.splitlines()[-1]


def test_columns_of_different_types_across_runs_still_combine(tmp_path):
    store = make_store(tmp_path / "store")
    odd = sorted(store.runs.glob("*.parquet"))[1]
    row = pq.read_table(odd).to_pylist()[0]
    row["run_id"], row["k_star"] = "odd", "four"           # text where the others hold lists
    (store.runs / "odd.parquet").unlink(missing_ok=True)
    pq.write_table(pa.Table.from_pylist([row]), store.runs / "odd.parquet")
    frame = sql(tmp_path, "SELECT run_id, k_star FROM runs ORDER BY run_id")
    assert len(frame) == 3 and "four" in set(frame["k_star"])


def test_limit_must_not_be_negative(store_dir):
    refused(["results", str(store_dir), "--limit", "-5"], "--limit must be >= 0")


def test_staging_directories_are_not_read_as_analysis_rows(tmp_path):
    make_store(tmp_path / "store")
    for sub in ("fig4", ".fig4.incomplete-1"):
        (tmp_path / sub).mkdir()
        pq.write_table(pa.table({"setting": [sub]}), tmp_path / sub / "results.parquet")
    frame = sql(tmp_path, "SELECT setting FROM rows")
    assert list(frame["setting"]) == ["fig4"]
    shutil.rmtree(tmp_path / "fig4")
