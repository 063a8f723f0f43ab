"""Paper figures as registered experiments (one small module each)."""
from . import fig1, fig4, fig8, fig9, fig11  # noqa: F401  (registration side effects)
from .base import REGISTRY, Context, Experiment, ExperimentConfig, get_experiment, register
from .runner import run_experiment

__all__ = ["REGISTRY", "Context", "Experiment", "ExperimentConfig", "get_experiment", "register",
           "run_experiment"]
