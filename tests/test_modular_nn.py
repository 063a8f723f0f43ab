"""Modular, bottleneck and FC ensembles (Fig. 8 architectures): structure, seeding, counts."""
import pytest
import torch

from modlab.nn import ModularNet, make_architecture, parameter_count
from modlab.nn.modular import matched_width
from modlab.train import Data, fit
from modlab.train.objectives_generic import mse_objective

FIG8 = {"n_in": 2, "n_out": 1, "block_widths": [64, 1], "head_widths": [128]}


def test_parameter_counts_match_the_paper_architectures():
    # Linear parameters: modular 2·(1·64+64+64·1+1) + (2·128+128) + (128+1) = 899, plus one
    # PReLU slope per activation layer (2 per block, 1 in the head) = 904.
    counts = {a: parameter_count(make_architecture(a, **FIG8))
              for a in ("modular", "fc", "bottleneck", "fc_matched")}
    assert counts["modular"] == 899 + 5
    assert counts["fc"] == 33_537 + 3
    assert counts["bottleneck"] == 1155 + 3
    assert 36 < counts["fc"] / counts["modular"] < 38          # the authors' "~37×"
    assert abs(counts["fc_matched"] - counts["modular"]) / counts["modular"] < 0.05


def test_layer_sizes_of_fc_and_bottleneck():
    assert make_architecture("fc", **FIG8).widths == [2, 128, 128, 128, 1]
    assert make_architecture("bottleneck", **FIG8).widths == [2, 128, 2, 128, 1]
    assert make_architecture("fc_matched", **FIG8).widths == [2, 20, 20, 20, 1]
    assert matched_width(904, 2, 1, 3) == 20


def test_each_module_sees_only_its_own_input():
    net = ModularNet(3, [8, 8, 1], [16], 2, members=2, seeds=[0, 1])
    x = torch.randn(2, 5, 3, requires_grad=True)
    modules = net.module_outputs(x)                     # (M, B, G)
    assert modules.shape == (2, 5, 3)
    for g in range(3):
        (grad,) = torch.autograd.grad(modules[..., g].sum(), x, retain_graph=True)
        others = [j for j in range(3) if j != g]
        assert torch.all(grad[..., others] == 0)
        assert torch.any(grad[..., g] != 0)


def test_block_weights_are_block_diagonal():
    net = ModularNet(2, [64, 1], [128], 1, members=3, seeds=[0, 1, 2])
    w0, w1 = net.weights[:2]
    assert w0.shape == (3, 128, 2) and w1.shape == (3, 2, 128)
    assert torch.all(w0[:, :64, 1] == 0) and torch.all(w0[:, 64:, 0] == 0)
    assert torch.all(w1[:, 0, 64:] == 0) and torch.all(w1[:, 1, :64] == 0)


@pytest.mark.parametrize("arch", ["modular", "fc", "bottleneck"])
def test_ensemble_member_equals_standalone_network(arch):
    x = torch.randn(7, 2)
    ens = make_architecture(arch, **FIG8, members=3, seeds=[4, 5, 6])
    alone = make_architecture(arch, **FIG8, members=1, seeds=[5])
    torch.testing.assert_close(ens(x)[1], alone(x)[0])
    # Different seeds give different members.
    assert not torch.allclose(ens(x)[0], ens(x)[1])


def test_prelu_slopes_are_per_member_and_learn():
    net = make_architecture("modular", **FIG8, members=2, seeds=[0, 1])
    slopes = [p for n, p in net.named_parameters() if n.endswith("slope")]
    assert len(slopes) == 3                                      # 2 block layers + 1 head layer
    assert slopes[0].shape == (4, 1, 1)                          # per (member, block)
    assert slopes[2].shape == (2, 1, 1)                          # per member
    x, y = torch.randn(2, 32, 2), torch.randn(2, 32, 1)
    loss, _ = mse_objective(net, x, y)
    loss.sum().backward()
    assert all(s.grad is not None and torch.any(s.grad != 0) for s in slopes)


def test_unknown_architecture_is_a_one_line_value_error():
    with pytest.raises(ValueError, match="architecture must be one of"):
        make_architecture("resnet", **FIG8)


def test_all_architectures_train_through_fit():
    x = torch.rand(256, 2) * 2 - 1
    y = (x**2).sum(1, keepdim=True)
    data = Data(x, y, x, y)
    for arch in ("modular", "fc", "bottleneck"):
        net = make_architecture(arch, **FIG8, members=2, seeds=[0, 1])
        hist = fit(net, mse_objective, data, seeds=[0, 1], steps=100, batch_size=64, lr=3e-3,
                   optimizer="adamw", eval_every=50)
        first, last = hist.test_loss[0], hist.test_loss[-1]
        assert (last < first).all(), arch
