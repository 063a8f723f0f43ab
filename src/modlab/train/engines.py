"""Hand-derived gradient engines, by model type, and the choice between them and autograd.

An engine is a class with `model_type` (the model class it differentiates), `follows` (the
names of that class's methods whose computation it re-derives), `unsupported(objective,
model, batch_size, masked) -> str | None` (why it cannot train this, or None),
`__init__(objective, model)` and `step(x, y, mask, grads) -> (total, task)` writing the
gradients of total.sum() into `grads` (the flat buffer's views, ordered as
model.parameters()). A model kind declares its engine in its record (`ModelKind.engine`);
`register_engine(ModelType)` registers one directly.

Lookup walks the model's class hierarchy, so a subclass keeps its parent's engine, unless
it overrides one of the methods in `follows`: then the engine would compute something else
than the model, and autograd trains it (engine="manual" says why).
"""
from __future__ import annotations

from collections.abc import Callable

import torch

ENGINES: dict[type, type] = {}


def register_engine(model_type: type) -> Callable[[type], type]:
    def wrap(engine: type) -> type:
        ENGINES[model_type] = engine
        return engine
    return wrap


class _ManualStep:
    """An engine's gradients written straight into the flat buffer, in inference mode (no
    autograd bookkeeping: ~20 % less per-op overhead at M = 1)."""

    context = staticmethod(torch.inference_mode)

    def __init__(self, engine_cls, model, objective, flat):
        self._engine, self._grads = engine_cls(objective, model), flat.grads

    def __call__(self, x, y, mask):
        return self._engine.step(x, y, mask, self._grads)


def _builtin_kinds() -> None:
    """The built-in kinds register their engines (MLP, leaky RNN) when imported: always
    present, whatever a user registered first."""
    from . import kinds  # noqa: F401


def engine_lookup(model) -> tuple[type | None, str | None]:
    """(engine class, None), or (None, why there is none) for this model."""
    _builtin_kinds()
    for base in type(model).__mro__:
        engine = ENGINES.get(base)
        if engine is None:
            continue
        changed = [name for name in getattr(engine, "follows", ())
                   if getattr(type(model), name) is not getattr(base, name)]
        if changed:
            return None, (f"{type(model).__name__} overrides {base.__name__}.{changed[0]}, "
                          f"which the hand-derived engine of {base.__name__} does not follow")
        return engine, None
    return None, f"no hand-derived engine for {type(model).__name__}"


def engine_for(model) -> type | None:
    return engine_lookup(model)[0]


def select_engine(engine: str, model, objective, batch_size: int, masked: bool):
    """A step factory for `fit`'s loop (manual engine), or None for autograd."""
    if engine == "autograd":
        return None
    cls, reason = engine_lookup(model)
    if cls is not None:
        reason = cls.unsupported(objective, model, batch_size, masked)
    if reason is None:
        params = [p for p in model.parameters() if p.requires_grad]
        if len({(p.dtype, p.device) for p in params}) != 1:
            reason = "parameters differ in dtype or device"
    if reason is not None:
        if engine == "manual":
            raise ValueError(f"engine='manual' cannot train this model: {reason}")
        return None
    return lambda model_, objective_, flat: _ManualStep(cls, model_, objective_, flat)
