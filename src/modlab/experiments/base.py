"""Experiment registry: each paper figure is a named config + run function + presets."""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class ExperimentConfig(BaseModel):
    """Fields shared by every experiment; each experiment subclasses it."""

    model_config = ConfigDict(extra="forbid")

    seeds: int = Field(3, ge=1, description="number of seeds per setting")
    seed0: int = Field(0, ge=0, description="first seed; seeds are seed0 … seed0+seeds−1")
    workers: int = Field(1, ge=1, description="worker processes for independent ensembles")
    device: str = Field("cpu", description="cpu, cuda or auto")

    def seed_list(self) -> list[int]:
        return list(range(self.seed0, self.seed0 + self.seeds))


@dataclass
class Context:
    """What a run function gets besides its config: where to write, how to report progress."""

    out: Path
    progress: Callable[[str, int], Callable[[int], None]] | None = None  # (label, total) → advance(to)


@dataclass
class Experiment:
    name: str
    title: str
    paper: str                                   # the figure it reproduces
    claim: str                                   # what the figure should show
    config: type[ExperimentConfig]
    run: Callable[[Any, Context], list[dict]]    # trains, plots, returns result rows
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
