"""Per-layer modularity summary of a (possibly ensembled) layered network."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .clustering import cluster_neurons, collapse_columns
from .spectral import (
    DEFAULT_RTOL,
    ArrayLike,
    as_numpy,
    gap_at,
    laplacian_spectrum,
    live_rows,
    module_count,
)


def _collapsed_spectra(weights: list[np.ndarray], true_k: int | None,
                       rtol: float) -> list[np.ndarray]:
    spectra, labels = [], None
    for w in weights:
        a = np.abs(w) if labels is None else collapse_columns(w, labels)
        spectra.append(laplacian_spectrum(a, rtol=rtol))
        labels = cluster_neurons(a, true_k, rtol=rtol)
    return spectra


def layer_report(weights: Sequence[ArrayLike], true_k: int | None = None,
                 collapsed: bool = False, rtol: float = DEFAULT_RTOL) -> list[dict]:
    """One row per (member, layer): k_star, gap_at_true_k, dropped neurons and eigenvalues.

    `weights[l]` is W^l, shaped (post, pre) or (M, post, pre) for an ensemble. Raw mode (the
    default) applies Eqs. 5–6 to each layer as is, with one batched eigh per layer;
    `collapsed=True` is the authors' deeper-layer variant (columns summed over the previous
    layer's clusters, k = true_k or k*).
    """
    ws = [as_numpy(w) for w in weights]
    ensemble = ws[0].ndim == 3
    if not ensemble:
        ws = [w[None] for w in ws]
    members = ws[0].shape[0]
    if collapsed:
        per_member = [_collapsed_spectra([w[m] for w in ws], true_k, rtol) for m in range(members)]
        spectra = [[per_member[m][layer] for m in range(members)] for layer in range(len(ws))]
    else:
        spectra = [list(laplacian_spectrum(w, rtol=rtol)) for w in ws]
    rows = []
    for layer, (w, layer_spectra) in enumerate(zip(ws, spectra)):
        dropped = (~live_rows(w, rtol=rtol)).sum(-1)
        for m, vals in enumerate(layer_spectra):
            vals = vals[~np.isnan(vals)]
            rows.append({
                "member": m, "layer": layer, "k_star": int(module_count(vals)),
                "gap_at_true_k": float(gap_at(vals, true_k)) if true_k else float("nan"),
                "dropped_neurons": int(dropped[m]), "eigvals": vals.tolist(),
            })
    return rows
