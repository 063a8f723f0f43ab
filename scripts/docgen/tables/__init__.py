"""Every generated docs table, by the name its marker uses (`<!-- table: NAME -->`)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Table:
    name: str
    needs: tuple[str, ...]          # the packages (results/paper/<name>) it reads
    render: Callable[..., str]      # packages → markdown table


TABLES: dict[str, Table] = {}


def table(name: str, *needs: str):
    """Register `fn(*packages) -> markdown` as the table `name`."""
    def register(fn):
        if name in TABLES:
            raise ValueError(f"table {name!r} registered twice")
        TABLES[name] = Table(name, needs or (name.split("/")[0],), fn)
        return fn
    return register


from . import bimt, composition, noise, ranges  # noqa: E402,F401  (they register their tables)
