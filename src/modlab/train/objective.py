"""The per-member training objective: task loss plus regularisers, one value per member."""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from .config import RegConfig
from .terms import TERMS, RegInputs


def mse_per_member(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error over (batch, outputs) for each member; pred is (M, B, out)."""
    return (pred - target).pow(2).mean((-2, -1))


def masked_mse(pred: torch.Tensor, target: torch.Tensor,
               mask: torch.Tensor | None = None) -> torch.Tensor:
    """Per member: mean over every non-member element of mask·(pred − target)² (mask None: 1).

    pred (M, B, …); target and mask broadcast against it.
    """
    err = (pred - target).pow(2)
    if mask is not None:
        err = err * mask
    return err.flatten(1).mean(1)


def per_member(values: Sequence[float]):
    """A shared value as a Python float (fast paths), per-member values as (M, 1, 1)."""
    if len(set(values)) == 1:
        return float(values[0])
    return torch.tensor(values, dtype=torch.float32).reshape(-1, 1, 1)


TaskLoss = Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None], torch.Tensor]


class Objective:
    """task loss + Σ_t λ_t·R_t with per-member coefficients λ (each member's `RegConfig`).

    Terms come from `train.terms.TERMS`; only those with a non-zero coefficient in some member
    are computed. `set_factor` rescales every coefficient per member (the λ schedule) in place,
    so engines holding the coefficient tensors see the change (after `refresh()`).
    """

    def __init__(self, regs: Sequence[RegConfig], task_loss: TaskLoss = masked_mse):
        regs = list(regs)
        self.task_loss = task_loss
        self.base = {t: torch.tensor([getattr(r, t) for r in regs], dtype=torch.float32)
                     for t in TERMS}
        self.coef = {t: v.clone() for t, v in self.base.items()}
        self.active = [t for t in TERMS if bool(self.base[t].any())]
        names = {p for t in self.active for p in TERMS[t].params}
        self.params = {p: per_member([getattr(r, p) for r in regs]) for p in sorted(names)}
        self.listeners: list[Callable[[], None]] = []

    def to(self, device) -> Objective:
        self.base = {k: v.to(device) for k, v in self.base.items()}
        self.coef = {k: v.to(device) for k, v in self.coef.items()}
        self.params = {k: v.to(device) if isinstance(v, torch.Tensor) else v
                       for k, v in self.params.items()}
        return self

    @torch.no_grad()
    def set_factor(self, factor: torch.Tensor) -> None:
        """coef = base · factor per member (factor (M,)), in place; tells the engines."""
        for t in self.active:
            torch.mul(self.base[t], factor.to(self.base[t].device), out=self.coef[t])
        for notify in self.listeners:
            notify()

    def penalties(self, model, forward) -> dict[str, torch.Tensor]:
        inputs = RegInputs(model, forward)
        return {t: TERMS[t].value(inputs, self.params) for t in self.active}

    def __call__(self, model, x: torch.Tensor, y: torch.Tensor,
                 mask: torch.Tensor | None = None):
        """(total loss per member, task loss per member) in the model's current mode."""
        out = model.forward_hidden(x)
        task = self.task_loss(out.output, y, mask)
        total = task
        for term, value in self.penalties(model, out).items():
            total = total + self.coef[term] * value
        return total, task

    @torch.no_grad()
    def evaluate(self, model, x: torch.Tensor, y: torch.Tensor,
                 mask: torch.Tensor | None = None) -> torch.Tensor:
        """Task loss per member with the model in eval mode (noise and dropout off)."""
        was = model.training
        model.eval()
        try:
            return self.task_loss(model(x), y, mask)
        finally:
            model.train(was)


# The 0.1 name: the MLP objective is the generic one.
RegressionObjective = Objective
