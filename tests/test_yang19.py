"""The 20 Yang-2019 tasks: layout, epochs, cost mask, task logic, determinism, mixtures,
padding, Yang's performance measure and popvec; the NeuroGym adapter where neurogym exists."""
import sys

import numpy as np
import pytest

from modlab.tasks.yang19 import (
    EPOCHS,
    N_INPUT,
    N_OUTPUT,
    N_RING,
    RULES,
    generate,
    generate_mixture,
    max_steps,
    performance,
    popvec,
    ring_bump,
)
from modlab.tasks.yang19.encoding import angular_distance, preferred_angles
from modlab.tasks.yang19.families import plan_trials

DT = 20.0
RING1, RING2, RULE0 = slice(1, 1 + N_RING), slice(1 + N_RING, 1 + 2 * N_RING), 1 + 2 * N_RING
TWO_PI = 2 * np.pi

# Yang's 'random'-mode durations in ms (task.py): a set of values, or a [lo, hi) range.
SHORT, DELAY, RESP = {200, 400, 600}, {200, 400, 800, 1600}, {500}
TIMING = {
    "go": {"fix1": (300, 700), "stim1": (500, 1500), "go1": RESP},
    "rtgo": {"fix1": (500, 2500), "go1": RESP},
    "dlygo": {"fix1": {300, 500, 700}, "stim1": SHORT, "delay1": DELAY, "go1": RESP},
    "dm1": {"fix1": (100, 400), "stim1": {400, 800, 1600}, "go1": RESP},
    "dlydm1": {"fix1": SHORT, "stim1": SHORT, "delay1": DELAY, "stim2": SHORT,
               "delay2": (100, 300), "go1": RESP},
    "dms": {"fix1": SHORT, "stim1": SHORT, "delay1": DELAY, "go1": RESP},
    "dmc": {"fix1": SHORT, "stim1": SHORT, "delay1": DELAY, "go1": SHORT},
}
SAME_TIMING = {"anti": "go", "rtanti": "rtgo", "dlyanti": "dlygo", "dm2": "dm1", "ctxdm1": "dm1",
               "ctxdm2": "dm1", "multidm": "dm1", "dlydm2": "dlydm1", "ctxdlydm1": "dlydm1",
               "ctxdlydm2": "dlydm1", "multidlydm": "dlydm1", "dnms": "dms", "dnmc": "dmc"}
# max_steps at dt = 20 from those ranges: floor(ms/20) per epoch, u < hi for the ranges.
MAX_STEPS = {"go": 34 + 74 + 25, "rtgo": 124 + 25, "dlygo": 35 + 30 + 80 + 25,
             "dm1": 19 + 80 + 25, "dlydm1": 30 + 30 + 80 + 30 + 14 + 25,
             "dms": 30 + 30 + 80 + 25, "dmc": 30 + 30 + 80 + 30}


def timing_of(rule):
    return TIMING[SAME_TIMING.get(rule, rule)]


def batch_of(rule, seed=0, n=48, **kw):
    return generate(rule, n, np.random.default_rng(seed), **kw)


def windows(batch):
    """(B, T) bool masks of a batch: inside the trial, before / in the response period."""
    t = np.arange(batch.n_steps)
    within = t < batch.length[:, None]
    pre = t < batch.response_on[:, None]
    return within, pre & within, ~pre & within


# ---------------------------------------------------------------- layout


def test_layout_is_yangs():
    assert RULES == ("go", "rtgo", "dlygo", "anti", "rtanti", "dlyanti", "dm1", "dm2", "ctxdm1",
                     "ctxdm2", "multidm", "dlydm1", "dlydm2", "ctxdlydm1", "ctxdlydm2",
                     "multidlydm", "dms", "dnms", "dmc", "dnmc")
    assert (N_RING, N_INPUT, N_OUTPUT) == (32, 85, 33)


