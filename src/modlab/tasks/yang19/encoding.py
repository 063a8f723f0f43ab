"""Yang 2019's ring code, epoch durations and trial timing (numpy only).

Layout (Yang et al. 2019, Methods "Network structure"; gyyang/multitask task.py): the input is
one fixation unit, two rings of N_RING = 32 direction-tuned units (the two stimulus
modalities) and a one-hot rule; the output is one fixation unit and one ring of N_RING units.
Unit k of a ring prefers the direction 2πk / N_RING.

Durations are drawn in ms and floored to whole steps separately for every epoch, as Yang's
``int(ms / dt)``; a 1e-9 guard keeps float error (300 / 0.1 = 2999.99…) from losing a step.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

RULES: tuple[str, ...] = (
    "go", "rtgo", "dlygo", "anti", "rtanti", "dlyanti",
    "dm1", "dm2", "ctxdm1", "ctxdm2", "multidm",
    "dlydm1", "dlydm2", "ctxdlydm1", "ctxdlydm2", "multidlydm",
    "dms", "dnms", "dmc", "dnmc",
)
N_RING = 32
N_INPUT = 1 + 2 * N_RING + len(RULES)   # 85
N_OUTPUT = 1 + N_RING                  # 33
RULE_START = 1 + 2 * N_RING            # input index of the first rule unit

# Every epoch a trial can have, in the order they occur (Yang's names).
EPOCHS: tuple[str, ...] = ("fix1", "stim1", "delay1", "stim2", "delay2", "go1")

FIX_ON, FIX_OFF, BASELINE = 0.8, 0.05, 0.05   # fixation-output targets and the ring floor
BUMP_AMP, BUMP_WIDTH = 0.8, np.pi / 8          # Yang's Gaussian tuning: 0.8·exp(−d²/2σ²)
IGNORE_MS = 100.0   # the cost mask ignores a trial's first 100 ms ...
GRACE_MS = 100.0    # ... and the first 100 ms of the response period (Yang's check_ons)
_EPS = 1e-9
TWO_PI = 2 * np.pi


def preferred_angles(n: int = N_RING) -> np.ndarray:
    """Preferred directions 2πk/n of a ring's n units (Yang's ``pref``)."""
    return TWO_PI * np.arange(n) / n


def wrap(angle) -> np.ndarray:
    """Angles mapped into [0, 2π) (np.mod alone can round up to exactly 2π)."""
    a = np.mod(np.asarray(angle, dtype=np.float64), TWO_PI)
    return np.where(a >= TWO_PI, 0.0, a)


def angular_distance(a, b) -> np.ndarray:
    """Distance on the circle, min(|a − b|, 2π − |a − b|) in [0, π] (Yang's get_dist)."""
    d = np.abs(wrap(np.asarray(a) - np.asarray(b)))
    return np.minimum(d, TWO_PI - d)


def ring_bump(angle) -> np.ndarray:
    """Yang's tuning curve 0.8·exp(−d²/2(π/8)²), d the circular distance to each unit's
    preferred direction (task.py add_x_loc / add_y_loc): (...,) angles → (..., N_RING)."""
    d = angular_distance(np.asarray(angle, dtype=np.float64)[..., None], preferred_angles())
    return BUMP_AMP * np.exp(-0.5 * (d / BUMP_WIDTH) ** 2)


def popvec(ring: np.ndarray) -> np.ndarray:
    """Yang's population-vector read-out (network.py popvec): the angle of
    Σ_k r_k (cos θ_k, sin θ_k) / Σ_k r_k over the last axis, in [0, 2π).

    As in Yang's code the vector is divided by Σ r: with non-negative (sigmoid) outputs this
    changes nothing; an all-zero ring reads out NaN (no response).
    """
    r = np.asarray(ring, dtype=np.float64)
    pref = preferred_angles(r.shape[-1])
    with np.errstate(invalid="ignore", divide="ignore"):
        total = r.sum(axis=-1)
        cos = (r * np.cos(pref)).sum(axis=-1) / total
        sin = (r * np.sin(pref)).sum(axis=-1) / total
    return wrap(np.arctan2(sin, cos))


def to_steps(ms, dt: float) -> np.ndarray:
    """Whole steps in ms of time, floored like Yang's int(ms / dt)."""
    return np.floor(np.asarray(ms, dtype=np.float64) / dt + _EPS).astype(np.int64)


@dataclass(frozen=True)
class Choice:
    """A duration drawn uniformly from a few values in ms (Yang's rng.choice([...]))."""

    ms: tuple[float, ...]

    def draw(self, rng: np.random.Generator, n: int, dt: float) -> np.ndarray:
        if len(self.ms) == 1:  # a fixed duration takes nothing from the stream
            return np.full(n, to_steps(self.ms[0], dt), dtype=np.int64)
        return to_steps(np.asarray(self.ms)[rng.integers(0, len(self.ms), size=n)], dt)

    def max_steps(self, dt: float) -> int:
        return int(to_steps(max(self.ms), dt))


@dataclass(frozen=True)
class Uniform:
    """A duration drawn from U[lo, hi) ms (Yang's rng.uniform(lo, hi))."""

    lo: float
    hi: float

    def draw(self, rng: np.random.Generator, n: int, dt: float) -> np.ndarray:
        return np.minimum(to_steps(rng.uniform(self.lo, self.hi, size=n), dt), self.max_steps(dt))

    def max_steps(self, dt: float) -> int:
        # u < hi strictly, so floor(u/dt) stops one short of hi/dt when hi/dt is whole
        return int(np.ceil(self.hi / dt - _EPS)) - 1


Duration = Choice | Uniform
Timeline = tuple[tuple[str, Duration], ...]


def draw_epochs(timeline: Timeline, rng: np.random.Generator, n: int,
                dt: float) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Consecutive epochs of n trials: {name: (n, 2) [start, end) steps} and the lengths."""
    start = np.zeros(n, dtype=np.int64)
    epochs = {}
    for name, duration in timeline:
        end = start + duration.draw(rng, n, dt)
        epochs[name] = np.stack([start, end], axis=1)
        start = end
    return epochs, start


def timeline_max_steps(timeline: Timeline, dt: float) -> int:
    """The longest trial a timeline can produce."""
    return sum(duration.max_steps(dt) for _, duration in timeline)


def check_dt(dt) -> float:
    ok = isinstance(dt, numbers.Real) and not isinstance(dt, bool)
    if not (ok and np.isfinite(dt) and 0 < dt <= IGNORE_MS):
        raise ValueError(f"dt must be a number of ms in (0, {IGNORE_MS:g}], got {dt!r}")
    return float(dt)
