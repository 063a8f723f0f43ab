"""`modlab sweep SPEC.yaml` and `modlab results DIR`."""
from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from .app import app
from .errors import RUN_FAILED, fail, one_line_errors, warnings_as_lines

console = Console()
EXECUTORS = ("local", "ray")


def make_executor(kind: str, address: str | None, workers: int | None):
    """local: a process pool (one torch thread per worker); ray: a Ray cluster."""
    if kind not in EXECUTORS:
        raise ValueError(f"--executor must be one of {', '.join(EXECUTORS)}, got {kind!r}")
    if address and kind != "ray":
        raise ValueError("--address needs --executor ray")
    if kind == "ray":
        from ..sweep.ray_executor import RayExecutor

        return RayExecutor(address)
    from ..sweep.execute import make_local_executor
    from ..sweep.executor import available_cores

    n = workers or available_cores()
    if n < 1:
        raise ValueError(f"--workers must be >= 1, got {n}")
    return make_local_executor(n)


@app.command("sweep")
@one_line_errors
def sweep(
    spec: Path = typer.Argument(..., help="sweep spec (YAML): experiment or base, grid, seeds"),
    index: int = typer.Option(None, help="train only run I (job arrays); see --dry-run"),
    dry_run: bool = typer.Option(False, "--dry-run", help="list the runs and what is done"),
    executor: str = typer.Option("local", help="local (process pool) or ray"),
    address: str = typer.Option(None, help="Ray head HOST:PORT, or auto (with --executor ray)"),
    workers: int = typer.Option(None, help="local worker processes (default: one per core)"),
    device: str = typer.Option("cpu", help="cpu, cuda or auto"),
    checkpoint_every: int = typer.Option(1000, help="training steps between checkpoints"),
    force: bool = typer.Option(False, help="skip the resource estimate's limits"),
) -> None:
    """Run a sweep: every run once (finished runs are skipped), resumable; then analyse."""
    from ..sweep.runsweep import run_sweep, status
    from ..sweep.spec import build, load_spec
    from ..train.runtime import resolve_device
    from .progress import RichProgress

    sw = build(load_spec(spec), spec)
    resolve_device(device)
    if checkpoint_every < 1:
        raise ValueError(f"--checkpoint-every must be >= 1, got {checkpoint_every}")
    if dry_run:
        rows = status(sw)
        table = Table("index", "run_id", "done", "labels", title=f"{sw.name}: {len(rows)} runs "
                      f"({sum(r['done'] for r in rows)} done) → {sw.out}")
        for r in rows:
            labels = {k: v for k, v in r.items() if k not in ("index", "run_id", "done")}
            table.add_row(str(r["index"]), r["run_id"], "yes" if r["done"] else "",
                          ", ".join(f"{k}={v}" for k, v in labels.items()))
        console.print(table)
        return
    ex = None if index is not None else make_executor(executor, address, workers)
    labels = {r.config.key(): r.labels for r in sw.runs}
    try:
        outcome = run_sweep(sw, index=index, executor=ex, device=device, force=force,
                            progress=RichProgress(console, labels),
                            checkpoint_every=checkpoint_every)
    finally:
        if ex is not None:
            ex.shutdown()
    r = outcome.report
    console.print(f"{sw.name}: {len(r.trained)} runs trained, {len(r.cached)} already done, "
                  f"{len(r.failed)} failed → {sw.out}")
    for p in outcome.points:
        console.print(f"  [green]wrote[/green] {p.path}")
    for slug in outcome.skipped:
        console.print(f"  [yellow]not analysed[/yellow] {slug} (some of its runs failed)")
    if not outcome.ok:
        for f in r.failed[:20]:
            console.print(f"[red]failed[/red] run {f.config.key()} {labels.get(f.config.key(), '')}:"
                          f" {f.error}")
        fail(f"{len(r.failed)} run(s) failed; rerun the same command to retry them", RUN_FAILED)


@app.command("results")
@one_line_errors
def results(
    directory: Path = typer.Argument(..., help="a run, sweep or store directory"),
    sql: str = typer.Option(None, "--sql", help="a DuckDB query over the views runs, history, "
                                                 "layers (and rows)"),
    as_csv: bool = typer.Option(False, "--csv", help="print CSV instead of a table"),
    limit: int = typer.Option(50, help="rows shown in the table (--sql output: all)"),
) -> None:
    """Summarise the finished runs under DIR, or answer a SQL query over them (one SELECT;
    the query sees the views and nothing else: no files, no writes, no extensions)."""
    from ..results import sql as run_sql
    from ..results.query import SkippedFile

    if limit < 0:
        raise ValueError(f"--limit must be >= 0 (rows shown), got {limit}")
    with warnings_as_lines(SkippedFile):
        frame = run_sql(directory, _SUMMARY if sql is None else sql)
    if sql is not None:
        limit = len(frame)
    if as_csv:
        typer.echo(frame.to_csv(index=False), nl=False)
        return
    table = Table(*map(str, frame.columns), title=None if sql else f"runs under {directory}")
    for row in frame.head(limit).itertuples(index=False):
        table.add_row(*(_cell(v) for v in row))
    console.print(table)
    if len(frame) > limit:
        console.print(f"… {len(frame) - limit} more rows (--limit, or --csv)")


_SUMMARY = """
SELECT task_name AS task, net_kind AS kind, count(*) AS runs,
       count(DISTINCT seed) AS seeds, sum(CAST(diverged AS INT)) AS diverged,
       median(optim_steps) AS steps, min(final_test_loss) AS best_test_loss,
       median(final_test_loss) AS median_test_loss, sum(wall_s / ensemble_members) AS train_s
FROM runs GROUP BY task_name, net_kind ORDER BY runs DESC
"""


def _cell(v) -> str:
    if isinstance(v, float):
        if v != v:
            return "–"
        return f"{v:.3g}" if (abs(v) >= 1e-2 or v == 0) and abs(v) < 1e5 else f"{v:.2e}"
    return str(v)
