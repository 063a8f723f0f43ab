"""Spectral clustering of neurons and the reordering used to draw modular weights."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .spectral import DEFAULT_RTOL, ArrayLike, as_numpy, laplacian_eigen, module_count


def cluster_neurons(w: ArrayLike, k: int | None = None, seed: int = 0,
                    rtol: float = DEFAULT_RTOL) -> np.ndarray:
    """Cluster the post neurons of W: k-means on the k smallest eigenvectors of L_rw.

    k defaults to k* (argmax eigengap). Returns one label per post neuron, −1 for dead ones
    (incoming norm below rtol × the largest, see `spectral.live_rows`).
    """
    spec = laplacian_eigen(w, rtol=rtol)
    labels = np.full(spec.live.shape[0], -1)
    n_live = int(spec.live.sum())
    if n_live == 0:
        return labels
    k = module_count(spec.eigvals) if k is None else k
    k = max(1, min(int(k), n_live))
    if k == 1:
        labels[spec.live] = 0
        return labels
    from sklearn.cluster import KMeans  # lazy: scikit-learn costs ~2 s of every worker's start-up
    from threadpoolctl import threadpool_limits

    # one BLAS thread: on a busy 2-core machine k-means is 6–30× faster so, and seed-stable
    with threadpool_limits(1):
        km = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(spec.eigvecs[:, :k])
    labels[spec.live] = km.labels_
    return labels


def _mean_pre_index(a: np.ndarray) -> np.ndarray:
    """|W|-weighted mean pre-synaptic index of each row."""
    total = a.sum(-1)
    return (a @ np.arange(a.shape[-1])) / np.where(total > 0, total, 1.0)


def reorder_neurons(w: ArrayLike, labels: Sequence[int]) -> np.ndarray:
    """A permutation of post neurons: clusters ordered by their |W|-weighted mean pre index,
    neurons within a cluster likewise, dead neurons (label −1) last."""
    a = np.abs(as_numpy(w))
    labels = np.asarray(labels)
    centre = _mean_pre_index(a)
    cluster_ids = [c for c in np.unique(labels) if c >= 0]
    cluster_centre = {c: _mean_pre_index(a[labels == c].sum(0, keepdims=True))[0] for c in cluster_ids}
    key = [(cluster_centre.get(c, np.inf), centre[i]) for i, c in enumerate(labels)]
    return np.array(sorted(range(len(labels)), key=lambda i: key[i]), dtype=int)


def reorder_network(weights: Sequence[ArrayLike], ks: Sequence[int | None] | None = None,
                    seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Reorder every hidden layer of a layered network for plotting.

    Layer l's rows are permuted by its clustering; its columns by layer l−1's row order.
    Returns (reordered |W| per layer, labels per layer in the new order).
    """
    ks = list(ks) if ks is not None else [None] * len(weights)
    out, out_labels, prev = [], [], None
    for i, w in enumerate(weights):
        a = np.abs(as_numpy(w))
        if prev is not None:
            a = a[:, prev]
        last = i == len(weights) - 1
        labels = np.zeros(a.shape[0], dtype=int) if last else cluster_neurons(a, ks[i], seed)
        order = np.arange(a.shape[0]) if last else reorder_neurons(a, labels)
        out.append(a[order])
        out_labels.append(labels[order])
        prev = order
    return out, out_labels


def collapse_columns(w: ArrayLike, pre_labels: Sequence[int]) -> np.ndarray:
    """The code's "collapsed" variant: sum |W| over groups of pre neurons (previous layer's clusters)."""
    a = np.abs(as_numpy(w))
    pre_labels = np.asarray(pre_labels)
    groups = [g for g in np.unique(pre_labels) if g >= 0]
    return np.stack([a[:, pre_labels == g].sum(-1) for g in groups], axis=-1)
