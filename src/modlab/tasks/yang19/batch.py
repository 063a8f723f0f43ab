"""A batch of Yang-2019 trials: rendering a trial plan into arrays, the cost mask, and
Yang's performance measure.

Choices where Yang's code, the paper and the spec are silent or differ (docs/decisions.md):

- Cost mask (Yang's task.py add_c_mask): 0 for the first 100 ms, 1 up to the response
  period, 0 again for its first 100 ms (Yang's ``check_ons`` grace period, in which the
  output may still be turning), then 5; ×2 on the fixation output; 0 on padding. Yang's
  loss squares (y − ŷ)·mask, so the weights act squared.
- Performance: the spec's tolerance π/10 (Yang's code uses 0.2π); fixation must stay above
  0.5 on every step from 100 ms up to the response period (Yang looks at the last step only);
  the decision is read at each trial's own last step, as in Yang's get_perf: fixation output
  below 0.5 and the population vector within the tolerance, or, where the answer is to keep
  fixating, the fixation output above 0.5 on every step from 100 ms to the end.
- Epoch boundaries are [start, end) steps; an epoch a trial's rule does not have is (−1, −1),
  so every batch (and every mixture) has the same keys, ``EPOCHS``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .encoding import (
    BASELINE,
    EPOCHS,
    FIX_OFF,
    FIX_ON,
    GRACE_MS,
    IGNORE_MS,
    N_INPUT,
    N_OUTPUT,
    N_RING,
    RULE_START,
    RULES,
    angular_distance,
    popvec,
    ring_bump,
    to_steps,
)

PERF_TOL = np.pi / 10       # spec 02: the response must be within π/10 of the target
FIX_THRESHOLD = 0.5         # Yang: the network fixates while its fixation output is > 0.5
PRE_WEIGHT, RESPONSE_WEIGHT, FIXATION_FACTOR = 1.0, 5.0, 2.0


@dataclass
class Stimulus:
    """One stimulus per trial: a bump of `strength` on input ring `ring` (0 or 1) at
    `angle`, shown on steps [on, off)."""

    ring: np.ndarray
    angle: np.ndarray
    strength: np.ndarray
    on: np.ndarray
    off: np.ndarray


@dataclass
class Plan:
    """What a task family decided for n trials of one rule, before rendering."""

    epochs: dict[str, np.ndarray]   # {name: (n, 2)} for the epochs this rule has
    length: np.ndarray              # (n,) steps
    fix_in_off: np.ndarray          # (n,) first step without the fixation input
    target: np.ndarray              # (n,) response angle, NaN: keep fixating
    stimuli: list[Stimulus]

    @property
    def response_on(self) -> np.ndarray:
        return self.epochs["go1"][:, 0]


@dataclass
class TrialBatch:
    """A batch of trials, batch-first: x (B, T, N_INPUT), y and mask (B, T, N_OUTPUT), float32;
    per trial: rule index into RULES, length, response_on (steps), target angle in [0, 2π)
    (NaN where the answer is to keep fixating), and epochs {name: (B, 2) [start, end)}."""

    x: np.ndarray
    y: np.ndarray
    mask: np.ndarray
    rule: np.ndarray
    length: np.ndarray
    response_on: np.ndarray
    target: np.ndarray
    epochs: dict[str, np.ndarray] = field(default_factory=dict)
    dt: float = 20.0

    @property
    def batch_size(self) -> int:
        return self.x.shape[0]

    @property
    def n_steps(self) -> int:
        return self.x.shape[1]


def _window(on: np.ndarray, off: np.ndarray, n_steps: int) -> np.ndarray:
    """(n, T) bool, true on steps [on, off) of each trial."""
    t = np.arange(n_steps)
    return (t >= np.asarray(on)[:, None]) & (t < np.asarray(off)[:, None])


Part = tuple[np.ndarray, int, Plan]   # trial indices in the batch, rule index, their plan


def _gather(parts: list[Part], batch_size: int) -> dict[str, np.ndarray]:
    """Per-trial scalars of all parts, each trial at its index."""
    out = {name: np.zeros(batch_size, dtype=np.int64)
           for name in ("rule", "length", "response_on", "fix_in_off")}
    out["target"] = np.zeros(batch_size, dtype=np.float64)
    out.update({name: np.full((batch_size, 2), -1, dtype=np.int64) for name in EPOCHS})
    for index, rule, plan in parts:
        out["rule"][index] = rule
        out["length"][index], out["response_on"][index] = plan.length, plan.response_on
        out["fix_in_off"][index], out["target"][index] = plan.fix_in_off, plan.target
        for name, bounds in plan.epochs.items():
            out[name][index] = bounds
    return out


def render_inputs(parts: list[Part], trials: dict[str, np.ndarray], n_steps: int) -> np.ndarray:
    """x: fixation input on [0, fix_in_off), stimulus bumps (summed where they overlap, as
    Yang's add 'stim'), the rule unit on for the whole trial; 0 on padding."""
    batch_size = len(trials["length"])
    x = np.zeros((batch_size, n_steps, N_INPUT), dtype=np.float32)
    x[:, :, 0] = _window(0 * trials["length"], trials["fix_in_off"], n_steps)
    for index, _, plan in parts:
        n = len(index)
        rings = np.zeros((n, n_steps, 2 * N_RING), dtype=np.float32)
        for s in plan.stimuli:
            bump = np.zeros((n, 2, N_RING), dtype=np.float32)   # zero on the other ring
            bump[np.arange(n), s.ring] = ring_bump(s.angle) * np.asarray(s.strength)[:, None]
            shown = _window(s.on, s.off, n_steps).astype(np.float32)
            rings += shown[:, :, None] * bump.reshape(n, 1, 2 * N_RING)
        x[index, :, 1:RULE_START] = rings
    rows = np.arange(batch_size)
    x[rows, :, RULE_START + trials["rule"]] = _window(0 * rows, trials["length"], n_steps)
    return x


def render_targets(length: np.ndarray, response_on: np.ndarray, target: np.ndarray,
                   n_steps: int) -> np.ndarray:
    """y (Yang's lsq targets): fixation 0.8 until the response period (the whole trial when the
    answer is to keep fixating), else 0.05; ring 0.05 plus, during the response period, the
    tuning bump at the target angle; 0 on padding."""
    go = ~np.isnan(target)
    within = _window(0 * length, length, n_steps)
    respond = _window(response_on, length, n_steps) & go[:, None]
    y = np.zeros((len(length), n_steps, N_OUTPUT), dtype=np.float32)
    y[:, :, 0] = np.where(respond, FIX_OFF, FIX_ON) * within
    y[:, :, 1:] = BASELINE * within[:, :, None]
    bump = ring_bump(np.where(go, target, 0.0)).astype(np.float32)
    y[:, :, 1:] += respond[:, :, None] * bump[:, None, :]
    return y


def cost_mask(length: np.ndarray, response_on: np.ndarray, n_steps: int, dt: float) -> np.ndarray:
    """Yang's cost mask (task.py add_c_mask, lsq): 0 on [0, 100 ms), 1 up to response_on, 0 for
    the response period's first 100 ms, 5 to the trial's end, 0 on padding; ×2 on fixation."""
    ignore, grace = int(to_steps(IGNORE_MS, dt)), int(to_steps(GRACE_MS, dt))
    pre = _window(np.full_like(length, ignore), response_on, n_steps)
    post = _window(response_on + grace, length, n_steps)
    weight = (PRE_WEIGHT * pre + RESPONSE_WEIGHT * post).astype(np.float32)
    mask = np.repeat(weight[:, :, None], N_OUTPUT, axis=2)
    mask[:, :, 0] *= FIXATION_FACTOR
    return mask


def padded_epochs(epochs: dict[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
    """Every name in EPOCHS, (−1, −1) where the rule has no such epoch."""
    return {name: epochs.get(name, np.full((n, 2), -1, dtype=np.int64)).astype(np.int64)
            for name in EPOCHS}


def render(parts: list[Part], batch_size: int, n_steps: int, dt: float) -> TrialBatch:
    """The arrays of a batch whose trials come from one or more rules' plans, zero-padded
    to n_steps."""
    trials = _gather(parts, batch_size)
    return TrialBatch(
        x=render_inputs(parts, trials, n_steps),
        y=render_targets(trials["length"], trials["response_on"], trials["target"], n_steps),
        mask=cost_mask(trials["length"], trials["response_on"], n_steps, dt),
        rule=trials["rule"], length=trials["length"], response_on=trials["response_on"],
        target=trials["target"], epochs={name: trials[name] for name in EPOCHS}, dt=dt,
    )


def performance(y_hat: np.ndarray, batch: TrialBatch, *, tol: float = PERF_TOL) -> np.ndarray:
    """Yang 2019's per-trial correctness, (B,) bool (see the module docstring for the exact
    rule): fixation held before the response period and, at the trial's last step, fixation
    broken with popvec(ring output) within `tol` of the target, or fixation kept throughout
    where the answer is to keep fixating."""
    y_hat = np.asarray(y_hat)
    if y_hat.shape != batch.y.shape:
        raise ValueError(f"y_hat must have the batch's target shape {batch.y.shape}, "
                         f"got {y_hat.shape}")
    n_steps = batch.n_steps
    ignore = np.full_like(batch.length, int(to_steps(IGNORE_MS, batch.dt)))
    fixating = y_hat[:, :, 0] > FIX_THRESHOLD
    held_before = np.all(fixating | ~_window(ignore, batch.response_on, n_steps), axis=1)
    held_always = np.all(fixating | ~_window(ignore, batch.length, n_steps), axis=1)
    rows, last = np.arange(batch.batch_size), batch.length - 1
    angle = popvec(y_hat[rows, last, 1:])
    with np.errstate(invalid="ignore"):
        on_target = angular_distance(angle, batch.target) < tol
    responded = held_before & ~fixating[rows, last] & on_target
    return np.where(np.isnan(batch.target), held_always, responded)


GET_PERF_TOL = 0.2 * np.pi   # Yang's code (network.py get_perf)


def get_perf(y_hat: np.ndarray, batch: TrialBatch) -> np.ndarray:
    """Yang et al. 2019's own correctness measure (gyyang/multitask network.py ``get_perf``),
    (B,) bool: only each trial's last step is read; correct when the answer is to keep
    fixating and the fixation output is > 0.5, or when fixation is broken and popvec(ring
    output) is within 0.2π of the target. Laxer than `performance` (π/10, fixation held on
    every step before the response): report both, say which a headline uses."""
    y_hat = np.asarray(y_hat)
    if y_hat.shape != batch.y.shape:
        raise ValueError(f"y_hat must have the batch's target shape {batch.y.shape}, "
                         f"got {y_hat.shape}")
    rows, last = np.arange(batch.batch_size), batch.length - 1
    fixating = y_hat[rows, last, 0] > FIX_THRESHOLD
    with np.errstate(invalid="ignore"):
        on_target = angular_distance(popvec(y_hat[rows, last, 1:]), batch.target) < GET_PERF_TOL
    return np.where(np.isnan(batch.target), fixating, ~fixating & on_target)


def rule_names(batch: TrialBatch) -> list[str]:
    """The rule name of each trial."""
    return [RULES[i] for i in batch.rule]
