"""When do nonnegative, energy-efficient codes modularise? (spec 3, Theorems 2.1 and 2.2)

For demeaned sources s_t ∈ R^n (t = 1..T) let e_i = min(−min_t s_i, max_t s_i),
Σ_ij = ⟨s_i s_j⟩ and F_ii = e_i², F_ij = −Σ_ij (i ≠ j). The optimal biologically constrained
linear autoencoder is modular iff, for every direction w,

    g(w) = (min_t wᵀs_t)² − wᵀFw ≥ 0.                                   (Theorem 2.1)

Why F: a latent z = wᵀs + b with the smallest nonnegative bias b = −min_t wᵀs_t costs
⟨z²⟩ = wᵀΣw + (min_t wᵀs_t)²; the modular latents pay Σ_ii + e_i² each, and Σ + F is exactly
diag(Σ_ii + e_i²), so g ≥ 0 everywhere makes every mixed latent at least as expensive.

The *margin* is min over unit w of g(w). It is never positive: at w = ±e_i one of the two
signs gives exactly 0. So "modular" means margin = 0 up to rounding, "mixed" means margin < 0.
When F is positive definite the condition says the convex hull of the data contains the
ellipse xᵀF⁻¹x ≤ 1 (Theorem 2.2), which `ellipse_in_hull` checks facet by facet.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
from scipy.optimize import minimize, minimize_scalar
from scipy.spatial import ConvexHull, QhullError

MODULAR, MIXED = "modular", "mixed"


@dataclass(frozen=True)
class RangeCheck:
    """Result of `range_margin`: the margin, the verdict and what they were computed from."""

    margin: float
    verdict: str                       # "modular" | "mixed"
    direction: np.ndarray              # the unit w attaining the margin
    e: np.ndarray                      # e_i = min(−min s_i, max s_i)
    second_moment: np.ndarray          # Σ = ⟨s sᵀ⟩ of the demeaned sources
    F: np.ndarray                      # the matrix of Theorem 2.1
    method: str                        # "exact" (face enumeration) or "search" (see range_margin)
    tolerance: float                   # |margin| ≤ tolerance counts as zero
    n_candidates: int = 0
    details: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"margin": self.margin, "verdict": self.verdict,
                "direction": self.direction.tolist(), "e": self.e.tolist(),
                "second_moment": self.second_moment.tolist(), "F": self.F.tolist(),
                "method": self.method, "tolerance": self.tolerance,
                "n_sources": int(self.F.shape[0]), **self.details}


def validate_sources(s) -> np.ndarray:
    """A (T, n) float array with n ≥ 2, T ≥ 3, finite values and no constant column."""
    s = np.asarray(s, dtype=float)
    if s.ndim != 2:
        raise ValueError(f"sources must be a (samples, sources) array, got shape {s.shape}")
    if s.shape[1] < 2:
        raise ValueError(f"need at least 2 sources, got {s.shape[1]}")
    if s.shape[0] < 3:
        raise ValueError(f"need at least 3 samples, got {s.shape[0]}")
    if not np.isfinite(s).all():
        raise ValueError("sources contain NaN or infinite values")
    const = np.flatnonzero(np.ptp(s, axis=0) == 0)
    if const.size:
        raise ValueError(f"source {int(const[0])} is constant: a constant source carries nothing "
                         "to encode")
    return s


def demean(s: np.ndarray) -> np.ndarray:
    return s - s.mean(0)


def source_extents(s: np.ndarray) -> np.ndarray:
    """e_i = min(−min_t s_i, max_t s_i) of demeaned sources: the cheaper one-sided range."""
    return np.minimum(-s.min(0), s.max(0))


def condition_matrix(s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Theorem 2.1's F (F_ii = e_i², F_ij = −Σ_ij) from demeaned sources; returns (F, e, Σ)."""
    e = source_extents(s)
    sigma = s.T @ s / s.shape[0]
    F = -sigma.copy()
    np.fill_diagonal(F, e**2)
    return F, e, sigma


