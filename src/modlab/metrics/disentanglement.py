"""Disentanglement / modularity of codes with respect to known sources (spec 3, "Metrics").

Sources s are (T, n_sources), latents z are (T, n_latents). Entropies and mutual informations
are in nats. Sources are treated as discrete labels: a column with at most `max_levels`
distinct values keeps its values, a column with more (a continuous source) is cut into
`bins` equal-width bins (disentanglement_lib's histogram discretisation).

Conventions where the spec is silent:
* Active latent: range > 0.1 × the largest latent range (spec); inactive latents are ignored by
  every score here, including Ridgeway–Mozer.
* A latent that is active but carries no information about any source (its row of the
  information matrix is all zero) is left out of the modularity mean (its max/sum is 0/0).
* CInfoM uses latents discretised into `bins` equal-width bins and plug-in entropies: the
  k-NN estimator behind InfoM cannot condition on every other source (the joint labels are
  unique on a grid).
* Linear variants: NMI_ij → R² of s_i from z_j (squared correlation); NCMI_ij → the drop in
  the regression error of z_j when s_i joins s₋ᵢ, as a fraction of Var(z_j).
"""
from __future__ import annotations

import numpy as np
from sklearn.feature_selection import mutual_info_classif
from sklearn.metrics import mutual_info_score

ACTIVE_FRACTION = 0.1


