"""RNN modularity metrics (spec 2) against planted cases with known answers."""
import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from modlab.metrics.rnn import (
    functional_clusters,
    locality,
    partition_q,
    recurrent_modularity,
    sparsity,
    task_variance,
)
from modlab.regularizers.bimt import grid_coords

K, SIZE, TASKS_PER_BLOCK, N_DEAD = 4, 12, 2, 5


def planted_activity(seed, trials=30, steps=10, fixation=3):
    """Units in K blocks; each task drives one block strongly (gain ~1) and the rest weakly
    (0.05); the first `fixation` steps carry large shared noise that the mask must remove.
    The last N_DEAD units are silent."""
    rng = np.random.default_rng(seed)
    n = K * SIZE + N_DEAD
    block = np.r_[np.repeat(np.arange(K), SIZE), np.full(N_DEAD, -1)]
    acts = []
    for task in range(K * TASKS_PER_BLOCK):
        gain = np.where(block == task // TASKS_PER_BLOCK, rng.uniform(0.7, 1.3, n), 0.05)
        gain[block < 0] = 0.0
        signal = rng.normal(size=(trials, steps, 1))
        act = gain * signal + 0.01 * rng.normal(size=(trials, steps, n)) * (block >= 0)
        act[:, :fixation] += 5 * rng.normal(size=(trials, fixation, n))
        acts.append(act)
    mask = np.ones((trials, steps), dtype=bool)
    mask[:, :fixation] = False
    return acts, mask, block


def test_task_variance_is_trial_variance_averaged_over_time():
    trials, steps = 4, 3
    # activity[r, t, u] = (u + 1)·r + t: variance over r is (u + 1)²·var(0..3) = (u + 1)²·1.25
    act = (np.arange(2)[None, None] + 1) * np.arange(trials)[:, None, None] + np.arange(steps)[None, :, None]
    tv = task_variance([act, 2 * act[:, :2]])
    assert tv.shape == (2, 2)
    assert np.allclose(tv[:, 0], [1.25, 5.0]) and np.allclose(tv[:, 1], [5.0, 20.0])


def test_task_variance_mask_drops_steps():
    acts, mask, _ = planted_activity(0)
    masked, unmasked = task_variance(acts, mask), task_variance(acts)
    # Fixation noise (variance 25 on 3 of 10 steps, ≈ 7.5 on average) dominates unless masked.
    assert unmasked.min() > 3 and masked[: K * SIZE].max() < 2
    per_task = task_variance(acts, [mask] * len(acts))
    assert np.array_equal(per_task, masked)
    with pytest.raises(ValueError, match="mask"):
        task_variance(acts, [mask[:, :5]] * len(acts))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_planted_blocks_are_recovered(seed):
    acts, mask, block = planted_activity(seed)
    fc = functional_clusters(task_variance(acts, mask), ks=range(2, 10), seed=seed)
    assert fc.k == K
    assert np.array_equal(fc.labels < 0, block < 0)
    live = block >= 0
    assert adjusted_rand_score(block[live], fc.labels[live]) == 1.0
    assert fc.silhouette[list(fc.ks).index(K)] == fc.silhouette.max()


def test_no_functional_structure_is_one_cluster_not_an_error():
    same = np.ones((12, 1))                        # one task: every normalised profile is 1
    fc = functional_clusters(same, ks=range(2, 6))
    assert fc.k == 1 and set(fc.labels) == {0} and np.isneginf(fc.silhouette).all()
    two = np.zeros((5, 3))
    two[:2] = 1.0                                  # 2 active units: no k in 2..1
    fc = functional_clusters(two, ks=range(2, 6))
    assert fc.k == 1 and list(fc.labels) == [0, 0, -1, -1, -1]
    assert functional_clusters(np.zeros((4, 2))).k == 0


def planted_recurrent(a, b, seed):
    """|W| = a inside a block, b between blocks, zero diagonal, random signs."""
    rng = np.random.default_rng(seed)
    block = np.repeat(np.arange(K), SIZE)
    w = np.where(block[:, None] == block[None, :], a, b) * rng.choice([-1.0, 1.0], (K * SIZE,) * 2)
    np.fill_diagonal(w, 0.0)
    return w, block


@pytest.mark.parametrize("a, b", [(1.0, 0.0), (1.0, 0.1), (0.3, 0.05)])
def test_partition_q_of_planted_blocks_matches_analytic_value(a, b):
    w, block = planted_recurrent(a, b, seed=0)
    # Every node has strength (s−1)a + (n−s)b, so Q = (s−1)a / deg − 1/K.
    deg = (SIZE - 1) * a + (K * SIZE - SIZE) * b
    assert partition_q(w, block) == pytest.approx((SIZE - 1) * a / deg - 1 / K, abs=1e-12)
    shuffled = np.random.default_rng(1).permutation(block)
    assert partition_q(w, shuffled) < 0.05


def test_partition_q_leaves_out_inactive_units():
    w, block = planted_recurrent(1.0, 0.0, seed=0)
    big = np.pad(w, ((0, 3), (0, 3)), constant_values=1.0)       # 3 inactive, densely wired
    labels = np.r_[block, [-1, -1, -1]]
    assert partition_q(big, labels) == pytest.approx(1 - 1 / K, abs=1e-12)


def test_recurrent_spectrum_counts_planted_blocks():
    w, block = planted_recurrent(1.0, 0.0, seed=2)
    rm = recurrent_modularity(w, block)
    assert rm.k_star == K and np.allclose(rm.eigvals[:K], 0, atol=1e-10)
    assert rm.q == pytest.approx(1 - 1 / K)


def quadrant_labels(side):
    r, c = np.divmod(np.arange(side * side), side)
    return 2 * (r >= side // 2) + (c >= side // 2)


def test_contiguous_patches_are_local():
    side = 12
    loc = locality(grid_coords(side * side), quadrant_labels(side), n_shuffle=300, seed=0)
    assert loc.z < -20 and np.all(loc.per_cluster_z < -8)
    # A 6×6 patch, cells 1/12 apart: per axis Σ_{c,c'∈0..5} |c − c'| = 70 over the 6 rows'
    # 36·36 ordered cell pairs gives 36·70 / (36·35) = 2 cells for distinct units; two axes.
    assert np.allclose(loc.per_cluster, 2 * 2 / 12)
    assert loc.observed < loc.null_mean


def test_shuffled_clusters_score_like_the_null():
    # With labels placed at random, the observed statistic is one more draw from the null
    # distribution, so z is ≈ N(0, 1): over 20 seeds every |z| < 4 (two-sided p ≈ 6e-5 each)
    # and the mean z lies within 3 standard errors (3/√20 ≈ 0.67) of 0.
    side = 12
    zs = []
    for seed in range(20):
        labels = np.random.default_rng(seed).permutation(quadrant_labels(side))
        zs.append(locality(grid_coords(side * side), labels, n_shuffle=300, seed=100 + seed).z)
    zs = np.array(zs)
    assert np.all(np.abs(zs) < 4) and abs(zs.mean()) < 3 / np.sqrt(len(zs))


def test_locality_ignores_inactive_units_and_rejects_singletons():
    side = 8
    labels = quadrant_labels(side)
    labels[::7] = -1
    loc = locality(grid_coords(side * side), labels, n_shuffle=50)
    assert list(loc.clusters) == [0, 1, 2, 3] and loc.z < -5
    with pytest.raises(ValueError, match="≥ 2 units"):
        locality(grid_coords(4), [0, 1, 2, 3])


def test_sparsity_counts_weights_above_threshold():
    w = [np.array([[0.5, -0.01], [0.0, 2.0]]), np.array([[-0.2, 0.1]])]
    s = sparsity(w, 0.1)
    assert (s.count, s.total) == (3, 6) and s.fraction == pytest.approx(0.5)


def test_wiring_locality_of_nearest_neighbour_wiring_and_of_a_shuffled_grid():
    from modlab.metrics import wiring_locality
    from modlab.regularizers.bimt import grid_coords

    xy = grid_coords(64).numpy()
    d = np.abs(xy[:, None] - xy[None]).sum(-1)
    near = np.where(np.isclose(d, 1 / 8), 1.0, 0.0)          # grid neighbours only
    loc = wiring_locality(near, xy, n_shuffle=200)
    assert loc.observed == pytest.approx(1 / 8) and loc.z < -10
    perm = np.random.default_rng(0).permutation(64)           # the same wiring, units moved
    moved = wiring_locality(near[np.ix_(perm, perm)], xy, n_shuffle=200)
    assert moved.null_mean == pytest.approx(loc.null_mean, rel=0.02) and abs(moved.z) < 4
    w = np.random.default_rng(1).standard_normal((64, 64))
    manual = (np.abs(w) * d).sum() / np.abs(w).sum()
    assert wiring_locality(w, xy, n_shuffle=50).observed == pytest.approx(manual)
    with pytest.raises(ValueError, match="w_rec"):
        wiring_locality(w[:5], xy)
