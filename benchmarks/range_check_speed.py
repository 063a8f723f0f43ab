"""`range_margin` at scale: wall time and peak memory, each case in a fresh process.

    .venv/bin/python benchmarks/range_check_speed.py            # the four cases (~1 min)
    .venv/bin/python benchmarks/range_check_speed.py --csv      # + `modlab range-check` on a CSV

Cases: i.i.d. uniform sources on a box (range-independent: a modular population, whose sample
margin is slightly negative) at 100,000 × 10 and 1,000,000 × 3, and the same boxes cut to the
band |s1 + s2| ≤ 1.2 (a mixed population: every shuffled copy of the finite-sample rule runs,
the worst case for time). Peak memory is what numpy and Python allocate during the call
(tracemalloc), against the data's own size; max RSS includes the interpreter and its
libraries. No machine is idle here, so the load average is printed before and after; on a
busy machine wall time exceeds CPU time.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

CASES = [("uniform", 100_000, 10), ("uniform", 1_000_000, 3),
         ("band", 100_000, 10), ("band", 1_000_000, 3)]


def make(kind: str, rows: int, n: int, seed: int = 0) -> np.ndarray:
    s = np.random.default_rng(seed).uniform(-1, 1, (rows, n))
    return s[np.abs(s[:, 0] + s[:, 1]) <= 1.2] if kind == "band" else s


def measure(kind: str, rows: int, n: int) -> dict:
    from modlab.metrics.range_condition import range_margin

    s = make(kind, rows, n)
    range_margin(s[:1000])                       # imports and first-call costs, not timed
    tracemalloc.start()
    wall, cpu = time.perf_counter(), time.process_time()
    check = range_margin(s)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"case": f"{kind} {len(s):,} × {n}", "wall_s": wall, "cpu_s": cpu,
            "peak_mb": peak / 2**20, "data_mb": s.nbytes / 2**20,
            "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "margin": check.margin, "verdict": check.verdict, "method": check.method,
            "copies": len(check.details["null_margins"]), "kept": check.n_kept}


def measure_csv(rows: int, n: int) -> dict:
    """`modlab range-check` end to end on a CSV (reading included, plot off), in-process."""
    from typer.testing import CliRunner

    from modlab.cli import app

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.csv"
        s = make("uniform", rows, n)
        header = ",".join(f"s{i}" for i in range(n))
        np.savetxt(path, s, delimiter=",", header=header, comments="", fmt="%.9g")
        wall = time.perf_counter()
        result = CliRunner().invoke(app, ["range-check", str(path), "--no-plot", "--json"])
        wall = time.perf_counter() - wall
    out = json.loads(result.output)
    return {"case": f"CLI csv {rows:,} × {n}", "wall_s": wall, "cpu_s": float("nan"),
            "peak_mb": float("nan"), "data_mb": s.nbytes / 2**20,
            "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "margin": out["margin"], "verdict": out["verdict"], "method": out["method"],
            "copies": len(out["null_margins"]), "kept": out["n_kept"]}


def run_child(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--csv-case", help=argparse.SUPPRESS)
    parser.add_argument("--csv", action="store_true", help="also time the CLI on a CSV")
    opts = parser.parse_args()
    if opts.case or opts.csv_case:
        kind, rows, n = (opts.case or f"csv,{opts.csv_case}").split(",")
        res = measure_csv(int(rows), int(n)) if kind == "csv" else measure(kind, int(rows), int(n))
        print(json.dumps(res))
        return
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"({os.cpu_count()} cores)")
    jobs = [["--case", f"{k},{r},{n}"] for k, r, n in CASES]
    if opts.csv:
        jobs += [["--csv-case", "1000000,3"]]
    print(f"{'case':26s} {'wall s':>7s} {'cpu s':>7s} {'peak MB':>8s} {'data MB':>8s} "
          f"{'RSS MB':>7s}  verdict  (margin, method, copies, kept rows)")
    for job in jobs:
        r = run_child(job)
        print(f"{r['case']:26s} {r['wall_s']:7.2f} {r['cpu_s']:7.2f} {r['peak_mb']:8.1f} "
              f"{r['data_mb']:8.1f} {r['max_rss_mb']:7.0f}  {r['verdict']:8s} "
              f"({r['margin']:.3g}, {r['method']}, {r['copies']}, {r['kept']})", flush=True)
    print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
