"""Paper figures as registered experiments (one small module each)."""
from . import (  # noqa: F401  (registration side effects)
    fig1,
    fig2,
    fig3,
    fig4,
    fig5,
    fig6,
    fig7,
    fig8,
    fig9,
    fig11,
    range2d,
    range3d,
    what_where,
)
from .base import REGISTRY, Context, Experiment, ExperimentConfig, get_experiment, register
from .runner import run_experiment

__all__ = ["REGISTRY", "Context", "Experiment", "ExperimentConfig", "get_experiment", "register",
           "run_experiment"]
