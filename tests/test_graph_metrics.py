"""Graph metrics (metrics/graph.py) on planted-partition graphs with known answers."""
import networkx as nx
import numpy as np
import pytest

from modlab.metrics.graph import (
    adjacency,
    best_newman_q,
    best_partition,
    ncut,
    ncut_zscore,
    newman_q,
    participation_coefficient,
    partition_agreement,
)


def planted(k: int, n: int, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """k cliques of n nodes (intra weight 1, no self-loops), every inter-block pair weight eps."""
    labels = np.repeat(np.arange(k), n)
    a = np.where(labels[:, None] == labels[None, :], 1.0, eps)
    np.fill_diagonal(a, 0.0)
    return a, labels


def planted_q(k: int, n: int, eps: float) -> float:
    # Strength s = (n−1) + eps·n(k−1), 2m = k·n·s, intra weight per block n(n−1), d_c = 2m/k:
    # Q = k·n(n−1)/2m − k·(1/k)² = (n−1)/s − 1/k.
    return (n - 1) / ((n - 1) + eps * n * (k - 1)) - 1 / k


def block_weights(k: int, rows: int, cols: int, rng) -> np.ndarray:
    w = np.zeros((k * rows, k * cols))
    for b in range(k):
        w[b * rows:(b + 1) * rows, b * cols:(b + 1) * cols] = rng.normal(size=(rows, cols))
    return w


@pytest.mark.parametrize("k, n, eps", [(2, 6, 0.0), (3, 5, 0.05), (4, 8, 0.1)])
def test_newman_q_of_planted_partition_matches_analytic_value(k, n, eps):
    a, labels = planted(k, n, eps)
    assert newman_q(a, labels) == pytest.approx(planted_q(k, n, eps), abs=1e-12)


def test_newman_q_equals_networkx_on_a_loop_free_graph():
    rng = np.random.default_rng(0)
    a = rng.random((12, 12))
    a = a + a.T
    np.fill_diagonal(a, 0.0)
    labels = rng.integers(0, 3, 12)
    g = nx.from_numpy_array(a)
    comms = [set(np.flatnonzero(labels == c)) for c in np.unique(labels)]
    assert newman_q(a, labels) == pytest.approx(nx.community.modularity(g, comms), abs=1e-12)


def test_self_loops_are_ignored_by_q_and_louvain_alike():
    a, labels = planted(3, 5, 0.05)
    looped = a + np.diag(np.full(15, 7.0))
    assert newman_q(looped, labels) == newman_q(a, labels)
    assert np.array_equal(best_partition(looped, seed=0), best_partition(a, seed=0))
    # S = W̄W̄ᵀ has a unit diagonal; the graph built from W has none.
    assert np.all(np.diag(adjacency(np.random.default_rng(1).normal(size=(6, 3)))) == 0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_louvain_finds_the_planted_partition_and_its_q(seed):
    a, labels = planted(4, 8, 0.1)
    q, found = best_newman_q(a, seed=seed)
    assert partition_agreement(labels, found)["ari"] == 1.0
    assert q == pytest.approx(planted_q(4, 8, 0.1), abs=1e-12)


def test_louvain_q_of_block_diagonal_weights():
    # Disjoint modules give a graph of disconnected components: Q = 1 − Σ_c (d_c / 2m)².
    w = block_weights(3, 6, 2, np.random.default_rng(3))
    a = adjacency(w)
    q, found = best_newman_q(a, seed=0)
    truth = np.repeat(np.arange(3), 6)
    share = np.array([a[truth == c].sum() for c in range(3)]) / a.sum()
    assert partition_agreement(truth, found)["ari"] == 1.0
    assert q == pytest.approx(1 - (share ** 2).sum(), abs=1e-12)


def test_louvain_is_deterministic_for_a_seed():
    a = np.random.default_rng(4).random((30, 30))
    a = a + a.T
    assert np.array_equal(best_partition(a, seed=5), best_partition(a, seed=5))


def test_recurrent_adjacency_is_symmetrised_abs_without_diagonal():
    w = np.array([[1.0, -2.0], [3.0, 4.0]])
    assert np.array_equal(adjacency(w, recurrent=True), [[0.0, 5.0], [5.0, 0.0]])
    with pytest.raises(ValueError, match="square"):
        adjacency(np.ones((2, 3)), recurrent=True)


def test_ncut_of_two_cliques_joined_by_one_edge():
    # cut = x, vol = n(n−1) + x for each clique: n-cut = 2x / (n(n−1) + x).
    n, x = 5, 0.3
    a, labels = planted(2, n, 0.0)
    a[0, n] = a[n, 0] = x
    assert ncut(a, labels) == pytest.approx(2 * x / (n * (n - 1) + x))
    assert ncut(planted(3, 4, 0.0)[0], planted(3, 4, 0.0)[1]) == 0.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ncut_zscore_separates_modular_from_shuffled_weights(seed):
    rng = np.random.default_rng(seed)
    modular = block_weights(4, 8, 2, rng) + 0.01 * rng.normal(size=(32, 8))
    result = ncut_zscore(modular, n_shuffle=10, seed=seed)
    assert result["k"] == 4 and result["ncut"] < result["null_mean"]
    # Outside the |z| < 4 band that i.i.d. weights stay in (next test); measured −6.5 to −8.
    assert result["z"] < -4


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_ncut_zscore_of_iid_weights_is_a_null_draw(seed):
    # i.i.d. weights are exchangeable with their shuffles, so z is one draw of a roughly
    # standard null: |z| < 4 has probability > 0.999 per seed.
    w = np.random.default_rng(seed).normal(size=(24, 12))
    assert abs(ncut_zscore(w, k=2, n_shuffle=10, seed=seed)["z"]) < 4


def test_ncut_zscore_is_seeded_and_validates():
    w = np.random.default_rng(9).normal(size=(16, 6))
    a, b = ncut_zscore(w, k=2, n_shuffle=4, seed=3), ncut_zscore(w, k=2, n_shuffle=4, seed=3)
    assert a["z"] == b["z"] and np.array_equal(a["labels"], b["labels"])
    assert ncut_zscore(w, k=2, n_shuffle=4, seed=4)["null_mean"] != a["null_mean"]
    with pytest.raises(ValueError, match="n_shuffle"):
        ncut_zscore(w, n_shuffle=1)


def test_participation_coefficient_known_cases():
    # P_i = 1 − Σ_c (k_ic / k_i)². Communities: {0, 1, 2}, {3, 5}, {4}.
    a = np.zeros((6, 6))
    for i, j in [(0, 1), (0, 2), (4, 0), (4, 3), (5, 0), (5, 3), (5, 4)]:
        a[i, j] = a[j, i] = 1.0
    p = participation_coefficient(a, [0, 0, 0, 1, 2, 1])
    assert p[0] == pytest.approx(1 - (2 / 4) ** 2 - (1 / 4) ** 2 - (1 / 4) ** 2)   # 1, 2 | 5 | 4
    assert p[4] == pytest.approx(1 - (1 / 3) ** 2 - (2 / 3) ** 2)                # 0 | 3, 5
    assert p[5] == pytest.approx(1 - 3 * (1 / 3) ** 2)                           # 0 | 3 | 4
    assert p[1] == 0.0                                   # all its weight stays in its module
    a2, l2 = planted(3, 4, 0.0)
    assert np.allclose(participation_coefficient(a2, l2), 0.0)
    assert participation_coefficient(np.zeros((2, 2)), [0, 1]).tolist() == [0.0, 0.0]


def test_partition_agreement_nmi_ari():
    a = np.array([0, 0, 1, 1, 2, 2])
    relabelled = np.array([5, 5, 3, 3, 4, 4])
    assert partition_agreement(a, relabelled) == {"nmi": pytest.approx(1.0), "ari": pytest.approx(1.0)}
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 4, 2000), rng.integers(0, 4, 2000)
    assert abs(partition_agreement(x, y)["ari"]) < 0.02
    # Dead neurons (−1) are left out of the comparison.
    assert partition_agreement([0, 0, 1, -1], [1, 1, 0, 0])["ari"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="equal length"):
        partition_agreement([0, 1], [0, 1, 2])
