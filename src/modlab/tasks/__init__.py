"""Seeded tasks."""
from . import cognitive, mixing, sources, symbolic, yang19  # noqa: F401  (registration; yang19: the 20 Yang-2019 tasks)
from .base import TASKS, Dataset, make_task, register_task
from .composition import gaussian_composition, sine_composition  # noqa: F401  (registration)
from .regression import SineFunctions, identity_task, modular_regression, sine_functions

__all__ = ["TASKS", "Dataset", "SineFunctions", "identity_task", "make_task", "modular_regression",
           "register_task", "sine_functions"]
