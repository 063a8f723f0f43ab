"""Modularity metrics: pure functions on weights and activations."""
from .activity import dead_neurons
from .clustering import cluster_neurons, collapse_columns, reorder_network, reorder_neurons
from .fits import Fit, exponential, fit_exponential, fit_sigmoid_log, sigmoid_log
from .functional import (
    affine_fit,
    affine_r2,
    deviation_from_linear,
    step_quadratic_fit,
    trimmed_mean,
)
from .graph import (
    adjacency,
    best_newman_q,
    best_partition,
    ncut,
    ncut_zscore,
    newman_q,
    participation_coefficient,
    partition_agreement,
)
from .range_condition import RangeCheck, range_margin  # noqa: F401  (spec 3)
from .rnn import (
    FunctionalClusters,
    Locality,
    RecurrentModularity,
    Sparsity,
    WiringLocality,
    functional_clusters,
    locality,
    partition_q,
    recurrent_modularity,
    sparsity,
    task_variance,
    wiring_locality,
)
from .spectral import (
    DEFAULT_RTOL,
    Spectrum,
    cosine_similarity_graph,
    eigengaps,
    gap_at,
    laplacian_eigen,
    laplacian_spectrum,
    live_rows,
    module_count,
    random_walk_laplacian,
)
from .summary import layer_report

__all__ = ["Spectrum", "adjacency", "affine_fit", "affine_r2", "deviation_from_linear",
           "step_quadratic_fit", "trimmed_mean", "cluster_neurons", "collapse_columns", "cosine_similarity_graph",
           "dead_neurons", "eigengaps", "exponential", "Fit", "fit_exponential",
           "fit_sigmoid_log", "sigmoid_log", "gap_at", "laplacian_eigen", "laplacian_spectrum",
           "layer_report", "live_rows", "module_count", "newman_q", "reorder_network",
           "reorder_neurons", "FunctionalClusters", "Locality", "RecurrentModularity", "Sparsity",
           "functional_clusters", "locality", "partition_q", "recurrent_modularity", "sparsity",
           "task_variance", "WiringLocality", "wiring_locality", "RangeCheck", "range_margin", "DEFAULT_RTOL", "best_newman_q",
           "best_partition", "ncut", "ncut_zscore", "participation_coefficient",
           "partition_agreement", "random_walk_laplacian"]
