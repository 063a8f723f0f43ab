"""What a module computes: fits of its output against a target function (Figs. 8, 9, 11).

Pure NumPy functions; every one is vectorised over leading dimensions (..., N), N samples last.
"""
from __future__ import annotations

import numpy as np


def _centre(a: np.ndarray) -> np.ndarray:
    return a - a.mean(axis=-1, keepdims=True)


def affine_fit(output, target) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares target ≈ a·output + b; returns (a, b, residual).

    A constant output (a dead module) explains nothing: a = 0, b = mean(target).
    """
    u, t = np.asarray(output, dtype=float), np.asarray(target, dtype=float)
    uc, tc = _centre(u), _centre(t)
    var = (uc**2).mean(axis=-1)
    cov = (uc * tc).mean(axis=-1)
    a = np.divide(cov, var, out=np.zeros_like(cov), where=var > 1e-12 * (1 + (tc**2).mean(-1)))
    b = t.mean(axis=-1) - a * u.mean(axis=-1)
    residual = t - (a[..., None] * u + b[..., None])
    return a, b, residual


def affine_r2(output, target) -> np.ndarray:
    """R² of the best affine map from a module's output to its target (1 = equal up to gauge)."""
    _, _, residual = affine_fit(output, target)
    total = (_centre(np.asarray(target, dtype=float)) ** 2).sum(axis=-1)
    return 1.0 - (residual**2).sum(axis=-1) / np.where(total > 0, total, np.nan)


def deviation_from_linear(output, target) -> np.ndarray:
    """Fig. 9 "deviation from linear": RMSE of the best linear fit of f_i(x_i) against module
    i's output, in units of f. 0 when the module computes f up to scale and offset; grows
    when the layers after the module compute part of the nonlinearity."""
    _, _, residual = affine_fit(output, target)
    return np.sqrt((residual**2).mean(axis=-1))


def step_quadratic_fit(x, output) -> tuple[np.ndarray, np.ndarray]:
    """Fit output ≈ a·x² + b + c·H(x) (H the Heaviside step); returns (a, c).

    The "ridge" solution of Appendix A (Eqs. 30–33) has module outputs of this form with c ≠ 0
    and jumps that cancel inside the ID quadrants; the Gaussian solution has c = 0.
    """
    x, g = np.asarray(x, dtype=float), np.asarray(output, dtype=float)
    design = np.stack([x**2, np.ones_like(x), (x > 0).astype(float)], axis=-1)
    coef = np.linalg.lstsq(design, g[..., None] if g.ndim == 1 else g.T, rcond=None)[0]
    coef = coef[:, 0] if g.ndim == 1 else coef.T
    return coef[..., 0], coef[..., 2]


def trimmed_mean(values, lower: float = 0.25, upper: float = 0.75) -> float:
    """Mean of the values between the lower and upper quantile ranks (Appendix A: 25–75 %).

    With 20 seeds it drops the 5 smallest and 5 largest, as the paper does. NaNs are ignored.
    """
    v = np.sort(np.asarray(values, dtype=float)[~np.isnan(np.asarray(values, dtype=float))])
    if v.size == 0:
        return float("nan")
    lo, hi = int(np.floor(lower * v.size)), int(np.ceil(upper * v.size))
    kept = v[lo:hi] if hi > lo else v
    return float(kept.mean())
