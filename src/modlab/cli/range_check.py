"""`modlab range-check DATA.csv`: will a nonnegative, energy-efficient code of these sources be
modular? (Theorem 2.1 margin with a finite-sample verdict; Theorem 2.2 plot for 2 sources)."""
from __future__ import annotations

import csv
import json
import math
from array import array
from pathlib import Path

import typer

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


def _open_text(path: Path):
    """The file as UTF-8 text (a BOM is dropped); one-line errors for what cannot be read."""
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    if path.is_dir():
        raise ValueError(f"{path} is a directory; expected a CSV file")
    try:
        with path.open("rb") as f:
            head = f.read(8192)
        if b"\x00" in head:
            raise ValueError(f"{path.name} looks binary (it contains NUL bytes); expected a UTF-8 "
                             "CSV file with a header row")
        return path.open(encoding="utf-8-sig", newline="")
    except OSError as err:
        raise ValueError(f"cannot read {path}: {err.strerror or err}") from None


def _header(row: list[str] | None, name: str) -> list[str]:
    """Stripped column names: present, non-empty and unique."""
    header = [h.strip() for h in row or []]
    if not any(header):
        raise ValueError(f"{name} is empty (expected a header row, then one row per sample)")
    for i, h in enumerate(header):
        if not h:
            raise ValueError(f"{name}: header field {i + 1} is empty; every column needs a name")
        if h in header[:i]:
            raise ValueError(f"{name}: duplicate column name {h!r} (fields {header.index(h) + 1} "
                             f"and {i + 1}); column names must be unique")
    return header


def _rows(reader, idx: list[int], names: list[str], width: int, name: str):
    """The chosen columns of every non-blank data row as a (rows, columns) float array."""
    import numpy as np

    values = array("d")
    rows = 0
    for rec in reader:
        try:
            cells = [float(rec[i]) for i in idx]
        except (ValueError, IndexError):
            if not any(cell.strip() for cell in rec):        # a blank line: skipped
                continue
            for i, col in zip(idx, names, strict=True):   # the precise message for this row
                _number(rec[i] if i < len(rec) else "", col, rows + 1)
        rows += 1
        if len(rec) > width:
            raise ValueError(f"{name}: row {rows} (line {reader.line_num}) has {len(rec)} fields, "
                             f"more than the header's {width}")
        values.extend(cells)
    out = np.frombuffer(values, dtype=float).reshape(rows, len(names))
    bad = ~np.isfinite(out)
    if bad.any():
        r, k = np.argwhere(bad)[0]
        _number(str(out[r, k]), names[k], int(r) + 1)
    return out


def read_sources(path: Path, columns: list[str] | None) -> tuple:
    """The chosen numeric columns of a CSV with a header row, validated for the checker."""
    f = _open_text(path)
    try:
        with f:
            reader = csv.reader(f)
            header = _header(next(reader, None), path.name)
            names = columns or header
            missing = [c for c in names if c not in header]
            if missing:
                raise ValueError(f"column {missing[0]!r} not in {path.name}; available: "
                                 f"{', '.join(header)}")
            if len(set(names)) < len(names):
                dup = next(c for c in names if names.count(c) > 1)
                raise ValueError(f"--columns names {dup!r} twice; each source once")
            if len(names) < 2:
                raise ValueError(f"need at least 2 source columns, got {len(names)}")
            values = _rows(reader, [header.index(c) for c in names], names, len(header),
                           path.name)
    except UnicodeDecodeError as err:
        raise ValueError(f"{path.name} is not UTF-8 text (byte {err.object[err.start]:#04x} "
                         "cannot be decoded); expected a UTF-8 CSV file") from None
    except csv.Error as err:
        raise ValueError(f"{path.name} is not a readable CSV: {err}") from None
    if len(values) < 3:
        what = "only a header" if len(values) == 0 else f"{len(values)} data rows"
        raise ValueError(f"need at least 3 rows, {path.name} has {what}")
    spreads = values.max(0) - values.min(0)
    const = [n for n, spread in zip(names, spreads, strict=True) if spread == 0]
    if const:
        raise ValueError(f"column {const[0]!r} is constant: a constant source carries nothing to encode")
    return values, names


def _split(columns: list[str]) -> list[str] | None:
    names = [c.strip() for item in columns for c in item.split(",") if c.strip()]
    return names or None


def _report(check, names: list[str], samples: int, figure: Path | None) -> None:
    lo, hi = check.interval
    typer.echo(f"sources: {', '.join(names)} ({samples} samples; method {check.method}; "
               f"{check.n_kept} rows kept by the reduction)")
    typer.echo(f"margin: {check.margin:.6g}  (sample verdict: {check.sample_verdict}; "
               f"tolerance {check.tolerance:.1e})")
    typer.echo(f"interval: [{lo:.6g}, {hi:.6g}]  (population margin, finite-sample)")
    typer.echo(f"verdict: {check.verdict}")
    typer.echo("direction: " + " ".join(f"{v:.4f}" for v in check.direction))
    typer.echo(f"guarantee: {check.guarantee}")
    if figure:
        typer.echo(f"plot: {figure}")


@app.command("range-check")
@one_line_errors
def range_check(
    data: Path = typer.Argument(..., help="CSV with a header row, one source per column"),
    columns: list[str] = typer.Option([], "--columns", help="source columns (comma-separated "
                                      "or repeated); default: all"),
    as_json: bool = typer.Option(False, "--json", help="print a JSON object"),
    plot: Path = typer.Option(None, help="figure path for 2 sources (default: DATA.range.png; "
                              "no extension: .png)"),
    no_plot: bool = typer.Option(False, "--no-plot", help="do not write the figure"),
) -> None:
    """Theorem 2.1's margin min_w [(min_t wᵀs_t)² − wᵀFw] and the verdict: modular or mixed.

    "mixed" needs the sample's shortfall to exceed what sampling alone explains (the
    finite-sample interval lies below 0); the guarantee line says what the search certifies.
    """
    from ..metrics.range_condition import range_margin

    s, names = read_sources(data, _split(columns))
    figure = None
    if plot is not None and no_plot:
        raise ValueError("--plot and --no-plot contradict each other; give one")
    if s.shape[1] == 2 and not no_plot:
        from ..experiments.range_plots import figure_path

        figure = figure_path(plot or data.with_suffix(".range.png"))   # fail before the work
    elif plot is not None:
        raise ValueError(f"--plot: the figure is drawn for 2 sources only, got {s.shape[1]} "
                         "columns; choose two with --columns")
    check = range_margin(s)
    if figure:
        from ..experiments.range_plots import plot_range_check

        figure = plot_range_check(s, check, figure, title=f"{data.name}: {names[0]} vs {names[1]}",
                                  names=(names[0], names[1]))
    if as_json:
        out = {**check.as_dict(), "columns": names, "samples": len(s),
               "plot": str(figure) if figure else None}
        typer.echo(json.dumps(out))
        return
    _report(check, names, len(s), figure)
