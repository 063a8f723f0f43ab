"""One training loop for every model kind, single or ensembled."""
from .checkpoint import Checkpoint
from .config import (
    AutoencoderConfig,
    MLPConfig,
    ModelConfig,
    ModularConfig,
    NoiseConfig,
    OptimConfig,
    RegConfig,
    RunConfig,
    TaskConfig,
    check_batchable,
    config_hash,
    with_overrides,
)
from .data import Data, Stream, gather, sequence_data
from .ensemble import (
    EnsembleRun,
    build_datasets,
    build_model,
    member_state,
    stack_data,
    task_data,
    train_ensemble,
)
from .kinds import MODEL_KINDS, ModelKind, get_kind, register_model
from .loop import Callback, History, evaluate_mse, fit
from .objective import Objective, RegressionObjective, masked_mse, mse_per_member
from .optim import FlatAdam, FlatParameters
from .sampler import EpochSampler
from .terms import TERMS, Term

# The 0.1 name of the MLP config.
NetConfig = MLPConfig

__all__ = ["MODEL_KINDS", "TERMS", "AutoencoderConfig", "Callback", "Checkpoint", "Data",
           "EnsembleRun", "EpochSampler", "FlatAdam", "FlatParameters", "History",
           "MLPConfig", "ModelConfig", "ModelKind", "ModularConfig", "NetConfig",
           "NoiseConfig", "Objective", "OptimConfig", "RegConfig", "RegressionObjective",
           "RunConfig", "Stream", "TaskConfig", "Term", "build_datasets", "build_model",
           "check_batchable", "config_hash", "evaluate_mse", "fit", "gather", "get_kind",
           "masked_mse", "member_state", "mse_per_member", "register_model", "sequence_data",
           "stack_data", "task_data", "train_ensemble", "with_overrides"]
