"""The 20 rules of Yang et al. 2019 as three task families (gyyang/multitask task.py, the
'random' mode used for training): reach (go / anti, with the stimulus until the end, in
reaction time, or before a delay), decision making (dm, ctxdm, multidm and their delayed
versions) and delayed match (dms, dnms, dmc, dnmc).

Every duration, direction, strength and modality follows Yang's 'random' mode, with these
choices where our interface differs (docs/decisions.md):

- Durations, modalities and the other per-batch draws of Yang's code are drawn per trial
  (Yang draws one trial length per batch; our batches carry each trial's own length).
- The multisensory tasks draw their modality split from the same Generator (Yang's code uses
  the global np.random there).
- Yang's own quirks are kept: the fixation input stays on for the whole trial in rtgo/rtanti
  and in the match tasks (the response is cued by the stimulus onset), the go/anti stimulus
  stays on until the end, the dmc response period is 200/400/600 ms instead of 500 ms.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from .batch import Plan, Stimulus
from .encoding import TWO_PI, Choice, Timeline, Uniform, draw_epochs, wrap

RESPONSE = ("go1", Choice((500.0,)))
SHORT = Choice((200.0, 400.0, 600.0))
DELAY = Choice((200.0, 400.0, 800.0, 1600.0))
DM_COHS = (0.01, 0.02, 0.04, 0.08)          # Yang's dm / ctxdm / multidm coherences
DLYDM_COHS = (0.08, 0.16, 0.32)             # ... and those of the delayed versions
DMC_ANGLES = np.pi * np.array([0.1, 0.3, 0.5, 0.7, 0.9, 1.1, 1.3, 1.5, 1.7, 1.9])

GO_TIMELINE: Timeline = (("fix1", Uniform(300, 700)), ("stim1", Uniform(500, 1500)), RESPONSE)
RT_TIMELINE: Timeline = (("fix1", Uniform(500, 2500)), RESPONSE)
DLY_TIMELINE: Timeline = (("fix1", Choice((300.0, 500.0, 700.0))), ("stim1", SHORT),
                          ("delay1", DELAY), RESPONSE)
DM_TIMELINE: Timeline = (("fix1", Uniform(100, 400)), ("stim1", Choice((400.0, 800.0, 1600.0))),
                         RESPONSE)
DLYDM_TIMELINE: Timeline = (("fix1", SHORT), ("stim1", SHORT), ("delay1", DELAY),
                            ("stim2", SHORT), ("delay2", Uniform(100, 300)), RESPONSE)
DMS_TIMELINE: Timeline = (("fix1", SHORT), ("stim1", SHORT), ("delay1", DELAY), RESPONSE)
DMC_TIMELINE: Timeline = DMS_TIMELINE[:-1] + (("go1", SHORT),)

Decided = tuple[list[Stimulus], np.ndarray, np.ndarray]   # stimuli, target, fix_in_off


def _signs(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 2, size=n) * 2 - 1


def _reach(rng, ep, length, *, anti: bool, stim_epoch: str, to_end: bool,
           fixation_stays: bool) -> Decided:
    """Go / anti: saccade to the stimulus direction (anti: the opposite one) once the
    fixation input goes off (reaction-time versions: once the stimulus appears)."""
    n = len(length)
    angle = rng.uniform(0, TWO_PI, size=n)
    ring = rng.integers(0, 2, size=n)
    on = ep[stim_epoch][:, 0]
    off = length if to_end else ep[stim_epoch][:, 1]
    stimuli = [Stimulus(ring, angle, np.ones(n), on, off)]
    target = wrap(angle + np.pi) if anti else angle
    fix_in_off = length if fixation_stays else ep["go1"][:, 0]
    return stimuli, target, fix_in_off


def _strength_pair(rng, n: int, cohs) -> tuple[np.ndarray, np.ndarray]:
    """Yang's contextdm_genstim: mean ~ U(0.8, 1.2), the two stimuli ± coh·sign around it."""
    mean = rng.uniform(0.8, 1.2, size=n)
    coh = np.asarray(cohs)[rng.integers(0, len(cohs), size=n)] * _signs(rng, n)
    return mean + coh, mean - coh


