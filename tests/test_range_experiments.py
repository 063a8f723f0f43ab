"""Autoencoders, restarts and the three spec-3 experiments (claims at quick-style settings, on
held-out seeds: tolerances chosen on the tuning seeds 0–7 below, tests on seeds 100 onwards,
tests/heldout.py)."""
import numpy as np
import pytest
import torch
from heldout import TEST_SEED0, chance_of_failure

from modlab.experiments.results import read_parquet
from modlab.nn.autoencoder import LinearAutoencoder, MLPAutoencoder
from modlab.sweep import run_experiment
from modlab.tasks import make_task
from modlab.tasks.sources import dropped_cells, make_sources, support_components
from modlab.train import RunConfig, get_kind
from modlab.train.restarts import best_restarts
from modlab.train.terms import TERMS, RegInputs

torch.set_num_threads(1)

# Tuning seeds 0–7, same configs as the claim tests: kept max mixing (range-2d) and the
# what–where mixing index at 0, 15 and 36 corner drops.
TUNING_RANGE2D = {"grid": [0.0024, 0.0033, 0.0128, 0.0034, 0.0036, 0.021, 0.0388, 0.0115],
                  "band": [0.497, 0.496, 0.499, 0.497, 0.497, 0.499, 0.498, 0.5]}
TUNING_WHAT_WHERE = {"none": [0.0075, 0.0055, 0.0033, 0.0039, 0.0033, 0.0082, 0.0068, 0.0016],
                     "mid": [0.093, 0.088, 0.084, 0.098, 0.083, 0.101, 0.098, 0.091],
                     "all": [0.156, 0.154, 0.151, 0.15, 0.154, 0.152, 0.151, 0.15]}


def range2d_claim(grid, band) -> bool:
    return bool(np.max(grid) < 0.1 and np.min(band) > 0.4)


def what_where_claim(none, mid, all) -> bool:      # noqa: A002 (the 36-cell drop)
    means = [np.mean(none), np.mean(mid), np.mean(all)]
    return bool(means[0] < means[1] < means[2] and means[0] < 0.015
                and means[2] - means[0] > 0.08)


def test_claim_tolerances_rarely_fail_by_chance():
    r2d = {"grid": (TUNING_RANGE2D["grid"], 3, "lognormal"),
           "band": (TUNING_RANGE2D["band"], 3, "normal")}
    ww = {k: (v, 2, "lognormal" if k == "none" else "normal")
          for k, v in TUNING_WHAT_WHERE.items()}
    assert chance_of_failure(range2d_claim, r2d) < 0.03
    assert chance_of_failure(what_where_claim, ww) < 0.01


def test_bias_form_latents_are_exactly_nonnegative_and_touch_zero():
    x = torch.as_tensor(make_sources("band:1.2"), dtype=torch.float32)
    for model in (LinearAutoencoder(2, 6, members=3, seeds=[0, 1, 2], nonneg="bias"),
                  MLPAutoencoder((2, 8, 4), members=2, seeds=[0, 1], nonneg="bias")):
        z = model.latent(x)
        assert (z >= 0).all() and torch.all(z.amin(-2) == 0)


def test_autoencoder_objective_terms_by_hand():
    model = LinearAutoencoder(2, 3, members=1, seeds=[0])
    x = torch.as_tensor(make_sources("grid"), dtype=torch.float32)
    inputs = RegInputs(model, model.forward_hidden(x))
    z = model.latent(x)[0]
    value = {t: TERMS[t].value(inputs, {"activity_alpha": 2.0}).item()
             for t in ("activity", "nonneg", "l2")}
    assert value["activity"] == pytest.approx(z.pow(2).sum(1).mean().item(), rel=1e-5)
    assert value["nonneg"] == pytest.approx(torch.relu(-z).sum(1).mean().item(), rel=1e-5)
    w2 = sum(w.pow(2).sum() for w in model.weights).item()
    assert value["l2"] == pytest.approx(w2, rel=1e-5)


