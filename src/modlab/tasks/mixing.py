"""Modular tasks with a mixing step (Eqs. 21–22): early mixing y = f(Mx), late mixing y = M f(x)."""
from __future__ import annotations

import numpy as np

from .base import Dataset, as_tensor, register_task
from .regression import sine_functions, uniform_inputs


def rotation_23(n: int, theta: float = np.pi / 4) -> np.ndarray:
    """The mixing matrix M of Eqs. 21–22: identity except that factors 2 and 3 are rotated by θ.

    The paper's angle is lost; θ = π/4 (spec 1) makes |M| rows 2 and 3 equal, the strongest mix.
    """
    if n < 3:
        raise ValueError(f"mixing rotates factors 2 and 3, so n must be >= 3, got {n}")
    m = np.eye(n)
    c, s = np.cos(theta), np.sin(theta)
    m[1:3, 1:3] = [[c, -s], [s, c]]
    return m


def _mixing_task(mix: str, n: int, theta: float, task_seed: int, data_seed: int, n_train: int,
                 n_test: int, x_range: float, amp, omega) -> Dataset:
    f = sine_functions(n, task_seed, amp, omega)
    m = rotation_23(n, theta)
    rng = np.random.default_rng(data_seed)
    x_tr, x_te = uniform_inputs(n, n_train, rng, x_range), uniform_inputs(n, n_test, rng, x_range)
    target = (lambda x: f(x @ m.T)) if mix == "early" else (lambda x: f(x) @ m.T)
    return Dataset(as_tensor(x_tr), as_tensor(target(x_tr)), as_tensor(x_te), as_tensor(target(x_te)),
                   n_modules=n, info={"functions": f.as_dict(), "mixing": mix, "theta": theta,
                                      "matrix": m.tolist()})


@register_task("early_mixing")
def early_mixing(n: int = 4, theta: float = np.pi / 4, task_seed: int = 145, data_seed: int = 0,
                 n_train: int = 1000, n_test: int = 1000, x_range: float = 2.0, amp=(0.7, 1.0),
                 omega=(0.4, 1.8)) -> Dataset:
    """Eq. 21, early mixing: y = f(Mx), the Eq. 1 functions applied after rotating x₂, x₃ by θ.

    n_modules is n (the independent factors); the first layer should still show n − 1 modules.
    """
    return _mixing_task("early", n, theta, task_seed, data_seed, n_train, n_test, x_range, amp, omega)


@register_task("late_mixing")
def late_mixing(n: int = 4, theta: float = np.pi / 4, task_seed: int = 145, data_seed: int = 0,
                n_train: int = 1000, n_test: int = 1000, x_range: float = 2.0, amp=(0.7, 1.0),
                omega=(0.4, 1.8)) -> Dataset:
    """Eq. 22, late mixing: y = M f(x), the Eq. 1 outputs rotated in factors 2, 3 by θ."""
    return _mixing_task("late", n, theta, task_seed, data_seed, n_train, n_test, x_range, amp, omega)
