"""`net.kind = "mlp"`: the noise-modularity MLP (spec 1) under MSE + the regularisers."""
from __future__ import annotations

import torch

from ...metrics import dead_neurons, layer_report
from ...nn import MLP
from ...regularizers.bimt import line_coords
from ..config import MLPConfig
from ..data import stack_datasets
from ..engine_mlp import ManualGradient
from ..objective import Objective
from .base import ModelKind, Size, layered_params, register_model


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


def size(net: MLPConfig, n_in: int, n_out: int) -> Size:
    return Size(layered_params([n_in, *net.hidden, n_out]), max(net.hidden, default=0))


def swap_layout(model: MLP) -> list[dict]:
    """Every hidden layer (neurons on lines, as `MLP.wiring_layout`): its incoming weight's
    rows and bias, its outgoing weight's columns."""
    layers, widths = [], model.widths
    for k in range(len(model.layers) - 1):
        w, w_next = model.layers[k], model.layers[k + 1]
        owners = [(w.weight, 1), (w_next.weight, 2)]
        if w.bias is not None:
            owners.append((w.bias, 1))
        layers.append({"w_in": w.weight, "w_out": w_next.weight, "recurrent": None,
                       "coords": line_coords(widths[k + 1]), "pre": line_coords(widths[k]),
                       "post": line_coords(widths[k + 2]), "owners": owners})
    return layers


MLP_KIND = register_model(ModelKind("mlp", MLPConfig, build, objective, measure=measure,
                                    size=size, swap_layout=swap_layout, engine=ManualGradient))
