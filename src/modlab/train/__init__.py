"""One training loop for every model, single or ensembled."""
from .config import (
    NetConfig,
    NoiseConfig,
    OptimConfig,
    RegConfig,
    RunConfig,
    TaskConfig,
    check_batchable,
)
from .ensemble import EnsembleRun, build_datasets, build_model, stack_data, train_ensemble
from .loop import Data, History, evaluate_mse, fit, gather
from .objective import RegressionObjective, mse_per_member
from .sampler import EpochSampler

__all__ = ["Data", "EnsembleRun", "EpochSampler", "History", "NetConfig", "NoiseConfig",
           "OptimConfig", "RegConfig", "RegressionObjective", "RunConfig", "TaskConfig",
           "build_datasets", "build_model", "check_batchable", "evaluate_mse", "fit", "gather",
           "mse_per_member", "stack_data", "train_ensemble"]
