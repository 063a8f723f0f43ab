"""Sweep specs: a registered experiment (or a plain RunConfig base) and a grid, as YAML.

    name: wa-strength            # optional (default: the file's stem)
    experiment: fig4             # a registered experiment …
    preset: quick
    set: {steps: 5000}           # fixed overrides
    grid:                        # the product of these fields' values
      lam: [1.0e-4, 1.0e-3, 1.0e-2]
    zip:                         # these vary together (equal lengths), crossed with the grid
      n_train: [256, 1024]
      steps: [2000, 8000]
    seeds: 3                     # a count (seeds 0…n−1) or a list
    out: sweeps/wa-strength      # default: sweeps/<name>

    base: {net: {hidden: [64, 64]}, reg: {l2: 1.0e-4}}   # … or a plain RunConfig base
    grid: {reg.wa: [0.0, 1.0e-3]}                         # with dotted RunConfig paths

The sweep is the indexed list of its distinct runs (ordered by grid point, then plan order);
runs that can share an ensemble are packed when trained. Everything is validated before
anything runs: a bad field or value is a one-line ValueError.
"""
from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..train.config import RunConfig, with_overrides


class SweepSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    experiment: str | None = None
    preset: str = "quick"
    base: dict[str, Any] | None = None
    set: dict[str, Any] = Field(default_factory=dict)
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    zip: dict[str, list[Any]] = Field(default_factory=dict)
    seeds: int | list[int] | None = None
    out: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> SweepSpec:
        if (self.experiment is None) == (self.base is None):
            raise ValueError("give exactly one of 'experiment' (a registered experiment) and "
                             "'base' (a RunConfig)")
        lengths = {k: len(v) for k, v in self.zip.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"'zip' fields must have equal lengths, got {lengths}")
        empty = [k for k, v in {**self.grid, **self.zip}.items() if not v]
        if empty:
            raise ValueError(f"grid field {empty[0]!r} has no values")
        both = set(self.grid) & set(self.zip)
        if both:
            raise ValueError(f"field {sorted(both)[0]!r} is in both 'grid' and 'zip'")
        if isinstance(self.seeds, int) and self.seeds < 1:
            raise ValueError(f"'seeds' must be >= 1, got {self.seeds}")
        return self

    def points(self) -> list[dict[str, Any]]:
        """The grid points: product over `grid`, crossed with the zipped `zip` fields."""
        keys = list(self.grid)
        product = [dict(zip(keys, values, strict=True))
                   for values in itertools.product(*(self.grid[k] for k in keys))]
        n = len(next(iter(self.zip.values()))) if self.zip else 1
        zipped = [{k: v[i] for k, v in self.zip.items()} for i in range(n)]
        return [{**p, **z} for p in product for z in zipped]

    def seed_list(self) -> list[int] | None:
        if self.seeds is None:
            return None
        return list(range(self.seeds)) if isinstance(self.seeds, int) else list(self.seeds)


@dataclass
class Point:
    """One grid point: its overrides, and for an experiment its config and planned runs."""

    overrides: dict[str, Any]
    runs: list = field(default_factory=list)      # experiments.base.Run
    config: Any = None                            # the experiment's config, if any

    @property
    def slug(self) -> str:
        if not self.overrides:
            return "default"
        text = ",".join(f"{k}={json.dumps(v)}" for k, v in self.overrides.items())
        return "".join(c if c.isalnum() or c in "=,.-_" else "_" for c in text)[:150]


@dataclass
class Sweep:
    spec: SweepSpec
    name: str
    out: Path
    points: list[Point]
    experiment: Any = None

    @property
    def runs(self) -> list:
        """The distinct runs, indexed: first occurrence wins (grid point, then plan order)."""
        seen: dict[str, Any] = {}
        for p in self.points:
            for r in p.runs:
                seen.setdefault(r.config.key(), r)
        return list(seen.values())


def _one_line(err: ValidationError, where: str) -> ValueError:
    e = err.errors()[0]
    loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
    return ValueError(f"{where}: invalid {loc!r} (value {e.get('input')!r}): {e['msg']}")


def load_spec(path: str | Path) -> SweepSpec:
    import yaml

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such sweep spec: {path}")
    if path.is_dir():
        raise ValueError(f"{path} is a directory, not a sweep spec (YAML)")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not a UTF-8 text file") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ValueError(f"{path} is not valid YAML{where}: "
                         f"{getattr(err, 'problem', None) or err}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a mapping (experiment/base, grid, …), got "
                         f"{type(data).__name__}")
    try:
        return SweepSpec.model_validate(data)
    except ValidationError as err:
        raise _one_line(err, str(path)) from None


def build(spec: SweepSpec, path: str | Path | None = None) -> Sweep:
    """Resolve a spec into its points and runs (validating every config)."""
    from .resources import MAX_RUNS

    name = spec.name or (Path(path).stem if path else "sweep")
    out = Path(spec.out) if spec.out else Path("sweeps") / name
    size = len(spec.points()) * len(spec.seed_list() or [0])
    if size > MAX_RUNS:
        raise ValueError(f"the grid has {size:,} points × seeds (limit {MAX_RUNS:,}): shrink "
                         "'grid', 'zip' or 'seeds'")
    if spec.experiment is not None:
        return _experiment_sweep(spec, name, out)
    return _base_sweep(spec, name, out)


def _experiment_sweep(spec: SweepSpec, name: str, out: Path) -> Sweep:
    from ..experiments import get_experiment
    from .experiment import plan_runs

    exp = get_experiment(spec.experiment)
    points = []
    for overrides in spec.points():
        values = {**spec.set, **overrides}
        seeds = spec.seed_list()
        if seeds is not None:
            values.setdefault("seeds", len(seeds))
            values.setdefault("seed0", seeds[0])
        cfg = exp.make_config(spec.preset, values)
        points.append(Point(overrides, plan_runs(exp, cfg), cfg))
    return Sweep(spec, name, out, points, exp)


def _base_sweep(spec: SweepSpec, name: str, out: Path) -> Sweep:
    from ..experiments.base import Run

    try:
        base = RunConfig.model_validate(spec.base)
    except ValidationError as err:
        raise _one_line(err, "base") from None
    seeds = spec.seed_list() or [base.seed]
    points = []
    for overrides in spec.points():
        runs = []
        for s in seeds:
            try:
                cfg = with_overrides(base, {**spec.set, **overrides, "seed": s})
            except ValidationError as err:
                raise _one_line(err, "grid") from None
            runs.append(Run(cfg, {**overrides, "seed": s}))
        points.append(Point(overrides, runs))
    return Sweep(spec, name, out, points)
