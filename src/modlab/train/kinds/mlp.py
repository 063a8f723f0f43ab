"""`net.kind = "mlp"`: the noise-modularity MLP (spec 1) under MSE + the regularisers."""
from __future__ import annotations

import torch

from ...metrics import dead_neurons, layer_report
from ...nn import MLP
from ..config import MLPConfig
from ..data import stack_datasets
from ..objective import Objective
from .base import ModelKind, register_model


def build(configs, task) -> MLP:
    net, noise = configs[0].net, configs[0].noise
    return MLP([task.n_in, *net.hidden, task.n_out], members=len(configs),
               activation=net.activation, bias=net.bias, dropout=net.dropout,
               seeds=[c.seed for c in configs], noise_sigma=[c.noise.sigma for c in configs],
               noise_alpha=[c.noise.alpha for c in configs], noise_site=noise.site,
               noise_eps=noise.eps)


def objective(configs, model) -> Objective:
    return Objective([c.reg for c in configs])


@torch.no_grad()
def measure(model: MLP, configs, datasets) -> list[dict]:
    """Per member and weight layer: k*, the eigengap at the task's module count, dropped and
    dead neurons (Eqs. 5–6 on the exact spectrum)."""
    was = model.training
    model.eval()
    x_test = stack_datasets(datasets).x_test.to(model.weights[0].device)
    hidden = model.forward_hidden(x_test).hidden
    model.train(was)
    out = []
    for i, config in enumerate(configs):
        report = layer_report([w[i].detach().cpu() for w in model.weights],
                              true_k=getattr(datasets[i], "n_modules", None))
        act = config.net.activation
        out.append({"k_star": [r["k_star"] for r in report],
                    "gap_at_true_k": [r["gap_at_true_k"] for r in report],
                    "dropped_neurons": [r["dropped_neurons"] for r in report],
                    "dead_neurons": [int(dead_neurons(h[i].cpu(), act)) for h in hidden] + [0],
                    "eigvals": [r["eigvals"] for r in report]})
    return out


def callbacks(configs, model, task=None) -> list:
    from ..callbacks import BIMTSwaps

    return [BIMTSwaps.for_mlp(configs)] if any(c.reg.swap_every for c in configs) else []


MLP_KIND = register_model(ModelKind("mlp", MLPConfig, build, objective, callbacks=callbacks,
                                    measure=measure))
