"""Result tables: parquet (atomic writes) and markdown summaries (mean ± sd over seeds)."""
from __future__ import annotations

import math
import os
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temporary file + rename, so a crash never leaves a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def write_parquet(rows: Sequence[dict], path: Path) -> None:
    # from_pylist takes its columns from the first row only; rows may carry different keys.
    keys = list(dict.fromkeys(k for r in rows for k in r))
    table = pa.Table.from_pylist([{k: r.get(k) for k in keys} for r in rows])
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    atomic_write_bytes(path, sink.getvalue().to_pybytes())


def read_parquet(path: Path) -> list[dict]:
    return pq.read_table(path).to_pylist()


def _fmt(values: list[float]) -> str:
    vals = np.array([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    if vals.size == 0:
        return "–"
    mean, sd = vals.mean(), vals.std(ddof=1) if vals.size > 1 else 0.0
    if abs(mean) < 1e-2 and mean != 0:
        return f"{mean:.2e} ± {sd:.1e}"
    return f"{mean:.3f} ± {sd:.3f}"


def summary_table(rows: Sequence[dict], group_by: Sequence[str], metrics: Sequence[str]) -> str:
    """Markdown table: one line per group, mean ± sd over the rows in it (seeds)."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        groups[tuple(row.get(g) for g in group_by)].append(row)
    metrics = [m for m in metrics if any(m in r for r in rows)]
    head = "| " + " | ".join([*group_by, "n", *metrics]) + " |"
    lines = [head, "|" + "---|" * (len(group_by) + 1 + len(metrics))]
    for key, members in groups.items():
        cells = [str(k) for k in key] + [str(len(members))]
        cells += [_fmt([m.get(metric, float("nan")) for m in members]) for metric in metrics]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
