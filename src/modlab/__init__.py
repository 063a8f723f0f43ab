"""modlab: induce, measure and use modularity in neural networks.

Everything listed in `__all__` is the public API; the rest may change. Names load on first
use (PEP 562), so `modlab --help` starts without torch and `import modlab` costs nothing
until you touch the API; the experiments (and matplotlib with them) load only when run.
"""
import importlib as _importlib
import os as _os

# MKL's conditional numerical reproducibility, strict mode: without it a matmul's rounding
# depends on where its operands sit in memory, so an ensemble member's bits would depend on
# its position in the ensemble (docs/decisions.md). MKL reads this at its first call, so it
# is set before anything here touches torch; a value the user set is kept.
_os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")

__version__ = "0.2.0"

_SUBPACKAGES = ("metrics", "nn", "regularizers", "results", "sweep", "tasks", "train",
                "experiments", "analysis")

# public name → the module that defines it
_EXPORTS = {
    **{n: "metrics" for n in (
        "RangeCheck", "Spectrum", "cluster_neurons", "dead_neurons", "deviation_from_linear",
        "eigengaps", "fit_exponential", "fit_sigmoid_log", "gap_at", "laplacian_eigen",
        "laplacian_spectrum", "layer_report", "module_count", "newman_q", "range_margin",
        "reorder_network")},
    **{n: "nn" for n in (
        "MLP", "ActivityNoise", "DenseNet", "EnsembleLinear", "LinearAutoencoder",
        "MLPAutoencoder", "ModularNet", "make_architecture", "parameter_count")},
    **{n: "regularizers" for n in (
        "ActivationCapture", "activity", "attach", "connection_cost", "inject_noise", "l12",
        "l21", "plan_swaps", "weight_l1", "weight_l2", "weighted_activity")},
    **{n: "metrics" for n in (
        "best_newman_q", "functional_clusters", "locality", "ncut_zscore",
        "participation_coefficient", "partition_agreement", "task_variance", "wiring_locality")},
    "analyse_checkpoint": "analysis",
    "Store": "results",
    **{n: "sweep" for n in ("ProcessExecutor", "SerialExecutor", "ensemble_job", "execute",
                            "run_experiment")},
    **{n: "tasks" for n in ("Dataset", "make_task", "register_task")},
    **{n: "train" for n in (
        "Callback", "Checkpoint", "Data", "History", "Objective", "RunConfig", "Stream", "fit",
        "register_model", "train_ensemble")},
    "get_experiment": "experiments",
    "EXPERIMENTS": "experiments",
}

__all__ = sorted([*_EXPORTS, *_SUBPACKAGES])


def __getattr__(name: str):
    if name in _SUBPACKAGES:
        return _importlib.import_module(f"{__name__}.{name}")
    if name in _EXPORTS:
        module = _importlib.import_module(f"{__name__}.{_EXPORTS[name]}")
        value = module.REGISTRY if name == "EXPERIMENTS" else getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'modlab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