def _split(rng, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """multidm: a stimulus of total strength 2s split unevenly over the two modalities."""
    diff = s * rng.uniform(0.2, 0.8, size=len(s)) * _signs(rng, len(s))
    return s + diff / 2, s - diff / 2


def _dm(rng, ep, length, *, cohs, mode: str, second: str) -> Decided:
    """Decision making: two stimuli, saccade to the stronger one in the attended ring(s).
    mode: 'ring0' / 'ring1' (dm1, dm2: one modality shown), 'ctx0' / 'ctx1' (both shown, one
    attended), 'multi' (both shown, summed). second: the epoch of the second stimulus."""
    n = len(length)
    angle1 = rng.uniform(0, TWO_PI, size=n)
    angle2 = wrap(angle1 + rng.uniform(0.5 * np.pi, 1.5 * np.pi, size=n) * _signs(rng, n))
    if mode in ("ring0", "ring1"):
        pairs = {int(mode[-1]): _strength_pair(rng, n, cohs)}
        decide = pairs[int(mode[-1])]
    elif mode in ("ctx0", "ctx1"):
        pairs = {0: _strength_pair(rng, n, cohs), 1: _strength_pair(rng, n, cohs)}
        decide = pairs[int(mode[-1])]
    else:
        s1, s2 = _strength_pair(rng, n, cohs)
        (a1, b1), (a2, b2) = _split(rng, s1), _split(rng, s2)
        pairs = {0: (a1, a2), 1: (b1, b2)}
        decide = (a1 + b1, a2 + b2)
    windows = [ep["stim1"], ep[second]]
    stimuli = [Stimulus(np.full(n, ring), angle, strength[k], windows[k][:, 0], windows[k][:, 1])
               for ring, strength in pairs.items()
               for k, angle in enumerate((angle1, angle2))]
    target = np.where(decide[0] > decide[1], angle1, angle2)
    return stimuli, target, ep["go1"][:, 0]


def _match(rng, ep, length, *, category: bool, go_on_match: bool) -> Decided:
    """Delayed match to sample (same direction) or to category (same half of the circle,
    θ < π or not): respond to the test stimulus' direction on a (non-)match, else keep
    fixating. Sample and test each come on a random ring."""
    n = len(length)
    ring1, ring2 = rng.integers(0, 2, size=n), rng.integers(0, 2, size=n)
    if category:
        angle1 = DMC_ANGLES[rng.integers(0, len(DMC_ANGLES), size=n)]
        angle2 = DMC_ANGLES[rng.integers(0, len(DMC_ANGLES), size=n)]
        match = (angle1 < np.pi) == (angle2 < np.pi)
    else:
        match = rng.integers(0, 2, size=n).astype(bool)
        dist = rng.uniform(np.pi / 9, 17 * np.pi / 9, size=n) * _signs(rng, n)
        angle1 = rng.uniform(0, TWO_PI, size=n)
        angle2 = wrap(angle1 + dist * ~match)
    ones = np.ones(n)
    stimuli = [Stimulus(ring1, angle1, ones, ep["stim1"][:, 0], ep["stim1"][:, 1]),
               Stimulus(ring2, angle2, ones, ep["go1"][:, 0], length)]
    respond = match if go_on_match else ~match
    target = np.where(respond, angle2, np.nan)
    return stimuli, target, length


@dataclass(frozen=True)
class RuleSpec:
    timeline: Timeline
    decide: Callable[..., Decided]


def _reach_spec(timeline, anti, stim_epoch, to_end, fixation_stays) -> RuleSpec:
    return RuleSpec(timeline, partial(_reach, anti=anti, stim_epoch=stim_epoch, to_end=to_end,
                                      fixation_stays=fixation_stays))


SPECS: dict[str, RuleSpec] = {
    "go": _reach_spec(GO_TIMELINE, False, "stim1", True, False),
    "rtgo": _reach_spec(RT_TIMELINE, False, "go1", True, True),
    "dlygo": _reach_spec(DLY_TIMELINE, False, "stim1", False, False),
    "anti": _reach_spec(GO_TIMELINE, True, "stim1", True, False),
    "rtanti": _reach_spec(RT_TIMELINE, True, "go1", True, True),
    "dlyanti": _reach_spec(DLY_TIMELINE, True, "stim1", False, False),
    "dm1": RuleSpec(DM_TIMELINE, partial(_dm, cohs=DM_COHS, mode="ring0", second="stim1")),
    "dm2": RuleSpec(DM_TIMELINE, partial(_dm, cohs=DM_COHS, mode="ring1", second="stim1")),
    "ctxdm1": RuleSpec(DM_TIMELINE, partial(_dm, cohs=DM_COHS, mode="ctx0", second="stim1")),
    "ctxdm2": RuleSpec(DM_TIMELINE, partial(_dm, cohs=DM_COHS, mode="ctx1", second="stim1")),
    "multidm": RuleSpec(DM_TIMELINE, partial(_dm, cohs=DM_COHS, mode="multi", second="stim1")),
    "dlydm1": RuleSpec(DLYDM_TIMELINE,
                       partial(_dm, cohs=DLYDM_COHS, mode="ring0", second="stim2")),
    "dlydm2": RuleSpec(DLYDM_TIMELINE,
                       partial(_dm, cohs=DLYDM_COHS, mode="ring1", second="stim2")),
    "ctxdlydm1": RuleSpec(DLYDM_TIMELINE,
                          partial(_dm, cohs=DLYDM_COHS, mode="ctx0", second="stim2")),
    "ctxdlydm2": RuleSpec(DLYDM_TIMELINE,
                          partial(_dm, cohs=DLYDM_COHS, mode="ctx1", second="stim2")),
    "multidlydm": RuleSpec(DLYDM_TIMELINE,
                           partial(_dm, cohs=DLYDM_COHS, mode="multi", second="stim2")),
    "dms": RuleSpec(DMS_TIMELINE, partial(_match, category=False, go_on_match=True)),
    "dnms": RuleSpec(DMS_TIMELINE, partial(_match, category=False, go_on_match=False)),
    "dmc": RuleSpec(DMC_TIMELINE, partial(_match, category=True, go_on_match=True)),
    "dnmc": RuleSpec(DMC_TIMELINE, partial(_match, category=True, go_on_match=False)),
}


def plan_trials(rule: str, rng: np.random.Generator, n: int, dt: float) -> Plan:
    """n trials of one rule: the epochs first, then the family's draws, all from rng."""
    spec = SPECS[rule]
    epochs, length = draw_epochs(spec.timeline, rng, n, dt)
    stimuli, target, fix_in_off = spec.decide(rng, epochs, length)
    return Plan(epochs, length, np.asarray(fix_in_off), np.asarray(target, dtype=np.float64),
                stimuli)
