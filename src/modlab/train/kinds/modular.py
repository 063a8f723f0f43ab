"""`net.kind = "modular"`: the compositional-generalisation architectures (Figs. 8, 9, 11)."""
from __future__ import annotations

from ...nn import make_architecture
from ..config import ModularConfig
from ..objective import Objective
from .base import ModelKind, Size, layered_params, register_model


def build(configs, task):
    net = configs[0].net
    return make_architecture(net.arch, n_in=task.n_in, n_out=task.n_out,
                             block_widths=net.block_widths, head_widths=net.head_widths,
                             members=len(configs), activation=net.activation,
                             seeds=[c.seed for c in configs])


def objective(configs, model) -> Objective:
    return Objective([c.reg for c in configs])


def size(net: ModularConfig, n_in: int, n_out: int) -> Size:
    """Per-input blocks and the head, or (fc architectures) a dense stack as wide as all the
    blocks together: the larger of the two bounds."""
    blocks = n_in * layered_params([1, *net.block_widths])
    head = layered_params([n_in * net.block_widths[-1], *net.head_widths, n_out])
    widest = max(n_in * w for w in net.block_widths)
    params = max(blocks + head, widest * widest * (len(net.block_widths) + 1
                                                   + len(net.head_widths) + 2))
    return Size(params, int(params ** 0.5))


MODULAR_KIND = register_model(ModelKind("modular", ModularConfig, build, objective, size=size))
