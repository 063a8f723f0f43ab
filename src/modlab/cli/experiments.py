"""`modlab list` and `modlab run`."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from ..experiments import REGISTRY, get_experiment, run_experiment
from ..experiments.base import parse_overrides
from .app import app
from .errors import one_line_errors

console = Console()


@app.command("list")
def list_experiments() -> None:
    """List the registered experiments and the figure each one reproduces."""
    table = Table("name", "figure", "claim", "presets")
    for name, exp in sorted(REGISTRY.items()):
        table.add_row(name, exp.paper, exp.claim, ", ".join(exp.presets))
    console.print(table)


@contextmanager
def rich_progress():
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=False) as bar:
        def start(label: str, total: int):
            task = bar.add_task(label, total=total)
            return lambda done: bar.update(task, completed=done)
        yield start


@app.command("run")
@one_line_errors
def run(
    experiment: str = typer.Argument(..., help="experiment name (see `modlab list`)"),
    preset: str = typer.Option("quick", help="quick (minutes) or paper (the spec's settings)"),
    seeds: int = typer.Option(None, help="number of seeds per setting (overrides the preset)"),
    out: Path = typer.Option(Path("runs"), help="output directory"),
    set_: list[str] = typer.Option([], "--set", help="override a config field: key=value"),
    device: str = typer.Option(None, help="cpu, cuda or auto"),
) -> None:
    """Train, measure and plot one experiment; writes <out>/<experiment>/."""
    exp = get_experiment(experiment)
    overrides = parse_overrides(set_)
    if seeds is not None:
        overrides["seeds"] = seeds
    if device is not None:
        overrides["device"] = device
    exp.make_config(preset, overrides)  # validate before any work starts
    with rich_progress() as progress:
        out_dir = run_experiment(experiment, preset, out, overrides, progress=progress)
    console.print((out_dir / "summary.md").read_text())
    console.print(f"[green]wrote[/green] {out_dir}")
