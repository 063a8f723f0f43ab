"""Graph metrics of a weight matrix: Newman Q, Louvain, n-cut with a shuffle null,
participation coefficient, partition agreement.

Graph convention (every function here): the undirected graph of a (post × pre) weight W has
the post neurons as nodes and S = W̄W̄ᵀ (Eq. 5, cosine similarity of incoming weights) as edge
weights, **without self-loops**. S has a unit diagonal — every neuron is trivially similar to
itself — and networkx would turn it into self-loops that count 2 towards a node's degree and
always fall inside the node's own community: they add the same constant to every node's
strength, pull Q of every partition towards that of singletons and say nothing about
connectivity *between* neurons. So the diagonal is dropped: by `adjacency`, and again by
`newman_q`, `best_partition`, `ncut` and `participation_coefficient` for any matrix passed in,
so that Q of a given partition and of Louvain's best one are always the same quantity.
(The spectrum of Eqs. 5–6 keeps the diagonal: it is the paper's definition.)
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .clustering import cluster_neurons
from .spectral import (
    DEFAULT_RTOL,
    ArrayLike,
    as_numpy,
    cosine_similarity_graph,
    laplacian_eigen,
    live_rows,
    module_count,
)


def _no_self_loops(a: ArrayLike) -> np.ndarray:
    a = as_numpy(a).copy()
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"adjacency must be a square matrix, got shape {a.shape}")
    np.fill_diagonal(a, 0.0)
    return a


def _labels(labels: Sequence[int], n: int, name: str = "labels") -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise ValueError(f"{name} must have one entry per node ({n}), got shape {labels.shape}")
    return labels


def adjacency(w: ArrayLike, recurrent: bool = False, rtol: float = DEFAULT_RTOL) -> np.ndarray:
    """Undirected weighted graph of W (no self-loops, see the module docstring).

    Default: S = W̄W̄ᵀ (Eq. 5) over the live post neurons (`live_rows(w, rtol=rtol)`; dead ones
    are left out, so node i is the i-th live neuron). `recurrent=True`: W is a recurrent
    (units × units) matrix whose rows and columns are the same neurons, and the graph is
    |W| + |W|ᵀ over all of them.
    """
    w = as_numpy(w)
    if w.ndim != 2:
        raise ValueError(f"expected a 2-D (post, pre) weight, got shape {w.shape}")
    if recurrent:
        if w.shape[0] != w.shape[1]:
            raise ValueError(f"recurrent=True needs a square weight, got shape {w.shape}")
        return _no_self_loops(np.abs(w) + np.abs(w).T)
    return _no_self_loops(cosine_similarity_graph(w[live_rows(w, rtol=rtol)]))


def newman_q(a: ArrayLike, labels: Sequence[int]) -> float:
    """Newman's modularity Q = (1/2m) Σ_ij [A_ij − k_i k_j / 2m] δ(c_i, c_j) (Newman 2006, eq. 2),
    i.e. Σ_c [L_c/m − (d_c/2m)²], of the weighted graph `a` for the partition `labels`.

    Self-loops (the diagonal of `a`) are ignored. Equals networkx's `modularity` on the same
    loop-free graph; computed in numpy so a 1000-node dense graph takes milliseconds.
    """
    a = _no_self_loops(a)
    labels = _labels(labels, a.shape[0])
    strength = a.sum(1)
    two_m = strength.sum()
    if two_m == 0:
        return 0.0
    _, c = np.unique(labels, return_inverse=True)
    onehot = np.eye(c.max() + 1)[c]
    within = np.einsum("ic,ij,jc->", onehot, a, onehot)
    degree = onehot.T @ strength
    return float(within / two_m - ((degree / two_m) ** 2).sum())


def best_partition(a: ArrayLike, seed: int = 0, resolution: float = 1.0) -> np.ndarray:
    """Louvain communities of the graph `a` (networkx, seeded): one label per node.

    Same graph convention as `newman_q` (self-loops ignored); labels are ordered by each
    community's smallest node.
    """
    import networkx as nx  # lazy: `import modlab` stays light

    a = _no_self_loops(a)
    if not a.any():
        return np.arange(a.shape[0])
    labels = np.zeros(a.shape[0], dtype=int)
    communities = nx.community.louvain_communities(nx.from_numpy_array(a), weight="weight",
                                                   resolution=resolution, seed=seed)
    for c, nodes in enumerate(sorted(communities, key=min)):
        labels[list(nodes)] = c
    return labels


def best_newman_q(a: ArrayLike, seed: int = 0, resolution: float = 1.0) -> tuple[float, np.ndarray]:
    """Q of Louvain's best partition and that partition: `(newman_q(a, labels), labels)`."""
    labels = best_partition(a, seed=seed, resolution=resolution)
    return newman_q(a, labels), labels


