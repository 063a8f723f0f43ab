"""The packaged results (results/paper/<name>/) as the table code reads them, and the number
formats the docs use."""
from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "results" / "paper"


@dataclass
class Package:
    """One experiment's packaged data."""

    name: str
    path: Path

    @cached_property
    def rows(self) -> pd.DataFrame:
        """The analysis rows (results.parquet)."""
        return pd.read_parquet(self.path / "results.parquet")

    @cached_property
    def records(self) -> pd.DataFrame:
        """The run records (one per trained run: config columns, curves, measures)."""
        return pd.read_parquet(self.path / "store" / "runs" / "records.parquet")

    @cached_property
    def manifest(self) -> dict:
        return json.loads((self.path / "manifest.json").read_text())

    @cached_property
    def config(self) -> dict:
        return json.loads((self.path / "config.json").read_text())["config"]

    def file(self, name: str) -> Path:
        return self.path / name

    def source(self, link: str) -> str:
        """The line under a generated table: where its numbers come from (`link`: the package
        directory relative to the doc)."""
        m = self.manifest
        wall = m.get("wall_s")
        took = f", {wall / 60:.0f} min wall" if wall and wall >= 120 else (
            f", {wall:.0f} s wall" if wall else "")
        return (f"*Data: [`results/paper/{self.name}`]({link}): "
                f"`{m['command'].split(' --out')[0]}`, {m['label']} preset, modlab "
                f"{str(m['commit'])[:7]}, {m['runs']} runs{took}.*")


def packages(root: Path = RESULTS) -> dict[str, Package]:
    """Every packaged experiment under `root`, by name."""
    if not root.exists():
        return {}
    return {p.name: Package(p.name, p) for p in sorted(root.iterdir())
            if (p / "manifest.json").exists()}


# -- number formats --------------------------------------------------------------------------

def finite(values) -> np.ndarray:
    vals = np.asarray([v for v in values if v is not None], dtype=float)
    return vals[np.isfinite(vals)]


def sci(x: float, digits: int = 1) -> str:
    """1.7e-4 (no padded exponent)."""
    if x is None or not np.isfinite(x):
        return "n/a"
    if x == 0:
        return "0"
    mant, exp = f"{x:.{digits}e}".split("e")
    return f"{mant}e{int(exp)}"


def fixed(x: float, digits: int = 2) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def pm(values, digits: int = 2) -> str:
    """Mean ± sd (ddof 1) over seeds, fixed point."""
    vals = finite(values)
    if not len(vals):
        return "n/a"
    if len(vals) == 1:
        return fixed(vals[0], digits)
    return f"{vals.mean():.{digits}f} ± {vals.std(ddof=1):.{digits}f}"


def sci_pm(values, digits: int = 1) -> str:
    """Mean ± sd in the mean's exponent: 1.3e-4 ± 0.4e-4."""
    vals = finite(values)
    if not len(vals):
        return "n/a"
    mean = vals.mean()
    if len(vals) == 1 or mean == 0:
        return sci(mean, digits)
    exp = math.floor(math.log10(abs(mean)))
    mant = round(mean / 10 ** exp, digits)
    if abs(mant) >= 10:
        exp, mant = exp + 1, round(mean / 10 ** (exp + 1), digits)
    sd = vals.std(ddof=1) / 10 ** exp
    return f"{mant:.{digits}f}e{exp} ± {sd:.{digits}f}e{exp}"


def mean(values) -> float:
    vals = finite(values)
    return float(vals.mean()) if len(vals) else float("nan")


def counts(values) -> str:
    """A discrete value over seeds: "4 (5/5)", or "4 in 3/5, 1 in 2/5"."""
    vals = [int(v) for v in finite(values)]
    if not vals:
        return "n/a"
    tally = Counter(vals).most_common()
    if len(tally) == 1:
        return f"{tally[0][0]} ({len(vals)}/{len(vals)})"
    return ", ".join(f"{v} in {c}/{len(vals)}" for v, c in tally)


def fraction(flags) -> str:
    """Booleans over seeds: "3/5"."""
    vals = [bool(v) for v in flags if v is not None and not (isinstance(v, float)
                                                              and math.isnan(v))]
    return f"{sum(vals)}/{len(vals)}"


def ratio(x: float) -> str:
    """A ratio: 1.7×, 45×, 1,151×."""
    if x is None or not np.isfinite(x):
        return "n/a"
    return f"{x:.1f}×" if x < 10 else f"{x:,.0f}×"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def ordered(frame: pd.DataFrame, column: str) -> list:
    """The values of `column` in the order they first appear (the experiment's own order)."""
    return list(dict.fromkeys(frame[column].tolist()))


def pm_sig(values, sig: int = 3) -> str:
    """Mean ± sd with the mean to `sig` significant digits: 29.5 ± 0.7, 0.112 ± 0.001."""
    vals = finite(values)
    if not len(vals):
        return "n/a"
    m = vals.mean()
    digits = max(sig - 1 - math.floor(math.log10(abs(m))), 0) if m else sig
    return pm(vals, digits) if len(vals) > 1 else fixed(m, digits)


def sig(x: float, digits: int = 2) -> str:
    """A positive number to `digits` significant digits, fixed point: 0.83, 0.025."""
    if x is None or not np.isfinite(x):
        return "n/a"
    if x == 0:
        return "0"
    places = max(digits - 1 - math.floor(math.log10(abs(x))), 0)
    return f"{x:.{places}f}"


def mode_count(values) -> str:
    """A discrete value over seeds, compactly: its most common value and share, "4 (3/5)"."""
    vals = [int(v) for v in finite(values)]
    if not vals:
        return "n/a"
    value, count = Counter(vals).most_common(1)[0]
    return f"{value} ({count}/{len(vals)})"
