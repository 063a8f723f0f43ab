"""A run's bits are a function of its config: alone or as member i of any ensemble, and
across an interruption and resume from a training checkpoint."""
import numpy as np
import pytest
import torch

from modlab.train import (
    Callback,
    Checkpoint,
    RunConfig,
    member_state,
    train_ensemble,
    with_overrides,
)

STEPS = 2000


def mlp(seed, **reg):
    return RunConfig(seed=seed, reg={"wa": 1e-3, "l2": 1e-4, **reg},
                     optim={"steps": STEPS, "eval_every": 500})


def modular(seed, arch="modular", **reg):
    # Fig. 8's architectures at a quarter of their width: the same code paths, 2k steps fast.
    return RunConfig(seed=seed, task={"name": "gaussian", "params": {"n_points": 400}},
                     net={"kind": "modular", "arch": arch, "block_widths": [16, 1],
                          "head_widths": [32]}, reg=reg,
                     optim={"steps": STEPS, "batch_size": 64, "optimizer": "adamw",
                            "eval_every": 500, "eval_train": True})


def autoencoder(seed, form="linear", **reg):
    return RunConfig(seed=seed, task={"name": "sources", "params": {"spec": "band:1.2"}},
                     net={"kind": "autoencoder", "form": form},
                     reg={"activity": 0.1, "nonneg": 3.0, "l2": 0.01, **reg},
                     optim={"steps": STEPS, "batch_size": 64, "lr": 1e-2, "eval_every": 500})


def same_bits(run_a, i, run_b, j):
    a = member_state(run_a.model, i, run_a.members)
    b = member_state(run_b.model, j, run_b.members)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), (k, (a[k] - b[k]).abs().max())
    ha, hb = run_a.history, run_b.history
    for key in ("train_loss", "test_loss", "train_eval"):
        xa, xb = getattr(ha, key), getattr(hb, key)
        assert np.array_equal(np.stack(xa)[:, i], np.stack(xb)[:, j]) if xa else not xb, key


# Others differ in seed and in λ; the target sits first and last of each ensemble (twice).
CASES = {
    "mlp": (mlp, [lambda s: mlp(s), lambda s: mlp(s, wa=3e-3), lambda s: mlp(s, l2=0.0)]),
    "modular": (modular, [lambda s: modular(s), lambda s: modular(s, l2=1e-4)]),
    "fc": (lambda s: modular(s, "fc"), [lambda s: modular(s, "fc", l1=1e-5)]),
    "linear-ae": (autoencoder, [lambda s: autoencoder(s), lambda s: autoencoder(s, nonneg=1.0)]),
    "mlp-ae": (lambda s: autoencoder(s, "mlp"), [lambda s: autoencoder(s, "mlp", l2=1e-3)]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_member_bits_do_not_depend_on_the_ensemble(case):
    make, others = CASES[case]
    target = make(2)
    alone = train_ensemble([target], pad_single=True)   # as the results store trains it
    for size in (3, 4, 7):
        rest = [others[k % len(others)](10 + k) for k in range(size - 2)]
        run = train_ensemble([target, *rest, target])
        for pos in (0, size - 1):
            same_bits(run, pos, alone, 0)


class _Interrupt(Callback):
    def __init__(self, at):
        self.at = at

    def on_step(self, step, model, optimizer):
        if step == self.at:
            raise KeyboardInterrupt


@pytest.mark.parametrize("make", [lambda s: mlp(s, swap_every=0), lambda s: modular(s)])
def test_resume_from_checkpoint_is_bitwise_identical(tmp_path, make):
    configs = [make(0), with_overrides(make(1), {"reg.l2": 1e-3})]
    whole = train_ensemble(configs)
    ckpt = Checkpoint(tmp_path / "ckpt", every=300, tag="t")
    with pytest.raises(KeyboardInterrupt):
        train_ensemble(configs, checkpoint=ckpt, callbacks=[_Interrupt(1000)])
    assert ckpt.exists()
    resumed = train_ensemble(configs, checkpoint=ckpt)
    for i in range(2):
        same_bits(whole, i, resumed, i)
    assert resumed.history.steps == whole.history.steps


def test_checkpoint_of_another_run_is_refused(tmp_path):
    configs = [mlp(0).model_copy(update={"optim": mlp(0).optim.model_copy(update={"steps": 20})})]
    Checkpoint(tmp_path / "c", every=5, tag="a").save({"x": torch.zeros(1)}, {})
    with pytest.raises(ValueError, match="belongs to another run"):
        train_ensemble(configs, checkpoint=Checkpoint(tmp_path / "c", every=5, tag="b"))
