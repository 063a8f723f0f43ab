"""Sweeps: run independent ensembles in parallel worker processes (one torch thread each)."""
from .executor import (
    Job,
    ProcessExecutor,
    SerialExecutor,
    as_job,
    available_cores,
    ensemble_job,
    make_executor,
    train_ensembles,
)

__all__ = ["Job", "ProcessExecutor", "SerialExecutor", "as_job", "available_cores",
           "ensemble_job", "make_executor", "train_ensembles"]
