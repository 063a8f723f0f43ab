"""The modular regression task (Eq. 1) and the linear identity task."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import Dataset, as_tensor, register_task


@dataclass(frozen=True)
class SineFunctions:
    """f_i(x) = a_i sin(ω_i x + φ_i), one per input dimension (Eq. 1)."""

    amp: np.ndarray
    omega: np.ndarray
    phase: np.ndarray

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.amp * np.sin(self.omega * x + self.phase)

    def as_dict(self) -> dict:
        return {"amp": self.amp.tolist(), "omega": self.omega.tolist(), "phase": self.phase.tolist()}


def sine_functions(n: int, seed: int = 145, amp=(0.7, 1.0), omega=(0.4, 1.8)) -> SineFunctions:
    """Draw a ~ U[amp], ω ~ U[omega], φ ~ U[0, 2π] with NumPy's legacy seed (the authors' 145 for n=4)."""
    rs = np.random.RandomState(seed)
    a = rs.uniform(*amp, size=n)
    w = rs.uniform(*omega, size=n)
    p = rs.uniform(0, 2 * np.pi, size=n)
    return SineFunctions(a, w, p)


def uniform_inputs(n: int, size: int, rng: np.random.Generator, x_range: float) -> np.ndarray:
    return rng.uniform(-x_range, x_range, size=(size, n))


@register_task("modular")
def modular_regression(n: int = 4, task_seed: int = 145, data_seed: int = 0, n_train: int = 1000,
                       n_test: int = 1000, x_range: float = 2.0, amp=(0.7, 1.0),
                       omega=(0.4, 1.8)) -> Dataset:
    """Eq. 1: y_i = f_i(x_i), x ~ U[−x_range, x_range]^n; functions from task_seed, data from data_seed."""
    f = sine_functions(n, task_seed, amp, omega)
    rng = np.random.default_rng(data_seed)
    x_tr, x_te = uniform_inputs(n, n_train, rng, x_range), uniform_inputs(n, n_test, rng, x_range)
    return Dataset(as_tensor(x_tr), as_tensor(f(x_tr)), as_tensor(x_te), as_tensor(f(x_te)),
                   n_modules=n, info={"functions": f.as_dict()})


@register_task("identity")
def identity_task(n: int = 4, data_seed: int = 0, n_train: int = 1000, n_test: int = 1000,
                  inputs: str = "dense", x_range: float = 2.0) -> Dataset:
    """The linear control: y = x, with dense U[−x_range, x_range]^n or one-hot inputs."""
    rng = np.random.default_rng(data_seed)
    if inputs == "dense":
        x_tr, x_te = uniform_inputs(n, n_train, rng, x_range), uniform_inputs(n, n_test, rng, x_range)
    elif inputs == "onehot":
        eye = np.eye(n)
        x_tr, x_te = eye[rng.integers(0, n, n_train)], eye[rng.integers(0, n, n_test)]
    else:
        raise ValueError(f"inputs must be one of ['dense', 'onehot'], got {inputs!r}")
    return Dataset(as_tensor(x_tr), as_tensor(x_tr), as_tensor(x_te), as_tensor(x_te), n_modules=n)
