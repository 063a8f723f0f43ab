"""Configuration of one training run (one ensemble member): same config ⇒ same bits.

`RunConfig.net` is a union discriminated by `net.kind` ("mlp", "modular", "autoencoder",
"rnn", ...). The union is open: a model kind registers its config class here (through
`train.kinds.register_model`) and `RunConfig` validates `net` by looking `kind` up.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, ValidationInfo, field_validator


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class TaskConfig(Strict):
    name: str = "modular"
    params: dict[str, Any] = Field(default_factory=dict)


class ModelConfig(Strict):
    """Base of every model kind's config; `kind` selects the factory (train/kinds)."""

    kind: str

    def check_task(self, task: TaskConfig) -> None:
        """Raise a one-line ValueError where this model cannot run `task` as configured
        (e.g. an RNN's α = dt/τ against the task's dt)."""


MODEL_CONFIGS: dict[str, type[ModelConfig]] = {}


def register_model_config(cls: type[ModelConfig]) -> type[ModelConfig]:
    kind = cls.model_fields["kind"].default
    if not isinstance(kind, str):
        raise ValueError(f"{cls.__name__}.kind needs a string default (the kind's name)")
    MODEL_CONFIGS[kind] = cls
    return cls


@register_model_config
class MLPConfig(ModelConfig):
    """The noise-modularity MLP (spec 1): n → hidden… → n, activation on hidden layers."""

    kind: Literal["mlp"] = "mlp"
    hidden: list[int] = Field(default_factory=lambda: [32, 32, 32])
    activation: Literal["leaky_relu", "relu", "tanh", "sigmoid", "identity"] = "leaky_relu"
    bias: bool = True
    dropout: float = Field(0.0, ge=0.0, lt=1.0)


@register_model_config
class ModularConfig(ModelConfig):
    """The compositional-generalisation architectures (Figs. 8, 9, 11; `nn.modular`)."""

    kind: Literal["modular"] = "modular"
    arch: Literal["modular", "fc", "bottleneck", "fc_matched"] = "modular"
    block_widths: list[int] = Field(default_factory=lambda: [64, 1], min_length=1)
    head_widths: list[int] = Field(default_factory=lambda: [128])
    activation: Literal["prelu", "leaky_relu", "relu", "tanh", "sigmoid", "identity"] = "prelu"


@register_model_config
class AutoencoderConfig(ModelConfig):
    """The biologically constrained autoencoders of spec 3 (linear, or the ReLU MLP)."""

    kind: Literal["autoencoder"] = "autoencoder"
    form: Literal["linear", "mlp"] = "linear"
    latents: int = Field(6, ge=1, description="latent units of the linear autoencoder")
    widths: list[int] = Field(default_factory=lambda: [16, 16, 6],
                              description="MLP encoder widths after the input (last = latents)")
    activation: Literal["relu", "leaky_relu", "tanh"] = "relu"
    nonneg: Literal["penalty", "bias"] = "penalty"


class NoiseConfig(Strict):
    sigma: float = Field(0.0, ge=0.0)
    alpha: float = Field(2.0, ge=0.0)
    site: Literal["pre", "post"] = "pre"
    eps: float = Field(1e-3, gt=0.0)


class RegConfig(Strict):
    """Coefficients of the regularisers (0 = off), one value per member.

    The paper presets set l2 = 1e-4 explicitly: the authors' code adds it to every run.
    `wiring` is BIMT's connection cost Σ|W|·(A·d + l₀) (spec 2) with A = `wiring_locality`,
    l₀ = `wiring_l0`; A = 0 makes it plain L1 scaled by l₀. Swaps (every `swap_every`
    steps, 0 = never) move neurons to lower Σ|W|·d. `schedule` multiplies every coefficient
    piecewise-constantly: [(fraction, factor), …] sorted by fraction; before the first
    fraction the factor is 1 (the BIMT code: [(0.25, 10), (0.75, 1)]).
    """

    wa: float = Field(0.0, ge=0.0)
    wa_alpha: float = Field(2.0, gt=0.0)
    activity: float = Field(0.0, ge=0.0)
    activity_alpha: float = Field(2.0, gt=0.0)
    l1: float = Field(0.0, ge=0.0)
    l2: float = Field(0.0, ge=0.0)
    l12: float = Field(0.0, ge=0.0)
    l21: float = Field(0.0, ge=0.0)
    nonneg: float = Field(0.0, ge=0.0, description="⟨Σ relu(−z)⟩ on autoencoder latents")
    wiring: float = Field(0.0, ge=0.0, description="λ of BIMT's connection cost")
    wiring_locality: float = Field(0.0, ge=0.0, description="A: distance weight of the cost")
    wiring_l0: float = Field(1.0, ge=0.0, description="l₀: per-connection constant of the cost")
    swap_every: int = Field(0, ge=0, description="BIMT neuron swaps every this many steps")
    swap_top_k: int = Field(30, ge=1, description="neurons that try a swap each time")
    schedule: list[tuple[float, float]] = Field(default_factory=list)

    @field_validator("schedule")
    @classmethod
    def _sorted(cls, v: list[tuple[float, float]]) -> list[tuple[float, float]]:
        fractions = [f for f, _ in v]
        if fractions != sorted(fractions) or any(not 0 <= f <= 1 for f in fractions):
            raise ValueError(f"schedule fractions must be sorted and in [0, 1], got {fractions}")
        if any(m < 0 for _, m in v):
            raise ValueError("schedule factors must be >= 0")
        return v

    def factor_at(self, step: int, steps: int) -> float:
        """The schedule's multiplier in force at `step` (1-based) of `steps`."""
        factor = 1.0
        for fraction, value in self.schedule:
            if step > int(fraction * steps):
                factor = value
        return factor


