"""`modlab range-check DATA.csv`: will a nonnegative, energy-efficient code of these sources be
modular? (Theorem 2.1 margin; Theorem 2.2 plot for 2 sources)."""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import typer

from ..metrics.range_condition import range_margin
from .app import app
from .errors import one_line_errors


def _number(text: str, column: str, row: int) -> float:
    """A CSV cell as a float; empty cells and NaN are missing values (an error)."""
    try:
        value = float(text)
    except ValueError:
        if text.strip() == "":
            raise ValueError(f"column {column!r} has a missing value at row {row}") from None
        raise ValueError(f"column {column!r} has a non-numeric value {text!r} at row {row}") from None
    if math.isnan(value):
        raise ValueError(f"column {column!r} has a NaN at row {row}")
    if math.isinf(value):
        raise ValueError(f"column {column!r} has an infinite value at row {row}")
    return value


def read_sources(path: Path, columns: list[str] | None) -> tuple[np.ndarray, list[str]]:
    """The chosen numeric columns of a CSV with a header row, validated for the checker."""
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    with path.open(newline="") as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader, [])]
        records = [r for r in reader if any(cell.strip() for cell in r)]
    if not header:
        raise ValueError(f"{path.name} is empty (expected a header row)")
    names = columns or header
    missing = [c for c in names if c not in header]
    if missing:
        raise ValueError(f"column {missing[0]!r} not in {path.name}; available: {', '.join(header)}")
    if len(names) < 2:
        raise ValueError(f"need at least 2 source columns, got {len(names)}")
    if len(records) < 3:
        raise ValueError(f"need at least 3 rows, {path.name} has {len(records)}")
    idx = [header.index(c) for c in names]
    values = np.empty((len(records), len(names)))
    for r, rec in enumerate(records):
        for k, (i, name) in enumerate(zip(idx, names, strict=True)):
            values[r, k] = _number(rec[i] if i < len(rec) else "", name, r + 1)
    const = [n for n, spread in zip(names, np.ptp(values, axis=0), strict=True) if spread == 0]
    if const:
        raise ValueError(f"column {const[0]!r} is constant: a constant source carries nothing to encode")
    return values, names


def _split(columns: list[str]) -> list[str] | None:
    names = [c.strip() for item in columns for c in item.split(",") if c.strip()]
    return names or None


@app.command("range-check")
@one_line_errors
def range_check(
    data: Path = typer.Argument(..., help="CSV with a header row, one source per column"),
    columns: list[str] = typer.Option([], "--columns", help="source columns (comma-separated "
                                      "or repeated); default: all"),
    as_json: bool = typer.Option(False, "--json", help="print a JSON object"),
    plot: Path = typer.Option(None, help="figure path for 2 sources (default: DATA.range.png)"),
    no_plot: bool = typer.Option(False, "--no-plot", help="do not write the figure"),
) -> None:
    """Theorem 2.1's margin min_w [(min_t wᵀs_t)² − wᵀFw] and the verdict: modular or mixed."""
    s, names = read_sources(data, _split(columns))
    check = range_margin(s)
    figure = None
    if s.shape[1] == 2 and not no_plot:
        from ..experiments.range2d import plot_range_check

        figure = plot or data.with_suffix(".range.png")
        plot_range_check(s, check, figure, title=f"{data.name}: {names[0]} vs {names[1]}")
    if as_json:
        out = {**check.as_dict(), "columns": names, "samples": len(s),
               "plot": str(figure) if figure else None}
        typer.echo(json.dumps(out))
        return
    typer.echo(f"sources: {', '.join(names)} ({len(s)} samples, method {check.method})")
    typer.echo(f"margin: {check.margin:.6g}  (tolerance {check.tolerance:.1e})")
    typer.echo(f"verdict: {check.verdict}")
    typer.echo("direction: " + " ".join(f"{v:.4f}" for v in check.direction))
    if figure:
        typer.echo(f"plot: {figure}")