@pytest.mark.parametrize("rule", RULES)
def test_shapes_dtypes_and_value_ranges(rule):
    b = batch_of(rule)
    B, T = 48, int(b.length.max())
    assert b.x.shape == (B, T, N_INPUT) and b.y.shape == b.mask.shape == (B, T, N_OUTPUT)
    assert b.x.dtype == b.y.dtype == b.mask.dtype == np.float32
    assert b.rule.shape == b.length.shape == b.response_on.shape == b.target.shape == (B,)
    assert np.all(b.rule == RULES.index(rule)) and b.dt == DT
    within, pre, post = windows(b)
    assert set(np.unique(b.x[..., 0])) <= {0.0, 1.0}
    # strengths reach at most 1.52 (dly cohs), ×1.4 in multisensory trials, times the 0.8 bump
    assert b.x.min() >= 0 and b.x[..., 1:RULE0].max() < 0.8 * 1.52 * 1.4 + 0.01
    assert np.all(b.y[..., 0][pre] == np.float32(0.8))
    assert set(np.unique(b.y[..., 0][post])) <= {np.float32(0.8), np.float32(0.05)}
    ring = b.y[..., 1:][within]
    assert ring.min() == np.float32(0.05) and ring.max() <= np.float32(0.85)
    go = ~np.isnan(b.target)
    assert np.all((b.target[go] >= 0) & (b.target[go] < TWO_PI))
    for arr in (b.x, b.y, b.mask):
        assert not np.any(arr[~within])


@pytest.mark.parametrize("rule", RULES)
def test_rule_input_is_one_hot_for_the_whole_trial(rule):
    b = batch_of(rule)
    within, _, _ = windows(b)
    rule_in = b.x[..., RULE0:]
    assert np.all(rule_in[within] == np.eye(len(RULES), dtype=np.float32)[RULES.index(rule)])


# ---------------------------------------------------------------- epochs and mask


@pytest.mark.parametrize("rule", RULES)
def test_epochs_follow_each_other_with_yangs_durations(rule):
    b = batch_of(rule, n=200)
    spec = timing_of(rule)
    present = [e for e in EPOCHS if e in spec]
    assert list(spec) == present                     # Yang's order
    assert set(b.epochs) == set(EPOCHS)
    start = np.zeros_like(b.length)
    for name in present:
        ep = b.epochs[name]
        assert np.array_equal(ep[:, 0], start)
        ms = (ep[:, 1] - ep[:, 0]) * DT
        allowed = spec[name]
        if isinstance(allowed, set):
            assert set(ms) <= allowed
        else:
            lo, hi = allowed
            assert ms.min() >= lo and ms.max() < hi and len(set(ms)) > 3
        start = ep[:, 1]
    assert np.array_equal(start, b.length)
    assert np.array_equal(b.epochs["go1"][:, 0], b.response_on)
    for name in set(EPOCHS) - set(present):
        assert np.all(b.epochs[name] == -1)
    assert b.length.max() <= max_steps(rule)


@pytest.mark.parametrize("rule", RULES)
def test_cost_mask_is_yangs(rule):
    b = batch_of(rule)
    ignore = grace = int(100 / DT)
    for i in range(0, 48, 7):
        m, on, L = b.mask[i], b.response_on[i], b.length[i]
        ring, fix = m[:, 1:], m[:, 0]
        assert np.all(ring == ring[:, :1])           # the same weight on every ring unit
        expect = np.zeros(b.n_steps)
        expect[ignore:on], expect[on + grace:L] = 1.0, 5.0
        np.testing.assert_array_equal(ring[:, 0], expect)
        np.testing.assert_array_equal(fix, 2 * expect)


@pytest.mark.parametrize("rule", sorted(MAX_STEPS))
def test_max_steps_from_yangs_ranges(rule):
    assert max_steps(rule) == MAX_STEPS[rule]
    assert max_steps(rule, dt=10) >= 2 * MAX_STEPS[rule]


def test_max_steps_of_several_rules_is_the_longest():
    assert max_steps(RULES) == MAX_STEPS["dlydm1"] == 209
    assert max_steps(["go", "dms"]) == 165


# ---------------------------------------------------------------- task logic


