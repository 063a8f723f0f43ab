"""Held-out seeds for the slow claim tests, and how often a claim test fails by seed luck.

Each claim test's tolerance was chosen from per-seed values measured on the TUNING seeds
(0, 1, …; the number is in each test's docstring) and the test runs on other seeds: by
default the TEST seeds, `TEST_SEED0` onwards. The two ranges never overlap, so a test does
not pass merely because its threshold was read off the seeds it checks.
`MODLAB_CLAIM_SEED0=200 pytest -m slow …` reruns every claim on a fresh range (reported in
docs/figures.md).

`chance_of_failure` simulates the test's own assertion on draws of the per-seed values: a
normal fitted to the tuning values (log-normal for losses and ratios), or the tuning values
resampled (discrete ones such as k*). It is the chance that the test fails on new seeds when
nothing is wrong, under that model of the seed-to-seed spread.
"""
from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

TUNING_SEED0 = 0
TEST_SEED0 = int(os.environ.get("MODLAB_CLAIM_SEED0", "100"))


def seeds(n: int, offset: int = 0) -> list[int]:
    """The n seeds a claim test runs on. A test redesigned after failing on its test seeds
    moves on by `offset` to seeds no version of it has seen (its docstring says which)."""
    return list(range(TEST_SEED0 + offset, TEST_SEED0 + offset + n))


def draw(values, n: int, kind: str, trials: int, rng: np.random.Generator) -> np.ndarray:
    """(trials, n) per-seed values like the tuning `values`: kind "normal", "lognormal" or
    "resample" ((trials, n, k) for k values per tuning seed)."""
    v = np.asarray(values, dtype=float)
    if kind == "normal":
        return rng.normal(v.mean(), v.std(ddof=1), (trials, n))
    if kind == "lognormal":
        return np.exp(rng.normal(np.log(v).mean(), np.log(v).std(ddof=1), (trials, n)))
    if kind == "resample":      # rows of a 2-D `values` (several values of one seed) stay together
        return v[rng.integers(0, len(v), (trials, n))]
    raise ValueError(f"kind must be normal, lognormal or resample, got {kind!r}")


def chance_of_failure(claim: Callable[..., bool], draws: dict[str, tuple], trials: int = 5000,
                      seed: int = 0) -> float:
    """Fraction of simulated test runs in which `claim(**values)` is false. `draws` maps each
    argument of `claim` to (tuning values, seeds per test run, kind of `draw`)."""
    rng = np.random.default_rng(seed)
    x = {k: draw(v, n, kind, trials, rng) for k, (v, n, kind) in draws.items()}
    return sum(not claim(**{k: v[t] for k, v in x.items()}) for t in range(trials)) / trials
