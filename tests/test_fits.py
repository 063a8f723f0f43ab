"""The sample-complexity fits (Fig. 6) recover known parameters from synthetic data."""
import numpy as np
import pytest

from modlab.metrics import exponential, fit_exponential, fit_sigmoid_log, sigmoid_log


def test_sigmoid_fit_recovers_transition_with_honest_error():
    rng = np.random.default_rng(0)
    sizes = np.repeat(2.0 ** np.arange(5, 16), 5)            # 11 sizes × 5 seeds, as in Fig. 6
    true = dict(g0=0.1, amp=0.8, rate=2.0, log_nstar=np.log(1000.0))
    noise_sd = 0.05
    gap = sigmoid_log(sizes, **true) + rng.normal(0, noise_sd, sizes.size)
    fit = fit_sigmoid_log(sizes, gap)
    assert fit.converged
    # 3 standard errors: the estimate is unbiased and its error bar is calibrated.
    for name, value in true.items():
        assert abs(fit[name] - value) < 3 * fit.stderr[name] + 1e-9, name
    assert fit.stderr["log_nstar"] < 0.2          # 55 points pin N* to within ~20 %
    assert fit["nstar"] == pytest.approx(np.exp(fit["log_nstar"]))
    assert fit.stderr["nstar"] == pytest.approx(fit["nstar"] * fit.stderr["log_nstar"])


def test_sigmoid_fit_exact_data():
    sizes = 2.0 ** np.arange(5, 16)
    gap = sigmoid_log(sizes, 0.2, 0.7, 3.0, np.log(300.0))
    fit = fit_sigmoid_log(sizes, gap)
    assert fit["nstar"] == pytest.approx(300.0, rel=1e-3)
    assert fit["amp"] == pytest.approx(0.7, abs=1e-3)


def test_sigmoid_fit_needs_four_sizes():
    with pytest.raises(ValueError, match="distinct N"):
        fit_sigmoid_log([10, 10, 100, 1000], [0.1, 0.1, 0.5, 0.9])


def test_exponential_fit_recovers_rate():
    rng = np.random.default_rng(1)
    n = np.array([2, 3, 4, 5, 6])
    rel_err = np.full(n.size, 0.1)
    nstar = np.exp(exponential(n, np.log(5.0), 1.2) + rng.normal(0, 0.1, n.size))
    fit = fit_exponential(n, nstar, nstar * rel_err)
    assert abs(fit["rate"] - 1.2) < 3 * fit.stderr["rate"]
    assert fit["doubling"] == pytest.approx(np.log(2) / fit["rate"])


def test_exponential_fit_two_points_propagates_errors():
    fit = fit_exponential([2, 4], [100.0, 1600.0], [10.0, 160.0])
    assert fit["rate"] == pytest.approx(np.log(16) / 2)
    assert fit.stderr["rate"] == pytest.approx(np.hypot(0.1, 0.1) / 2)


def test_exponential_fit_error_never_below_propagated_error():
    # Points exactly on a line: the residual scatter is zero, the N*'s own errors are not.
    n = np.array([2, 3, 4])
    nstar = np.exp(exponential(n, 1.0, 1.0))
    fit = fit_exponential(n, nstar, 0.3 * nstar)
    assert fit["rate"] == pytest.approx(1.0)
    # Unweighted-equivalent (equal σ = 0.3) line through 3 points: se(r) = 0.3/√2.
    assert fit.stderr["rate"] == pytest.approx(0.3 / np.sqrt(2), rel=1e-3)