def margin_values(s: np.ndarray, F: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Theorem 2.1's g(w) = (min_t wᵀs_t)² − wᵀFw for unit directions w (K, n), demeaned s."""
    lowest = np.empty(len(w))
    for start in range(0, len(w), 4096):          # bounds memory at T × 4096 projections
        chunk = w[start:start + 4096]
        lowest[start:start + len(chunk)] = (s @ chunk.T).min(0)
    return lowest**2 - np.einsum("ki,ij,kj->k", w, F, w)


def _unit(w: np.ndarray) -> np.ndarray:
    return w / np.linalg.norm(w, axis=-1, keepdims=True)


def _face_candidates(s: np.ndarray, F: np.ndarray, hull: ConvexHull,
                     max_faces: int) -> np.ndarray | None:
    """Every direction where g can have its minimum, from the normal fan of the hull.

    On the cone of directions w for which the face f of the hull attains min_t wᵀs_t,
    g(w) = wᵀ(v vᵀ − F)w for any vertex v of f: a quadratic form. The global minimiser lies in
    the relative interior of one such cone, which spans L_f = (aff f)^⊥, so it is a unit
    eigenvector of the form restricted to L_f. Enumerating the faces (all vertex subsets of
    the triangulated facets: a superset of the true faces' affine hulls) and keeping ± every
    eigenvector gives a finite set containing the minimiser. Returns None past `max_faces`.
    """
    n = s.shape[1]
    faces: set[tuple[int, ...]] = set()
    for simplex in hull.simplices:
        for k in range(1, n):
            faces.update(combinations(sorted(int(i) for i in simplex), k))
            if len(faces) > max_faces:
                return None
    out = [hull.equations[:, :n], -hull.equations[:, :n]]     # facets: L_f is the normal line
    for face in faces:
        pts = s[list(face)]
        v = pts[0]
        if len(face) == 1:
            basis = np.eye(n)
        else:
            diffs = pts[1:] - v
            _, sv, vt = np.linalg.svd(diffs)
            rank = int((sv > 1e-10 * max(sv[0], 1e-300)).sum())
            basis = vt[rank:].T                                 # orthonormal basis of L_f
        form = basis.T @ (np.outer(v, v) - F) @ basis
        _, vecs = np.linalg.eigh(form)
        w = (basis @ vecs).T
        out += [w, -w]
    return _unit(np.concatenate(out))


def _sphere_directions(n: int, count: int, rng: np.random.Generator) -> np.ndarray:
    return _unit(rng.standard_normal((count, n)))


def _refine(s: np.ndarray, F: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local minimisation of g from each start; returns (directions, values)."""
    n = s.shape[1]
    ws, vals = [], []
    for w0 in starts:
        if n == 2:
            theta0 = np.arctan2(w0[1], w0[0])
            res = minimize_scalar(lambda t: margin_values(
                s, F, np.array([[np.cos(t), np.sin(t)]]))[0],
                bounds=(theta0 - 1e-3, theta0 + 1e-3), method="bounded",
                options={"xatol": 1e-12})
            w = np.array([np.cos(res.x), np.sin(res.x)])
        else:
            res = minimize(lambda x: margin_values(s, F, _unit(x)[None])[0], w0,
                           method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-14,
                                                          "maxiter": 4000})
            w = _unit(res.x)
        ws.append(w)
        vals.append(margin_values(s, F, w[None])[0])
    return np.array(ws), np.array(vals)


def range_margin(sources, *, n_angles: int = 20_000, n_directions: int = 20_000,
                 refine: int = 8, rtol: float = 1e-8, max_faces: int = 200_000,
                 seed: int = 0) -> RangeCheck:
    """Theorem 2.1's margin min_{|w|=1} [(min_t wᵀs_t)² − wᵀFw] and the predicted verdict.

    The data are demeaned first. Every value reported is g at an actual direction, so the
    margin is always an upper bound on the true minimum (a negative margin certifies "mixed",
    with `direction` as the witness). How the minimum is found:

    * Exact (any n, full-dimensional data): g is a quadratic form on each cone of the hull's
      normal fan, so its minimiser is an eigenvector of one of finitely many restricted forms
      (see `_face_candidates`); g is evaluated at all of them plus ±axes. For 2 sources this
      is combined with a fine grid of `n_angles` angles, and the `refine` best points of the
      union are polished by a bounded scalar search on θ (Theorem 2.1's "fine grid of θ").
    * Search (data in a lower-dimensional subspace, or a hull too large to enumerate):
      `n_directions` seeded random unit directions plus ±axes, the eigenvectors of F and the
      angle grid when n = 2, the `refine` best polished by Nelder–Mead on the sphere. Sound
      as an upper bound; "modular" is then a search result, not a certificate (method
      reports which).

    A margin within rtol × max_i(e_i², Σ_ii) of zero is rounding: the verdict is "modular".
    """
    s = demean(validate_sources(sources))
    n = s.shape[1]
    F, e, sigma = condition_matrix(s)
    scale = float(max(np.max(e**2), np.max(np.diag(sigma))))
    tol = rtol * scale
    eye = np.eye(n)
    cands = [eye, -eye]
    method = "search"
    try:
        hull = ConvexHull(s)
        faces = _face_candidates(s, F, hull, max_faces)
    except (QhullError, ValueError):
        hull, faces = None, None
    if faces is not None:
        cands.append(faces)
        method = "exact"
    if n == 2:
        theta = np.linspace(0.0, 2 * np.pi, n_angles, endpoint=False)
        cands.append(np.stack([np.cos(theta), np.sin(theta)], 1))
    elif faces is None:
        cands += [_sphere_directions(n, n_directions, np.random.default_rng(seed)),
                  np.linalg.eigh(F)[1].T, -np.linalg.eigh(F)[1].T]
    w = np.concatenate(cands)
    g = margin_values(s, F, w)
    best = np.argsort(g)[:refine]
    if refine and (n == 2 or method == "search"):
        w_ref, g_ref = _refine(s, F, w[best])
        w, g = np.concatenate([w, w_ref]), np.concatenate([g, g_ref])
    k = int(np.argmin(g))
    margin = float(g[k])
    verdict = MODULAR if margin >= -tol else MIXED
    details = {"ellipse_in_hull": ellipse_in_hull(s, F, hull) if hull is not None else None}
    return RangeCheck(margin, verdict, w[k], e, sigma, F, method, tol, len(w), details)


def ellipse_in_hull(s: np.ndarray, F: np.ndarray, hull: ConvexHull | None = None) -> bool | None:
    """Theorem 2.2: does the hull of the demeaned data contain {x : xᵀF⁻¹x ≤ 1}?

    A convex set contains the ellipse iff every facet aᵀx ≤ b (|a| = 1) has b ≥ √(aᵀFa), the
    ellipse's support in direction a. None when F is not positive definite (no ellipse).
    """
    if np.linalg.eigvalsh(F).min() <= 0:
        return None
    hull = hull if hull is not None else ConvexHull(s)
    normals, offsets = hull.equations[:, :-1], -hull.equations[:, -1]
    support = np.sqrt(np.einsum("ki,ij,kj->k", normals, F, normals))
    return bool(np.all(offsets >= support * (1 - 1e-9)))


def ellipse_boundary(F: np.ndarray, points: int = 400) -> np.ndarray:
    """Points on xᵀF⁻¹x = 1 (2 sources), for plotting Theorem 2.2."""
    if F.shape != (2, 2):
        raise ValueError(f"the ellipse is drawn for 2 sources only, got {F.shape[0]}")
    vals, vecs = np.linalg.eigh(F)
    if vals.min() <= 0:
        raise ValueError("F is not positive definite: there is no ellipse to draw")
    t = np.linspace(0, 2 * np.pi, points)
    return (vecs @ (np.sqrt(vals)[:, None] * np.stack([np.cos(t), np.sin(t)]))).T
