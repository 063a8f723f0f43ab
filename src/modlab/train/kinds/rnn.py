"""`net.kind = "rnn"`: the leaky RNN of Yang et al. 2019 on sequence tasks (spec 2).

Loss (Yang's): Σ_{b,t,o} ((ŷ − y)·mask)² / (B·T_max·n_out), the mask inside the square as in
gyyang/multitask; T_max is the task's longest possible trial, a constant, so that a run's
loss does not depend on how far the batches it trained with were padded. BIMT's wiring cost
is `reg.wiring` (with `wiring_locality`, `wiring_l0`) over W_in, W_rec, W_out, its swaps
(`reg.swap_every`) move recurrent units on the grid.

Time: the units' time constant τ (`net.tau`, ms) and the task's step dt give α = dt/τ, derived
where the run is built (`leak_fraction`); an explicit `net.alpha` must agree with them. Both
noise sources are scaled by √(2/α) as in Yang's code, so a unit receives the same noise per
unit of time at any dt.
"""
from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
from pydantic import Field

from ...nn.rnn import LeakyRNN
from ...regularizers.bimt import grid_coords, side_line
from ..config import ModelConfig, TaskConfig
from ..engine_rnn import RNNGradient
from ..loop import Callback
from ..objective import Objective
from .base import ModelKind, Size, register_model

DEFAULT_DT = 20.0      # ms: Yang's step, for tasks that state none
RUNAWAY_ACTIVITY = 1e3  # mean |h| on the test set: ReLU units driven by O(1) inputs sit at ~0.1–1
SATURATED = 1e-3        # a sigmoid output this close to 0 or 1 ...
SATURATED_SHARE = 0.5   # ... on this share of the test outputs, with a flat loss: runaway
FLAT_LOSS = 1e-3        # relative change of the test loss between evaluations


class RNNConfig(ModelConfig):
    kind: Literal["rnn"] = "rnn"
    hidden: int = Field(64, ge=1, description="recurrent units (400 = a 20 × 20 grid)")
    activation: Literal["relu", "softplus", "tanh"] = "relu"
    tau: float = Field(100.0, gt=0, description="τ: the units' time constant, ms (Yang: 100)")
    alpha: float | None = Field(None, gt=0, le=1, description="dt/τ; leave unset: it is "
                                "derived from the task's dt and τ (set it only for a task "
                                "without a dt)")
    sigma_rec: float = Field(0.05, ge=0, description="recurrent noise (scaled by √(2/α))")
    sigma_x: float = Field(0.01, ge=0, description="input noise (scaled by √(2/α))")
    init: Literal["orthogonal", "diagonal", "normal"] = "orthogonal"
    w_rec_gain: float = Field(1.0, gt=0)

    def check_task(self, task: TaskConfig) -> None:
        leak_fraction(self, task_dt(task))


def task_dt(task: TaskConfig) -> float | None:
    """The task's time step in ms: its `dt` parameter, else its factory's default, else None
    (a task without time steps)."""
    import inspect

    from ...tasks import TASKS

    if "dt" in task.params:
        return float(task.params["dt"])
    factory = TASKS.get(task.name)
    if factory is None:
        return None
    param = inspect.signature(factory).parameters.get("dt")
    return None if param is None or param.default is inspect.Parameter.empty else float(param.default)


def leak_fraction(net: RNNConfig, dt: float | None) -> float:
    """α = dt/τ, the Euler step of τ·dh/dt = −h + φ(W_rec h + W_in x + b) (Yang et al. 2019,
    Methods, "Network structure"). An explicit `net.alpha` must agree with the task's dt; a
    task without a dt uses `net.alpha`, else 20 ms (Yang's)."""
    if dt is None:
        return net.alpha if net.alpha is not None else DEFAULT_DT / net.tau
    derived = dt / net.tau
    if net.alpha is not None and not math.isclose(net.alpha, derived, rel_tol=1e-9):
        raise ValueError(f"net.alpha = {net.alpha:g} contradicts the task's dt = {dt:g} ms and "
                         f"net.tau = {net.tau:g} ms (dt/τ = {derived:g}); leave net.alpha "
                         "unset (it is derived) or change net.tau")
    if derived > 1:
        raise ValueError(f"net.tau = {net.tau:g} ms is shorter than the task's dt = {dt:g} ms; "
                         "α = dt/τ must be ≤ 1: use net.tau ≥ dt")
    return derived


