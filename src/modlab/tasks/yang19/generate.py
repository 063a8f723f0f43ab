"""Seeded batches of Yang-2019 trials: one rule, a mixture of rules, and the longest trial.

Everything random comes from the caller's numpy Generator, in a fixed order (a mixture's rule
draws, then each rule's trials in the order the rules first appear), so the same Generator
state gives the same batch bit for bit. Input noise is not added here (the network adds σ_x).
"""
from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

from .batch import TrialBatch, render
from .encoding import RULES, check_dt, timeline_max_steps
from .families import SPECS, plan_trials


def check_rule(rule) -> str:
    if rule not in SPECS:
        raise ValueError(f"rule must be one of {', '.join(RULES)}; got {rule!r}")
    return rule


def check_count(name: str, value, minimum: int = 1) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_rng(rng) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), "
                         f"got {type(rng).__name__}")
    return rng


def padded_length(lengths: np.ndarray, rules: Sequence[str], pad_to: int | None) -> int:
    longest = int(lengths.max())
    if pad_to is None:
        return longest
    pad_to = check_count("pad_to", pad_to)
    if longest > pad_to:
        raise ValueError(f"pad_to must be >= the longest trial of rules {list(rules)} "
                         f"({longest} steps), got {pad_to}")
    return pad_to


def max_steps(rules: str | Sequence[str], dt: float = 20.0) -> int:
    """The longest trial (in steps of dt ms) that any of these rules can produce."""
    rules = [rules] if isinstance(rules, str) else list(rules)
    if not rules:
        raise ValueError("rules must name at least one rule, got an empty list")
    dt = check_dt(dt)
    return max(timeline_max_steps(SPECS[check_rule(r)].timeline, dt) for r in rules)


def generate(rule: str, batch_size: int, rng: np.random.Generator, *, dt: float = 20.0,
             pad_to: int | None = None) -> TrialBatch:
    """batch_size trials of one rule; T = the longest trial, or exactly pad_to."""
    rule, batch_size = check_rule(rule), check_count("batch_size", batch_size)
    rng, dt = check_rng(rng), check_dt(dt)
    plan = plan_trials(rule, rng, batch_size, dt)
    n_steps = padded_length(plan.length, [rule], pad_to)
    return render([(np.arange(batch_size), RULES.index(rule), plan)], batch_size, n_steps, dt)


def _mixture_probs(rules: list[str], weights) -> np.ndarray:
    if weights is None:
        return np.full(len(rules), 1.0 / len(rules))
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (len(rules),) or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"weights must be {len(rules)} non-negative numbers with a positive "
                         f"sum, one per rule; got {weights!r}")
    return w / w.sum()


def generate_mixture(rules: Sequence[str], batch_size: int, rng: np.random.Generator, *,
                     weights=None, dt: float = 20.0, pad_to: int | None = None) -> TrialBatch:
    """batch_size trials, each of a rule drawn from `rules` (uniformly, or with `weights`),
    padded to a common T (the longest trial, or exactly pad_to)."""
    rules = [rules] if isinstance(rules, str) else list(rules)
    if not rules:
        raise ValueError("rules must name at least one rule, got an empty list")
    rules = [check_rule(r) for r in rules]
    batch_size = check_count("batch_size", batch_size)
    rng, dt = check_rng(rng), check_dt(dt)
    probs = _mixture_probs(rules, weights)
    drawn = np.asarray(rules)[rng.choice(len(rules), size=batch_size, p=probs)]
    plans = []
    for rule in dict.fromkeys(rules):
        index = np.flatnonzero(drawn == rule)
        if len(index):
            plans.append((index, rule, plan_trials(rule, rng, len(index), dt)))
    lengths = np.concatenate([p.length for _, _, p in plans])
    n_steps = padded_length(lengths, rules, pad_to)
    return render([(index, RULES.index(rule), p) for index, rule, p in plans], batch_size,
                  n_steps, dt)
