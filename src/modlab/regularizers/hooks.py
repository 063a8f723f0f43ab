"""Capture hidden activations of any `nn.Module`, so the regularisers apply to users' models."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class ActivationCapture:
    """Records the output of named sub-modules on every forward pass.

    >>> capture = ActivationCapture(model, ["1", "3"])   # e.g. the ReLUs of an nn.Sequential
    >>> y = model(x); acts = capture.outputs              # [h1, h3], in the order given
    Call `remove()` (or use as a context manager) to detach the hooks.
    """

    def __init__(self, model: nn.Module, layer_names: Sequence[str]):
        modules = dict(model.named_modules())
        missing = [n for n in layer_names if n not in modules]
        if missing:
            raise ValueError(f"unknown layer names {missing}; available: {sorted(k for k in modules if k)}")
        self.layer_names = list(layer_names)
        self._latest: dict[str, torch.Tensor] = {}
        self._handles = [modules[n].register_forward_hook(self._hook(n)) for n in self.layer_names]

    def _hook(self, name: str):
        def record(_module, _inputs, output):
            self._latest[name] = output
        return record

    @property
    def outputs(self) -> list[torch.Tensor]:
        if len(self._latest) != len(self.layer_names):
            raise RuntimeError("no forward pass recorded yet")
        return [self._latest[n] for n in self.layer_names]

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