class SequenceLoss:
    """Σ((ŷ − y)·mask)² / (B·T_max·n_out) per member (mask None: 1)."""

    __name__ = "sequence_loss"

    def __init__(self, max_steps: int):
        self.max_steps = max_steps

    def __call__(self, pred, target, mask=None):
        err = pred - target
        if mask is not None:
            err = err * mask
        b, out = pred.shape[1], pred.shape[-1]
        return err.pow(2).flatten(1).sum(1) / (b * self.max_steps * out)


def build(configs, task) -> LeakyRNN:
    net = configs[0].net
    alpha = leak_fraction(net, getattr(task, "dt", None))
    # LeakyRNN adds σ_x per step; Yang's task.py adds √(2/α)·σ_x, like the recurrent noise
    model = LeakyRNN(task.n_in, net.hidden, task.n_out, members=len(configs), alpha=alpha,
                     sigma_rec=net.sigma_rec, sigma_x=math.sqrt(2 / alpha) * net.sigma_x,
                     activation=net.activation, w_rec_gain=net.w_rec_gain, init=net.init,
                     seeds=[c.seed for c in configs])
    model.max_steps = int(getattr(task, "max_steps", 0) or 0)
    return model


def objective(configs, model) -> Objective:
    return Objective([c.reg for c in configs], task_loss=SequenceLoss(model.max_steps or 1))


class TestSetMonitor(Callback):
    """After each evaluation, the network on the task's test set (noise off): per-rule
    accuracy by both measures, logged in History.extra["accuracy"] and ["accuracy_get_perf"]
    (per evaluation, per member, per rule), and the mean |h| in ["activity"].

    Runaway (`diverged`): non-finite activity, mean |h| above RUNAWAY_ACTIVITY, or sigmoid
    outputs saturated (SATURATED_SHARE of them within SATURATED of 0 or 1) while the test loss
    stays flat: a bounded loss cannot show these, so the loop's loss check never would.
    Done (`finished`): every rule at `optim.stop_accuracy` or above (when > 0)."""

    def __init__(self, configs, task):
        self.threshold = configs[0].optim.stop_accuracy
        self.task = task
        self._step, self._acc, self._bad = -1, None, None

    @torch.no_grad()
    def _measure(self, step, history, model) -> None:
        if step == self._step:
            return
        y_hat, activity, finite = test_outputs(model, self.task)
        acc = np.array([list(self.task.accuracy(y).values()) for y in y_hat])     # (M, rules)
        perf = [list(self.task.accuracy(y, "get_perf").values()) for y in y_hat]
        history.extra.setdefault("accuracy", []).append(acc.tolist())
        history.extra.setdefault("accuracy_get_perf", []).append(perf)
        history.extra.setdefault("activity", []).append(activity.tolist())
        self._step, self._acc = step, acc
        self._bad = ~finite | (activity > RUNAWAY_ACTIVITY) | (
            saturated_share(y_hat, self.task) >= SATURATED_SHARE) & flat_loss(history)

    def diverged(self, step, history, model):
        self._measure(step, history, model)
        return torch.from_numpy(self._bad)

    def finished(self, step, history, model):
        if self.threshold <= 0:
            return None
        self._measure(step, history, model)
        return torch.from_numpy(self._acc.min(1) >= self.threshold)


