"""Metrics against analytic cases (spec 1, Eqs. 5–6)."""
import networkx as nx
import numpy as np
import pytest
import scipy.linalg
from sklearn.metrics import adjusted_rand_score

from modlab.metrics import (
    cluster_neurons,
    collapse_columns,
    cosine_similarity_graph,
    eigengaps,
    gap_at,
    laplacian_eigen,
    laplacian_spectrum,
    layer_report,
    module_count,
    newman_q,
    reorder_network,
)


def block_diagonal(k: int, rows: int, cols: int, rng) -> np.ndarray:
    """k modules: post neurons of block b receive only from pre neurons of block b."""
    w = np.zeros((k * rows, k * cols))
    for b in range(k):
        w[b * rows:(b + 1) * rows, b * cols:(b + 1) * cols] = rng.normal(size=(rows, cols))
    return w


@pytest.mark.parametrize("k", [2, 3, 4, 6])
def test_block_diagonal_has_k_zero_eigenvalues(k):
    rng = np.random.default_rng(k)
    w = block_diagonal(k, 8, 3, rng)
    vals = laplacian_spectrum(w)
    assert np.allclose(vals[:k], 0, atol=1e-10)
    assert vals[k] > 0.1
    assert module_count(vals) == k


def test_single_input_blocks_give_gap_one():
    # n = 4 one-input modules: S has rank 4, so λ_5 … λ_32 = 1 and g_4 = 1 − λ_4 = 1.
    w = block_diagonal(4, 8, 1, np.random.default_rng(0))
    vals = laplacian_spectrum(w)
    assert gap_at(vals, 4) == pytest.approx(1.0, abs=1e-10)
    assert np.allclose(vals[4:], 1.0, atol=1e-10)


def test_spectrum_equals_general_solver_on_random_walk_laplacian():
    w = np.random.default_rng(1).normal(size=(32, 4))
    s = cosine_similarity_graph(w)
    l_rw = np.eye(32) - s / s.sum(1, keepdims=True)
    general = np.sort(scipy.linalg.eigvals(l_rw).real)
    assert np.allclose(laplacian_spectrum(w), general, atol=1e-9)


def test_eigenvectors_are_random_walk_eigenvectors():
    w = np.random.default_rng(2).normal(size=(12, 5))
    spec = laplacian_eigen(w)
    s = cosine_similarity_graph(w)
    l_rw = np.eye(12) - s / s.sum(1, keepdims=True)
    assert np.allclose(l_rw @ spec.eigvecs, spec.eigvecs * spec.eigvals, atol=1e-9)


def test_invariant_to_permuting_neurons():
    rng = np.random.default_rng(3)
    w = rng.normal(size=(16, 10))
    permuted = w[rng.permutation(16)][:, rng.permutation(10)]
    assert np.allclose(laplacian_spectrum(w), laplacian_spectrum(permuted), atol=1e-10)


def test_dense_random_weights_have_no_modules():
    # A dense random matrix is one connected blob: one zero eigenvalue, the rest clustered
    # near 1, so the only large gap is g_1 and every later gap is small.
    w = np.random.default_rng(4).normal(size=(32, 32))
    gaps = eigengaps(laplacian_spectrum(w))
    assert module_count(laplacian_spectrum(w)) == 1
    assert gaps[1:].max() < 0.1


def test_dead_neurons_are_dropped_not_divided_by_zero():
    w = block_diagonal(2, 4, 2, np.random.default_rng(5))
    w[3] = 0.0
    spec = laplacian_eigen(w)
    assert spec.n_dropped == 1 and len(spec.eigvals) == 7
    assert np.allclose(spec.eigvals[:2], 0, atol=1e-10)


def test_batched_spectrum_matches_single_and_pads_dead():
    rng = np.random.default_rng(6)
    stack = rng.normal(size=(5, 10, 4))
    stack[2, 7] = 0.0
    batched = laplacian_spectrum(stack)
    for i in range(5):
        single = laplacian_spectrum(stack[i])
        assert np.allclose(batched[i, : len(single)], single)
    assert np.isnan(batched[2, -1]) and not np.isnan(batched[1]).any()


@pytest.mark.parametrize("k", [2, 3, 5])
def test_clustering_recovers_planted_modules_for_any_k(k):
    rng = np.random.default_rng(k)
    w = block_diagonal(k, 6, 2, rng)
    perm = rng.permutation(w.shape[0])
    labels = cluster_neurons(w[perm], k)
    truth = np.repeat(np.arange(k), 6)[perm]
    assert adjusted_rand_score(truth, labels) == 1.0


def test_reordering_restores_block_structure():
    rng = np.random.default_rng(7)
    w = block_diagonal(4, 8, 1, rng)
    w_next = rng.normal(size=(4, 32))
    mats, labels = reorder_network([w[rng.permutation(32)], w_next])
    # After reordering, each run of 8 rows of layer 0 reads from exactly one input.
    for b in range(4):
        used = np.flatnonzero(mats[0][b * 8:(b + 1) * 8].sum(0))
        assert len(used) == 1
    assert mats[1].shape == (4, 32)


