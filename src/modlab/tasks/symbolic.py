"""A symbolic-formula regression with a known module structure, after the BIMT paper's
"independence" example (Liu, Gan & Tegmark 2023; its exact formula is not in our sources):
y₁ = x₁·x₂ and y₂ = x₃² − x₄ depend on disjoint inputs, so a modular network computes them in
two separate modules."""
from __future__ import annotations

import numpy as np

from .base import Dataset, as_tensor, register_task


def independence(x: np.ndarray) -> np.ndarray:
    """(N, 4) → (N, 2): y₁ = x₁x₂, y₂ = x₃² − x₄."""
    return np.stack([x[:, 0] * x[:, 1], x[:, 2] ** 2 - x[:, 3]], axis=1)


@register_task("symbolic")
def symbolic_task(data_seed: int = 0, n_train: int = 1000, n_test: int = 1000,
                  x_range: float = 1.0) -> Dataset:
    """The independence formula on x ~ U[−x_range, x_range]⁴ (2 modules)."""
    rng = np.random.default_rng(data_seed)
    x_tr = rng.uniform(-x_range, x_range, size=(n_train, 4))
    x_te = rng.uniform(-x_range, x_range, size=(n_test, 4))
    return Dataset(as_tensor(x_tr), as_tensor(independence(x_tr)), as_tensor(x_te),
                   as_tensor(independence(x_te)), n_modules=2,
                   info={"formula": "y1 = x1*x2, y2 = x3^2 - x4"})
