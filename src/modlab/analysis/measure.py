"""Per-matrix modularity: the Eq. 5–6 spectrum, k*, and the graph metrics of metrics.graph."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..metrics.graph import (
    adjacency,
    best_newman_q,
    ncut_zscore,
    newman_q,
    participation_coefficient,
    partition_agreement,
    single_threaded,
)
from ..metrics.spectral import eigengaps, gap_at, laplacian_eigen, module_count
from .checkpoint import Checkpoint, load_checkpoint
from .layers import WeightMatrix, weight_matrices


@dataclass(frozen=True)
class Limits:
    """Sizes (live post neurons) above which a metric is skipped or subsampled, so that a
    1000 × 1000 layer analyses in seconds. Measured on one core: Louvain on a dense
    networkx graph takes ~1 s at 256 nodes and ~8 s at 500 (it grows ~n²·passes); one
    shuffle of the n-cut null (Eq. 5, eigh, k-means) ~0.5 s at 1000."""

    max_nodes: int = 2048            # above: the layer is skipped (dense eigh would take minutes)
    louvain_max_nodes: int = 300     # above: Q of Louvain's best partition is skipped
    null_max_nodes: int = 300        # above: the n-cut null uses at most `large_n_shuffle` shuffles
    large_n_shuffle: int = 5


def _spectral_metrics(w: np.ndarray, k: int | None) -> tuple[dict, np.ndarray]:
    spec = laplacian_eigen(w)
    gaps = eigengaps(spec.eigvals)
    return {"k_star": int(module_count(spec.eigvals)), "eigvals": spec.eigvals.tolist(),
            "eigengaps": gaps.tolist(), "max_gap": float(gaps.max()) if len(gaps) else float("nan"),
            "gap_at_k": float(gap_at(spec.eigvals, k)) if k else None,
            "dropped_neurons": spec.n_dropped}, spec.live


def _graph_metrics(w: np.ndarray, live: np.ndarray, k: int, seed: int, n_shuffle: int,
                   limits: Limits) -> tuple[dict, np.ndarray, list[str]]:
    """Graph metrics of the spectral partition into k modules (k = 1: one module)."""
    notes, n = [], int(live.sum())
    if n > limits.null_max_nodes and n_shuffle > limits.large_n_shuffle:
        n_shuffle = limits.large_n_shuffle
        notes.append(f"n-cut null subsampled to {n_shuffle} shuffles: {n} > "
                     f"{limits.null_max_nodes} neurons")
    null = ncut_zscore(w, k=k, n_shuffle=n_shuffle, seed=seed)
    # The n-cut needs >= 2 clusters; for k = 1 the spectral partition is one module.
    labels = null["labels"] if k >= 2 else np.where(live, 0, -1)
    a, spectral = adjacency(w), labels[live]
    row = {"ncut": null["ncut"], "ncut_k": null["k"], "ncut_z": null["z"],
           "n_shuffle": null["n_shuffle"], "q_spectral": newman_q(a, spectral),
           "participation_mean": float(participation_coefficient(a, spectral).mean()),
           "q": None, "louvain_modules": None, "nmi_louvain": None, "ari_louvain": None}
    if n <= limits.louvain_max_nodes:
        q, louvain = best_newman_q(a, seed=seed)
        agree = partition_agreement(spectral, louvain)
        row.update(q=q, louvain_modules=int(louvain.max() + 1),
                   nmi_louvain=agree["nmi"], ari_louvain=agree["ari"])
    else:
        notes.append(f"Louvain Q skipped: {n} > {limits.louvain_max_nodes} neurons")
    return row, labels, notes


def analyse_matrix(wm: WeightMatrix, k: int | None = None, seed: int = 0, n_shuffle: int = 20,
                   limits: Limits = Limits()) -> dict:
    """One JSON-ready row for one matrix: spectrum (Eqs. 5–6), k*, eigengaps, Newman Q of the
    spectral partition and of Louvain's best one, n-cut z-score against the shuffle null,
    mean participation coefficient, dropped neurons, and notes on reductions and skips;
    "clusters" holds the spectral partition (one label per post neuron, −1 dropped).

    k (optional) fixes the number of clusters (and reports g_k); otherwise k* is used.
    """
    w = wm.matrix
    m = wm.member
    row = {"name": wm.name, "gate": wm.gate, "block": wm.block, "shape": list(wm.shape),
           "matrix_shape": list(w.shape), "member": m.index if m else None,
           "seed": m.seed if m else None, "setting": m.setting if m else None,
           "run_labels": m.labels if m else None}
    notes = [wm.note] if wm.note else []
    if w.shape[0] > limits.max_nodes:
        notes.append(f"skipped: {w.shape[0]} post neurons > {limits.max_nodes}")
        return {**row, "skipped": True, "notes": notes}
    spectral, live = _spectral_metrics(w, k)
    row.update(spectral, skipped=False)
    labels = np.where(live, 0, -1)
    if live.sum() >= 3:
        graph, labels, graph_notes = _graph_metrics(w, live, k or spectral["k_star"], seed,
                                                    n_shuffle, limits)
        row.update(graph)
        notes.extend(graph_notes)
    else:
        notes.append("fewer than 3 live neurons: no graph metrics")
    row["notes"] = notes
    row["clusters"] = labels.tolist()
    return row


def analyse_checkpoint(path: str | Path, layers: Sequence[str] | None = None, k: int | None = None,
                       seed: int = 0, n_shuffle: int = 20, limits: Limits = Limits(),
                       ) -> tuple[Checkpoint, list[WeightMatrix], list[dict]]:
    """Load `path` (see `load_checkpoint`), pick its matrices (fnmatch `layers`) and analyse
    each: returns the checkpoint, the matrices and one row per matrix."""
    if k is not None and k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    ckpt = load_checkpoint(path)
    matrices = weight_matrices(ckpt, layers)
    with single_threaded():  # many small eigh and k-means calls: see `single_threaded`
        rows = [analyse_matrix(wm, k, seed, n_shuffle, limits) for wm in matrices]
    return ckpt, matrices, rows