def rendered_rings(plan, n_steps):
    """The two input rings rebuilt from a plan's stimuli, independently of the generator."""
    t = np.arange(n_steps)
    rings = np.zeros((len(plan.length), n_steps, 2, N_RING))
    for s in plan.stimuli:
        shown = (t >= s.on[:, None]) & (t < s.off[:, None])
        for i in range(len(plan.length)):
            rings[i, shown[i], s.ring[i]] += s.strength[i] * ring_bump(s.angle[i])
    return rings


@pytest.mark.parametrize("rule", RULES)
def test_inputs_are_the_planned_stimuli(rule):
    """generate renders exactly the trials plan_trials draws from the same Generator state."""
    b = batch_of(rule, seed=3, n=12)
    plan = plan_trials(rule, np.random.default_rng(3), 12, DT)
    np.testing.assert_array_equal(b.length, plan.length)
    np.testing.assert_array_equal(b.target, plan.target)
    rings = rendered_rings(plan, b.n_steps)
    np.testing.assert_allclose(b.x[..., RING1], rings[:, :, 0], atol=1e-6)
    np.testing.assert_allclose(b.x[..., RING2], rings[:, :, 1], atol=1e-6)


@pytest.mark.parametrize("rule", ["go", "rtgo", "dlygo", "anti", "rtanti", "dlyanti"])
def test_reach_targets_and_timing(rule):
    b = batch_of(rule, n=64)
    plan = plan_trials(rule, np.random.default_rng(0), 64, DT)
    (stim,) = plan.stimuli
    shift = np.pi if "anti" in rule else 0.0
    assert np.all(angular_distance(b.target, stim.angle + shift) < 1e-12)
    # the input ring's population vector points at the stimulus
    i = np.arange(64)
    shown = b.x[i, stim.on, 1:RULE0].reshape(64, 2, N_RING)[i, stim.ring]
    assert np.all(angular_distance(popvec(shown), stim.angle) < 1e-6)
    assert set(stim.ring) == {0, 1}
    if rule.startswith("rt"):
        assert np.array_equal(stim.on, b.response_on)          # the stimulus is the go cue
        assert np.all(b.x[..., 0][windows(b)[0]] == 1)          # fixation input stays on
    else:
        assert np.all(b.x[i, b.response_on, 0] == 0) and np.all(b.x[i, b.response_on - 1, 0] == 1)
        ends_at = b.epochs["stim1"][:, 1] if rule.startswith("dly") else b.length
        assert np.array_equal(stim.off, ends_at)


DM_MODES = {"dm1": [0], "dm2": [1], "ctxdm1": [0], "ctxdm2": [1], "multidm": [0, 1],
            "dlydm1": [0], "dlydm2": [1], "ctxdlydm1": [0], "ctxdlydm2": [1], "multidlydm": [0, 1]}


@pytest.mark.parametrize("rule", sorted(DM_MODES))
def test_dm_picks_the_stronger_stimulus_in_the_attended_rings(rule):
    n = 200
    b = batch_of(rule, n=n)
    plan = plan_trials(rule, np.random.default_rng(0), n, DT)
    by = {(int(s.ring[0]), k): s for k, s in
          [(k % 2, s) for k, s in enumerate(plan.stimuli)]}
    rings_shown = {r for r, _ in by}
    assert rings_shown == ({0, 1} if "ctx" in rule or "multi" in rule else set(DM_MODES[rule]))
    total = [sum(by[(r, k)].strength for r in DM_MODES[rule]) for k in (0, 1)]
    stronger = np.where(total[0] > total[1], by[(DM_MODES[rule][0], 0)].angle,
                        by[(DM_MODES[rule][0], 1)].angle)
    np.testing.assert_array_equal(b.target, stronger)
    a1, a2 = by[(DM_MODES[rule][0], 0)].angle, by[(DM_MODES[rule][0], 1)].angle
    assert np.all(angular_distance(a1, a2) >= 0.5 * np.pi - 1e-9)
    if "ctx" in rule:
        # the ignored ring disagrees on about half the trials, so ignoring it matters
        other = 1 - DM_MODES[rule][0]
        disagree = (by[(other, 0)].strength > by[(other, 1)].strength) != (total[0] > total[1])
        assert 0.35 < disagree.mean() < 0.65      # binomial sd 0.035 at n = 200
    if "dly" in rule:
        assert np.array_equal(by[(DM_MODES[rule][0], 1)].on, b.epochs["stim2"][:, 0])


