"""modlab: induce, measure and use modularity in neural networks."""
from . import metrics, nn, regularizers, tasks, train
from .metrics import cluster_neurons, eigengaps, laplacian_spectrum, layer_report, module_count
from .nn import MLP, ActivityNoise, EnsembleLinear
from .regularizers import ActivationCapture, activity, l12, l21, weight_l1, weight_l2, weighted_activity
from .tasks import Dataset, make_task
from .train import RunConfig, fit, train_ensemble

__version__ = "0.1.0"
__all__ = ["MLP", "ActivationCapture", "ActivityNoise", "Dataset", "EnsembleLinear", "RunConfig",
           "activity", "cluster_neurons", "eigengaps", "fit", "l12", "l21", "laplacian_spectrum",
           "layer_report", "make_task", "metrics", "module_count", "nn", "regularizers", "tasks",
           "train", "train_ensemble", "weight_l1", "weight_l2", "weighted_activity"]
