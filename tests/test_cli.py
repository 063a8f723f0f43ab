"""The command line: one-line errors with exit code 2, a tiny run end to end, analyze."""
import pytest
from typer.testing import CliRunner

from modlab.cli import app

runner = CliRunner()


def test_list_shows_registered_experiments():
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0
    assert "fig1" in result.output and "fig4" in result.output


@pytest.mark.parametrize("args, needle", [
    (["run", "nosuch"], "unknown experiment 'nosuch'"),
    (["run", "fig4", "--preset", "huge"], "preset must be one of"),
    (["run", "fig4", "--set", "colour=3"], "has no field 'colour'"),
    (["run", "fig4", "--set", "steps=-5"], "invalid 'steps'"),
    (["run", "fig4", "--set", "steps"], "--set expects key=value"),
    (["analyze", "missing.safetensors"], "no such checkpoint"),
])
def test_bad_input_is_one_line_exit_2(args, needle):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0], result.output
    assert "Traceback" not in result.output


def test_tiny_run_writes_results_figures_and_checkpoint(tmp_path):
    args = ["run", "fig4", "--out", str(tmp_path), "--seeds", "2",
            "--set", "steps=60", "--set", "eval_every=30", "--set", 'settings=["WA", "L2 only"]']
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    out = tmp_path / "fig4"
    for name in ("results.parquet", "summary.md", "config.json", "eigengaps.png",
                 "weights_reordered.png", "loss_curves.png"):
        assert (out / name).exists(), name
    ckpt = next((out / "checkpoints").glob("*.safetensors"))
    analysed = runner.invoke(app, ["analyze", str(ckpt), "--k", "4"])
    assert analysed.exit_code == 0, analysed.output
    assert "layers.0.weight" in analysed.output
