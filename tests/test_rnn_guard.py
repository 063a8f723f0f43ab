"""The leaky RNN's time constants (α = dt/τ, derived; a contradicting α is an error), the
training guard (per-value gradient clipping, learning-rate warm-up), runaway activity caught
as divergence, Yang's get_perf beside the strict measure, and the accuracy stop rule."""
import math

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from modlab.cli import app
from modlab.tasks import yang19
from modlab.tasks.yang19.batch import get_perf, performance
from modlab.train import RunConfig, get_kind, train_ensemble
from modlab.train.ensemble import build_datasets
from modlab.train.optim import FlatAdam, FlatParameters
from modlab.train.result import results_of


def rnn_config(seed=0, *, dt=None, net=None, optim=None, rules=("go",)):
    params = {"rules": list(rules), "test_trials": 8} | ({"dt": dt} if dt is not None else {})
    return RunConfig(seed=seed, task={"name": "yang19", "params": params},
                     net={"kind": "rnn", "hidden": 16, **(net or {})},
                     optim={"steps": 4, "batch_size": 8, "eval_every": 2, **(optim or {})})


def built(cfg):
    task = build_datasets([cfg])[0]
    return get_kind("rnn").build([cfg], task)


# -- time constants ------------------------------------------------------------------------

@pytest.mark.parametrize("dt, tau, alpha", [(None, 100.0, 0.2), (100.0, 100.0, 1.0),
                                            (20.0, 50.0, 0.4), (50.0, 200.0, 0.25)])
def test_alpha_is_dt_over_tau(dt, tau, alpha):
    model = built(rnn_config(dt=dt, net={"tau": tau}))
    assert model.alpha == pytest.approx(alpha)


def test_both_noises_scale_with_the_square_root_of_two_over_alpha():
    # Yang's network.py (σ_rec) and task.py (σ_x) both scale by √(2/α): the noise a unit
    # integrates per unit of time does not depend on dt.
    for dt in (20.0, 100.0):
        model = built(rnn_config(dt=dt, net={"sigma_x": 0.01, "sigma_rec": 0.05}))
        scale = math.sqrt(2 / (dt / 100.0))
        assert model.sigma_x == pytest.approx(0.01 * scale)
        assert model.noise_std == pytest.approx(0.05 * scale)


def test_an_alpha_that_agrees_with_dt_is_accepted_and_one_that_contradicts_it_is_not():
    assert built(rnn_config(dt=100.0, net={"alpha": 1.0})).alpha == 1.0
    with pytest.raises(ValueError, match=r"net.alpha = 0.2 contradicts the task's dt = 100 ms"):
        rnn_config(dt=100.0, net={"alpha": 0.2})
    with pytest.raises(ValueError, match=r"net.tau = 50 ms is shorter than the task's dt"):
        rnn_config(dt=100.0, net={"tau": 50.0})
    # the task's default dt (20 ms) counts too
    with pytest.raises(ValueError, match="dt = 20 ms"):
        rnn_config(net={"alpha": 0.5})


