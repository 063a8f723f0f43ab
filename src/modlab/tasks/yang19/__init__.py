"""The 20 cognitive tasks of Yang et al. 2019 (Nature Neuroscience, "Task representations in
neural networks trained to perform many cognitive tasks"; gyyang/multitask) as a seeded,
numpy-only trial generator.

``generate(rule, B, rng)`` and ``generate_mixture(rules, B, rng)`` give a ``TrialBatch``:
x (B, T, 85) = fixation, ring 1, ring 2, one-hot rule; y and mask (B, T, 33) = fixation,
response ring; per-trial rule, length, response_on, target and epoch boundaries.
``performance(y_hat, batch)`` is the strict correctness measure (π/10, fixation held
throughout), ``get_perf`` Yang's own (0.2π, last step only), ``popvec`` his read-out.
The choices made where Yang's code and the spec are silent are listed in the docstrings of
``batch`` and ``families``.
"""
from .batch import TrialBatch, cost_mask, get_perf, performance, rule_names
from .encoding import EPOCHS, N_INPUT, N_OUTPUT, N_RING, RULES, angular_distance, popvec, ring_bump
from .generate import generate, generate_mixture, max_steps

__all__ = ["EPOCHS", "N_INPUT", "N_OUTPUT", "N_RING", "RULES", "TrialBatch", "angular_distance",
           "cost_mask", "generate", "get_perf", "generate_mixture", "max_steps", "performance", "popvec",
           "ring_bump", "rule_names"]