def ncut(a: ArrayLike, labels: Sequence[int]) -> float:
    """Normalised cut (Shi & Malik 2000): n-cut = Σ_c cut(c, c̄) / vol(c), where cut(c, c̄) is
    the edge weight leaving community c and vol(c) the total strength of its nodes.

    Self-loops ignored; communities of zero volume contribute 0. Lower = more clusterable;
    0 for a graph whose communities are disconnected, ≤ k for k communities.
    """
    a = _no_self_loops(a)
    labels = _labels(labels, a.shape[0])
    total = 0.0
    for c in np.unique(labels):
        inside = labels == c
        vol = a[inside].sum()
        if vol > 0:
            total += a[np.ix_(inside, ~inside)].sum() / vol
    return float(total)


def single_threaded():
    """Context: BLAS/OpenMP pools limited to one thread (threadpoolctl).

    The null runs k-means (scikit-learn, OpenMP) on tens to thousands of points many times;
    there the pool's start-up dominates: measured 6× (32 points) to 30× (1000 points) slower
    with the default pool than with one thread on a busy 2-core machine.
    """
    from threadpoolctl import threadpool_limits  # a scikit-learn dependency

    return threadpool_limits(1)


def _spectral_ncut(w: np.ndarray, k: int, seed: int, rtol: float) -> tuple[float, np.ndarray]:
    """n-cut of `cluster_neurons`' k clusters of w; labels per post neuron (−1: dropped)."""
    live = live_rows(w, rtol=rtol)
    labels = np.full(w.shape[0], -1)
    labels[live] = cluster_neurons(w[live], k, seed=seed)
    keep = labels >= 0
    return ncut(adjacency(w[keep], rtol=0.0), labels[keep]), labels


def ncut_zscore(w: ArrayLike, k: int | None = None, n_shuffle: int = 20, seed: int = 0,
                rtol: float = DEFAULT_RTOL) -> dict:
    """Clusterability of one weight layer (Filan et al. 2021, "Clusterability in neural
    networks"): the n-cut of its spectral clustering against a weight-shuffle null.

    The post neurons of |W| are split into k clusters by `cluster_neurons` (k-means on the k
    smallest eigenvectors of Eqs. 5–6's L_rw, whose relaxation minimises exactly this n-cut of
    S), k = k* by default but at least 2 (one cluster has n-cut 0 whatever W is). The null
    clusters `n_shuffle` copies of W whose entries are permuted within the layer (same weight
    distribution, structure destroyed) into the same k. z = (n-cut − mean_null) / sd_null;
    clearly negative z means more clusterable than chance. Seeded: `seed` drives the
    permutations and k-means. Returns {"k", "ncut", "null_mean", "null_sd", "z", "n_shuffle",
    "labels"} (labels: W's clusters per post neuron, −1 for dropped ones).
    """
    if n_shuffle < 2:
        raise ValueError(f"n_shuffle must be >= 2 (a z-score needs a spread), got {n_shuffle}")
    w = as_numpy(w)
    if w.ndim != 2:
        raise ValueError(f"expected a 2-D (post, pre) weight, got shape {w.shape}")
    if k is None:
        k = int(module_count(laplacian_eigen(w, rtol=rtol).eigvals))
    k = max(int(k), 2)
    rng = np.random.default_rng(seed)
    with single_threaded():
        observed, labels = _spectral_ncut(w, k, seed, rtol)
        null = np.array([_spectral_ncut(rng.permutation(w.ravel()).reshape(w.shape), k, seed,
                                        rtol)[0] for _ in range(n_shuffle)])
    sd = float(null.std(ddof=1))
    z = (observed - null.mean()) / sd if sd > 0 else float("nan")
    return {"k": k, "ncut": observed, "null_mean": float(null.mean()), "null_sd": sd,
            "z": float(z), "n_shuffle": n_shuffle, "labels": labels}


def participation_coefficient(a: ArrayLike, labels: Sequence[int]) -> np.ndarray:
    """Participation coefficient of every node (Guimerà & Amaral 2005):
    P_i = 1 − Σ_c (k_ic / k_i)², k_ic the weight from i into community c, k_i its strength.

    0 when all of a node's edges stay in one community, → 1 − 1/k when spread evenly over k.
    Self-loops ignored; an isolated node gets 0.
    """
    a = _no_self_loops(a)
    labels = _labels(labels, a.shape[0])
    _, c = np.unique(labels, return_inverse=True)
    per_community = a @ np.eye(c.max() + 1)[c] if len(c) else np.zeros((0, 0))
    strength = a.sum(1)
    safe = np.where(strength > 0, strength, 1.0)
    return np.where(strength > 0, 1.0 - ((per_community / safe[:, None]) ** 2).sum(1), 0.0)


def partition_agreement(labels_a: Sequence[int], labels_b: Sequence[int]) -> dict[str, float]:
    """Agreement of two partitions of the same nodes: normalised mutual information and the
    adjusted Rand index (scikit-learn). Nodes labelled −1 (dead) in either are left out.
    """
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    a, b = np.asarray(labels_a), np.asarray(labels_b)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"partitions must be 1-D and of equal length, got {a.shape} and {b.shape}")
    keep = (a >= 0) & (b >= 0)
    return {"nmi": float(normalized_mutual_info_score(a[keep], b[keep])),
            "ari": float(adjusted_rand_score(a[keep], b[keep]))}
