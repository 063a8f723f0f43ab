"""Spec-3 metrics on codes with known answers."""
import numpy as np
import pytest

from modlab.metrics import disentanglement as D
from modlab.tasks.sources import make_sources

GRID = make_sources("grid")                       # independent sources, 11 values each
S1, S2 = GRID[:, :1], GRID[:, 1:]
IDENTITY = GRID.copy()
EQUAL_MIX = np.hstack([S1, S2, S1 + S2])          # third latent mixes both sources equally
ROTATED = np.hstack([S1 + S2, S1 - S2])           # every latent mixes both equally

EXACT = ["cinfom", "linear_infom", "linear_cinfom", "ridgeway_mozer_modularity"]


@pytest.mark.parametrize("metric", [*EXACT, "infom", "infoc", "linear_infoc"])
def test_identity_code_scores_one(metric):
    assert getattr(D, metric)(GRID, IDENTITY) == pytest.approx(1.0, abs=1e-9)


def test_identity_ignores_offsets_scales_and_dead_latents():
    z = np.hstack([3 * S1 + 1, 0.5 * S2, np.full_like(S1, 2.0), 1e-3 * S1 - 1e-3 * S2])
    assert D.active_latents(z).tolist() == [True, True, False, False]
    for metric in EXACT:
        assert getattr(D, metric)(GRID, z) == pytest.approx(1.0, abs=1e-9), metric


def test_equal_mix_latent_has_its_known_values():
    # Per latent max/Σ over sources = 1, 1, ½ → mean 5/6 → InfoM = (5/6 − ½)/(½) = 2/3.
    # Sources are independent and symmetric, so every estimator splits latent 3 evenly,
    # except the k-NN InfoM (estimation noise of a few percent).
    for metric in EXACT:
        assert getattr(D, metric)(GRID, EQUAL_MIX) == pytest.approx(2 / 3, abs=0.01), metric
    assert D.infom(GRID, EQUAL_MIX) == pytest.approx(2 / 3, abs=0.05)
    # Linear InfoC: per source max/Σ over 3 latents = 1/1.5 → (2/3 − 1/3)/(2/3) = 1/2.
    assert D.linear_infoc(GRID, EQUAL_MIX) == pytest.approx(0.5)
    mix = D.weight_mixing(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
    assert mix["max"] == 0.5 and mix["mean"] == pytest.approx(1 / 6)


def test_fully_rotated_code_scores_zero():
    for metric in ["linear_infom", "linear_cinfom", "ridgeway_mozer_modularity"]:
        assert getattr(D, metric)(GRID, ROTATED) == pytest.approx(0.0, abs=0.03), metric
    assert D.weight_mixing(np.array([[1.0, 1.0], [1.0, -1.0]]))["max"] == 0.5


def test_weight_mixing_general_formula_for_three_sources():
    w = np.array([[2.0, 1.0, 1.0], [0.0, 0.0, 3.0], [1e-4, 0, 0]])
    mix = D.weight_mixing(w)
    assert mix["per_latent"][:2].tolist() == [0.5, 0.0]
    assert mix["active"].tolist() == [True, True, False]
    assert mix["max"] == 0.5 and mix["mean"] == 0.25


def test_linear_cinfom_is_not_fooled_by_a_tiny_admixture():
    # z = s_k + 10⁻³ s_i leaves 10⁻⁶ of z's variance to s_i: still a modular code. (The binned
    # CInfoM sees every bin crossing the admixture causes; it is far more sensitive.)
    z = np.hstack([S1 + 1e-3 * S2, S2 + 1e-3 * S1])
    assert D.linear_cinfom(GRID, z) == pytest.approx(1.0, abs=1e-4)


def test_cinfom_is_blind_to_source_dependence_but_infom_is_not():
    s = make_sources("grid_diagonal:10")          # correlated sources, ρ ≈ 0.48
    assert D.cinfom(s, s) == pytest.approx(1.0)
    assert D.linear_cinfom(s, s) == pytest.approx(1.0)
    assert D.linear_infom(s, s) < 0.9             # corr² = 0.23 leaks into the other source


def test_nsi_independent_copied_and_between():
    v = np.linspace(-1, 1, 11)
    assert D.nsi(GRID) == pytest.approx(0.0, abs=1e-12)
    assert D.nsi(np.stack([v, v], 1)) == pytest.approx(1.0)
    assert D.nsi(np.stack([v, -(v**3)], 1)) == pytest.approx(1.0)    # any bijection
    between = D.nsi(make_sources("grid_diagonal:10"))
    assert 0.05 < between < 0.5


def test_nsi_bins_continuous_sources():
    g = make_sources("gaussian:0.8")
    assert D.source_labels(g).max() == 19
    assert 0.2 < D.nsi(g) < 0.8


def test_variance_mixing_index_pure_and_mixed_units():
    shape, pos = np.divmod(np.arange(81), 9)
    keep = shape + pos >= 6                        # corner dropped: 21 combinations missing
    pure = np.stack([shape, pos, np.maximum(shape - 4, 0)], 1).astype(float)
    # Additive fit: units driven by one label score exactly 0 even with combinations missing.
    assert D.variance_mixing_index(pure[keep], shape[keep], pos[keep]) == pytest.approx(0, abs=1e-12)
    both = (shape + pos)[:, None].astype(float)
    assert D.variance_mixing_index(both, shape, pos) == pytest.approx(0.5)


def test_mismatched_shapes_raise():
    with pytest.raises(ValueError, match="differ in samples"):
        D.linear_infom(GRID, IDENTITY[:-1])
    with pytest.raises(ValueError, match="non-constant"):
        D.nsi(np.ones((5, 2)))
