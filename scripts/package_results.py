"""Copy finished run directories into the versioned results directory (default results/paper).

    python scripts/package_results.py RUN_DIR [RUN_DIR ...] [--manifest-dir DIR]
                                      [--reason TEXT] [--dest results/paper]

Per experiment, `<dest>/<name>/` receives the run directory's files (results.parquet,
runs.json, summary.md, config.json, the figures in 256 colours, any other top-level file; never
checkpoints/), the store rows of its runs in one Parquet file `store/runs/records.parquet`
(config, curves, measures, plus an `experiment` column; no parameters) and `manifest.json`
(commit, command, overrides, machine, wall and CPU time, date). `<name>` is the experiment for
its paper preset as registered, `<experiment>-reduced` for a paper preset with overrides,
`<experiment>-<preset>` otherwise. The new directory is built beside the old one and swapped
in with two renames, so a reader never sees a mixture. Replacing data that are already there
needs `--reason`, which the manifest keeps with the replaced run's commit and date in
`history` (the rule: results/paper/README.md).
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import re
import shutil
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from docgen.pngs import compress_png

ROOT = Path(__file__).resolve().parents[1]
RECORDS = Path("store") / "runs" / "records.parquet"


class PackError(ValueError):
    """Bad input: reported as one line, exit code 2."""


def package_name(config: dict) -> str:
    """Where a run goes: the experiment's name for its paper preset as registered, else
    labelled as reduced (paper preset with overrides) or by its preset."""
    exp, preset = config["experiment"], config["preset"]
    if preset == "paper":
        return exp if not config.get("overrides") else f"{exp}-reduced"
    return f"{exp}-{preset}"


def label(config: dict) -> str:
    if config["preset"] == "paper":
        return "paper" if not config.get("overrides") else "reduced"
    return config["preset"]


def read_records(store: Path, run_ids: list[str], experiment: str) -> pa.Table:
    """The store rows of `run_ids`, one table (columns unified by name), tagged by experiment."""
    missing = [k for k in run_ids if not (store / "runs" / f"{k}.parquet").exists()]
    if missing:
        raise PackError(f"store {store} lacks {len(missing)} of the experiment's runs "
                        f"(e.g. {missing[0]}); give the store with --store")
    unique = list(dict.fromkeys(run_ids))
    tables = [pq.read_table(store / "runs" / f"{k}.parquet") for k in unique]
    table = pa.concat_tables(tables, promote_options="permissive")
    return table.append_column("experiment", pa.array([experiment] * table.num_rows))


def command_of(config: dict) -> str:
    sets = " ".join(f"--set '{k}={json.dumps(v)}'" for k, v in config.get("overrides", {}).items())
    return f"modlab run {config['experiment']} --preset {config['preset']} {sets}".strip()


def manifest_for(run_dir: Path, config: dict, records: pa.Table, queue: dict | None,
                 commit: str | None) -> dict:
    """What produced the data: the run queue's record when there is one, else what the run
    directory itself says (the commit must then be given)."""
    if queue is None and commit is None:
        raise PackError(f"{run_dir}: no run record (manifest-{config['experiment']}.json in "
                        "--manifest-dir); give --manifest-dir or --commit SHA")
    env = json.loads(records.column("env")[0].as_py()) if records.num_rows else {}
    wall = re.search(r"wall time (\d+) s", (run_dir / "summary.md").read_text())
    out = {
        "experiment": config["experiment"], "preset": config["preset"], "label": label(config),
        "overrides": config.get("overrides", {}), "commit": commit,
        "command": command_of(config), "started_utc": None,
        "wall_s": float(wall.group(1)) if wall else None,
        "cpu_s": round(sum(records.column("cpu_s").to_pylist()), 1),
        "machine": {"cpu": env.get("cpu"), "torch": env.get("torch"), "modlab": env.get("modlab")},
    }
    if queue is not None:
        if queue.get("rc", 0) != 0:
            raise PackError(f"{run_dir}: the run record says it exited with {queue['rc']}")
        out |= {k: queue[k] for k in ("commit", "command", "started_utc", "wall_s", "cpu_s",
                                      "load_before", "load_after", "machine") if k in queue}
        out["overrides"] = queue.get("overrides") or out["overrides"]
    out["runs"] = records.num_rows
    return out


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build(run_dir: Path, staging: Path, store: Path, queue: dict | None,
          commit: str | None) -> dict:
    """Write the package of `run_dir` into `staging`; returns its manifest (without history)."""
    config = json.loads((run_dir / "config.json").read_text())
    run_ids = [r["run_id"] for r in json.loads((run_dir / "runs.json").read_text())]
    records = read_records(store, run_ids, config["experiment"])
    staging.mkdir(parents=True)
    for path in sorted(run_dir.iterdir()):
        if path.is_file() and not path.name.startswith("."):
            if path.suffix == ".png":
                compress_png(path, staging / path.name)
            else:
                shutil.copy2(path, staging / path.name)
    (staging / RECORDS).parent.mkdir(parents=True)
    pq.write_table(records, staging / RECORDS, compression="zstd", compression_level=9)
    manifest = manifest_for(run_dir, config, records, queue, commit)
    manifest["files"] = {p.relative_to(staging).as_posix(): sha256(p)
                         for p in sorted(staging.rglob("*")) if p.is_file()}
    return manifest


def package(run_dir: Path, dest: Path, *, store: Path | None = None, queue: dict | None = None,
            commit: str | None = None, reason: str | None = None, now: str | None = None) -> Path:
    """Copy one finished run directory into `dest`, replacing that experiment's old package."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.json").exists():
        raise PackError(f"{run_dir} is not a finished run directory (no config.json)")
    config = json.loads((run_dir / "config.json").read_text())
    target = dest / package_name(config)
    old = json.loads((target / "manifest.json").read_text()) if target.exists() else None
    if old is not None and not reason:
        raise PackError(f"{target} already holds data ({old.get('started_utc')}, commit "
                        f"{str(old.get('commit'))[:7]}); replacing it needs --reason")
    staging = dest / f".{target.name}.staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        manifest = build(run_dir, staging, Path(store or run_dir.parent / "store"), queue, commit)
        history = (old or {}).get("history", [])
        if old is not None:
            history = [*history, {k: old.get(k) for k in ("commit", "started_utc", "packaged_utc")}]
        manifest |= {"packaged_utc": now or datetime.datetime.now(datetime.UTC)
                     .strftime("%Y-%m-%dT%H:%M:%SZ"), "reason": reason or "first packaged",
                     "history": history}
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
        swap_in(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def swap_in(staging: Path, target: Path) -> None:
    if target.exists():
        trash = target.with_name(f".{target.name}.replaced-{os.getpid()}")
        os.replace(target, trash)
        os.replace(staging, target)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(staging, target)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run_dirs", nargs="+", type=Path, help="finished run directories")
    p.add_argument("--dest", type=Path, default=ROOT / "results" / "paper")
    p.add_argument("--store", type=Path, help="the runs' store (default: RUN_DIR/../store)")
    p.add_argument("--manifest-dir", type=Path,
                   help="directory holding manifest-<experiment>.json run records")
    p.add_argument("--commit", help="modlab commit of runs without a run record")
    p.add_argument("--reason", help="why existing data are replaced (required to replace)")
    args = p.parse_args(argv)
    try:
        for run_dir in args.run_dirs:
            name = json.loads((run_dir / "config.json").read_text())["experiment"] \
                if (run_dir / "config.json").exists() else run_dir.name
            record = args.manifest_dir / f"manifest-{name}.json" if args.manifest_dir else None
            queue = json.loads(record.read_text()) if record and record.exists() else None
            args.dest.mkdir(parents=True, exist_ok=True)
            target = package(run_dir, args.dest, store=args.store, queue=queue,
                             commit=args.commit, reason=args.reason)
            size = sum(f.stat().st_size for f in target.rglob("*") if f.is_file())
            print(f"{run_dir} -> {target} ({size / 1e6:.2f} MB)")
    except (PackError, OSError, json.JSONDecodeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
