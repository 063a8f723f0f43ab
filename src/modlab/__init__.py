"""modlab: induce, measure and use modularity in neural networks.

Everything re-exported here is the public API; the rest may change.
"""
import os as _os

# MKL's conditional numerical reproducibility, strict mode: without it a matmul's rounding
# depends on where its operands sit in memory, so an ensemble member's bits would depend on
# its position in the ensemble (docs/decisions.md). MKL reads this at its first call, so it
# is set before anything here touches torch; a value the user set is kept.
_os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")
from . import metrics, nn, regularizers, sweep, tasks, train
from .experiments import REGISTRY as EXPERIMENTS
from .experiments import get_experiment, run_experiment
from .metrics import (
    RangeCheck,
    cluster_neurons,
    dead_neurons,
    deviation_from_linear,
    eigengaps,
    fit_exponential,
    fit_sigmoid_log,
    gap_at,
    laplacian_eigen,
    laplacian_spectrum,
    layer_report,
    module_count,
    newman_q,
    range_margin,
    reorder_network,
)
from .nn import (
    MLP,
    ActivityNoise,
    DenseNet,
    EnsembleLinear,
    LinearAutoencoder,
    MLPAutoencoder,
    ModularNet,
    make_architecture,
    parameter_count,
)
from .regularizers import (
    ActivationCapture,
    activity,
    l12,
    l21,
    weight_l1,
    weight_l2,
    weighted_activity,
)
from .sweep import ProcessExecutor, SerialExecutor, ensemble_job
from .tasks import Dataset, make_task, register_task
from .train import RunConfig, fit, train_ensemble

__version__ = "0.1.0"
__all__ = [
    "EXPERIMENTS", "MLP", "ActivationCapture", "ActivityNoise", "Dataset", "DenseNet",
    "EnsembleLinear", "LinearAutoencoder", "MLPAutoencoder", "ModularNet", "ProcessExecutor",
    "RangeCheck", "RunConfig", "SerialExecutor", "activity", "cluster_neurons", "dead_neurons",
    "deviation_from_linear", "eigengaps", "ensemble_job", "fit", "fit_exponential",
    "fit_sigmoid_log", "gap_at", "get_experiment", "l12", "l21", "laplacian_eigen",
    "laplacian_spectrum", "layer_report", "make_architecture", "make_task", "metrics",
    "module_count", "newman_q", "nn", "parameter_count", "range_margin", "register_task",
    "regularizers", "reorder_network", "run_experiment", "sweep", "tasks", "train",
    "train_ensemble", "weight_l1", "weight_l2", "weighted_activity",
]
