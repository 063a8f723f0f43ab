"""The model-kind registry: everything a `net.kind` needs, in one record per kind.

A kind is one `register_model(ModelKind(...))` call next to its config class (`ModelConfig`
subclass with a `kind` literal) and factories. Code outside `train/kinds/` asks the record,
never compares `net.kind` to a string: the resource estimate reads `size`, BIMT's swaps read
`swap_layout`, `fit` finds the hand-derived engine through `engine`. A plain single-model
`nn.Module` becomes a kind with `register_module` (kinds/module.py) instead.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from torch import nn

from ..config import ModelConfig, RunConfig, register_model_config


def no_callbacks(configs, model, task=None) -> list:
    return []


class Size(NamedTuple):
    """One member's parameter count and its widest layer (units per sample and time step),
    computed from the config alone (nothing allocated): the resource estimate's inputs."""

    params: int
    width: int


@dataclass(frozen=True)
class ModelKind:
    """`build(configs, task)` → an M-member model (task: the first member's data set, for its
    input/output sizes); `objective(configs, model)` → what `fit` minimises;
    `callbacks(configs, model, task)` → further `fit` callbacks (e.g. an accuracy stop);
    `measure(model, configs, datasets)` → final metrics per member (datasets: one per member,
    shared objects where equal), stored with each result (optional);
    `size(net_config, n_in, n_out)` → `Size` for `sweep.check_resources` (a kind without
    one cannot be planned by a sweep: an error, not a guess);
    `swap_layout(model)` → the swappable layers for BIMT's neuron swaps (`reg.swap_every`;
    see `train.callbacks.BIMTSwaps`), None: the kind has no neurons to swap;
    `engine`: a hand-derived gradient engine class (see `train.engines`), registered for its
    `model_type` when the kind is registered."""

    name: str
    config: type[ModelConfig]
    build: Callable[[Sequence[RunConfig], object], nn.Module]
    objective: Callable[[Sequence[RunConfig], nn.Module], object]
    callbacks: Callable[[Sequence[RunConfig], nn.Module], list] = no_callbacks
    measure: Callable[[nn.Module, Sequence[RunConfig], list], list[dict]] | None = None
    size: Callable[[ModelConfig, int, int], Size] | None = None
    swap_layout: Callable[[nn.Module], list[dict]] | None = None
    engine: type | None = None

    def fit_callbacks(self, configs: Sequence[RunConfig], model: nn.Module, task=None) -> list:
        """BIMT's swaps first (when a member asks for them), then the kind's own."""
        swaps = []
        if any(c.reg.swap_every for c in configs):
            if self.swap_layout is None:
                raise ValueError(f"reg.swap_every: net.kind {self.name!r} has no neuron layout "
                                 "to swap; set reg.swap_every = 0")
            from ..callbacks import BIMTSwaps

            swaps = [BIMTSwaps(configs, self.swap_layout)]
        return [*swaps, *self.callbacks(configs, model, task)]


MODEL_KINDS: dict[str, ModelKind] = {}


def register_model(kind: ModelKind) -> ModelKind:
    if kind.config.model_fields["kind"].default != kind.name:
        raise ValueError(f"{kind.config.__name__}.kind must default to {kind.name!r}")
    register_model_config(kind.config)
    if kind.engine is not None:
        from ..engines import register_engine

        register_engine(kind.engine.model_type)(kind.engine)
    MODEL_KINDS[kind.name] = kind
    return kind


def get_kind(name: str) -> ModelKind:
    if name not in MODEL_KINDS:
        raise ValueError(f"unknown net.kind {name!r}; allowed: {', '.join(MODEL_KINDS)}")
    return MODEL_KINDS[name]


def layered_params(widths: Sequence[int]) -> int:
    """Weights and biases of dense layers widths[0] → widths[1] → …"""
    return sum(a * b + b for a, b in zip(widths[:-1], widths[1:], strict=False))
