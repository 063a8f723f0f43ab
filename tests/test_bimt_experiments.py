"""`modlab run bimt-mlp` and `modlab run growing-brains` from the command line, end to end on
tiny overrides of their quick presets: exit 0, a row per run, every figure written."""
from __future__ import annotations

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from modlab.cli import app

CASES = {
    "bimt-mlp": (["--set", 'tasks=["modular"]', "--set", "seeds=1", "--set", "steps=60",
                  "--set", "eval_every=30", "--set", "swap_every=20"],
                 5, {"bimt_mlp_networks.png"}),
    "growing-brains": (["--set", "hidden=16", "--set", 'rules=["go"]', "--set", "seeds=1",
                        "--set", "steps=20", "--set", "eval_every=10", "--set", "swap_every=5",
                        "--set", "max_k=4", "--set", "test_trials=8"],
                       3, {"grid_clusters.png", "task_variance.png", "pareto.png",
                           "accuracy.png"}),
}


@pytest.mark.parametrize("name", CASES)
def test_cli_runs_the_bimt_experiments(tmp_path, name):
    sets, runs, figures = CASES[name]
    result = CliRunner().invoke(app, ["run", name, "--preset", "quick", "--out", str(tmp_path),
                                      *sets])
    assert result.exit_code == 0, result.output
    out = tmp_path / name
    rows = pq.read_table(out / "results.parquet").to_pylist()
    settings = {(r["setting"], r.get("seed")) for r in rows}
    assert len(settings) == runs, settings
    assert figures <= {p.name for p in out.glob("*.png")}
    assert (out / "summary.md").read_text().strip()
