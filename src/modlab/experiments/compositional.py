"""Shared pipeline of Figs. 8, 9, 11: train one architecture as an ensemble over seeds through
`fit`, recording ID (train-set) and OOD (test-set) loss curves, and read out its modules."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from pydantic import Field
from torch import nn

from ..nn import make_architecture, parameter_count
from ..tasks import Dataset, SineFunctions
from ..train import Data, History, evaluate_mse, fit
from ..train.objectives_generic import mse_objective
from .base import Context, ExperimentConfig


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@dataclass
class ArchSpec:
    """One architecture and its training settings (everything but the data and the seeds)."""

    arch: str
    block_widths: list[int]
    head_widths: list[int]
    activation: str
    steps: int
    batch_size: int
    lr: float
    optimizer: str = "adamw"
    weight_decay: float = 0.0
    eval_every: int = 500


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

    def spec(self, arch: str, activation: str) -> ArchSpec:
        return ArchSpec(arch, self.block_widths, self.head_widths, activation, self.steps,
                        self.batch_size, self.lr, "adamw", self.weight_decay, self.eval_every)


@dataclass
class ArchRun:
    spec: ArchSpec
    seeds: list[int]
    model: nn.Module
    history: History
    curve_steps: np.ndarray      # (T,)
    id_curve: np.ndarray         # (T, M) full ID-set MSE
    ood_curve: np.ndarray        # (T, M) OOD-set MSE (NaN where the OOD set is empty)

    @property
    def id_loss(self) -> np.ndarray:
        return self.id_curve[-1]

    @property
    def ood_loss(self) -> np.ndarray:
        return self.ood_curve[-1]

    @property
    def params(self) -> int:
        return parameter_count(self.model)


def as_data(datasets: Sequence[Dataset]) -> Data:
    """Shared tensors for one data set, (M, N, d) stacks for one per member (equal shapes)."""
    if len({id(d) for d in datasets}) == 1:
        d = datasets[0]
        return Data(d.x_train, d.y_train, d.x_test, d.y_test)
    return Data(*(torch.stack([getattr(d, f) for d in datasets])
                  for f in ("x_train", "y_train", "x_test", "y_test")))


def train_architecture(spec: ArchSpec, datasets: Sequence[Dataset], seeds: Sequence[int], *,
                       device: str = "cpu", ctx: Context | None = None,
                       label: str = "") -> ArchRun:
    """Train len(seeds) members of `spec.arch` in one ensemble; datasets: one, or one per seed."""
    dev = resolve_device(device)
    data = as_data(datasets).to(dev)
    first = datasets[0]
    model = make_architecture(spec.arch, n_in=first.n_in, n_out=first.n_out,
                              block_widths=spec.block_widths, head_widths=spec.head_widths,
                              members=len(seeds), activation=spec.activation,
                              seeds=list(seeds)).to(dev)
    id_curve: list[np.ndarray] = []
    advance: Callable[[int], None] | None = (
        ctx.progress(label or spec.arch, spec.steps) if ctx and ctx.progress else None)

    def on_eval(step: int, history: History) -> None:
        # fit's own test evaluation is the OOD loss; the ID loss is over the whole train set.
        id_curve.append(evaluate_mse(model, data.x_train, data.y_train).cpu().numpy())
        if advance:
            advance(step)

    history = fit(model, mse_objective, data, seeds=list(seeds), steps=spec.steps,
                  batch_size=spec.batch_size, lr=spec.lr, optimizer=spec.optimizer,
                  weight_decay=spec.weight_decay, eval_every=min(spec.eval_every, spec.steps),
                  on_eval=on_eval)
    arrays = history.as_arrays()
    model.eval()
    return ArchRun(spec, list(seeds), model, history, arrays["steps"], np.stack(id_curve),
                   arrays["test_loss"])


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
