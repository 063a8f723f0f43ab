"""Every failure is clear and nothing is lost: the reproductions of issue 12, each a one-line
error with exit code 2 (or, for runs that fail while training, exit code 1 with the reason)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from modlab.cli import app
from modlab.nn import MLP
from modlab.train import Data, fit

runner = CliRunner()
TINY = ["--seeds", "1", "--set", "steps=40", "--set", "eval_every=20", "--set", 'settings=["WA"]']


def one_line(args, needle: str, code: int = 2):
    result = runner.invoke(app, args)
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert result.exit_code == code, result.output
    assert any(needle in ln for ln in lines), result.output
    if code == 2:
        assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    return result


@pytest.fixture
def a_file(tmp_path):
    f = tmp_path / "file.txt"
    f.write_text("x")
    return f


@pytest.mark.parametrize("extra, needle", [
    (["--set", "hidden=100000000"], "'hidden'"),
    (["--set", "n_train=1000000000000"], "'n_train'"),
    (["--set", "seeds=1000000"], "'seeds'"),
    (["--set", "steps=1e15"], "'steps'"),
    (["--set", "settings=[]"], "give at least one of"),
    (["--set", 'settings=["bogus"]'], "invalid 'settings' value 'bogus'"),
])
def test_impossible_or_empty_configs_are_refused_before_training(tmp_path, extra, needle):
    one_line(["run", "fig4", "--out", str(tmp_path), *TINY[2:], *extra], needle)
    assert not any(tmp_path.iterdir())        # nothing written


def test_invalid_values_name_the_field_and_what_is_allowed(tmp_path):
    r = one_line(["run", "fig1", "--out", str(tmp_path), "--set", "alphas=[-1.0]"],
                 "noise.alpha")
    assert "-1.0" in r.output and "greater than or equal to 0" in r.output


def test_bad_out_directories(tmp_path, a_file):
    one_line(["run", "fig4", "--out", str(a_file), *TINY], "is a file, not a directory")
    one_line(["run", "fig4", "--out", "/dev/null", *TINY], "is a file, not a directory")
    one_line(["run", "fig4", "--out", "/proc/modlab-test", *TINY], "not writable")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_missing_gpu_is_bad_input(tmp_path):
    one_line(["run", "fig4", "--out", str(tmp_path), *TINY, "--device", "cuda"],
             "CUDA is not available")
    assert not any(tmp_path.iterdir())


def test_a_run_in_which_every_member_diverged_exits_non_zero(tmp_path):
    result = one_line(["run", "fig4", "--out", str(tmp_path), "--seeds", "2",
                       "--set", "steps=200", "--set", "eval_every=50", "--set", "lr=1e6",
                       "--set", 'settings=["WA"]'], "every run diverged", code=1)
    assert "2 of 2 runs diverged" in result.output
    summary = (tmp_path / "fig4" / "summary.md").read_text()
    assert "2 of 2 runs diverged" in summary and "n/a" in summary


def test_a_finite_loss_that_explodes_counts_as_diverged():
    model = MLP([2, 4, 1], members=2, seeds=[0, 1])
    calls = {"n": 0}

    def objective(m, x, y):
        calls["n"] += 1
        task = ((m(x) - y) ** 2).mean((-2, -1))
        boom = torch.tensor([1.0, 1e28 if calls["n"] >= 3 else 1.0])   # member 1 explodes
        return task * boom, task * boom

    x = torch.randn(32, 2)
    history = fit(model, objective, Data(x, x[:, :1], x, x[:, :1]), seeds=[0, 1], steps=6,
                  batch_size=8, eval_every=1, engine="autograd")
    assert history.diverged_at[0] == -1 and history.diverged_at[1] == 3
    assert np.isnan(history.test_loss[-1][1]) and np.isfinite(history.test_loss[-1][0])


def test_show_lists_every_field_with_type_default_and_presets():
    result = runner.invoke(app, ["show", "fig4"])
    assert result.exit_code == 0
    for needle in ("lam", "settings", "steps", "preset", "5000", "50000", "float"):
        assert needle in result.output, needle


def test_list_is_in_natural_order():
    out = runner.invoke(app, ["list"]).output
    order = [name for name in ("fig1", "fig2", "fig9", "fig11", "fig12") if name in out]
    assert order == ["fig1", "fig2", "fig9", "fig11", "fig12"]
    assert out.index("│ fig2 ") < out.index("│ fig11 ")


def test_fig13_reuses_the_runs_of_fig12(tmp_path):
    args = ["--out", str(tmp_path), "--seeds", "1", "--set", "steps=30", "--set",
            "eval_every=30", "--set", "m_values=[1]", "--set", "fc_depths=[1]"]
    assert runner.invoke(app, ["run", "fig12", *args]).exit_code == 0
    result = runner.invoke(app, ["run", "fig13", *args])
    assert result.exit_code == 0
    assert "0 trained now, 1 from the store" in (tmp_path / "fig13" / "summary.md").read_text()