@pytest.mark.parametrize("rule", ["dms", "dnms", "dmc", "dnmc"])
def test_match_tasks_respond_on_match_or_non_match(rule):
    n = 400
    b = batch_of(rule, n=n)
    plan = plan_trials(rule, np.random.default_rng(0), n, DT)
    sample, test = plan.stimuli
    if rule in ("dms", "dnms"):
        match = angular_distance(sample.angle, test.angle) < 1e-9
        assert angular_distance(sample.angle, test.angle)[~match].min() >= np.pi / 9 - 1e-9
    else:
        match = (sample.angle < np.pi) == (test.angle < np.pi)
    respond = match if rule in ("dms", "dmc") else ~match
    assert 0.4 < respond.mean() < 0.6                        # binomial sd 0.025 at n = 400
    assert np.all(np.isnan(b.target) == ~respond)
    np.testing.assert_array_equal(b.target[respond], test.angle[respond])
    assert np.array_equal(test.on, b.response_on) and np.array_equal(test.off, b.length)
    keep = ~respond
    within = windows(b)[0]
    assert np.all(b.y[keep][..., 0][within[keep]] == np.float32(0.8))   # keep fixating
    assert np.all(b.y[keep][..., 1:][within[keep]] == np.float32(0.05))


def test_go_target_bump_is_at_the_target():
    b = batch_of("dlygo", n=16)
    i = np.arange(16)
    y_ring = b.y[i, b.length - 1, 1:]
    np.testing.assert_allclose(y_ring, 0.05 + ring_bump(b.target), atol=1e-6)
    assert np.all(angular_distance(popvec(y_ring), b.target) < 1e-6)


# ---------------------------------------------------------------- determinism, mixtures, padding


def fields(b):
    return [b.x, b.y, b.mask, b.rule, b.length, b.response_on, b.target,
            *[b.epochs[e] for e in EPOCHS]]


@pytest.mark.parametrize("rule", RULES)
def test_same_seed_same_bits_other_seed_differs(rule):
    a, b, c = batch_of(rule, seed=7, n=8), batch_of(rule, seed=7, n=8), batch_of(rule, seed=8, n=8)
    for u, v in zip(fields(a), fields(b)):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a.target, c.target, equal_nan=True)
    assert a.x.shape != c.x.shape or not np.array_equal(a.x, c.x)


def test_mixture_is_deterministic_and_draws_rules():
    mix = lambda seed: generate_mixture(RULES, 200, np.random.default_rng(seed))  # noqa: E731
    a, b, c = mix(1), mix(1), mix(2)
    for u, v in zip(fields(a), fields(b)):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a.rule, c.rule)
    assert len(set(a.rule)) >= 15                      # 200 draws over 20 rules
    within = windows(a)[0]
    for i in range(200):
        assert np.all(a.x[i, within[i], RULE0:].argmax(-1) == a.rule[i])
    assert a.n_steps == a.length.max()
    assert np.all(performance(a.y, a))


def test_mixture_weights_and_uniform_rate():
    only = generate_mixture(["go", "dms"], 50, np.random.default_rng(0), weights=[0, 1])
    assert np.all(only.rule == RULES.index("dms"))
    both = generate_mixture(["go", "dms"], 400, np.random.default_rng(0))
    frac = np.mean(both.rule == RULES.index("go"))
    assert 0.4 < frac < 0.6                            # binomial sd 0.025 at n = 400


def test_mixture_trials_match_single_rule_layout():
    b = generate_mixture(["dm1", "dms"], 64, np.random.default_rng(5))
    dms = b.rule == RULES.index("dms")
    assert np.all(b.epochs["stim2"][~dms] == -1) and np.all(b.epochs["delay1"][dms] >= 0)
    assert not np.any(np.isnan(b.target[~dms]))       # dm trials always respond