def _as_2d(a, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    if a.ndim != 2:
        raise ValueError(f"{name} must be a (samples, units) array, got shape {a.shape}")
    return a


def _check_pair(s, z) -> tuple[np.ndarray, np.ndarray]:
    s, z = _as_2d(s, "sources"), _as_2d(z, "latents")
    if s.shape[0] != z.shape[0]:
        raise ValueError(f"sources and latents differ in samples: {s.shape[0]} vs {z.shape[0]}")
    return s, z


# ---------------------------------------------------------------------------- discretisation

def discretize(x: np.ndarray, bins: int = 20) -> np.ndarray:
    """Equal-width histogram bin index (0..bins−1) of every column (disentanglement_lib)."""
    x = _as_2d(x, "values")
    out = np.zeros(x.shape, dtype=np.int64)
    for j in range(x.shape[1]):
        edges = np.histogram(x[:, j], bins)[1]
        out[:, j] = np.digitize(x[:, j], edges[1:-1])
    return out


def source_labels(s: np.ndarray, bins: int = 20, max_levels: int = 64) -> np.ndarray:
    """Integer labels per source: its distinct values if few, else equal-width bins."""
    s = _as_2d(s, "sources")
    out = np.zeros(s.shape, dtype=np.int64)
    for i in range(s.shape[1]):
        values, codes = np.unique(s[:, i], return_inverse=True)
        out[:, i] = codes if len(values) <= max_levels else discretize(s[:, i:i + 1], bins)[:, 0]
    return out


def joint_labels(labels: np.ndarray) -> np.ndarray:
    """One label per distinct row of a (T, k) label array (k = 0 gives a single class)."""
    if labels.shape[1] == 0:
        return np.zeros(labels.shape[0], dtype=np.int64)
    labels = labels - labels.min(0)
    radix = labels.max(0).astype(float) + 1
    if np.prod(radix) < 2.0**62:           # mixed-radix code: a fast 1-D unique
        code = np.zeros(labels.shape[0], dtype=np.int64)
        for c in range(labels.shape[1]):
            code = code * int(radix[c]) + labels[:, c]
        return np.unique(code, return_inverse=True)[1].reshape(-1)
    return np.unique(labels, axis=0, return_inverse=True)[1].reshape(-1)


def entropy(labels: np.ndarray) -> float:
    """Plug-in entropy (nats) of discrete labels; a (T, k) array gives the joint entropy."""
    labels = np.asarray(labels)
    if labels.ndim == 2:
        labels = joint_labels(labels)
    p = np.bincount(labels) / labels.size
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def active_latents(z: np.ndarray, fraction: float = ACTIVE_FRACTION) -> np.ndarray:
    """Latents whose range exceeds `fraction` × the largest range (spec: 0.1)."""
    spread = np.ptp(_as_2d(z, "latents"), axis=0)
    return spread > fraction * spread.max() if spread.max() > 0 else np.zeros(len(spread), bool)


# ---------------------------------------------------------------------------- weight-based

def weight_mixing(w, active=None, fraction: float = ACTIVE_FRACTION) -> dict:
    """Mixing of each latent from its encoder weights (dz, ds): 1 − max_i |W_ji| / Σ_i |W_ji|.

    For 2 sources this is min(|w1|, |w2|)/(|w1| + |w2|): 0 modular, 0.5 equal mix. `active`
    (bool per latent) defaults to rows whose L1 norm exceeds `fraction` × the largest.
    Returns the max and mean over active latents and the per-latent values.
    """
    a = np.abs(_as_2d(w, "weights"))
    total = a.sum(1)
    if active is None:
        active = total > fraction * total.max() if total.max() > 0 else np.zeros(len(a), bool)
    active = np.asarray(active, bool) & (total > 0)
    per = np.zeros(len(a))
    per[total > 0] = 1 - a[total > 0].max(1) / total[total > 0]
    if not active.any():
        return {"max": float("nan"), "mean": float("nan"), "per_latent": per, "active": active}
    return {"max": float(per[active].max()), "mean": float(per[active].mean()),
            "per_latent": per, "active": active}


# ---------------------------------------------------------------------------- InfoM family

def modularity_score(m: np.ndarray, active: np.ndarray) -> float:
    """The InfoM formula on a (sources, latents) information matrix:
    (mean over active latents of max_i m_ij / Σ_i m_ij − 1/ds)/(1 − 1/ds)."""
    ds = m.shape[0]
    cols = m[:, active]
    total = cols.sum(0)
    cols, total = cols[:, total > 0], total[total > 0]
    if cols.shape[1] == 0:
        return float("nan")
    return float(((cols.max(0) / total).mean() - 1 / ds) / (1 - 1 / ds))


def compactness_score(m: np.ndarray, active: np.ndarray) -> float:
    """InfoC: (mean over sources of max_j m_ij / Σ_j m_ij − 1/k)/(1 − 1/k), k active latents."""
    cols = m[:, active]
    k = cols.shape[1]
    total = cols.sum(1)
    if k < 2 or not (total > 0).any():
        return float("nan")
    rows = cols[total > 0]
    return float(((rows.max(1) / total[total > 0]).mean() - 1 / k) / (1 - 1 / k))


def nmi_matrix(s, z, *, n_neighbors: int = 10, bins: int = 20, seed: int = 0) -> np.ndarray:
    """NMI_ij = I(s_i; z_j)/H(s_i) (Hsu et al.), k-NN estimate via `mutual_info_classif`."""
    s, z = _check_pair(s, z)
    labels = source_labels(s, bins)
    std = z.std(0)
    zs = (z - z.mean(0)) / np.where(std > 0, std, 1.0)
    out = np.zeros((s.shape[1], z.shape[1]))
    for i in range(s.shape[1]):
        h = entropy(labels[:, i])
        if h > 0:
            mi = mutual_info_classif(zs, labels[:, i], discrete_features=False,
                                     n_neighbors=n_neighbors, random_state=seed)
            out[i] = np.clip(mi / h, 0.0, 1.0)
    return out


def infom(s, z, **kw) -> float:
    """InfoM (Hsu et al.): modularity of the NMI matrix over active latents; 1 = modular."""
    s, z = _check_pair(s, z)
    return modularity_score(nmi_matrix(s, z, **kw), active_latents(z))


def infoc(s, z, **kw) -> float:
    """InfoC (Hsu et al.): compactness of the NMI matrix; 1 = each source in one latent."""
    s, z = _check_pair(s, z)
    return compactness_score(nmi_matrix(s, z, **kw), active_latents(z))


def cnmi_matrix(s, z, *, bins: int = 20) -> np.ndarray:
    """NCMI_ij = [I(z_j; s) − I(z_j; s₋ᵢ)]/H(s_i | s₋ᵢ) = I(z_j; s_i | s₋ᵢ)/H(s_i | s₋ᵢ), in [0, 1].

    Plug-in estimate with z_j cut into `bins` equal-width bins: I(z_j; s) − I(z_j; s₋ᵢ) =
    H(z_j | s₋ᵢ) − H(z_j | s), and H(a | b) = H(a, b) − H(b).
    """
    s, z = _check_pair(s, z)
    labels, zb = source_labels(s, bins), discretize(z, bins)
    n = s.shape[1]
    h_s = entropy(labels)
    out = np.zeros((n, z.shape[1]))
    for i in range(n):
        rest = np.delete(labels, i, axis=1)
        h_rest = entropy(rest) if n > 1 else 0.0
        h_cond_source = h_s - h_rest
        if h_cond_source <= 0:
            continue
        for j in range(z.shape[1]):
            zj = zb[:, j:j + 1]
            h_z_rest = entropy(np.hstack([zj, rest])) - h_rest
            h_z_all = entropy(np.hstack([zj, labels])) - h_s
            out[i, j] = (h_z_rest - h_z_all) / h_cond_source
    return np.clip(out, 0.0, 1.0)


def cinfom(s, z, **kw) -> float:
    """CInfoM: the InfoM formula on the conditional NCMI matrix (for dependent sources)."""
    s, z = _check_pair(s, z)
    return modularity_score(cnmi_matrix(s, z, **kw), active_latents(z))


def _r2(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared correlation of every column of a with every column of b, (a cols, b cols)."""
    ac, bc = a - a.mean(0), b - b.mean(0)
    na, nb = np.linalg.norm(ac, axis=0), np.linalg.norm(bc, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (ac.T @ bc) / np.outer(na, nb)
    return np.nan_to_num(r**2)


def linear_nmi_matrix(s, z) -> np.ndarray:
    """Linear NMI_ij: fraction of Var(s_i) removed by regressing it on z_j (= corr²)."""
    s, z = _check_pair(s, z)
    return _r2(s, z)


def _residual_error(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Mean squared error of the least-squares fit of every column of y on [1, x]."""
    design = np.hstack([np.ones((len(x), 1)), x])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    return ((y - design @ coef) ** 2).mean(0)


def linear_cnmi_matrix(s, z) -> np.ndarray:
    """Linear NCMI_ij = [err(z_j | s₋ᵢ) − err(z_j | s)]/Var(z_j): the drop in the regression
    error of z_j when s_i joins the other sources, as a fraction of z_j's variance (the share of
    z_j only s_i explains). Normalising by the error without s_i instead (a squared partial
    correlation) would call z = s_k + 10⁻³ s_i fully mixed."""
    s, z = _check_pair(s, z)
    var = z.var(0)
    full = _residual_error(z, s)
    out = np.zeros((s.shape[1], z.shape[1]))
    for i in range(s.shape[1]):
        drop = _residual_error(z, np.delete(s, i, axis=1)) - full
        out[i] = np.divide(drop, var, out=np.zeros_like(var), where=var > 0)
    return np.clip(out, 0.0, 1.0)


def linear_infom(s, z) -> float:
    s, z = _check_pair(s, z)
    return modularity_score(linear_nmi_matrix(s, z), active_latents(z))


def linear_infoc(s, z) -> float:
    s, z = _check_pair(s, z)
    return compactness_score(linear_nmi_matrix(s, z), active_latents(z))


def linear_cinfom(s, z) -> float:
    s, z = _check_pair(s, z)
    return modularity_score(linear_cnmi_matrix(s, z), active_latents(z))


# ---------------------------------------------------------------------------- Ridgeway–Mozer

def ridgeway_mozer_modularity(s, z, *, bins: int = 20) -> float:
    """Ridgeway & Mozer modularity (disentanglement_lib): θ_ij = I(s_i; ẑ_j) with 20-bin ẑ,
    δ_j = (Σ_i θ_ij² − max_i θ_ij²)/(max_i θ_ij² (n_sources − 1)), score = mean_j (1 − δ_j)
    over active latents; a latent with no information scores 0 (as in disentanglement_lib)."""
    s, z = _check_pair(s, z)
    labels, zb = source_labels(s, bins), discretize(z, bins)
    theta = np.array([[mutual_info_score(labels[:, i], zb[:, j]) for j in range(z.shape[1])]
                      for i in range(s.shape[1])])
    sq = theta[:, active_latents(z)] ** 2
    peak = sq.max(0)
    score = np.zeros_like(peak)
    ok = peak > 0
    score[ok] = 1 - (sq[:, ok].sum(0) - peak[ok]) / (peak[ok] * (s.shape[1] - 1))
    return float(score.mean()) if score.size else float("nan")


# ---------------------------------------------------------------------------- sources

def nsi(s, *, bins: int = 20) -> float:
    """Normalised source multi-information (Σ_i H_i − H)/(Σ_i H_i − max_i H_i): 0 independent,
    1 when one source determines all the others (e.g. copies)."""
    labels = source_labels(_as_2d(s, "sources"), bins)
    h_each = np.array([entropy(labels[:, i]) for i in range(labels.shape[1])])
    denom = h_each.sum() - h_each.max()
    if denom <= 0:
        raise ValueError("NSI needs at least two non-constant sources")
    return float((h_each.sum() - entropy(labels)) / denom)


def main_effect_variances(h, a, b) -> tuple[np.ndarray, np.ndarray]:
    """Variance of each unit's activity explained by label a and by label b (two-way additive
    least-squares fit h ≈ μ + α_a + β_b on the samples given, so a unit driven by one label alone
    gets exactly zero for the other even when combinations are missing)."""
    h = _as_2d(h, "activity")
    a_codes = np.unique(a, return_inverse=True)[1].reshape(-1)
    b_codes = np.unique(b, return_inverse=True)[1].reshape(-1)
    xa = np.eye(a_codes.max() + 1)[a_codes][:, 1:]
    xb = np.eye(b_codes.max() + 1)[b_codes][:, 1:]
    design = np.hstack([np.ones((len(h), 1)), xa, xb])
    coef, *_ = np.linalg.lstsq(design, h, rcond=None)
    ka = xa.shape[1]
    return (xa @ coef[1:1 + ka]).var(0), (xb @ coef[1 + ka:]).var(0)


def variance_mixing_index(h, a, b) -> float:
    """What–where mixing index Σ_n min(var_a, var_b) / Σ_n (var_a + var_b) over units n:
    0 when every unit depends on one label only, up to 0.5 (see `main_effect_variances`)."""
    va, vb = main_effect_variances(h, a, b)
    total = (va + vb).sum()
    return float(np.minimum(va, vb).sum() / total) if total > 0 else 0.0
