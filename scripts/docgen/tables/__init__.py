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


def summary_table(pkg) -> str:
    """The run's own summary table (summary.md): mean ± sd over seeds of the experiment's
    summary measures, for experiments without a table of their own here yet."""
    lines = [line for line in pkg.file("summary.md").read_text().splitlines()
             if line.startswith("|")]
    return "\n".join(lines)


def lookup(name: str) -> Table | None:
    """The table `name`, or `<experiment>/summary` (the run's summary table) for any
    experiment."""
    if name in TABLES:
        return TABLES[name]
    if name.endswith("/summary") and name.count("/") == 1:
        return Table(name, (name.split("/")[0],), summary_table)
    return None


from . import bimt, composition, noise, ranges  # noqa: E402,F401  (they register their tables)
