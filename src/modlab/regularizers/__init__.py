"""Regularisers: pure functions on weights and activations (spec 1)."""
from .hooks import ActivationCapture
from .penalties import activity, batch_moment, l12, l21, weight_l1, weight_l2, weighted_activity

__all__ = ["ActivationCapture", "activity", "batch_moment", "l12", "l21", "weight_l1",
           "weight_l2", "weighted_activity"]
