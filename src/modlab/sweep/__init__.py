"""Sweeps: train runs into a results store on an executor (in-process, a local process pool,
or a Ray cluster), resumable; run a registered experiment end to end; sweep specs."""
from .execute import Report, execute, pack, train_job
from .executor import (
    Job,
    JobFailure,
    ProcessExecutor,
    SerialExecutor,
    as_job,
    available_cores,
    ensemble_job,
    make_executor,
    train_ensembles,
)

__all__ = ["Job", "JobFailure", "ProcessExecutor", "Report", "SerialExecutor", "as_job",
           "available_cores", "ensemble_job", "execute", "make_executor", "pack",
           "run_experiment", "train_ensembles", "train_job"]


def run_experiment(*args, **kwargs):
    """See `modlab.sweep.experiment.run_experiment` (imported on first use: it loads the
    experiments, and with them matplotlib)."""
    from .experiment import run_experiment as run

    return run(*args, **kwargs)
