"""Paper figures as registered experiments (one small module each), imported when used.

`CATALOG` (no imports) says what exists; `get_experiment(name)` imports the experiment's
module, which registers it in `REGISTRY`.
"""
from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping

from .catalog import CATALOG, describe

__all__ = ["CATALOG", "REGISTRY", "get_experiment", "describe", "names"]


def names() -> list[str]:
    """Experiment names in natural order (fig1, fig2, …, fig11, then the others)."""
    return list(CATALOG)


def get_experiment(name: str):
    from . import base

    if name not in base.REGISTRY:
        if name not in CATALOG:
            raise ValueError(f"unknown experiment {name!r}; available: {', '.join(CATALOG)}")
        importlib.import_module(f"{__name__}.{CATALOG[name]['module']}")
    return base.REGISTRY[name]


class _Registry(Mapping):
    """Every experiment by name; the value imports its module on first access."""

    def __getitem__(self, name: str):
        if name not in CATALOG:
            from . import base

            if name in base.REGISTRY:   # registered at run time by a user's module
                return base.REGISTRY[name]
            raise KeyError(name)
        return get_experiment(name)

    def __iter__(self) -> Iterator[str]:
        from . import base

        return iter(dict.fromkeys([*CATALOG, *base.REGISTRY]))

    def __len__(self) -> int:
        return len(list(iter(self)))


REGISTRY = _Registry()
