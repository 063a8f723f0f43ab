"""Result tables: parquet (atomic writes) and markdown summaries (mean ± sd over seeds)."""
from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..atomic import atomic_write_bytes


def write_parquet(rows: Sequence[dict], path: Path) -> None:
    # from_pylist takes its columns from the first row only; rows may carry different keys.
    keys = list(dict.fromkeys(k for r in rows for k in r))
    table = pa.Table.from_pylist([{k: r.get(k) for k in keys} for r in rows])
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    atomic_write_bytes(path, sink.getvalue().to_pybytes())


def read_parquet(path: Path) -> list[dict]:
    return pq.read_table(path).to_pylist()


def _number(x: float, digits: int = 3) -> str:
    """A readable number: fixed point in [1e-2, 1e4), scientific outside."""
    if x == 0:
        return "0"
    if 1e-2 <= abs(x) < 1e4:
        return f"{x:.{digits}f}"
    return f"{x:.{max(digits - 1, 1)}e}"


def fmt_cell(values: list) -> str:
    """Mean ± sd over seeds for a markdown cell: counts and constant values as themselves,
    booleans as "k/n", diverged/not-applicable (None, NaN) left out and counted."""
    present = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    missing = len(values) - len(present)
    note = f" ({missing} n/a)" if missing and present else ""
    if not present:
        return "n/a"
    if all(isinstance(v, (bool, np.bool_)) for v in present):
        return f"{sum(bool(v) for v in present)}/{len(present)}{note}"
    if not all(isinstance(v, (int, float, np.integer, np.floating)) for v in present):
        return "–"
    vals = np.asarray(present, dtype=float)
    integral = bool(np.all(vals == np.round(vals))) and bool(np.all(np.abs(vals) < 1e9))
    if np.all(vals == vals[0]):
        return (f"{int(vals[0])}" if integral else _number(vals[0])) + note
    mean, sd = vals.mean(), vals.std(ddof=1)
    if integral:
        return f"{mean:.2f} ± {sd:.2f} ({int(vals.min())}–{int(vals.max())}){note}"
    fixed = 1e-2 <= abs(mean) < 1e4 and (sd == 0 or 1e-3 <= sd < 1e4)
    spread = f"{sd:.3f}" if fixed else f"{sd:.1e}"
    return f"{_number(mean)} ± {spread}{note}"


_fmt = fmt_cell


def summary_table(rows: Sequence[dict], group_by: Sequence[str], metrics: Sequence[str]) -> str:
    """Markdown table: one line per group, mean ± sd over the rows in it (seeds)."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        groups[tuple(row.get(g) for g in group_by)].append(row)
    metrics = [m for m in metrics if any(m in r for r in rows)]
    head = "| " + " | ".join([*group_by, "seeds", *metrics]) + " |"
    lines = [head, "|" + "---|" * (len(group_by) + 1 + len(metrics))]
    for key, members in groups.items():
        cells = [str(k) for k in key] + [str(len(members))]
        cells += [_fmt([m.get(metric, float("nan")) for m in members]) for metric in metrics]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