def test_a_contradicting_alpha_is_a_one_line_cli_error(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text("base:\n  task: {name: yang19, params: {dt: 100}}\n"
                    "  net: {kind: rnn, hidden: 4, alpha: 0.2}\nseeds: 1\n")
    res = CliRunner().invoke(app, ["sweep", str(spec), "--dry-run"])
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and "net.alpha = 0.2 contradicts" in lines[0], res.output


def test_growing_brains_exposes_dt_and_tau():
    res = CliRunner().invoke(app, ["show", "growing-brains"])
    assert res.exit_code == 0, res.output
    assert "dt" in res.output and "tau" in res.output
    res = CliRunner().invoke(app, ["run", "growing-brains", "--set", "tau=50", "--set", "dt=100",
                                   "--out", "unused"])
    assert res.exit_code == 2 and "net.tau = 50 ms is shorter" in res.output, res.output


# -- the guard -----------------------------------------------------------------------------

def test_clipping_clamps_every_gradient_value_before_adam():
    p = torch.nn.Parameter(torch.zeros(4))
    flat = FlatParameters([p])
    opt = FlatAdam(flat, "adam", lr=1e-3, clip=1.0)
    flat.grads[0].copy_(torch.tensor([1e6, -1e6, 0.5, -0.25]))
    opt.step()
    # first Adam moment = (1 − β1)·clamped gradient
    torch.testing.assert_close(opt.exp_avg[:4], 0.1 * torch.tensor([1.0, -1.0, 0.5, -0.25]))


def test_warmup_ramps_the_learning_rate_linearly():
    moved = []
    for warmup in (0, 4):
        p = torch.nn.Parameter(torch.zeros(1))
        flat = FlatParameters([p])
        opt = FlatAdam(flat, "adam", lr=1e-2, warmup=warmup)
        steps = []
        for _ in range(6):
            before = p.detach().clone()
            flat.grads[0].fill_(1.0)
            opt.step()
            steps.append(float(before - p.detach()))
        moved.append(steps)
    # constant gradient: plain Adam moves lr per step; warm-up moves lr·t/4 up to step 4
    np.testing.assert_allclose(moved[0], [1e-2] * 6, rtol=1e-4)
    np.testing.assert_allclose(moved[1], [1e-2 * min(1, t / 4) for t in range(1, 7)], rtol=1e-4)


def test_clip_and_warmup_act_the_same_under_both_engines():
    cfg = rnn_config(net={"hidden": 9}, optim={"clip": 1e-5, "warmup": 3, "steps": 6,
                                               "eval_every": 6})
    runs = [train_ensemble([cfg, cfg.model_copy(update={"seed": 1})], engine=e)
            for e in ("manual", "autograd")]
    for a, b in zip(*(r.model.parameters() for r in runs), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    plain = train_ensemble([cfg.model_copy(update={"optim": cfg.optim.model_copy(
        update={"clip": 0.0, "warmup": 0})})])
    assert not torch.allclose(plain.model.w_rec[0], runs[0].model.w_rec[0])


# -- runaway activity ----------------------------------------------------------------------

def test_runaway_activity_is_reported_as_divergence_with_its_step():
    # W_rec orthogonal with gain 4: ReLU activity grows ~4× per step on a 41-step trial
    wild = rnn_config(dt=100.0, net={"w_rec_gain": 4.0}, optim={"lr": 1e-12})
    tame = rnn_config(dt=100.0, net={"w_rec_gain": 0.5}, optim={"lr": 1e-12})
    for cfg, expected in ((wild, 2), (tame, -1)):
        run = train_ensemble([cfg])
        assert list(run.history.diverged_at) == [expected]
        activity = run.history.extra["activity"]
        assert (activity[0][0] > 1e3) == (expected > 0), activity
    (result,) = results_of(train_ensemble([wild]))
    assert result.diverged


def test_saturated_outputs_with_a_flat_loss_are_a_runaway():
    # outputs pinned at 1 by a huge read-out bias from step 1, lr ≈ 0: the bounded loss never
    # explodes and the activity stays small, yet the network is stuck; the monitor calls it
    # diverged at the first evaluation with a previous test loss to compare (step 4)
    from modlab.train.loop import Callback

    class Pin(Callback):
        def on_step(self, step, model, optimizer):
            if step == 1:
                with torch.no_grad():
                    model.b_out.fill_(30.0)

    cfg = rnn_config(net={"w_rec_gain": 0.5}, optim={"lr": 1e-12, "steps": 6})
    run = train_ensemble([cfg], callbacks=[Pin()])
    assert list(run.history.diverged_at) == [4]
    assert max(run.history.extra["activity"][-1]) < 1e3


def test_flat_loss_needs_two_evaluations():
    from modlab.train.kinds.rnn import flat_loss
    from modlab.train.loop import History

    h = History(test_loss=[np.array([0.4, 0.4])])
    assert not flat_loss(h).any()
    h.test_loss.append(np.array([0.4, 0.3]))
    assert list(flat_loss(h)) == [True, False]


# -- measures and stopping ----------------------------------------------------------------

def test_get_perf_reads_only_the_last_step_with_a_wider_tolerance():
    rng = np.random.default_rng(0)
    batch = yang19.generate("go", 16, rng, dt=100.0)
    y = batch.y.copy()
    assert performance(y, batch).all() and get_perf(y, batch).all()
    # an early fixation break fails the strict measure only
    y_break = y.copy()
    y_break[:, 1, 0] = 0.0
    assert not performance(y_break, batch).any() and get_perf(y_break, batch).all()
    # the response turned by 0.15π: outside π/10, inside 0.2π
    rows, last = np.arange(16), batch.length - 1
    turned = yang19.ring_bump(yang19.encoding.wrap(batch.target + 0.15 * np.pi)) + 0.05
    y_turn = y.copy()
    y_turn[rows, last, 1:] = turned
    assert not performance(y_turn, batch).any() and get_perf(y_turn, batch).all()


def test_accuracy_is_logged_by_both_measures_at_every_evaluation():
    (result,) = results_of(train_ensemble([rnn_config(dt=100.0)]))
    m, extra = result.metrics, result.extra
    assert set(m) >= {"accuracy", "accuracy_get_perf", "mean_accuracy_get_perf"}
    assert len(extra["accuracy"]) == len(extra["accuracy_get_perf"]) == 2
    # get_perf is the laxer measure: never below the strict one on the same outputs
    assert all(g >= s for g, s in zip(m["accuracy_get_perf"], m["accuracy"], strict=True))


def test_the_accuracy_stop_rule_fires_and_the_step_cap_ends_the_rest(monkeypatch):
    from modlab.tasks.cognitive import CognitiveTask

    # a task whose accuracy reads 1.0 from the second evaluation on: the stop rule must fire
    # there for the member with threshold 0.9, the step cap ends the run
    calls = {"n": 0}
    real = CognitiveTask.accuracy

    def fake(self, y_hat, measure="strict"):
        calls["n"] += 1
        acc = real(self, y_hat, measure)
        return {r: (1.0 if calls["n"] > 2 else 0.0) for r in acc}

    monkeypatch.setattr(CognitiveTask, "accuracy", fake)
    cfg = rnn_config(dt=100.0, optim={"steps": 8, "eval_every": 2, "stop_accuracy": 0.9})
    run = train_ensemble([cfg])
    assert run.history.extra["stopped_at"] == [4]
    assert run.history.extra["ended_at"] == 4
