"""Shared pieces of Figs. 8, 9, 11: each architecture × task × seed is a `modular`-kind run
logging ID (train-set) and OOD (test-set) loss; the analyses regroup the seeds and read out
the modules."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch
from pydantic import Field
from torch import nn

from ..nn import parameter_count
from ..tasks import Dataset, SineFunctions
from ..train import RunConfig, with_overrides
from ..train.result import ensemble_of
from .base import ExperimentConfig, Run


class ArchTrainConfig(ExperimentConfig):
    """Fig. 8 / 11 network and optimiser (spec 1): 1→64→1 blocks, 2→128→1 head, AdamW 1e-3."""

    block_widths: list[int] = Field(default_factory=lambda: [64, 1],
                                    description="each block's layer sizes after its scalar input")
    head_widths: list[int] = Field(default_factory=lambda: [128])
    steps: int = Field(20_000, ge=1)
    batch_size: int = Field(64, ge=1, description="the authors' DataLoader batch size")
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0, description="AdamW decoupled decay (authors' code: 0)")
    eval_every: int = Field(250, ge=1)

    def run_config(self, arch: str, activation: str, task: str, params: dict,
                   optimizer: str = "adamw", **net) -> RunConfig:
        """One architecture on one task: ID = the train set, OOD = the test set (logged)."""
        net = {"kind": "modular", "arch": arch, "block_widths": self.block_widths,
               "head_widths": self.head_widths, "activation": activation, **net}
        return RunConfig(task={"name": task, "params": params}, net=net,
                         optim={"steps": self.steps, "batch_size": self.batch_size,
                                "lr": self.lr, "optimizer": optimizer,
                                "weight_decay": self.weight_decay,
                                "eval_every": min(self.eval_every, self.steps),
                                "eval_train": True})


def seed_runs(config: RunConfig, seeds: Sequence[int], **labels) -> list[Run]:
    return [Run(with_overrides(config, {"seed": s}), {**labels, "seed": s}) for s in seeds]


@dataclass
class ArchRun:
    """The seeds of one architecture on one task, trained: the M networks as one ensemble
    again, their ID (whole train set) and OOD (test set) curves."""

    arch: str
    trained: list

    @property
    def seeds(self) -> list[int]:
        return [t.seed for t in self.trained]

    @cached_property
    def model(self) -> nn.Module:
        return ensemble_of([t.result for t in self.trained])

    @property
    def curve_steps(self) -> np.ndarray:
        return self.trained[0].curve_steps

    @property
    def id_curve(self) -> np.ndarray:      # (T, M) whole-ID-set MSE
        return np.stack([t.result.curves["train_eval"] for t in self.trained], axis=1)

    @property
    def ood_curve(self) -> np.ndarray:     # (T, M) OOD-set MSE (NaN where it is empty)
        return np.stack([t.test_curve for t in self.trained], axis=1)

    @property
    def id_loss(self) -> np.ndarray:
        return self.id_curve[-1]

    @property
    def ood_loss(self) -> np.ndarray:
        return self.ood_curve[-1]

    @property
    def params(self) -> int:
        return parameter_count(self.model)

    @property
    def datasets(self) -> list[Dataset]:
        return [t.dataset for t in self.trained]


def group_runs(trained: Sequence, *keys: str) -> dict[tuple, ArchRun]:
    """Trained runs grouped by the given labels (in plan order), one `ArchRun` per group."""
    groups: dict[tuple, list] = {}
    for t in trained:
        groups.setdefault(tuple(t.labels[k] for k in keys), []).append(t)
    return {k: ArchRun(v[0].config.net.arch, v) for k, v in groups.items()}


@torch.no_grad()
def module_readout(model: nn.Module, grid: np.ndarray, pre: bool = False) -> np.ndarray:
    """Each module's output with every input set to `grid` (modules only see their own input):
    (M, len(grid), n_modules); pre=True reads it before the block's final activation."""
    dev = next(model.parameters()).device
    n_in = model.n_in
    x = torch.as_tensor(np.repeat(grid[:, None], n_in, axis=1), dtype=torch.float32, device=dev)
    return model.module_outputs(x, pre=pre).cpu().numpy()


@torch.no_grad()
def predict(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """Model output on (N, n_in) points: (M, N, out)."""
    dev = next(model.parameters()).device
    return model(torch.as_tensor(x, dtype=torch.float32, device=dev)).cpu().numpy()


def module_targets(dataset: Dataset, grid: np.ndarray) -> np.ndarray:
    """What module i should compute (up to an affine map) at input `grid`: (len(grid), n_modules).

    The Gaussian's modules should be quadratic (Eq. 24: f₁ = x², f₂ = y²); the sine tasks'
    modules should be their f_i, read from the task's recorded functions.
    """
    n = dataset.n_modules
    x = np.repeat(grid[:, None], n, axis=1)
    if "functions" not in dataset.info:
        return x**2
    f = dataset.info["functions"]
    sines = SineFunctions(*(np.asarray(f[k])[:n] for k in ("amp", "omega", "phase")))
    return sines(x)
