"""The drop-in API: regularisers and noise on users' own nn.Modules through hooks."""
import pytest
import torch
from torch import nn

from modlab.nn.noise import activity_noise
from modlab.regularizers import activity, l12, weight_l1, weight_l2, weighted_activity
from modlab.regularizers.dropin import (
    REGULARIZERS,
    attach,
    inject_noise,
    next_linear,
    register_regularizer,
)


def mlp(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 3))


def hidden(model: nn.Sequential, x: torch.Tensor) -> list[torch.Tensor]:
    h1 = torch.relu(model[0](x))
    return [h1, torch.relu(model[2](h1))]


class Custom(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        self.fc1, self.act, self.fc2 = nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 2)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


X = torch.randn(16, 4, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("alpha", [2.0, 1.0])
def test_wa_on_sequential_equals_the_pure_function(alpha):
    model = mlp()
    penalty = attach(model, "wa", layers=["1", "3"], strength=0.5, alpha=alpha)
    model(X)
    expected = 0.5 * weighted_activity(hidden(model, X), [model[2].weight, model[4].weight], alpha)
    assert penalty.weight_names == ["2.weight", "4.weight"]
    assert torch.allclose(penalty(), expected, rtol=1e-6, atol=0)


def test_wa_gradients_flow_like_the_hand_computation():
    model = mlp()
    penalty = attach(model, "wa", layers=["1", "3"], strength=1.0)
    model(X)
    penalty().backward()
    got = [None if p.grad is None else p.grad.clone() for p in model.parameters()]
    model.zero_grad(set_to_none=True)
    weighted_activity(hidden(model, X), [model[2].weight, model[4].weight]).backward()
    for g, p in zip(got, model.parameters()):
        assert (g is None) == (p.grad is None)          # only the output bias gets none
        if g is not None:
            assert torch.allclose(g, p.grad, rtol=1e-5, atol=1e-7)
    assert got[0].abs().sum() > 0            # reaches the first layer through the activation
    assert got[-1] is None


def test_custom_module_names_its_outgoing_weight():
    model = Custom()
    with pytest.raises(ValueError, match="pass outgoing"):
        attach(model, "wa", layers=["act"])
    penalty = attach(model, "wa", layers=["act"], outgoing=["fc2"], strength=2.0)
    model(X)
    h = torch.tanh(model.fc1(X))
    assert torch.allclose(penalty(), 2.0 * weighted_activity([h], [model.fc2.weight]))
    by_param = attach(model, "wa", layers=["act"], outgoing=["fc2.weight"], strength=2.0)
    model(X)
    assert torch.equal(by_param(), penalty())


def test_nested_sequential_finds_the_next_linear():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Sequential(nn.Linear(4, 5), nn.ReLU()),
                          nn.Sequential(nn.Dropout(0.0), nn.Linear(5, 6), nn.ReLU()), nn.Linear(6, 2))
    assert next_linear(model, "0.1") == "1.1" and next_linear(model, "1") == "2"
    assert next_linear(model, "1.2") == "2"
    with pytest.raises(ValueError, match="no nn.Linear after"):
        next_linear(model, "2")


def test_activity_l1_l2_l12_equal_the_pure_functions():
    model = mlp()
    act = attach(model, "activity", layers=["1", "3"], strength=0.1, alpha=1.0)
    linears = [model[0].weight, model[2].weight, model[4].weight]
    l1 = attach(model, "l1", strength=0.2)                   # default: every nn.Linear
    l2 = attach(model, "l2", layers=["0", "4"], strength=0.3)
    chain = attach(model, "l12", strength=0.4)
    model(X)
    assert torch.allclose(act(), 0.1 * activity(hidden(model, X), 1.0))
    assert torch.allclose(l1(), 0.2 * weight_l1(linears))
    assert torch.allclose(l2(), 0.3 * weight_l2([linears[0], linears[2]]))
    assert torch.allclose(chain(), 0.4 * l12(linears))


def test_sequence_activations_count_every_leading_dim_as_batch():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    penalty = attach(model, "wa", layers=["1"])
    x = torch.randn(5, 7, 4)
    model(x)
    h = torch.relu(model[0](x)).reshape(-1, 8)
    assert torch.allclose(penalty(), 1e-3 * weighted_activity([h], [model[2].weight]))


@pytest.mark.parametrize("call, needle", [
    (lambda m: attach(m, "wa", layers=["9"]), "unknown layer '9'; valid layer names: 0, 1"),
    (lambda m: attach(m, "nosuch", layers=["1"]), "unknown regularizer 'nosuch'; available: wa"),
    (lambda m: attach(m, "wa"), "needs layers"),
    (lambda m: attach(m, "l2", layers=["zz"]), "unknown weight 'zz'"),
    (lambda m: attach(m, "wa", layers=["1"], beta=3), "takes no option 'beta'"),
    (lambda m: attach(m, "wa", layers=["1", "3"], outgoing=["2"]), "one weight per layer"),
    (lambda m: attach(m, "l12", layers=["0", "0"]), "does not follow"),
    (lambda m: attach(m, "wa", layers=["1"], strength=-1), "strength must be >= 0"),
])
def test_bad_arguments_are_one_line_value_errors(call, needle):
    with pytest.raises(ValueError) as err:
        call(mlp())
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_layer_that_never_ran_or_ran_twice_or_returned_a_tuple():
    model = mlp()
    penalty = attach(model, "wa", layers=["1", "3"])
    with pytest.raises(ValueError, match="has not run yet"):
        penalty()

    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc, self.act, self.out = nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 1)

        def forward(self, x):
            return self.out(self.act(self.fc(self.act(x))))

    twice = Twice()
    p = attach(twice, "activity", layers=["act"])
    twice(X)
    with pytest.raises(ValueError, match="ran 2 times in one forward"):
        p()

    class Tupled(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.RNN(4, 3, batch_first=True)

        def forward(self, x):
            return self.rnn(x)[0]

    tupled = Tupled()
    p = attach(tupled, "activity", layers=["rnn"])
    tupled(X[None])
    with pytest.raises(ValueError, match="returned a tuple, not a tensor"):
        p()


def test_outgoing_weight_of_the_wrong_width_is_reported():
    model = mlp()
    penalty = attach(model, "wa", layers=["1"], outgoing=["4"])      # 4 is Linear(8, 3): fine
    model(X)
    penalty()
    bad = attach(model, "wa", layers=["1"], outgoing=[torch.zeros(3, 5)])
    model(X)
    with pytest.raises(ValueError, match="does not take layer '1'"):
        bad()


def test_removed_penalty_detaches_its_hooks():
    model = mlp()
    with attach(model, "wa", layers=["1", "3"]) as penalty:
        model(X)
        penalty()
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())


