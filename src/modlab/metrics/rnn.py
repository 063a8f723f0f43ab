"""Modularity of a trained RNN (spec 2, "Measuring RNN modularity"; after Yang et al. 2019).

Functional: task variance per unit and task, k-means clusters of the normalised variances with
k chosen by silhouette. Anatomical: Newman Q of |W_rec| for that functional partition, the
Eq. 5–6 spectrum of W_rec, and the spatial locality of each cluster against a shuffle null.
scikit-learn is imported inside the functions that need it.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .graph import adjacency, newman_q
from .spectral import ArrayLike, as_numpy, laplacian_spectrum, module_count


def task_variance(activity: ArrayLike | Sequence[ArrayLike],
                  mask: ArrayLike | Sequence[ArrayLike] | None = None) -> np.ndarray:
    """Yang 2019 task variance TV(unit, task): the variance across trials of the unit's
    activity at each time step, averaged over the time steps; shape (units, tasks).

    `activity`: one (trials, T, units) array per task (a list: trial counts and T may differ
    between tasks) or a (tasks, trials, T, units) array. `mask`: optional booleans (trials, T)
    marking the steps to use (the caller leaves out the fixation epoch), one per task or one
    shared by all tasks. With a mask, each step's variance is over the trials that use it
    (steps used by fewer than 2 trials are skipped) and the average is over the steps used.
    """
    tasks = [as_numpy(a) for a in activity]
    if not tasks:
        raise ValueError("activity must hold at least one task")
    masks = _task_masks(mask, tasks)
    out = []
    for t, (act, use) in enumerate(zip(tasks, masks)):
        if act.ndim != 3:
            raise ValueError(f"activity[{t}] must be (trials, T, units), got shape {act.shape}")
        out.append(_masked_time_mean_variance(act, use, t))
    return np.stack(out, axis=1)


def _task_masks(mask, tasks: list[np.ndarray]) -> list[np.ndarray]:
    if mask is None:
        return [np.ones(a.shape[:2], dtype=bool) for a in tasks]
    shared = not isinstance(mask, (list, tuple)) and np.ndim(mask) == 2
    masks = [as_numpy(mask)] * len(tasks) if shared else [as_numpy(m) for m in mask]
    if len(masks) != len(tasks):
        raise ValueError(f"mask must have one entry per task ({len(tasks)}), got {len(masks)}")
    for t, (m, a) in enumerate(zip(masks, tasks)):
        if m.shape != a.shape[:2]:
            raise ValueError(f"mask[{t}] must have shape (trials, T) = {a.shape[:2]}, "
                             f"got {m.shape}")
    return [m.astype(bool) for m in masks]


def _masked_time_mean_variance(act: np.ndarray, use: np.ndarray, task: int) -> np.ndarray:
    w = use[..., None].astype(float)                      # (trials, T, 1)
    n = w.sum(0)                                          # trials per step, (T, 1)
    mean = (w * act).sum(0) / np.maximum(n, 1)
    var = (w * (act - mean) ** 2).sum(0) / np.maximum(n, 1)   # np.var's ddof = 0
    steps = n[:, 0] >= 2
    if not steps.any():
        raise ValueError(f"mask[{task}] leaves no time step with ≥ 2 trials")
    return var[steps].mean(0)


@dataclass
class FunctionalClusters:
    """k-means clusters of normalised task variance; labels −1 for inactive units."""

    labels: np.ndarray        # (units,)
    k: int
    ks: np.ndarray            # the k tried
    silhouette: np.ndarray    # silhouette score for each k tried
    active: np.ndarray        # (units,) bool: Σ TV > min_total


def functional_clusters(tv: ArrayLike, *, min_total: float = 1e-3, ks: Sequence[int] = range(2, 30),
                        n_init: int = 20, seed: int = 0) -> FunctionalClusters:
    """Yang 2019 clustering: keep units with Σ_tasks TV > min_total, divide each unit's TV by
    its maximum over tasks, k-means (n_init restarts, seeded) for every k in `ks`, and keep
    the k of the highest silhouette score. k ≥ the number of active units are skipped.
    Runs k-means on one thread (see below).

    No structure is an answer, not an error: when no k gives two or more distinct clusters
    (identical normalised profiles, e.g. a single task, or fewer than 3 active units) every
    active unit is in cluster 0 and k = 1 (0 without active units); such k score −inf.
    """
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import silhouette_score
    from threadpoolctl import threadpool_limits

    tv = as_numpy(tv)
    if tv.ndim != 2:
        raise ValueError(f"tv must be (units, tasks), got shape {tv.shape}")
    active = tv.sum(1) > min_total
    x = tv[active] / tv[active].max(1, keepdims=True)
    ks = np.array([k for k in ks if 2 <= k < len(x)], dtype=int)
    # One thread: on these small problems OpenMP start-up dominates (400 units × 20 tasks,
    # k = 2..29: 5 s on 1 thread, 39 s on 2 busy cores), and the bits do not depend on the
    # machine's core count.
    with threadpool_limits(limits=1), warnings.catch_warnings():
        # fewer distinct profiles than k: handled below (that k cannot score)
        warnings.simplefilter("ignore", ConvergenceWarning)
        fits = [KMeans(n_clusters=int(k), n_init=n_init, random_state=seed).fit(x).labels_
                for k in ks]
    scores = np.array([silhouette_score(x, lab) if 2 <= len(np.unique(lab)) < len(x)
                       else -np.inf for lab in fits])
    labels = np.full(tv.shape[0], -1, dtype=int)
    if not np.isfinite(scores).any():
        labels[active] = 0
        return FunctionalClusters(labels, int(active.any()), ks, scores, active)
    best = int(np.argmax(scores))
    labels[active] = fits[best]
    return FunctionalClusters(labels, int(ks[best]), ks, scores, active)


@dataclass
class Locality:
    """Mean intra-cluster distance against a shuffled-position null (negative z: local)."""

    z: float
    observed: float           # mean over clusters of their mean pairwise distance
    null_mean: float
    null_std: float
    clusters: np.ndarray      # the cluster labels scored (those with ≥ 2 units)
    per_cluster: np.ndarray   # observed mean pairwise distance of each
    per_cluster_z: np.ndarray


def locality(coords: ArrayLike, labels: Sequence[int], *, n_shuffle: int = 1000, seed: int = 0,
             metric: str = "manhattan") -> Locality:
    """Spatial concentration of functional clusters (spec 2, anatomical modularity (ii)).

    Statistic: the mean over clusters (each with ≥ 2 units, equal weight) of the mean pairwise
    distance between the cluster's units. Null: the same statistic after permuting the
    positions among the active units (labels ≥ 0), `n_shuffle` times (seeded).
    z = (observed − null mean) / null sd, per cluster and overall.
    """
    xy, labels = as_numpy(coords), np.asarray(labels)
    if xy.ndim == 1:
        xy = xy[:, None]
    if labels.shape != (xy.shape[0],):
        raise ValueError(f"labels must have one entry per unit ({xy.shape[0]}), "
                         f"got shape {labels.shape}")
    if n_shuffle < 2:
        raise ValueError(f"n_shuffle must be ≥ 2, got {n_shuffle}")
    active = labels >= 0
    clusters, sizes = np.unique(labels[active], return_counts=True)
    clusters, sizes = clusters[sizes >= 2], sizes[sizes >= 2]
    if len(clusters) == 0:
        raise ValueError("labels have no cluster with ≥ 2 units")
    d = _pairwise(xy[active], metric)
    lab = labels[active]
    observed = _cluster_means(d, lab[None], clusters, sizes)[0]
    rng = np.random.default_rng(seed)
    null = np.concatenate([
        _cluster_means(d, np.stack([rng.permutation(lab) for _ in range(chunk)]), clusters, sizes)
        for chunk in _chunks(n_shuffle, 100)])
    stat, null_stat = observed.mean(), null.mean(1)
    with np.errstate(divide="ignore", invalid="ignore"):   # a constant null gives NaN z
        per_z = (observed - null.mean(0)) / null.std(0, ddof=1)
        z = (stat - null_stat.mean()) / null_stat.std(ddof=1)
    return Locality(float(z), float(stat), float(null_stat.mean()),
                    float(null_stat.std(ddof=1)), clusters,
                    observed, per_z)


@dataclass
class WiringLocality:
    """|W|-weighted mean connection length against a shuffled-position null (negative z: the
    strong connections are shorter than chance)."""

    z: float
    observed: float
    null_mean: float
    null_std: float


def wiring_locality(w_rec: ArrayLike, coords: ArrayLike, *, n_shuffle: int = 1000, seed: int = 0,
                    metric: str = "manhattan") -> WiringLocality:
    """Anatomical locality of the recurrent wiring (spec 2): L = Σ_ij |W_ij|·d_ij / Σ_ij |W_ij|,
    the mean length of a connection weighted by its strength, with d the distance between
    units i and j. Null: L after permuting the units' positions (rows and columns together:
    the same network on a shuffled grid), `n_shuffle` times, seeded. It reads the wiring
    itself, not the functional clusters (`locality`), so it needs no trained task structure.
    """
    a, xy = np.abs(as_numpy(w_rec)), as_numpy(coords)
    if xy.ndim == 1:
        xy = xy[:, None]
    n = xy.shape[0]
    if a.shape != (n, n):
        raise ValueError(f"w_rec must be (units, units) = ({n}, {n}) for {n} coordinates, "
                         f"got shape {a.shape}")
    if n_shuffle < 2:
        raise ValueError(f"n_shuffle must be ≥ 2, got {n_shuffle}")
    total = a.sum()
    if not total > 0:
        raise ValueError("w_rec has no nonzero weight")
    d = _pairwise(xy, metric)
    rng = np.random.default_rng(seed)
    null = np.array([(a * d[np.ix_(p, p)]).sum() for p in
                     (rng.permutation(n) for _ in range(n_shuffle))]) / total
    observed = float((a * d).sum() / total)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (observed - null.mean()) / null.std(ddof=1)
    return WiringLocality(float(z), observed, float(null.mean()), float(null.std(ddof=1)))


def _pairwise(xy: np.ndarray, metric: str) -> np.ndarray:
    diff = xy[:, None, :] - xy[None, :, :]
    if metric == "manhattan":
        return np.abs(diff).sum(-1)
    if metric == "euclidean":
        return np.sqrt((diff ** 2).sum(-1))
    raise ValueError(f"metric must be 'euclidean' or 'manhattan', got {metric!r}")


def _cluster_means(d: np.ndarray, labels: np.ndarray, clusters: np.ndarray, sizes: np.ndarray
                   ) -> np.ndarray:
    """Mean pairwise distance within each cluster for a stack of labelings (S, n) → (S, K)."""
    onehot = (labels[..., None] == clusters).astype(float)        # (S, n, K)
    sums = ((d @ onehot) * onehot).sum(-2)                          # Σ over ordered pairs
    return sums / (sizes * (sizes - 1))


def _chunks(total: int, size: int) -> list[int]:
    return [size] * (total // size) + ([total % size] if total % size else [])


def partition_q(w_rec: ArrayLike, labels: Sequence[int]) -> float:
    """Newman Q of the recurrent graph |W_rec| + |W_rec|ᵀ for the functional partition.

    Uses `graph.adjacency(..., recurrent=True)` and `graph.newman_q`; inactive units (label −1)
    are left out of the graph.
    """
    w, labels = as_numpy(w_rec), np.asarray(labels)
    if w.ndim != 2 or w.shape[0] != w.shape[1]:
        raise ValueError(f"w_rec must be a square (units, units) matrix, got shape {w.shape}")
    if labels.shape != (w.shape[0],):
        raise ValueError(f"labels must have one entry per unit ({w.shape[0]}), "
                         f"got shape {labels.shape}")
    keep = labels >= 0
    return newman_q(adjacency(w[np.ix_(keep, keep)], recurrent=True), labels[keep])


@dataclass
class RecurrentModularity:
    q: float                  # Newman Q of the functional partition
    eigvals: np.ndarray       # Eq. 5–6 spectrum of W_rec (ascending)
    k_star: int               # argmax eigengap of that spectrum


def recurrent_modularity(w_rec: ArrayLike, labels: Sequence[int]) -> RecurrentModularity:
    """Anatomical modularity (i): Q of the functional partition and the Eq. 5–6 spectrum of
    W_rec (`laplacian_spectrum`, rows = incoming weights of each unit)."""
    eigvals = laplacian_spectrum(w_rec)
    return RecurrentModularity(partition_q(w_rec, labels), eigvals, int(module_count(eigvals)))


@dataclass
class Sparsity:
    fraction: float
    count: int
    total: int


def sparsity(weights: ArrayLike | Sequence[ArrayLike], threshold: float) -> Sparsity:
    """Fraction (and count) of weights with |w| > threshold, over all given matrices."""
    if threshold < 0:
        raise ValueError(f"threshold must be ≥ 0, got {threshold}")
    mats = [weights] if not isinstance(weights, (list, tuple)) else list(weights)
    count = sum(int((np.abs(as_numpy(w)) > threshold).sum()) for w in mats)
    total = sum(as_numpy(w).size for w in mats)
    return Sparsity(count / total if total else 0.0, count, total)
