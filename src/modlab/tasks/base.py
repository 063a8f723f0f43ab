"""Seeded data sets and the task registry."""
from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

import torch


@dataclass
class Dataset:
    """Train/test tensors, (N, in) and (N, out), float32."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    n_modules: int | None = None                 # the task's true module count, if it has one
    info: dict = field(default_factory=dict)     # task parameters worth recording

    @property
    def n_in(self) -> int:
        return self.x_train.shape[-1]

    @property
    def n_out(self) -> int:
        return self.y_train.shape[-1]


TASKS: dict[str, Callable[..., Dataset]] = {}


def register_task(name: str):
    def wrap(fn: Callable[..., Dataset]) -> Callable[..., Dataset]:
        TASKS[name] = fn
        return fn
    return wrap


def make_task(name: str, **params) -> Dataset:
    """Build a registered task; unknown names or parameters raise a one-line ValueError."""
    if name not in TASKS:
        raise ValueError(f"task must be one of {sorted(TASKS)}, got {name!r}")
    fn = TASKS[name]
    allowed = [p for p in inspect.signature(fn).parameters]
    unknown = [k for k in params if k not in allowed]
    if unknown:
        raise ValueError(f"task {name!r} has no parameter {unknown[0]!r}; allowed: {allowed}")
    return fn(**params)


def as_tensor(a) -> torch.Tensor:
    return torch.as_tensor(a, dtype=torch.float32)
