"""`modlab list`, `modlab show EXP` and `modlab run EXP`."""
from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from .app import app
from .errors import RUN_FAILED, fail, one_line_errors

console = Console()


@app.command("list")
def list_experiments() -> None:
    """List the registered experiments and the figure each one reproduces."""
    from ..experiments.catalog import CATALOG

    table = Table("name", "figure", "claim", "presets")
    for name, entry in CATALOG.items():
        table.add_row(name, entry["paper"], entry["claim"], ", ".join(entry["presets"]))
    console.print(table)
    console.print("`modlab show NAME` lists an experiment's fields (the keys of --set).")


@app.command("show")
@one_line_errors
def show(experiment: str = typer.Argument(..., help="experiment name (see `modlab list`)")) -> None:
    """Every config field of an experiment: type, default, allowed values, preset values."""
    from ..experiments import get_experiment
    from .fields import field_rows

    exp = get_experiment(experiment)
    table = Table("field", "type", "default", *(f"preset {p}" for p in exp.presets), "allowed / meaning",
                  title=f"{exp.name}: {exp.title}", show_lines=False)
    for row in field_rows(exp):
        table.add_row(*row)
    console.print(table)
    console.print(f"{exp.paper}. Claim: {exp.claim}.")
    console.print(f"Set any field with --set KEY=VALUE (JSON values), e.g. "
                  f"`modlab run {exp.name} --set seeds=5`.")


@app.command("run")
@one_line_errors
def run(
    experiment: str = typer.Argument(..., help="experiment name (see `modlab list`; its fields: "
                                                "`modlab show NAME`)"),
    preset: str = typer.Option("quick", help="quick (minutes) or paper (the spec's settings)"),
    seeds: int = typer.Option(None, help="number of seeds per setting (overrides the preset)"),
    out: Path = typer.Option(Path("runs"), help="output directory: <out>/<experiment>/ and the "
                                                "results store <out>/store"),
    set_: list[str] = typer.Option([], "--set", help="override a config field: key=value"),
    device: str = typer.Option(None, help="cpu, cuda or auto"),
    workers: int = typer.Option(None, help="worker processes (default: the preset's)"),
    overwrite: bool = typer.Option(False, help="replace a finished <out>/<experiment> instead of "
                                               "writing <experiment>-2"),
    force: bool = typer.Option(False, help="skip the resource estimate's limits"),
    checkpoint_every: int = typer.Option(1000, help="training steps between checkpoints"),
) -> None:
    """Train (what the store lacks), measure and plot one experiment; writes <out>/<experiment>/."""
    from ..experiments import get_experiment
    from ..experiments.base import parse_overrides
    from ..sweep.experiment import RunFailed, interrupted_runs, run_experiment
    from .progress import RichProgress

    exp = get_experiment(experiment)
    overrides = parse_overrides(set_)
    if seeds is not None:
        overrides["seeds"] = seeds
    if device is not None:
        overrides["device"] = device
    if workers is not None and workers < 1:
        raise ValueError(f"--workers must be >= 1, got {workers}")
    if checkpoint_every < 1:
        raise ValueError(f"--checkpoint-every must be >= 1, got {checkpoint_every}")
    exp.make_config(preset, overrides)  # validate before any work starts
    for stale in interrupted_runs(out, experiment):
        console.print(f"[yellow]note[/yellow]: {stale} is an interrupted run of {experiment}; "
                      "its finished runs are in the store and are reused")
    try:
        outcome = run_experiment(experiment, preset, out, overrides, workers=workers,
                                 progress=RichProgress(console), overwrite=overwrite,
                                 force=force, checkpoint_every=checkpoint_every)
    except RunFailed as err:
        fail(str(err), RUN_FAILED)
    console.print((outcome.path / "summary.md").read_text())
    if outcome.diverged:
        console.print(f"[red]{len(outcome.diverged)} of {outcome.runs} runs diverged[/red] "
                      "(listed in summary.md; their metrics are n/a)")
    console.print(f"[green]wrote[/green] {outcome.path}")
    if outcome.all_diverged:
        fail(f"every run diverged (e.g. lower 'lr'); results are in {outcome.path}", RUN_FAILED)
