"""The model-kind registry: what a `net.kind` builds, what it minimises, what it measures.

A new kind plugs in with one `register_model(ModelKind(...))` call next to its config class
(`ModelConfig` subclass with a `kind` literal) and factories; nothing else changes.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from torch import nn

from ..config import ModelConfig, RunConfig, register_model_config


def no_callbacks(configs, model, task=None) -> list:
    return []


@dataclass(frozen=True)
class ModelKind:
    """`build(configs, task)` → an M-member model (task: the first member's data set, for its
    input/output sizes); `objective(configs, model)` → what `fit` minimises;
    `callbacks(configs, model, task)` → `fit` callbacks (e.g. BIMT swaps); `measure(model,
    configs, datasets)` → final metrics per member (datasets: one per member, shared objects
    where equal), stored with each result (optional)."""

    name: str
    config: type[ModelConfig]
    build: Callable[[Sequence[RunConfig], object], nn.Module]
    objective: Callable[[Sequence[RunConfig], nn.Module], object]
    callbacks: Callable[[Sequence[RunConfig], nn.Module], list] = no_callbacks
    measure: Callable[[nn.Module, Sequence[RunConfig], list], list[dict]] | None = None


MODEL_KINDS: dict[str, ModelKind] = {}


def register_model(kind: ModelKind) -> ModelKind:
    if kind.config.model_fields["kind"].default != kind.name:
        raise ValueError(f"{kind.config.__name__}.kind must default to {kind.name!r}")
    register_model_config(kind.config)
    MODEL_KINDS[kind.name] = kind
    return kind


def get_kind(name: str) -> ModelKind:
    if name not in MODEL_KINDS:
        raise ValueError(f"unknown net.kind {name!r}; allowed: {', '.join(MODEL_KINDS)}")
    return MODEL_KINDS[name]
