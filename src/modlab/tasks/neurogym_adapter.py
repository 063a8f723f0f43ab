"""NeuroGym's ``yang19`` collection as TrialBatches, the same layout as modlab.tasks.yang19.

An optional extra (``pip install modlab[neurogym]``; neurogym 2.3.x pins its own numpy and
gymnasium, so it lives in its own environment): neurogym is imported only when a batch is
asked for. The 20 environments of ``get_collection('yang19')`` are made at our dt with
``dim_ring=32`` and scheduled by ``ScheduleEnvs(env_input=True)``, which appends the one-hot
rule to the observation in the collection's order (= RULES).

Choices (docs/decisions.md):

- Trials are taken with ``new_trial()`` one by one, as ``ngym.Dataset`` does inside; Dataset
  itself is not used because it cuts one continuous stream of trials into windows, which
  would lose each trial's length, response onset and target.
- NeuroGym's targets are class labels (0 = fixate, k = ring unit k − 1); they become Yang's
  lsq targets (fixation 0.8 / 0.05, ring 0.05 + bump), and the cost mask is ours, with the
  response period = NeuroGym's 'decision' period.
- NeuroGym's input noise is switched off (sigma=0 where an environment takes it), as the
  network adds σ_x; NeuroGym's own timings and strengths are kept (they differ from Yang's).
- Epochs map fixation→fix1, stimulus/sample/stim1→stim1, delay→delay1, test/stim2→stim2,
  decision→go1; a NeuroGym period of zero length stays an empty [start, start) epoch.
"""
from __future__ import annotations

import warnings

import numpy as np

from .yang19.batch import TrialBatch, cost_mask, padded_epochs, render_targets
from .yang19.encoding import N_RING, RULES, check_dt, preferred_angles
from .yang19.generate import check_count, check_rule, padded_length

INSTALL_HINT = "neurogym_batch needs the optional extra neurogym: pip install modlab[neurogym]"
_EPOCH_OF = {"fixation": "fix1", "stimulus": "stim1", "sample": "stim1", "stim1": "stim1",
             "delay": "delay1", "test": "stim2", "stim2": "stim2", "decision": "go1"}
_NOISY = set(RULES[6:])   # the dm and match families take a noise level; the reach ones don't


def _neurogym():
    try:
        import neurogym
        from neurogym.envs.collections import get_collection
        from neurogym.utils import scheduler
        from neurogym.wrappers.block import ScheduleEnvs
    except ImportError as err:
        raise ImportError(INSTALL_HINT) from err
    return neurogym, get_collection, scheduler, ScheduleEnvs


def make_env(dt: float, seed: int):
    """The 20 yang19 environments (RULES order) behind one ScheduleEnvs with the rule input."""
    ngym, get_collection, scheduler, ScheduleEnvs = _neurogym()
    ids = {name.split(".", 1)[1].rsplit("-", 1)[0]: name for name in get_collection("yang19")}
    missing = [r for r in RULES if r not in ids]
    if missing:
        raise ImportError(f"neurogym's yang19 collection lacks {missing}; {INSTALL_HINT}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # gymnasium's notes on attribute forwarding
        envs = [ngym.make(ids[r], dt=dt, dim_ring=N_RING, **({"sigma": 0.0} if r in _NOISY else {}))
                for r in RULES]
        env = ScheduleEnvs(envs, scheduler.RandomSchedule(len(envs)), env_input=True)
        env.seed(seed)
        env.reset()
    return env


def _trial(env, rule_index: int) -> tuple[np.ndarray, np.ndarray, dict[str, tuple[int, int]]]:
    env.next_i_env = rule_index   # ScheduleEnvs takes its next environment from here
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        env.new_trial()
    task = env.unwrapped
    epochs = {_EPOCH_OF[p]: (task.start_ind[p], task.end_ind[p]) for p in task.start_ind}
    return np.asarray(task.ob, dtype=np.float32), np.asarray(task.gt), epochs


def neurogym_batch(rule: str, batch_size: int, seed: int, dt: float = 20.0, *,
                   pad_to: int | None = None) -> TrialBatch:
    """batch_size trials of one rule from NeuroGym's yang19 collection, seeded by `seed`,
    padded with zeros to the longest trial or to exactly pad_to."""
    rule, batch_size = check_rule(rule), check_count("batch_size", batch_size)
    seed, dt = check_count("seed", seed, minimum=0), check_dt(dt)
    env = make_env(dt, seed)
    trials = [_trial(env, RULES.index(rule)) for _ in range(batch_size)]
    length = np.array([ob.shape[0] for ob, _, _ in trials], dtype=np.int64)
    n_steps = padded_length(length, [rule], pad_to)
    x = np.zeros((batch_size, n_steps, trials[0][0].shape[1]), dtype=np.float32)
    for i, (ob, _, _) in enumerate(trials):
        x[i, :len(ob)] = ob
    response_on = np.array([ep["go1"][0] for _, _, ep in trials], dtype=np.int64)
    last_label = np.array([gt[-1] for _, gt, _ in trials])
    target = np.where(last_label > 0, preferred_angles()[np.maximum(last_label - 1, 0)], np.nan)
    epochs = {name: np.array([ep.get(name, (-1, -1)) for _, _, ep in trials], dtype=np.int64)
              for name in set(_EPOCH_OF.values())}
    return TrialBatch(
        x=x, y=render_targets(length, response_on, target, n_steps),
        mask=cost_mask(length, response_on, n_steps, dt),
        rule=np.full(batch_size, RULES.index(rule), dtype=np.int64), length=length,
        response_on=response_on, target=target, epochs=padded_epochs(epochs, batch_size), dt=dt)
