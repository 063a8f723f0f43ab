"""Regularisers against hand computation; noise statistics; use on a user's own module."""
import pytest
import torch
from torch import nn

from modlab.nn import MLP, ActivityNoise, activity_noise
from modlab.regularizers import (
    ActivationCapture,
    activity,
    l12,
    l21,
    weight_l1,
    weight_l2,
    weighted_activity,
)

W_IN = torch.tensor([[1.0, -2.0], [0.0, 3.0], [0.5, 0.5]])     # (3 hidden, 2 in)
W_OUT = torch.tensor([[2.0, 0.0, -1.0], [1.0, 1.0, 0.0]])       # (2 out, 3 hidden)
H = torch.tensor([[1.0, 0.0, 2.0], [3.0, 1.0, 0.0]])            # (batch 2, 3 hidden)


def test_weight_norms():
    assert weight_l2([W_IN, W_OUT]).item() == pytest.approx(1 + 4 + 9 + 0.25 + 0.25 + 4 + 1 + 1 + 1)
    assert weight_l1([W_IN, W_OUT]).item() == pytest.approx(1 + 2 + 3 + 0.5 + 0.5 + 2 + 1 + 1 + 1)


def test_activity_by_hand():
    # E|h|² per unit: (1+9)/2, (0+1)/2, (4+0)/2 → 5 + 0.5 + 2
    assert activity([H], 2).item() == pytest.approx(7.5)
    assert activity([H], 1).item() == pytest.approx(2 + 0.5 + 1)


def test_weighted_activity_by_hand():
    # outgoing ‖W_out[:, j]‖²: 5, 1, 1;  E|h_j|²: 5, 0.5, 2  →  25 + 0.5 + 2
    assert weighted_activity([H], [W_OUT], 2).item() == pytest.approx(27.5)
    # α = 1: E|h_j|: 2, 0.5, 1 → 10 + 0.5 + 1
    assert weighted_activity([H], [W_OUT], 1).item() == pytest.approx(11.5)


def test_l12_and_l21_by_hand():
    # L1,2: ‖W_out[:, j]‖² · ‖W_in[j, :]‖₁ = 5·3 + 1·3 + 1·1
    assert l12([W_IN, W_OUT]).item() == pytest.approx(19.0)
    # L2,1: ‖W_out[:, j]‖₁ · ‖W_in[j, :]‖² = 3·5 + 1·9 + 1·0.5
    assert l21([W_IN, W_OUT]).item() == pytest.approx(24.5)


def test_regularisers_are_per_member_on_ensembles():
    stack = torch.stack([W_OUT, 2 * W_OUT])
    hs = torch.stack([H, H])
    per_member = weighted_activity([hs], [stack])
    assert per_member.shape == (2,)
    assert per_member[1].item() == pytest.approx(4 * per_member[0].item())
    alphas = torch.tensor([2.0, 1.0]).reshape(2, 1, 1)
    mixed = weighted_activity([hs], [torch.stack([W_OUT, W_OUT])], alphas)
    assert mixed.tolist() == pytest.approx([27.5, 11.5])


def test_wa_on_a_users_sequential_model():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
    x = torch.randn(16, 4)
    with ActivationCapture(model, ["1", "3"]) as capture:
        model(x)
        value = weighted_activity(capture.outputs, [model[2].weight, model[4].weight])
    h1 = torch.relu(model[0](x))
    h2 = torch.relu(model[2](h1))
    expected = ((model[2].weight ** 2).sum(0) * (h1 ** 2).mean(0)).sum() + \
               ((model[4].weight ** 2).sum(0) * (h2 ** 2).mean(0)).sum()
    assert value.item() == pytest.approx(expected.item(), rel=1e-6)
    value.backward()
    assert model[0].weight.grad is not None


def test_capture_rejects_unknown_layer():
    with pytest.raises(ValueError, match="unknown layer names"):
        ActivationCapture(nn.Sequential(nn.Linear(2, 2)), ["fc9"])


@pytest.mark.parametrize("alpha", [0.0, 1.0, 2.0])
def test_noise_variance_is_sigma2_abs_z_alpha(alpha):
    z = torch.tensor([0.5, 1.0, 2.0, -3.0]).repeat(200_000, 1)
    gen = torch.Generator().manual_seed(0)
    xi = activity_noise(z, 0.1, alpha, torch.randn(z.shape, generator=gen), eps=1e-3)
    expected = 0.01 * z[0].abs() ** alpha
    # 200k samples: the sample variance has relative sd √(2/N) ≈ 0.3 %; allow 2 %.
    assert torch.allclose(xi.var(0), expected, rtol=0.02)
    assert xi.mean(0).abs().max() < 0.01


def test_noise_is_off_in_eval_unless_enabled():
    noise = ActivityNoise(0.5, 2.0)
    z = torch.ones(1, 3, 4)
    noise.eval()
    assert torch.equal(noise(z), z)
    noise.test_time = True
    assert not torch.equal(noise(z), z)


def test_poisson_noise_trains_to_finite_loss():
    # α = 1 has an unbounded |z|^{α/2} derivative at 0; the smoothed amplitude must keep it finite.
    from modlab.train import OptimConfig, RunConfig, train_ensemble
    cfg = RunConfig(seed=0, optim=OptimConfig(steps=1500, eval_every=500))
    cfg.noise.sigma, cfg.noise.alpha = 0.1, 1.0
    run = train_ensemble([cfg])
    assert run.history.diverged_at[0] == -1
    assert torch.isfinite(torch.tensor(run.history.test_loss[-1])).all()
    assert run.history.test_loss[-1][0] < 0.1


def test_mlp_noise_site_post_perturbs_activations():
    model = MLP([2, 5, 1], noise_sigma=0.1, noise_site="post", seeds=[0])
    x = torch.randn(8, 2)
    assert not torch.equal(model(x), model(x))
    model.eval()
    assert torch.equal(model(x), model(x))