def flat_loss(history) -> np.ndarray:
    """(M,) bool: the test loss (fixed trials, noise off: it moves only if the network does)
    moved by less than FLAT_LOSS (relative) between the last two evaluations (False before
    there are two)."""
    if len(history.test_loss) < 2:
        return np.zeros(len(history.test_loss[-1]), dtype=bool)
    now, before = history.test_loss[-1], history.test_loss[-2]
    with np.errstate(invalid="ignore"):
        return np.abs(now - before) <= FLAT_LOSS * np.abs(before)


def saturated_share(y_hat: np.ndarray, task) -> np.ndarray:
    """(M,) share of the test outputs on real (unpadded) steps within SATURATED of 0 or 1."""
    lengths = np.concatenate([b.length for b in task.test_batches.values()])
    real = np.arange(y_hat.shape[2])[None, :, None] < lengths[:, None, None]
    near = np.minimum(y_hat, 1 - y_hat) < SATURATED
    return (near & real).sum((1, 2, 3)) / (real.sum() * y_hat.shape[-1])


def test_outputs(model, task, chunk: int = 256) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The network on the task's test set, noise off, `chunk` trials at a time (the hidden
    states of a large ensemble would not fit at once): outputs (M, trials, T, n_out), mean
    |h| (M,) and whether every h is finite (M,)."""
    x = torch.from_numpy(task.test_set()[0]).to(model.w_rec.device)
    was = model.training
    model.eval()
    outputs, total, finite = [], torch.zeros(model.members, dtype=torch.float64), None
    try:
        for lo in range(0, len(x), chunk):
            out = model.forward_hidden(x[lo:lo + chunk])
            h = out.hidden[0]
            total += h.abs().sum((1, 2, 3)).double().cpu()
            ok = torch.isfinite(h).flatten(1).all(1).cpu()
            finite = ok if finite is None else finite & ok
            outputs.append(out.output.cpu())
    finally:
        model.train(was)
    count = x.shape[0] * x.shape[1] * model.hidden_size
    return torch.cat(outputs, 1).numpy(), (total / count).numpy(), finite.numpy()


def callbacks(configs, model, task=None) -> list:
    return [TestSetMonitor(configs, task)] if hasattr(task, "accuracy") else []


def size(net: RNNConfig, n_in: int, n_out: int) -> Size:
    return Size(net.hidden * (net.hidden + n_in + n_out + 1) + n_out, net.hidden)


def swap_layout(model: LeakyRNN) -> list[dict]:
    """The recurrent units on their grid (`LeakyRNN.wiring_layout`): W_in's rows, W_rec's
    rows and columns, the bias, W_out's columns."""
    return [{"w_in": model.w_in, "w_out": model.w_out, "recurrent": model.w_rec,
             "coords": grid_coords(model.hidden_size),
             "pre": side_line(model.n_in, "left"), "post": side_line(model.n_out, "right"),
             "owners": [(model.w_in, 1), (model.w_rec, 1), (model.w_rec, 2), (model.b, 1),
                        (model.w_out, 2)]}]


@torch.no_grad()
def measure(model: LeakyRNN, configs, datasets) -> list[dict]:
    """Per member: accuracy per rule on the task's fixed test set, by the strict measure
    (`accuracy`, `mean_accuracy`) and by Yang's get_perf (`accuracy_get_perf`, ...)."""
    task = datasets[0]
    if not hasattr(task, "accuracy"):
        return [{} for _ in configs]
    y_hat = test_outputs(model, task)[0]
    out = []
    for i in range(len(configs)):
        mine = datasets[i] if len(datasets) > i else task
        acc, perf = mine.accuracy(y_hat[i]), mine.accuracy(y_hat[i], "get_perf")
        out.append({"rules": list(acc), "accuracy": [acc[r] for r in acc],
                    "mean_accuracy": float(np.mean(list(acc.values()))),
                    "accuracy_get_perf": [perf[r] for r in perf],
                    "mean_accuracy_get_perf": float(np.mean(list(perf.values())))})
    return out


RNN_KIND = register_model(ModelKind("rnn", RNNConfig, build, objective, callbacks=callbacks,
                                    measure=measure, size=size, swap_layout=swap_layout,
                                    engine=RNNGradient))
