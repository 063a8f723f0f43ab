"""One record per model kind: sizes for the resource check, swap layouts, engines."""
import subprocess
import sys
from typing import Literal

import pytest
import torch

from modlab.nn import MLP
from modlab.sweep.resources import estimate, parameter_count
from modlab.train import ModelConfig, ModelKind, Objective, RunConfig, register_model
from modlab.train.engine_mlp import ManualGradient
from modlab.train.engine_rnn import RNNGradient
from modlab.train.engines import engine_lookup, select_engine
from modlab.train.kinds import MODEL_KINDS, get_kind


def test_every_builtin_kind_has_a_size_and_counts_its_parameters_exactly():
    from modlab.train.ensemble import build_model

    nets = [("mlp", {"hidden": [8, 5]}), ("rnn", {"hidden": 9}),
            ("autoencoder", {"form": "mlp", "widths": [7, 3]}),
            ("autoencoder", {"form": "linear", "latents": 5, "nonneg": "bias"})]
    for kind, net in nets:
        cfg = RunConfig(net={"kind": kind, **net})
        built = sum(p.numel() for p in build_model([cfg], 4, 3).parameters())
        assert get_kind(kind).size is not None
        assert parameter_count(cfg, 4, 3) == built, kind
    assert all(k.size is not None for k in MODEL_KINDS.values() if k.name in
               ("mlp", "rnn", "modular", "autoencoder"))


class _Unsized(ModelConfig):
    kind: Literal["unsized-test"] = "unsized-test"


register_model(ModelKind("unsized-test", _Unsized,
                         build=lambda configs, task: MLP([task.n_in, task.n_out],
                                                         members=len(configs)),
                         objective=lambda configs, model: Objective([c.reg for c in configs])))


def test_a_kind_without_a_size_is_refused_by_the_resource_check_not_guessed():
    cfg = RunConfig(net={"kind": "unsized-test"}, optim={"steps": 10})
    with pytest.raises(ValueError, match="'unsized-test' has no size estimate"):
        estimate(cfg)


def test_swaps_on_a_kind_without_a_layout_are_an_error():
    cfg = RunConfig(net={"kind": "unsized-test"}, reg={"swap_every": 5})
    with pytest.raises(ValueError, match="reg.swap_every: net.kind 'unsized-test'"):
        get_kind("unsized-test").fit_callbacks([cfg], None)


def test_builtin_engines_survive_a_user_engine_registered_first():
    # The 0.2 bug: any registered engine stopped the built-ins from registering, so the MLP
    # and the RNN silently trained through autograd. A fresh process sees the import order.
    code = ("from modlab.train.engines import register_engine, engine_for\n"
            "class Mine: pass\n"
            "@register_engine(Mine)\n"
            "class MineEngine: pass\n"
            "from modlab.nn import MLP\n"
            "from modlab.nn.rnn import LeakyRNN\n"
            "print(engine_for(MLP([2, 3, 2])).__name__, "
            "engine_for(LeakyRNN(2, 4, 2)).__name__, engine_for(Mine()).__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["ManualGradient", "RNNGradient", "MineEngine"]


class _SameMLP(MLP):
    """A subclass that changes nothing the engine re-derives."""


class _OtherMLP(MLP):
    def forward_hidden(self, x):        # e.g. a skip connection: not what the engine derives
        out = super().forward_hidden(x)
        return out._replace(output=out.output + 1.0)


def test_engine_lookup_follows_subclasses_unless_they_change_the_computation():
    cfgs = [RunConfig(seed=i) for i in range(2)]
    objective = Objective([c.reg for c in cfgs])
    assert engine_lookup(_SameMLP([4, 6, 4], members=2))[0] is ManualGradient
    assert engine_lookup(MLP([4, 6, 4], members=2))[0] is ManualGradient
    engine, reason = engine_lookup(_OtherMLP([4, 6, 4], members=2))
    assert engine is None and "overrides MLP.forward_hidden" in reason
    assert select_engine("auto", _OtherMLP([4, 6, 4], members=2), objective, 8, False) is None
    with pytest.raises(ValueError, match="overrides MLP.forward_hidden"):
        select_engine("manual", _OtherMLP([4, 6, 4], members=2), objective, 8, False)
    assert get_kind("rnn").engine is RNNGradient and get_kind("mlp").engine is ManualGradient
    assert torch.is_tensor(_SameMLP([4, 6, 4], members=2)(torch.zeros(2, 3, 4)))
