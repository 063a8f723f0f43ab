"""The one training loop: ensembles equal stand-alone runs, determinism, divergence."""
import numpy as np
import pytest
import torch
from torch import nn

from modlab.train import OptimConfig, RunConfig, check_batchable, train_ensemble


def config(seed: int, **changes) -> RunConfig:
    cfg = RunConfig(seed=seed, optim=OptimConfig(steps=120, eval_every=40))
    for path, value in changes.items():
        section, field = path.split("__")
        setattr(getattr(cfg, section), field, value)
    return cfg


MEMBERS = [
    config(0, reg__wa=1e-3, reg__l2=1e-4),
    config(1, noise__sigma=0.1, noise__alpha=2.0),
    config(2, reg__activity=1e-3, noise__sigma=0.05, noise__alpha=0.0),
]


def params_of(run, i):
    return [p[i].detach().clone() for p in run.model.parameters()]


@pytest.mark.parametrize("i", range(len(MEMBERS)))
def test_ensemble_member_equals_standalone_run(i):
    ensemble = train_ensemble(MEMBERS)
    alone = train_ensemble([MEMBERS[i]])
    for a, b in zip(params_of(ensemble, i), params_of(alone, 0)):
        # Batched vs single matmuls may round differently; after 120 Adam steps the
        # trajectories agree to float32 accumulation error, far below any weight's size.
        assert torch.allclose(a, b, atol=1e-5, rtol=1e-4)
    assert np.allclose(ensemble.history.test_loss[-1][i], alone.history.test_loss[-1][0], rtol=1e-3)


def test_same_config_is_bitwise_identical():
    a, b = train_ensemble(MEMBERS), train_ensemble(MEMBERS)
    for p, q in zip(a.model.parameters(), b.model.parameters()):
        assert torch.equal(p, q)
    assert np.array_equal(np.stack(a.history.test_loss), np.stack(b.history.test_loss))


def test_init_matches_torch_default_linear():
    run = train_ensemble([config(7, optim__steps=0)])
    torch.manual_seed(7)
    layers = [nn.Linear(4, 32), nn.Linear(32, 32), nn.Linear(32, 32), nn.Linear(32, 4)]
    for ours, ref in zip(run.model.layers, layers):
        assert torch.equal(ours.weight[0], ref.weight.detach())
        assert torch.equal(ours.bias[0], ref.bias.detach())


def test_diverging_member_is_frozen_and_others_continue():
    exploding = config(1, reg__l2=1e38)  # the penalty overflows float32 at once
    run = train_ensemble([config(0), exploding, config(2)])
    assert list(run.history.diverged_at == -1) == [True, False, True]
    final = run.history.test_loss[-1]
    assert np.isfinite(final[[0, 2]]).all() and np.isnan(final[1])
    for p in run.model.parameters():
        assert torch.isfinite(p[1]).all()
    reference = train_ensemble([config(0), config(2)])
    assert np.allclose(final[[0, 2]], reference.history.test_loss[-1], rtol=1e-3)


def test_members_with_different_architecture_are_rejected():
    other = config(1)
    other.net.activation = "tanh"
    with pytest.raises(ValueError, match="net.activation"):
        check_batchable([config(0), other])


def test_training_reduces_test_loss():
    run = train_ensemble([config(0, optim__steps=600, optim__eval_every=200)])
    losses = np.stack(run.history.test_loss)[:, 0]
    assert losses[-1] < 0.5 * losses[0]
