"""Graph-Laplacian modularity of weight matrices (Eqs. 5–6)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

ArrayLike = np.ndarray | torch.Tensor

# Rows whose norm is below DEFAULT_RTOL × the largest row norm of the matrix count as dead.
# Eq. 5 normalises every row to unit length, so a near-dead row (e.g. incoming weights ~1e-12)
# would otherwise join the graph as strongly as a real neuron, with a direction that is pure
# rounding noise: weights are float32 (eps ≈ 1.2e-7), so entries below ~1e-6 of the largest
# row's scale are at the level of that row's own rounding error and carry no direction. Neurons
# that are merely weak (a dead ReLU's weights under Adam + L2 hover at ~lr ≈ 1e-3 of the
# scale) stay in the graph, so ordinary trained matrices give the same results as with 0.
DEFAULT_RTOL = 1e-6
METHODS = ("exact", "reference")


def as_numpy(w: ArrayLike) -> np.ndarray:
    if isinstance(w, torch.Tensor):
        w = w.detach().cpu().double().numpy()
    return np.asarray(w, dtype=np.float64)


def cosine_similarity_graph(w: ArrayLike) -> np.ndarray:
    """Eq. 5: S = W̄ W̄ᵀ with W̄_ij = |W_ij| / ‖W_i,:‖₂ (rows: incoming weights of post neurons).

    Works on (..., post, pre). Rows must be non-zero (see `live_rows`).
    """
    a = np.abs(as_numpy(w))
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    return a @ np.swapaxes(a, -1, -2)


def live_rows(w: ArrayLike, tol: float = 0.0, rtol: float = DEFAULT_RTOL) -> np.ndarray:
    """Post neurons that have a direction: row norm > `tol` and ≥ `rtol` × the largest row norm.

    A dead neuron (all-zero incoming weights) has no direction, nor does a near-dead one whose
    weights are at rounding level (see DEFAULT_RTOL); both are dropped from the graph. For a
    stack (..., post, pre) the largest norm is taken per matrix. `rtol=0` keeps every non-zero row.
    """
    if rtol < 0 or tol < 0:
        raise ValueError(f"tol and rtol must be >= 0, got tol={tol}, rtol={rtol}")
    norms = np.linalg.norm(as_numpy(w), axis=-1)
    largest = norms.max(axis=-1, keepdims=True) if norms.shape[-1] else norms
    return (norms > tol) & (norms >= rtol * largest)


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")


def _sym_laplacian(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d_inv_sqrt = 1.0 / np.sqrt(s.sum(-1))
    l_sym = np.eye(s.shape[-1]) - d_inv_sqrt[..., :, None] * s * d_inv_sqrt[..., None, :]
    return 0.5 * (l_sym + np.swapaxes(l_sym, -1, -2)), d_inv_sqrt


def random_walk_laplacian(s: np.ndarray) -> np.ndarray:
    """Eq. 6: L_rw = I − D⁻¹S with D = diag(S·1) (not symmetric)."""
    return np.eye(s.shape[-1]) - s / s.sum(-1, keepdims=True)


@dataclass
class Spectrum:
    """Eigen-decomposition of L_rw for one weight matrix, over its live post neurons."""

    eigvals: np.ndarray          # ascending, length = number of live neurons
    eigvecs: np.ndarray          # columns: eigenvectors of L_rw (not normalised)
    live: np.ndarray             # bool mask over post neurons kept in the graph
    @property
    def n_dropped(self) -> int:
        return int((~self.live).sum())


def laplacian_eigen(w: ArrayLike, rtol: float = DEFAULT_RTOL, method: str = "exact") -> Spectrum:
    """Eq. 6: eigenvalues and eigenvectors of L_rw = I − D⁻¹S for one (post × pre) weight.

    L_rw is not symmetric; its eigenvalues equal those of L_sym = I − D^{-½} S D^{-½}, which
    `eigh` solves exactly, and its eigenvectors are D^{-½}·v. Dead and near-dead neurons
    (`live_rows(w, rtol=rtol)`) are dropped (reported in `live`).

    `method="reference"` reproduces the authors' code instead: `scipy.linalg.eigh` called on
    L_rw itself, which reads only its lower triangle, i.e. solves a different (symmetrised)
    matrix. It is WRONG by ~0.01–0.06 (spec 1) and offered only to compare with their numbers;
    its eigenvectors are those of that symmetrised matrix, not of L_rw.
    """
    _check_method(method)
    w = as_numpy(w)
    if w.ndim != 2:
        raise ValueError(f"expected a 2-D (post, pre) weight, got shape {w.shape}")
    live = live_rows(w, rtol=rtol)
    if live.sum() == 0:
        return Spectrum(np.zeros(0), np.zeros((0, 0)), live)
    s = cosine_similarity_graph(w[live])
    if method == "reference":
        import scipy.linalg  # lazy: only the comparison path needs scipy

        vals, vecs = scipy.linalg.eigh(random_walk_laplacian(s))
        return Spectrum(vals, vecs, live)
    l_sym, d_inv_sqrt = _sym_laplacian(s)
    vals, vecs = np.linalg.eigh(l_sym)
    return Spectrum(vals, d_inv_sqrt[:, None] * vecs, live)


def _batched_eigvals(s: np.ndarray, method: str) -> np.ndarray:
    if method == "reference":
        # numpy's eigvalsh reads the same (lower) triangle as scipy.linalg.eigh's default.
        return np.linalg.eigvalsh(random_walk_laplacian(s), UPLO="L")
    return np.linalg.eigvalsh(_sym_laplacian(s)[0])


def laplacian_spectrum(w: ArrayLike, rtol: float = DEFAULT_RTOL, method: str = "exact") -> np.ndarray:
    """Ascending eigenvalues of L_rw (Eqs. 5–6) for a (post × pre) weight or a stack of them.

    For a stack (..., post, pre) the eigenvalues of all matrices are computed in one batched
    `eigh`; a matrix with dead neurons gets its dropped eigenvalues as NaN at the end. `rtol`
    and `method` as in `laplacian_eigen` ("reference" is the authors' wrong variant).
    """
    _check_method(method)
    w = as_numpy(w)
    if w.ndim == 2:
        return laplacian_eigen(w, rtol=rtol, method=method).eigvals
    batch_shape, (post, pre) = w.shape[:-2], w.shape[-2:]
    flat = w.reshape(-1, post, pre)
    live = live_rows(flat, rtol=rtol)
    out = np.full((flat.shape[0], post), np.nan)
    n_live = live.sum(-1)
    # Matrices with the same number k of live neurons share one batched eigh: their live rows
    # are moved to the front (stable, so in order) and the first k kept.
    order = np.argsort(~live, axis=-1, kind="stable")
    for k in np.unique(n_live):
        if k == 0:
            continue
        sel = np.flatnonzero(n_live == k)
        rows = order[sel, :k]
        sub = flat[sel] if k == post else np.take_along_axis(flat[sel], rows[..., None], axis=1)
        out[sel, :k] = _batched_eigvals(cosine_similarity_graph(sub), method)
    return out.reshape(*batch_shape, post)


def eigengaps(eigvals: ArrayLike) -> np.ndarray:
    """g_k = λ_{k+1} − λ_k for ascending eigenvalues; entry k−1 holds g_k."""
    return np.diff(as_numpy(eigvals), axis=-1)


def gap_at(eigvals: ArrayLike, k: int) -> np.ndarray:
    """The k-th eigengap g_k = λ_{k+1} − λ_k (NaN where the matrix has ≤ k live neurons)."""
    gaps = eigengaps(eigvals)
    if gaps.shape[-1] < k:
        return np.full(gaps.shape[:-1], np.nan)
    return gaps[..., k - 1]


def module_count(eigvals: ArrayLike) -> np.ndarray | int:
    """Number of modules k* = argmax_k g_k (k counted from 1); NaN gaps are ignored."""
    gaps = eigengaps(eigvals)
    if gaps.shape[-1] == 0:
        return 1 if gaps.ndim == 1 else np.ones(gaps.shape[:-1], dtype=int)
    k = np.argmax(np.nan_to_num(gaps, nan=-np.inf), axis=-1) + 1
    return int(k) if np.ndim(k) == 0 else k
