"""`net.kind = "rnn"`: the leaky RNN of Yang et al. 2019 on sequence tasks (spec 2).

Loss (Yang's): Σ_{b,t,o} ((ŷ − y)·mask)² / (B·T_max·n_out), the mask inside the square as in
gyyang/multitask; T_max is the task's longest possible trial, a constant, so that a run's
loss does not depend on how far the batches it trained with were padded. BIMT's wiring cost
is `reg.wiring` (with `wiring_locality`, `wiring_l0`) over W_in, W_rec, W_out, its swaps
(`reg.swap_every`) move recurrent units on the grid.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from pydantic import Field

from ...nn.rnn import LeakyRNN
from ...regularizers.bimt import grid_coords, side_line
from ..config import ModelConfig
from ..engine_rnn import RNNGradient
from ..loop import Callback
from ..objective import Objective
from .base import ModelKind, Size, register_model


class RNNConfig(ModelConfig):
    kind: Literal["rnn"] = "rnn"
    hidden: int = Field(64, ge=1, description="recurrent units (400 = a 20 × 20 grid)")
    activation: Literal["relu", "softplus", "tanh"] = "relu"
    alpha: float = Field(0.2, gt=0, le=1, description="dt/τ (Yang: 20/100)")
    sigma_rec: float = Field(0.05, ge=0)
    sigma_x: float = Field(0.01, ge=0)
    init: Literal["orthogonal", "diagonal", "normal"] = "orthogonal"
    w_rec_gain: float = Field(1.0, gt=0)


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
    model = LeakyRNN(task.n_in, net.hidden, task.n_out, members=len(configs), alpha=net.alpha,
                     sigma_rec=net.sigma_rec, sigma_x=net.sigma_x, activation=net.activation,
                     w_rec_gain=net.w_rec_gain, init=net.init, seeds=[c.seed for c in configs])
    model.max_steps = int(getattr(task, "max_steps", 0) or 0)
    return model


def objective(configs, model) -> Objective:
    return Objective([c.reg for c in configs], task_loss=SequenceLoss(model.max_steps or 1))


class AccuracyStop(Callback):
    """After each evaluation, per-rule accuracy on the task's test set (Yang's measure, noise
    off); a member is done once every rule reaches `optim.stop_accuracy`. The accuracies are
    logged in History.extra["accuracy"] (per evaluation, per member, per rule)."""

    def __init__(self, configs, task):
        self.threshold = configs[0].optim.stop_accuracy
        self.task = task

    @torch.no_grad()
    def finished(self, step, history, model):
        y_hat = _test_outputs(model, self.task)
        acc = np.array([list(self.task.accuracy(y).values()) for y in y_hat])     # (M, rules)
        history.extra.setdefault("accuracy", []).append(acc.tolist())
        return torch.from_numpy(acc.min(1) >= self.threshold)


def _test_outputs(model, task) -> np.ndarray:
    x = torch.from_numpy(task.test_set()[0]).to(model.w_rec.device)
    was = model.training
    model.eval()
    try:
        return model(x).cpu().numpy()
    finally:
        model.train(was)


def callbacks(configs, model, task=None) -> list:
    if configs[0].optim.stop_accuracy > 0 and hasattr(task, "accuracy"):
        return [AccuracyStop(configs, task)]
    return []


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
    """Per member: accuracy per rule on the task's fixed test set (Yang's measure)."""
    task = datasets[0]
    if not hasattr(task, "accuracy"):
        return [{} for _ in configs]
    y_hat = _test_outputs(model, task)
    out = []
    for i in range(len(configs)):
        acc = (datasets[i] if len(datasets) > i else task).accuracy(y_hat[i])
        out.append({"rules": list(acc), "accuracy": [acc[r] for r in acc],
                    "mean_accuracy": float(np.mean(list(acc.values())))})
    return out


RNN_KIND = register_model(ModelKind("rnn", RNNConfig, build, objective, callbacks=callbacks,
                                    measure=measure, size=size, swap_layout=swap_layout,
                                    engine=RNNGradient))