@pytest.mark.parametrize("rule", ["go", "dlydm2", "dnmc"])
def test_padding_to_a_fixed_length(rule):
    T = max_steps(RULES)
    a, p = batch_of(rule, seed=4), batch_of(rule, seed=4, pad_to=T)
    assert p.x.shape[1] == p.y.shape[1] == p.mask.shape[1] == T
    n = a.n_steps
    for u, v in [(a.x, p.x), (a.y, p.y), (a.mask, p.mask)]:
        np.testing.assert_array_equal(u, v[:, :n])
        assert not np.any(v[:, n:])
    np.testing.assert_array_equal(a.target, p.target)
    mixed = generate_mixture(RULES, 32, np.random.default_rng(0), pad_to=T)
    assert mixed.n_steps == T


def test_pad_to_shorter_than_a_trial_is_refused():
    with pytest.raises(ValueError, match="pad_to"):
        batch_of("dlydm1", pad_to=50)
    with pytest.raises(ValueError, match="pad_to"):
        generate_mixture(RULES, 64, np.random.default_rng(0), pad_to=50)


def test_dt_changes_the_step_count_not_the_durations():
    coarse, fine = batch_of("dlygo", seed=2, dt=20.0), batch_of("dlygo", seed=2, dt=10.0)
    np.testing.assert_array_equal(fine.length, 2 * coarse.length)
    assert fine.dt == 10.0


# ---------------------------------------------------------------- performance and popvec


@pytest.mark.parametrize("rule", RULES)
def test_perfect_answer_is_correct(rule):
    b = batch_of(rule)
    assert np.all(performance(b.y, b))


def answer(b, shift):
    """y with the response bump moved by `shift` (fixation output untouched)."""
    y = b.y.copy()
    _, _, post = windows(b)
    go = ~np.isnan(b.target)
    moved = 0.05 + ring_bump(np.where(go, b.target + shift, 0.0))
    y[..., 1:] = np.where((post & go[:, None])[..., None], moved[:, None, :], y[..., 1:])
    return y


@pytest.mark.parametrize("rule", ["go", "rtanti", "dm2", "ctxdlydm1", "dms", "dnmc"])
def test_wrong_angle_or_broken_fixation_is_incorrect(rule):
    b = batch_of(rule, n=64)
    go = ~np.isnan(b.target)
    # a response π/5 off is wrong, π/20 off is within the spec's π/10
    assert not np.any(performance(answer(b, np.pi / 5), b)[go])
    assert np.all(performance(answer(b, -np.pi / 20), b))
    assert not np.any(performance(b.y, b, tol=0.0)[go])
    # a one-step fixation break before the response period
    y = b.y.copy()
    i = np.arange(64)
    y[i, b.response_on - 1, 0] = 0.3
    assert not np.any(performance(y, b))
    # ... but not in the first 100 ms, which Yang's mask and measure ignore
    y = b.y.copy()
    y[:, :int(100 / DT), 0] = 0.0
    assert np.all(performance(y, b))
    # keep-fixating trials that saccade at the end, and responding trials that never do
    y = b.y.copy()
    y[i, b.length - 1, 0] = np.where(go, 0.8, 0.05)
    assert not np.any(performance(y, b))


def test_performance_checks_the_shape():
    b = batch_of("go", n=4)
    with pytest.raises(ValueError, match="y_hat"):
        performance(b.y[:, :-1], b)


def test_popvec_reads_out_a_bump_and_one_hot_units():
    angles = np.random.default_rng(0).uniform(0, TWO_PI, 100)
    np.testing.assert_allclose(angular_distance(popvec(ring_bump(angles)), angles), 0, atol=1e-9)
    np.testing.assert_allclose(angular_distance(popvec(0.05 + ring_bump(angles)), angles), 0,
                               atol=1e-9)
    eye = np.eye(N_RING)
    np.testing.assert_allclose(popvec(eye), preferred_angles(), atol=1e-12)
    out = popvec(ring_bump(angles).reshape(10, 10, N_RING))
    assert out.shape == (10, 10) and np.all((out >= 0) & (out < TWO_PI))
    assert np.isnan(popvec(np.zeros(N_RING)))


