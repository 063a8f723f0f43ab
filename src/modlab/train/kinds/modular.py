"""`net.kind = "modular"`: the compositional-generalisation architectures (Figs. 8, 9, 11)."""
from __future__ import annotations

from ...nn import make_architecture
from ..config import ModularConfig
from ..objective import Objective
from .base import ModelKind, register_model


def build(configs, task):
    net = configs[0].net
    return make_architecture(net.arch, n_in=task.n_in, n_out=task.n_out,
                             block_widths=net.block_widths, head_widths=net.head_widths,
                             members=len(configs), activation=net.activation,
                             seeds=[c.seed for c in configs])


def objective(configs, model) -> Objective:
    return Objective([c.reg for c in configs])


MODULAR_KIND = register_model(ModelKind("modular", ModularConfig, build, objective))
