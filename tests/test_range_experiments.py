"""Autoencoders, restarts and the three spec-3 experiments (claims at quick-style settings)."""
import numpy as np
import pytest
import torch

from modlab.experiments import get_experiment, run_experiment
from modlab.experiments.base import Context
from modlab.experiments.range2d import code_metrics, kept_members, train_linear
from modlab.experiments.what_where import train_setting
from modlab.nn.autoencoder import LinearAutoencoder, MLPAutoencoder
from modlab.tasks import make_task
from modlab.tasks.sources import dropped_cells, make_sources
from modlab.train.objectives_autoencoder import (
    AutoencoderObjective,
    best_restarts,
    fit_autoencoder,
    restart_seeds,
)

torch.set_num_threads(1)


def test_bias_form_latents_are_exactly_nonnegative_and_touch_zero():
    x = torch.as_tensor(make_sources("band:1.2"), dtype=torch.float32)
    for model in (LinearAutoencoder(2, 6, members=3, seeds=[0, 1, 2], nonneg="bias"),
                  MLPAutoencoder((2, 8, 4), members=2, seeds=[0, 1], nonneg="bias")):
        z = model.latent(x)
        assert (z >= 0).all() and torch.all(z.amin(-2) == 0)


def test_penalty_objective_terms_by_hand():
    model = LinearAutoencoder(2, 3, members=1, seeds=[0])
    x = torch.as_tensor(make_sources("grid"), dtype=torch.float32)
    terms = AutoencoderObjective().terms(model, x, x)
    z = model.latent(x)[0]
    assert terms["activity"].item() == pytest.approx(z.pow(2).sum(1).mean().item(), rel=1e-5)
    assert terms["nonneg"].item() == pytest.approx(torch.relu(-z).sum(1).mean().item(), rel=1e-5)
    w2 = sum(w.pow(2).sum() for w in model.weights).item()
    assert terms["weight"].item() == pytest.approx(w2, rel=1e-5)


def test_ensemble_member_trains_exactly_as_alone():
    x = torch.as_tensor(make_sources("corner_cut:0.5"), dtype=torch.float32)
    x = x - x.mean(0)
    seeds = restart_seeds([4], 3)
    obj = AutoencoderObjective()
    together = LinearAutoencoder(2, 4, members=3, seeds=seeds, nonneg="bias")
    fit_autoencoder(together, obj, x, seeds=[4], restarts=3, steps=40, batch_size=32)
    alone = LinearAutoencoder(2, 4, members=1, seeds=seeds[2:], nonneg="bias")
    from modlab.train import Data, fit
    fit(alone, obj, Data(x, x, x, x), seeds=seeds[2:], steps=40, batch_size=32, lr=1e-2)
    assert torch.allclose(together.encoder.weight[2], alone.encoder.weight[0], atol=1e-5)


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


def _cfg(name, **kw):
    return get_experiment(name).make_config("quick", kw)


@pytest.mark.slow
def test_trained_autoencoder_is_modular_on_grid_and_mixed_on_band():
    # 3 seeds × 3 restarts, 2000 full-batch steps (the loss is flat by then). Measured at the
    # quick preset: kept mixing ≤ 0.02 on the grid (off-axis weights still decaying),
    # 0.49–0.50 on the band; the thresholds leave room for seed noise, not for a wrong verdict.
    cfg = _cfg("range-2d", seeds=3, restarts=3, steps=2000)
    ctx = Context(out=None)
    for spec, modular in [("grid", True), ("band:1.2", False)]:
        s = make_sources(spec)
        kept = kept_members(train_linear(cfg, s, "bias", ctx, spec), s)
        mixing = [code_metrics(s, k)["mixing_max"] for k in kept]
        assert len(mixing) == 3
        if modular:
            assert max(mixing) < 0.1, mixing
        else:
            assert min(mixing) > 0.4, mixing


@pytest.mark.slow
def test_what_where_mixing_index_increases_with_corner_drops():
    # Measured (3 seeds, 4000 steps): 0.0005, 0.079, 0.151 for 0, 15, 36 drops, seed sd < 0.01.
    cfg = _cfg("what-where", seeds=2, steps=3000)
    means = [np.mean([r["mixing_index"] for r in train_setting(cfg, "corner", d, Context(out=None))])
             for d in (0, 15, 36)]
    assert means[0] < means[1] < means[2], means
    assert means[0] < 0.01 and means[2] - means[0] > 0.08, means


@pytest.mark.parametrize("name, overrides", [
    ("range-2d", {"seeds": 1, "restarts": 2, "steps": 20, "datasets": ["grid", "band:1.2"]}),
    ("range-3d", {"seeds": 1, "restarts": 1, "mlp_restarts": 1, "steps": 10, "mlp_steps": 10,
                  "variants": ["independent", "corner:1.0"]}),
    ("what-where", {"seeds": 1, "steps": 10, "drops": [0, 10]}),
])
def test_experiments_run_end_to_end(tmp_path, name, overrides):
    out = run_experiment(name, "quick", tmp_path, overrides)
    assert (out / "results.parquet").exists() and (out / "summary.md").exists()
    assert len(list(out.glob("*.png"))) >= 1
