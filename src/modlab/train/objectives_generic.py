"""Objectives for models trained through `fit` without the MLP regularisers."""
from __future__ import annotations

import torch
from torch import nn

from .objective import mse_per_member


def mse_objective(model: nn.Module, x: torch.Tensor, y: torch.Tensor):
    """Plain MSE for any model returning (M, B, out): (loss, task loss), both (M,) and equal.

    Weight decay, where wanted, is the optimiser's (`fit(..., weight_decay=...)`).
    """
    task = mse_per_member(model(x), y)
    return task, task