class OptimConfig(Strict):
    steps: int = Field(50_000, ge=0)
    batch_size: int = Field(200, ge=1)
    lr: float = Field(1e-3, gt=0.0)
    optimizer: Literal["adam", "adamw"] = "adam"
    weight_decay: float = Field(0.0, ge=0.0)
    eval_every: int = Field(500, ge=1)
    eval_train: bool = Field(False, description="also log the loss on the whole training set")
    clip: float = Field(0.0, ge=0.0, description="clamp each gradient value to ±clip before "
                        "the update (Yang 2019: 1; 0 = off)")
    warmup: int = Field(0, ge=0, description="ramp the learning rate linearly over this many "
                        "first steps (0 = off)")
    stop_accuracy: float = Field(0.0, ge=0, le=1, description="stop a member once every task "
                                 "of its test set reaches this accuracy (kinds that measure "
                                 "accuracy; 0 = never)")


class RunConfig(Strict):
    """Everything that determines one trained network; same config ⇒ same bits."""

    task: TaskConfig = Field(default_factory=TaskConfig)
    net: SerializeAsAny[ModelConfig] = Field(default_factory=MLPConfig)
    noise: NoiseConfig = Field(default_factory=NoiseConfig)
    reg: RegConfig = Field(default_factory=RegConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    seed: int = 0

    @field_validator("net", mode="before")
    @classmethod
    def _by_kind(cls, value: Any) -> Any:
        if isinstance(value, ModelConfig):
            return value
        if isinstance(value, dict):
            kind = value.get("kind", "mlp")
            if kind not in MODEL_CONFIGS:
                raise ValueError(f"unknown net.kind {kind!r}; allowed: {', '.join(MODEL_CONFIGS)}")
            return MODEL_CONFIGS[kind].model_validate({**value, "kind": kind})
        return value

    @field_validator("net")
    @classmethod
    def _fits_task(cls, value: ModelConfig, info: ValidationInfo) -> ModelConfig:
        if isinstance(info.data.get("task"), TaskConfig):
            value.check_task(info.data["task"])
        return value

    def key(self) -> str:
        """Content hash of the resolved config: the results store's key for this run."""
        return config_hash(self)


def canonical_json(cfg: BaseModel) -> str:
    """The config as canonical JSON of its non-default values (net.kind always included):
    a field added later with a default leaves every existing key unchanged."""
    data = cfg.model_dump(mode="json", exclude_defaults=True)
    if isinstance(cfg, RunConfig):
        data.setdefault("net", {})["kind"] = cfg.net.kind
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def config_hash(cfg: BaseModel) -> str:
    return hashlib.sha256(canonical_json(cfg).encode()).hexdigest()[:16]


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


def flat_config(cfg: RunConfig) -> dict[str, Any]:
    """Dotted-path → value for every field (task params kept as one dict)."""
    return _flatten(cfg.model_dump(mode="json"))


def shared_part(cfg: RunConfig) -> dict[str, Any]:
    return {k: v for k, v in flat_config(cfg).items()
            if not any(k == f or k.startswith(f + ".") for f in PER_MEMBER_FIELDS)}


def batch_key(cfg: RunConfig) -> str:
    """Runs with equal keys can train as one ensemble."""
    return json.dumps(shared_part(cfg), sort_keys=True)


def check_batchable(configs: list[RunConfig]) -> None:
    """Raise a one-line ValueError naming the first field that differs between members."""
    if not configs:
        raise ValueError("an ensemble needs at least one member config")
    ref = shared_part(configs[0])
    for i, cfg in enumerate(configs[1:], 1):
        for key, value in shared_part(cfg).items():
            if ref.get(key) != value:
                raise ValueError(f"members 0 and {i} differ in {key!r} ({ref.get(key)!r} vs "
                                 f"{value!r}); only {', '.join(PER_MEMBER_FIELDS)} may differ "
                                 "within an ensemble")


def with_overrides(base: RunConfig, overrides: dict[str, Any]) -> RunConfig:
    """A copy of `base` with dotted-path overrides, e.g. {"reg.wa": 1e-3, "net.kind": "rnn"}.

    Unknown paths raise a one-line ValueError naming the path and the allowed keys.
    """
    data = base.model_dump(mode="json")
    for path, value in overrides.items():
        node = data
        *parents, leaf = path.split(".")
        for depth, p in enumerate(parents):
            if not isinstance(node, dict) or p not in node:
                where = ".".join(parents[:depth]) or "the run config"
                raise ValueError(f"unknown config path {path!r}: {where} has no field {p!r}")
            node = node[p]
        node[leaf] = value
    return RunConfig.model_validate(data)
