"""Configuration of one training run (one ensemble member)."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class TaskConfig(Strict):
    name: str = "modular"
    params: dict[str, Any] = Field(default_factory=dict)


class NetConfig(Strict):
    hidden: list[int] = Field(default_factory=lambda: [32, 32, 32])
    activation: Literal["leaky_relu", "relu", "tanh", "sigmoid", "identity"] = "leaky_relu"
    bias: bool = True
    dropout: float = Field(0.0, ge=0.0, lt=1.0)


class NoiseConfig(Strict):
    sigma: float = Field(0.0, ge=0.0)
    alpha: float = Field(2.0, ge=0.0)
    site: Literal["pre", "post"] = "pre"
    eps: float = Field(1e-3, gt=0.0)


class RegConfig(Strict):
    """Coefficients of the regularisers (0 = off). The paper presets set l2 = 1e-4 explicitly:
    the authors' code adds it to every run."""

    wa: float = Field(0.0, ge=0.0)
    wa_alpha: float = Field(2.0, gt=0.0)
    activity: float = Field(0.0, ge=0.0)
    activity_alpha: float = Field(2.0, gt=0.0)
    l1: float = Field(0.0, ge=0.0)
    l2: float = Field(0.0, ge=0.0)
    l12: float = Field(0.0, ge=0.0)
    l21: float = Field(0.0, ge=0.0)


class OptimConfig(Strict):
    steps: int = Field(50_000, ge=0)
    batch_size: int = Field(200, ge=1)
    lr: float = Field(1e-3, gt=0.0)
    optimizer: Literal["adam", "adamw"] = "adam"
    weight_decay: float = Field(0.0, ge=0.0)
    eval_every: int = Field(500, ge=1)


class RunConfig(Strict):
    """Everything that determines one trained network; same config ⇒ same bits."""

    task: TaskConfig = Field(default_factory=TaskConfig)
    net: NetConfig = Field(default_factory=NetConfig)
    noise: NoiseConfig = Field(default_factory=NoiseConfig)
    reg: RegConfig = Field(default_factory=RegConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    seed: int = 0


# Fields that may differ between members of one ensemble: everything else must match.
PER_MEMBER_FIELDS = ("seed", "task", "noise.sigma", "noise.alpha", "reg")


def _flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and k != "params":
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def shared_part(cfg: RunConfig) -> dict[str, Any]:
    flat = _flatten(cfg.model_dump())
    return {k: v for k, v in flat.items()
            if not any(k == f or k.startswith(f + ".") for f in PER_MEMBER_FIELDS)}


def check_batchable(configs: list[RunConfig]) -> None:
    """Raise a one-line ValueError naming the first field that differs between members."""
    if not configs:
        raise ValueError("an ensemble needs at least one member config")
    ref = shared_part(configs[0])
    for i, cfg in enumerate(configs[1:], 1):
        for key, value in shared_part(cfg).items():
            if ref[key] != value:
                raise ValueError(f"members 0 and {i} differ in {key!r} ({ref[key]!r} vs {value!r}); "
                                 f"only {', '.join(PER_MEMBER_FIELDS)} may differ within an ensemble")
