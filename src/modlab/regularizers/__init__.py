"""Regularisers: pure functions on weights and activations (spec 1), BIMT's wiring cost and
neuron swaps (spec 2)."""
from .bimt import (
    SwapPlan,
    apply_swaps_,
    connection_cost,
    connection_cost_grad,
    distances,
    grid_coords,
    line_coords,
    mlp_distances,
    mlp_owners,
    permute_,
    plan_swaps,
    prune_,
    ring_coords,
    rnn_owners,
    side_line,
    swap_,
)
from .dropin import (
    REGULARIZERS,
    NoiseHandle,
    Penalty,
    attach,
    inject_noise,
    register_regularizer,
)
from .hooks import ActivationCapture
from .penalties import activity, batch_moment, l12, l21, weight_l1, weight_l2, weighted_activity

__all__ = ["REGULARIZERS", "ActivationCapture", "NoiseHandle", "Penalty", "SwapPlan", "attach",
           "inject_noise", "register_regularizer", "activity", "apply_swaps_", "batch_moment",
           "connection_cost", "connection_cost_grad", "distances", "grid_coords", "l12", "l21",
           "line_coords", "mlp_distances", "mlp_owners", "permute_", "plan_swaps", "prune_",
           "ring_coords", "rnn_owners", "side_line", "swap_", "weight_l1", "weight_l2",
           "weighted_activity"]