def test_ring_bump_is_yangs_gaussian():
    bump = ring_bump(np.array(0.0))
    assert bump[0] == pytest.approx(0.8)
    assert bump[2] == pytest.approx(0.8 * np.exp(-0.5 * (2 * TWO_PI / 32 / (np.pi / 8)) ** 2))
    assert bump[1] == pytest.approx(bump[-1])          # periodic


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("call, word", [
    (lambda: generate("nope", 4, np.random.default_rng(0)), "rule"),
    (lambda: generate("go", 0, np.random.default_rng(0)), "batch_size"),
    (lambda: generate("go", 4, 0), "rng"),
    (lambda: generate("go", 4, np.random.default_rng(0), dt=0), "dt"),
    (lambda: generate("go", 4, np.random.default_rng(0), dt=250.0), "dt"),
    (lambda: generate("go", 4, np.random.default_rng(0), pad_to=0), "pad_to"),
    (lambda: generate_mixture([], 4, np.random.default_rng(0)), "rules"),
    (lambda: generate_mixture(["go", "x"], 4, np.random.default_rng(0)), "rule"),
    (lambda: generate_mixture(["go"], 4, np.random.default_rng(0), weights=[1, 1]), "weights"),
    (lambda: generate_mixture(["go", "dm1"], 4, np.random.default_rng(0), weights=[-1, 2]),
     "weights"),
    (lambda: max_steps([]), "rules"),
])
def test_bad_input_is_a_one_line_value_error(call, word):
    with pytest.raises(ValueError, match=word) as err:
        call()
    assert "\n" not in str(err.value)


# ---------------------------------------------------------------- NeuroGym adapter


def test_adapter_without_neurogym_names_the_extra(monkeypatch):
    from modlab.tasks.neurogym_adapter import neurogym_batch
    monkeypatch.setitem(sys.modules, "neurogym", None)   # makes `import neurogym` fail
    with pytest.raises(ImportError, match=r"pip install modlab\[neurogym\]"):
        neurogym_batch("go", 2, 0)


@pytest.fixture(scope="module")
def neurogym_batches():
    pytest.importorskip("neurogym", reason="neurogym is an optional extra "
                        "(pip install modlab[neurogym]); the adapter test needs it")
    from modlab.tasks.neurogym_adapter import neurogym_batch
    return {rule: neurogym_batch(rule, 8, seed=0) for rule in RULES}, neurogym_batch


def test_neurogym_batches_have_our_layout(neurogym_batches):
    batches, neurogym_batch = neurogym_batches
    for rule, b in batches.items():
        ours = batch_of(rule, n=8)
        assert b.x.shape[::2] == ours.x.shape[::2] and b.y.shape[::2] == ours.y.shape[::2]
        assert b.x.dtype == b.y.dtype == b.mask.dtype == np.float32
        within = windows(b)[0]
        assert np.all(b.x[..., RULE0:][within] == np.eye(20)[RULES.index(rule)])
        assert np.all(performance(b.y, b)), rule
        assert set(b.epochs) == set(EPOCHS)
        assert np.all(b.epochs["go1"][:, 0] == b.response_on)
    again, other = neurogym_batch("dms", 8, seed=0), neurogym_batch("dms", 8, seed=1)
    for u, v in zip(fields(again), fields(batches["dms"])):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(other.x, again.x)
    assert np.array_equal(neurogym_batch("go", 4, seed=0, pad_to=209).x.shape, (4, 209, 85))


def test_neurogym_stimulus_is_our_bump_at_the_target(neurogym_batches):
    batches, _ = neurogym_batches
    for rule, shift in [("go", 0.0), ("anti", np.pi)]:
        b = batches[rule]
        i = np.arange(8)
        on = b.epochs["stim1"][:, 0]
        rings = b.x[i, on, 1:RULE0].reshape(8, 2, N_RING)
        shown = rings[i, rings.sum(-1).argmax(1)]
        np.testing.assert_allclose(shown, ring_bump(b.target + shift), atol=1e-6)