def test_collapse_columns_sums_groups():
    w = np.arange(12.0).reshape(2, 6) - 6
    out = collapse_columns(w, [0, 0, 1, 1, 1, -1])
    assert np.allclose(out, [[6 + 5, 4 + 3 + 2], [0 + 1, 2 + 3 + 4]])


@pytest.mark.parametrize("k", [2, 3, 4])
def test_newman_q_of_disjoint_cliques(k):
    # k equal disconnected cliques: Q = Σ_c [1/k − (1/k)²] = 1 − 1/k.
    g = nx.disjoint_union_all([nx.complete_graph(5) for _ in range(k)])
    labels = np.repeat(np.arange(k), 5)
    assert newman_q(nx.to_numpy_array(g), labels) == pytest.approx(1 - 1 / k)


def test_newman_q_planted_partition_matches_formula():
    g = nx.planted_partition_graph(4, 10, 0.9, 0.05, seed=1)
    a = nx.to_numpy_array(g)
    labels = np.repeat(np.arange(4), 10)
    m = a.sum() / 2
    expected = sum(a[np.ix_(labels == c, labels == c)].sum() / (2 * m)
                   - (a[labels == c].sum() / (2 * m)) ** 2 for c in range(4))
    assert newman_q(a, labels) == pytest.approx(expected)
    assert newman_q(a, np.random.default_rng(0).permutation(labels)) < expected - 0.3


def test_layer_report_on_ensemble_stack():
    rng = np.random.default_rng(8)
    w0 = np.stack([block_diagonal(4, 8, 1, rng), rng.normal(size=(32, 4))])
    rows = layer_report([w0], true_k=4)
    assert [r["k_star"] for r in rows] == [4, 1]
    assert rows[0]["gap_at_true_k"] == pytest.approx(1.0)
    assert rows[1]["gap_at_true_k"] < 0.5


# --- near-dead neurons (relative tolerance) and the authors' reference spectrum -----------

def test_near_dead_neuron_is_dropped_not_blown_up_to_unit_length():
    # Row 3's incoming weights are ~1e-12 and reach both modules: normalised to unit length
    # (rtol=0) it bridges them and one zero eigenvalue is lost; the default drops it.
    w = block_diagonal(2, 4, 2, np.random.default_rng(5))
    w[3] = 1e-12
    raw = laplacian_eigen(w, rtol=0.0)
    assert raw.n_dropped == 0 and (np.abs(raw.eigvals) < 1e-9).sum() == 1
    spec = laplacian_eigen(w)
    assert spec.n_dropped == 1 and np.allclose(spec.eigvals[:2], 0, atol=1e-10)
    assert module_count(spec.eigvals) == 2
    assert cluster_neurons(w, 2)[3] == -1
    assert layer_report([w])[0]["dropped_neurons"] == 1
    assert np.isnan(laplacian_spectrum(np.stack([w, w]))[:, -1]).all()


def test_relative_tolerance_leaves_ordinary_matrices_alone():
    rng = np.random.default_rng(11)
    w = rng.normal(size=(20, 6))
    w[4] *= 1e-3                         # weak (a decayed dead ReLU's scale), not dead
    assert np.array_equal(laplacian_spectrum(w), laplacian_spectrum(w, rtol=0.0))
    # The tolerance is relative to each matrix's own largest row: a tiny matrix keeps all rows.
    stack = np.stack([w, 1e-9 * w])
    assert not np.isnan(laplacian_spectrum(stack)).any()
    with pytest.raises(ValueError, match="rtol"):
        laplacian_spectrum(w, rtol=-1.0)


def test_reference_spectrum_is_eigh_on_the_nonsymmetric_laplacian():
    w = np.random.default_rng(12).normal(size=(16, 5))
    s = cosine_similarity_graph(w)
    l_rw = np.eye(16) - s / s.sum(1, keepdims=True)
    assert not np.allclose(l_rw, l_rw.T)
    reference = laplacian_spectrum(w, method="reference")
    assert np.allclose(reference, scipy.linalg.eigh(l_rw, eigvals_only=True), atol=1e-12)
    assert np.abs(reference - laplacian_spectrum(w)).max() > 1e-3       # it is wrong
    batched = laplacian_spectrum(np.stack([w, w[::-1]]), method="reference")
    assert np.allclose(batched[0], reference, atol=1e-10)
    assert np.allclose(laplacian_eigen(w, method="reference").eigvals, reference, atol=1e-12)


def test_reference_spectrum_agrees_when_degrees_are_equal():
    # Block-diagonal single-input modules of equal size: every degree is equal, L_rw is
    # symmetric, and reading one triangle loses nothing.
    w = block_diagonal(4, 8, 1, np.random.default_rng(0))
    assert np.allclose(laplacian_spectrum(w, method="reference"), laplacian_spectrum(w), atol=1e-10)
    with pytest.raises(ValueError, match="method"):
        laplacian_spectrum(w, method="nosuch")
