"""Curve fits of the sample-complexity analysis (Fig. 6): pure functions on arrays.

Each returns a `Fit` with the estimates and their standard errors (square roots of the
diagonal of scipy's covariance), so every derived number can carry an uncertainty.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Fit:
    params: dict[str, float]
    stderr: dict[str, float]
    converged: bool = True

    def __getitem__(self, name: str) -> float:
        return self.params[name]


def sigmoid_log(n_data, g0: float, amp: float, rate: float, log_nstar: float) -> np.ndarray:
    """Fig. 6 transition curve: g(N) = g₀ + A / (1 + exp(−k (log N − log N*)))."""
    return g0 + amp / (1.0 + np.exp(-rate * (np.log(n_data) - log_nstar)))


def _starts(x: np.ndarray, y: np.ndarray) -> list[list[float]]:
    """Initial guesses: the data's range for g₀ and A, every sampled size as a candidate N*."""
    sizes = np.unique(x)
    means = np.array([y[x == s].mean() for s in sizes])
    lo, hi = float(means.min()), float(means.max())
    return [[lo, max(hi - lo, 1e-3), rate, float(c)]
            for c in np.log(sizes) for rate in (1.0, 4.0)]


def fit_sigmoid_log(n_data, gap) -> Fit:
    """Fit `sigmoid_log` to (N, g) points (all seeds, not means) by least squares.

    Returns g0, amp, rate, log_nstar and nstar = exp(log N*), whose standard error is the
    delta-method N*·se(log N*). Bounds keep the fit physical: 0 ≤ g₀, A ≤ 2 (eigengaps of
    L_rw lie in [0, 2]), 0.05 ≤ k ≤ 20 (from a transition spread over decades to a step),
    log N* within two e-folds of the sampled range. The least-squares surface has several
    local minima for noisy data, so the fit starts from every sampled size and keeps the best.
    `converged` is False when no start converged or the covariance is not finite.
    """
    from scipy.optimize import curve_fit  # lazy: scipy.optimize costs ~0.7 s at import
    x, y = np.asarray(n_data, dtype=float), np.asarray(gap, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if np.unique(x).size < 4:
        raise ValueError(f"a 4-parameter sigmoid needs >= 4 distinct N, got {np.unique(x).size}")
    lx = np.log(x)
    lower = np.array([0.0, 0.0, 0.05, lx.min() - 2.0])
    upper = np.array([2.0, 2.0, 20.0, lx.max() + 2.0])
    best, best_sse = None, np.inf
    for p0 in _starts(x, y):
        p0 = np.clip(p0, lower + 1e-6, upper - 1e-6)
        try:
            popt, pcov = curve_fit(sigmoid_log, x, y, p0=p0, bounds=(lower, upper), maxfev=5_000)
        except RuntimeError:
            continue
        sse = float(np.sum((sigmoid_log(x, *popt) - y) ** 2))
        if sse < best_sse:
            best, best_sse = (popt, pcov), sse
    names = ("g0", "amp", "rate", "log_nstar")
    if best is None:
        popt, pcov, converged = np.full(4, np.nan), np.full((4, 4), np.nan), False
    else:
        (popt, pcov), converged = best, bool(np.all(np.isfinite(np.diag(best[1]))))
    se = np.sqrt(np.clip(np.diag(pcov), 0, None))
    params = dict(zip(names, map(float, popt), strict=True))
    stderr = dict(zip(names, map(float, se), strict=True))
    params["nstar"] = float(np.exp(params["log_nstar"]))
    stderr["nstar"] = params["nstar"] * stderr["log_nstar"]
    return Fit(params, stderr, converged)


def exponential(n, log_c: float, rate: float) -> np.ndarray:
    """log N*(n) = log c + r·n, i.e. N* = c·exp(r n): the paper's exponential sample complexity."""
    return log_c + rate * np.asarray(n, dtype=float)


def fit_exponential(n, nstar, nstar_stderr=None) -> Fit:
    """Fit N* = c·exp(r n) as a straight line in log N*, weighted by se(log N*) when given.

    The standard errors are the larger of two estimates: the N*'s own errors propagated
    (absolute weights) and the scatter about the line (residual-scaled); with three or four n
    the residual alone can be arbitrarily small. Also reports doubling = ln 2 / r, the
    increase of n that doubles N*.
    """
    from scipy.optimize import curve_fit
    n, nstar = np.asarray(n, dtype=float), np.asarray(nstar, dtype=float)
    if n.size < 2:
        raise ValueError("an exponential fit needs at least two values of n")
    y = np.log(nstar)
    sigma = None
    if nstar_stderr is not None:
        sigma = np.asarray(nstar_stderr, dtype=float) / nstar          # se of log N*
        if not (np.all(np.isfinite(sigma)) and np.all(sigma > 0)):
            sigma = None
    if n.size == 2:    # exactly determined: only the propagated errors exist
        rate = (y[1] - y[0]) / (n[1] - n[0])
        popt, se = np.array([y[0] - rate * n[0], rate]), np.full(2, np.nan)
        if sigma is not None:
            se_rate = np.hypot(sigma[0], sigma[1]) / abs(n[1] - n[0])
            se = np.array([np.hypot(sigma[0], n[0] * se_rate), se_rate])
    else:
        popt, pcov = curve_fit(exponential, n, y, p0=[y[0], 0.0], sigma=sigma,
                               absolute_sigma=False)
        se = np.sqrt(np.clip(np.diag(pcov), 0, None))
        if sigma is not None:
            _, pcov_abs = curve_fit(exponential, n, y, p0=popt, sigma=sigma, absolute_sigma=True)
            se = np.maximum(se, np.sqrt(np.clip(np.diag(pcov_abs), 0, None)))
    params = {"log_c": float(popt[0]), "rate": float(popt[1])}
    stderr = {"log_c": float(se[0]), "rate": float(se[1])}
    params["doubling"] = float(np.log(2) / popt[1]) if popt[1] != 0 else float("inf")
    stderr["doubling"] = float(abs(np.log(2) / popt[1] ** 2) * se[1]) if popt[1] != 0 else float("nan")
    return Fit(params, stderr)
