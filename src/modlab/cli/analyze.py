"""`modlab analyze PATH`: modularity of every weight matrix of a saved model."""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .app import app
from .errors import one_line_errors


def _json_safe(value):
    """NaN/inf become null: strict JSON has no NaN."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    return value


def _print_table(console: Console, rows: list[dict], k: int | None, max_eigs: int) -> None:
    from ..analysis.report import summary_cells, summary_columns

    table = Table(*summary_columns(k), *(["smallest eigenvalues"] if max_eigs else []))
    for row in rows:
        eigs = [" ".join(f"{e:.3f}" for e in row.get("eigvals", [])[:max_eigs])] if max_eigs else []
        table.add_row(*(Text(c) for c in summary_cells(row, k)), *eigs)
    console.print(table)


def _notes(rows: list[dict], ckpt_notes: list[str]) -> list[str]:
    """Each distinct note once, with the layers it applies to."""
    by_note: dict[str, list[str]] = {}
    for row in rows:
        for note in row["notes"]:
            by_note.setdefault(note, [])
            if row["name"] not in by_note[note]:
                by_note[note].append(row["name"])
    return ckpt_notes + [f"{', '.join(names)}: {note}" for note, names in by_note.items()]


@app.command("analyze")
@one_line_errors
def analyze(
    checkpoint: Path = typer.Argument(..., help="a .pt/.pth state_dict, a .safetensors file, "
                                      "or a modlab checkpoint (.safetensors + .json sidecar)"),
    k: int = typer.Option(None, help="report the eigengap g_k and cluster into k modules"),
    layers: list[str] = typer.Option(None, "--layers", help="only tensors whose state_dict "
                                     "name matches this glob (fnmatch; repeatable)"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object per layer"),
    report: Path = typer.Option(None, "--report", help="write a self-contained DIR/report.html"),
    n_shuffle: int = typer.Option(20, help="shuffled networks in the n-cut null"),
    seed: int = typer.Option(0, help="seed of k-means, Louvain and the shuffles"),
    max_eigs: int = typer.Option(6, help="eigenvalues to print per layer (0: none)"),
) -> None:
    """Spectrum (Eqs. 5–6), k*, Newman Q and n-cut z-score of every weight matrix.

    Linear layers as they are, RNN/LSTM/GRU weights split per gate, conv kernels as |W|
    summed over the kernel window. The file is read without executing any code in it.
    """
    from ..analysis import analyse_checkpoint, write_report

    if n_shuffle < 2:
        raise ValueError(f"--n-shuffle must be >= 2, got {n_shuffle}")
    if max_eigs < 0:
        raise ValueError(f"--max-eigs must be >= 0, got {max_eigs}")
    ckpt, matrices, rows = analyse_checkpoint(checkpoint, layers=layers, k=k, seed=seed,
                                              n_shuffle=n_shuffle)
    if as_json:
        for row in rows:
            out = {key: _json_safe(v) for key, v in row.items() if key != "clusters"}
            typer.echo(json.dumps(out))
    else:
        console = Console(width=None if sys.stdout.isatty() else 160)
        _print_table(console, rows, k, max_eigs)
        for note in _notes(rows, ckpt.notes):
            console.print(f"note: {note}", highlight=False, markup=False)
    if report is not None:
        path = write_report(matrices, rows, report, title=f"modlab analyze {checkpoint.name}", k=k)
        typer.echo(f"report: {path}", err=as_json)