def test_autoencoder_kind_objective_is_recon_plus_weighted_terms():
    cfg = RunConfig(task={"name": "sources", "params": {"spec": "grid"}},
                    net={"kind": "autoencoder"}, reg={"activity": 0.1, "nonneg": 3.0, "l2": 0.01})
    kind = get_kind("autoencoder")
    data = make_task("sources", spec="grid")
    model = kind.build([cfg], data)
    total, recon = kind.objective([cfg], model)(model, data.x_train, data.x_train)
    inputs = RegInputs(model, model.forward_hidden(data.x_train))
    expected = recon + sum(c * TERMS[t].value(inputs, {"activity_alpha": 2.0})
                           for t, c in (("activity", 0.1), ("nonneg", 3.0), ("l2", 0.01)))
    torch.testing.assert_close(total, expected)


def test_best_restart_is_the_lowest_finite_loss_of_each_seed():
    loss = np.array([0.3, 0.1, 0.2, np.nan, 0.5, 0.4])
    assert best_restarts(loss, 3).tolist() == [1, 5]


def test_dropped_cells_corner_and_diagonal():
    corner = dropped_cells(6, "corner")
    assert sorted(map(tuple, corner)) == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (2, 0)]
    diag = dropped_cells(36, "diagonal")
    assert not any(tuple(c) in {(0, 0), (0, 8), (8, 0), (8, 8)} for c in diag)
    assert tuple(dropped_cells(1, "diagonal")[0]) == (4, 4)
    assert make_task("what_where", drop=10).x_train.shape == (71, 81)


def test_diagonal_drops_keep_one_support_up_to_20_cells():
    # The authors' diagonal series stops at 17 cells; ours keeps the corners' neighbours, so
    # the two triangles stay joined until the band |shape − position| ≤ 1 is gone (23).
    assert [support_components(d, "diagonal") for d in (0, 7, 17, 20, 21, 23, 36)] == \
        [1, 1, 1, 1, 2, 4, 4]
    assert support_components(36, "corner") == 1


def rows_of(tmp_path, name, overrides):
    return read_parquet(run_experiment(name, "quick", tmp_path, overrides).path
                        / "results.parquet")


@pytest.mark.slow
def test_trained_autoencoder_is_modular_on_grid_and_mixed_on_band(tmp_path):
    # 3 seeds × 3 restarts, 2000 full-batch steps (the loss is flat by then). Tuning seeds:
    # kept mixing 0.002–0.039 on the grid, 0.496–0.500 on the band; the thresholds leave room
    # for seed noise, not for a wrong verdict. Chance failure (log-normal grid mixing): ~2 %.
    rows = rows_of(tmp_path, "range-2d", {"seeds": 3, "seed0": TEST_SEED0, "restarts": 3,
                                          "steps": 2000, "datasets": ["grid", "band:1.2"]})
    grid = [r["mixing_max"] for r in rows if r["dataset"] == "grid"]
    band = [r["mixing_max"] for r in rows if r["dataset"] == "band:1.2"]
    assert len(grid) == len(band) == 3
    assert range2d_claim(grid, band), (grid, band)


@pytest.mark.slow
def test_what_where_mixing_index_increases_with_corner_drops(tmp_path):
    # Tuning seeds (3000 steps): 0.0016–0.0082, 0.083–0.101, 0.150–0.156 for 0, 15, 36 drops.
    # "≈ 0" is < 0.015 (twice the tuning maximum, far below the 0.08 rise); with 2 seeds the
    # claim fails by chance in ~0.2 % of runs.
    rows = rows_of(tmp_path, "what-where", {"seeds": 2, "seed0": TEST_SEED0, "steps": 3000,
                                            "modes": ["corner"], "drops": [0, 15, 36]})
    values = [[r["mixing_index"] for r in rows if r["drop"] == d] for d in (0, 15, 36)]
    assert all(len(v) == 2 for v in values)
    assert what_where_claim(*values), values


@pytest.mark.parametrize("name, overrides", [
    ("range-2d", {"seeds": 1, "restarts": 2, "steps": 20, "datasets": ["grid", "band:1.2"]}),
    ("range-3d", {"seeds": 1, "restarts": 1, "mlp_restarts": 1, "steps": 10, "mlp_steps": 10,
                  "variants": ["independent", "corner:1.0"]}),
    ("what-where", {"seeds": 1, "steps": 10, "drops": [0, 10], "diagonal_drops": [0, 10]}),
])
def test_experiments_run_end_to_end(tmp_path, name, overrides):
    out = run_experiment(name, "quick", tmp_path, overrides).path
    assert (out / "results.parquet").exists() and (out / "summary.md").exists()
    assert len(list(out.glob("*.png"))) >= 1