def test_registry_is_the_extension_point():
    register_regularizer("double_l1", lambda hidden, weights, scale=2.0: scale * weight_l1(weights),
                         weights="own", options=("scale",))
    try:
        model = mlp()
        p = attach(model, "double_l1", layers=["0"], strength=1.0, scale=3.0)
        assert torch.allclose(p(), 3.0 * weight_l1([model[0].weight]))
    finally:
        del REGULARIZERS["double_l1"]


# --- noise ---------------------------------------------------------------------------------

def test_noise_only_in_training_mode_and_removal_restores_exactly():
    model = mlp()
    model.train()
    clean = model(X)
    handle = inject_noise(model, ["1", "3"], alpha=2.0, sigma=0.1)
    assert not torch.equal(model(X), clean)
    model.eval()
    assert torch.equal(model(X), clean)
    handle.test_time = True
    assert not torch.equal(model(X), clean)
    handle.remove()
    model.train()
    assert torch.equal(model(X), clean)
    with inject_noise(model, ["1"], alpha=2.0, sigma=0.1):
        assert not torch.equal(model(X), clean)
    assert torch.equal(model(X), clean)


@pytest.mark.parametrize("site", ["pre", "post"])
def test_noise_is_activity_noise_with_the_seeded_normal_draws(site):
    model = mlp()
    z = model[0](X)
    eps = torch.randn(z.shape, generator=torch.Generator().manual_seed(7))
    if site == "pre":       # h = φ(z + ξ(z)), Eq. 2
        expected = torch.relu(z + activity_noise(z, 0.2, 1.0, eps))
    else:                   # h + ξ(h), the authors' code
        h = torch.relu(z)
        expected = h + activity_noise(h, 0.2, 1.0, eps)
    with inject_noise(model, ["1"], alpha=1.0, sigma=0.2, site=site, seed=7):
        got = model[1](z)
    assert torch.allclose(got, expected, rtol=1e-6, atol=1e-7)


def test_noise_variance_scales_as_sigma_squared_abs_z_to_the_alpha():
    # Var ξ = σ²|z|^α (Eq. 4). 20,000 draws per unit: the sd's relative standard error is
    # 1/√(2·20000) ≈ 0.5 %, so 3 % is six standard errors.
    ident = nn.Sequential(nn.Identity())
    z = torch.tensor([0.5, 2.0, 4.0]).repeat(20000, 1)
    with inject_noise(ident, ["0"], alpha=2.0, sigma=0.1, site="post", seed=1):
        xi = ident(z) - z
    assert torch.allclose(xi.std(0), 0.1 * torch.tensor([0.5, 2.0, 4.0]), rtol=0.03)


def test_noise_arguments_are_checked():
    with pytest.raises(ValueError, match="site must be one of"):
        inject_noise(mlp(), ["1"], site="middle")
    with pytest.raises(ValueError, match="unknown layer 'x'"):
        inject_noise(mlp(), ["x"])
    with pytest.raises(ValueError, match="sigma and alpha"):
        inject_noise(mlp(), ["1"], sigma=-0.1)


def test_readme_snippet_wa_in_your_training_loop():
    snippet = '''
import torch
from torch import nn
from modlab.regularizers.dropin import attach

model = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 4))
wa = attach(model, "wa", layers=["1", "3"], strength=1e-3)   # the ReLUs; outgoing weights found
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
x, y = torch.randn(200, 4), torch.randn(200, 4)
for step in range(100):
    loss = nn.functional.mse_loss(model(x), y) + wa()
    opt.zero_grad(); loss.backward(); opt.step()
'''
    exec(compile(snippet, "README", "exec"), {})


def test_bimt_wiring_cost_through_the_same_door():
    import torch
    from torch import nn

    from modlab.regularizers import attach
    from modlab.regularizers.bimt import distances, line_coords

    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 2))
    cost = attach(model, "bimt", layers=["0", "2"], strength=1e-2, A=2.0, l0=0.5)
    model(torch.randn(3, 4))
    expected = 0.0
    for layer in (model[0], model[2]):
        d = distances(line_coords(layer.out_features), line_coords(layer.in_features))
        expected += (layer.weight.abs() * (2.0 * d.float() + 0.5)).sum()
    torch.testing.assert_close(cost(), 1e-2 * expected)
    cost().backward()
    assert model[0].weight.grad is not None
