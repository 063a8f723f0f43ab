"""Newman modularity Q of a weighted graph for a given partition (networkx)."""
from __future__ import annotations

from collections.abc import Sequence

import networkx as nx
import numpy as np

from .spectral import ArrayLike, as_numpy, cosine_similarity_graph, live_rows


def adjacency(w: ArrayLike) -> np.ndarray:
    """Undirected weights: |W| + |W|ᵀ for a square (recurrent) matrix, S = W̄W̄ᵀ otherwise."""
    w = as_numpy(w)
    if w.shape[0] == w.shape[1]:
        return np.abs(w) + np.abs(w).T
    return cosine_similarity_graph(w[live_rows(w)])


def newman_q(a: ArrayLike, labels: Sequence[int]) -> float:
    """Newman's Q = Σ_c [L_c/m − (d_c/2m)²] of the weighted graph `a` for the partition `labels`."""
    a = as_numpy(a)
    labels = np.asarray(labels)
    g = nx.from_numpy_array(a)
    communities = [set(np.flatnonzero(labels == c).tolist()) for c in np.unique(labels)]
    return float(nx.community.modularity(g, communities, weight="weight"))
