"""Run a registered experiment end to end: config → training → results.parquet, summary.md."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from .base import Context, get_experiment
from .results import atomic_write_text, summary_table, write_parquet


def run_experiment(name: str, preset: str = "quick", out: str | Path = "runs",
                   overrides: dict[str, Any] | None = None, progress=None) -> Path:
    """Returns the output directory <out>/<name>, holding results.parquet, summary.md,
    config.json, figures and checkpoints."""
    exp = get_experiment(name)
    cfg = exp.make_config(preset, overrides)
    out_dir = Path(out) / name
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / "config.json", json.dumps(
        {"experiment": name, "preset": preset, "config": cfg.model_dump()}, indent=1))
    start = time.perf_counter()
    rows = exp.run(cfg, Context(out=out_dir, progress=progress))
    wall = time.perf_counter() - start
    write_parquet(rows, out_dir / "results.parquet")
    table = summary_table(rows, exp.group_by, exp.summary_metrics)
    atomic_write_text(out_dir / "summary.md", (
        f"# {name}: {exp.title}\n\n{exp.paper}. Claim: {exp.claim}.\n\n"
        f"Preset `{preset}`, {cfg.seeds} seeds, wall time {wall:.0f} s. Mean ± sd over seeds.\n\n"
        f"{table}"))
    return out_dir
