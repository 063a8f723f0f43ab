"""The paper results shipped as data (results/paper), the docs generated from them, and the
packer that puts run directories there. Nothing here trains: a fresh clone can answer all of it."""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from modlab.cli import app
from modlab.results import load, sql

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT / "results" / "paper"
sys.path.insert(0, str(ROOT / "scripts"))

from docgen.build import BLOCK, FIGURES, build, doc_files, problems  # noqa: E402
from docgen.data import packages, pm, sci, sci_pm  # noqa: E402
from docgen.tables import lookup  # noqa: E402
from package_results import PackError, package  # noqa: E402

MB = 1e6


def size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def test_every_docs_table_and_figure_is_what_the_data_give():
    """The generated blocks of README.md and docs/*.md equal what scripts/build_docs.py
    renders from results/paper now, and docs/figures holds exactly the figures they show."""
    out = build()
    assert problems(out) == [], "stale docs: run python scripts/build_docs.py"


def test_every_block_names_a_known_table_and_every_package_is_shown():
    named = set()
    for doc in doc_files():
        for kind, name, _ in BLOCK.findall(doc.read_text()):
            assert kind == "figure" or lookup(name), f"{doc.name}: unknown table {name}"
            named.add(name.split("/")[0])
    assert set(packages()) <= named, "a packaged experiment is in no docs table or figure"


def test_size_budgets():
    assert size(PAPER) < 30 * MB
    assert not FIGURES.exists() or size(FIGURES) < 15 * MB


def test_packages_carry_no_parameters_and_a_full_manifest():
    for name, pkg in packages().items():
        files = {p.relative_to(pkg.path).as_posix() for p in pkg.path.rglob("*") if p.is_file()}
        assert not any(f.endswith((".safetensors", ".pt")) or f.startswith("checkpoints")
                       for f in files), name
        m = pkg.manifest
        for key in ("commit", "command", "overrides", "machine", "wall_s", "cpu_s",
                    "started_utc", "label", "reason", "history"):
            assert key in m, f"{name}: manifest lacks {key}"
        assert set(m["files"]) == files - {"manifest.json"}, name
        run_ids = {r["run_id"] for r in json.loads(pkg.file("runs.json").read_text())}
        assert set(pkg.records.run_id) == run_ids and m["runs"] == len(pkg.records), name


def test_sql_and_load_answer_over_every_paper_run():
    if not packages():
        pytest.skip("results/paper holds no experiment yet")
    runs = load(PAPER)
    expected = {n: p.manifest["runs"] for n, p in packages().items()}
    assert runs.groupby("experiment").size().to_dict() == expected
    rows = sql(PAPER, "SELECT count(*) AS n FROM rows")
    assert int(rows["n"][0]) == sum(len(p.rows) for p in packages().values())
    out = CliRunner().invoke(app, ["results", str(PAPER), "--csv", "--sql",
                                   "SELECT experiment, count(*) AS n FROM runs "
                                   "GROUP BY experiment ORDER BY experiment"])
    assert out.exit_code == 0, out.output
    assert out.output.split() == ["experiment,n", *(f"{k},{v}" for k, v in
                                                     sorted(expected.items()))]


def test_number_formats():
    assert sci(1.74e-4) == "1.7e-4" and sci(0.0123) == "1.2e-2"
    assert pm([0.8, 0.9, 1.0]) == "0.90 ± 0.10"
    assert sci_pm([1e-4, 2e-4]) == "1.5e-4 ± 0.7e-4"
    assert sci_pm([9.96e-5, 9.97e-5]) == "1.0e-4 ± 0.0e-4"


# -- the packer ------------------------------------------------------------------------------

def fake_run(tmp: Path, name: str = "fig3", overrides: dict | None = None) -> Path:
    """A finished run directory and its store, made from a shipped package's records (or a
    synthetic record when none is shipped)."""
    run, store = tmp / "runs" / name, tmp / "runs" / "store" / "runs"
    run.mkdir(parents=True)
    store.mkdir(parents=True, exist_ok=True)
    ids = ["a1", "b2"]
    for i, key in enumerate(ids):
        row = {"run_id": key, "config": "{}", "cpu_s": 1.5 + i, "wall_s": 2.0,
               "env": json.dumps({"cpu": "x", "torch": "2", "modlab": "0.2"}),
               "steps": [0, 10], "train_loss": [1.0, 0.5], "k_star": [4, 1]}
        pq.write_table(pa.Table.from_pylist([row]), store / f"{key}.parquet")
        (store / f"{key}.safetensors").write_bytes(b"parameters")
    pq.write_table(pa.Table.from_pylist([{"setting": "s", "seed": i, "layer": 0, "k_star": 4}
                                         for i in range(2)]), run / "results.parquet")
    (run / "runs.json").write_text(json.dumps([{"run_id": k, "seed": i} for i, k in
                                               enumerate(ids)]))
    (run / "summary.md").write_text("# fig3\n\nPreset `paper`, wall time 12 s.\n")
    (run / "config.json").write_text(json.dumps({"experiment": name, "preset": "paper",
                                                 "overrides": overrides or {}, "config": {}}))
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "s.safetensors").write_bytes(b"parameters")
    from PIL import Image

    Image.new("RGBA", (40, 30), (255, 0, 0, 255)).save(run / "figure.png")
    return run


def test_package_copies_data_not_parameters_and_replaces_only_with_a_reason(tmp_path):
    run = fake_run(tmp_path)
    dest = tmp_path / "paper"
    target = package(run, dest, commit="abc1234", now="2026-01-01T00:00:00Z")
    files = {p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()}
    assert files == {"results.parquet", "runs.json", "summary.md", "config.json", "figure.png",
                     "store/runs/records.parquet", "manifest.json"}
    records = pq.read_table(target / "store/runs/records.parquet").to_pylist()
    assert [r["run_id"] for r in records] == ["a1", "b2"]
    assert {r["experiment"] for r in records} == {"fig3"}
    m = json.loads((target / "manifest.json").read_text())
    assert (m["commit"], m["label"], m["wall_s"], m["cpu_s"], m["runs"]) == (
        "abc1234", "paper", 12.0, 4.0, 2)
    assert load(dest)["run_id"].tolist() == ["a1", "b2"]      # the store view reads it

    with pytest.raises(PackError, match="needs --reason"):
        package(run, dest, commit="def5678")
    package(run, dest, commit="def5678", reason="re-run after a fix", now="2026-02-01T00:00:00Z")
    m = json.loads((target / "manifest.json").read_text())
    assert m["reason"] == "re-run after a fix" and m["commit"] == "def5678"
    assert m["history"] == [{"commit": "abc1234", "started_utc": None,
                             "packaged_utc": "2026-01-01T00:00:00Z"}]
    assert sorted(p.name for p in dest.iterdir()) == ["fig3"]   # no staging or trash left


def test_package_labels_reduced_runs_and_refuses_bad_input(tmp_path):
    run = fake_run(tmp_path, overrides={"seeds": 2})
    assert package(run, tmp_path / "paper", commit="abc").name == "fig3-reduced"
    with pytest.raises(PackError, match="manifest"):
        package(fake_run(tmp_path / "b"), tmp_path / "paper2")          # no commit, no record
    missing = fake_run(tmp_path / "c")
    shutil.rmtree(missing.parent / "store")
    with pytest.raises(PackError, match="lacks 2"):
        package(missing, tmp_path / "paper3", commit="abc")
    with pytest.raises(PackError, match="not a finished run"):
        package(tmp_path, tmp_path / "paper4", commit="abc")
