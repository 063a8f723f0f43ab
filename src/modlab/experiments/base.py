"""Experiment registry: each paper figure is a named config, a plan (the training runs it
needs, each a `RunConfig` with labels), an analysis of the trained runs, and presets.

Training is not the experiment's business: `modlab.sweep.run_experiment` trains the planned
runs (packed into ensembles, resumable, cached in a results store) and hands them back.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..train.config import RunConfig


class ExperimentConfig(BaseModel):
    """Fields shared by every experiment; each experiment subclasses it."""

    model_config = ConfigDict(extra="forbid")

    seeds: int = Field(3, ge=1, le=1000, description="number of seeds per setting")
    seed0: int = Field(0, ge=0, description="first seed; seeds are seed0 … seed0+seeds−1")
    workers: int = Field(1, ge=1, description="worker processes for independent ensembles")
    device: str = Field("cpu", description="cpu, cuda or auto")

    def seed_list(self) -> list[int]:
        return list(range(self.seed0, self.seed0 + self.seeds))


@dataclass
class Context:
    """What an analysis gets besides its config and runs: where to write its files."""

    out: Path


@dataclass(frozen=True)
class Run:
    """One training run of a plan: its config and what the experiment calls it (labels such
    as setting and seed; JSON values)."""

    config: RunConfig
    labels: dict = field(default_factory=dict, hash=False, compare=False)


@dataclass
class Experiment:
    name: str
    title: str
    paper: str                                   # the figure it reproduces
    claim: str                                   # what the figure should show
    config: type[ExperimentConfig]
    plan: Callable[[Any], list[Run]]             # the runs to train (validates the config)
    analyze: Callable[[Any, list, Context], list[dict]]   # trained runs → rows (+ figures)
    presets: dict[str, dict] = field(default_factory=dict)
    summary_metrics: tuple[str, ...] = ("k_star", "gap_at_true_k", "test_loss")
    group_by: tuple[str, ...] = ("setting", "layer")

    def make_config(self, preset: str = "quick", overrides: dict[str, Any] | None = None) -> ExperimentConfig:
        if preset not in self.presets:
            raise ValueError(f"preset must be one of {sorted(self.presets)}, got {preset!r}")
        values = {**self.presets[preset], **(overrides or {})}
        unknown = [k for k in values if k not in self.config.model_fields]
        if unknown:
            raise ValueError(f"{self.name} has no field {unknown[0]!r}; "
                             f"allowed: {', '.join(self.config.model_fields)}")
        try:
            return self.config(**values)
        except ValidationError as err:
            e = err.errors()[0]
            loc = ".".join(str(p) for p in e["loc"])
            raise ValueError(f"invalid {loc!r} for {self.name}: {e['msg']}") from None


def check_settings(chosen, allowed) -> None:
    """A one-line error for unknown setting names (and for none at all)."""
    if not chosen:
        raise ValueError(f"invalid 'settings': give at least one of: {', '.join(allowed)}")
    unknown = [s for s in chosen if s not in allowed]
    if unknown:
        raise ValueError(f"invalid 'settings' value {unknown[0]!r}; allowed: {', '.join(allowed)}")


REGISTRY: dict[str, Experiment] = {}


def register(exp: Experiment) -> Experiment:
    if exp.name in REGISTRY:
        raise ValueError(f"experiment {exp.name!r} registered twice")
    REGISTRY[exp.name] = exp
    return exp


def get_experiment(name: str) -> Experiment:
    if name not in REGISTRY:
        raise ValueError(f"unknown experiment {name!r}; available: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


def parse_value(text: str) -> Any:
    """`--set key=value` values: JSON where it parses (numbers, lists, true), else the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise ValueError(f"--set expects key=value, got {pair!r}")
        key, value = pair.split("=", 1)
        out[key.strip()] = parse_value(value.strip())
    return out
