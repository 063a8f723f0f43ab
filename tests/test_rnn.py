"""The leaky RNN: hand-derived BPTT equals autograd, member bits do not depend on the
ensemble, BIMT swaps during training keep the function and move the Adam moments, and a tiny
RNN learns an easy task."""
import copy

import numpy as np
import pytest
import torch

from modlab.train import RunConfig, get_kind, member_state, train_ensemble
from modlab.train.callbacks import BIMTSwaps
from modlab.train.engine_rnn import RNNGradient
from modlab.train.ensemble import build_datasets
from modlab.train.optim import FlatAdam, FlatParameters
from modlab.train.result import results_of


def rnn_config(seed, hidden=16, rules=("go", "dm1"), **reg):
    return RunConfig(seed=seed, task={"name": "yang19", "params": {"rules": list(rules),
                                                                   "test_trials": 16}},
                     net={"kind": "rnn", "hidden": hidden}, reg=reg,
                     optim={"steps": 60, "batch_size": 8, "eval_every": 30})


def model_and_objective(configs):
    kind = get_kind("rnn")
    task = build_datasets(configs)[0]
    model = kind.build(configs, task)
    return model, kind.objective(configs, model)


@pytest.mark.parametrize("regs, noise", [
    ([{}], True),
    ([{"l2": 1e-3}, {"l1": 1e-4}, {"wiring": 1e-3, "wiring_locality": 2.0}], True),
    ([{}], False),
])
def test_hand_derived_bptt_equals_autograd(regs, noise):
    configs = [rnn_config(s, **regs[s % len(regs)]) for s in range(3)]
    if not noise:
        configs = [c.model_copy(update={"net": c.net.model_copy(update={"sigma_rec": 0.0,
                                                                        "sigma_x": 0.0})})
                   for c in configs]
    model, objective = model_and_objective(configs)
    twin = copy.deepcopy(model)   # same parameters and noise-generator states
    torch.manual_seed(0)
    x, y = torch.randn(3, 5, 37, 85), torch.rand(3, 5, 37, 33)
    mask = (torch.rand(3, 5, 37, 33) > 0.3).float()
    mask[:, :, 30:] = 0                                   # padded steps
    total, task = objective(model, x, y, mask)
    reference = torch.autograd.grad(total.sum(), list(model.parameters()))
    grads = [torch.zeros_like(p) for p in twin.parameters()]
    with torch.no_grad():
        total2, task2 = RNNGradient(objective, twin).step(x, y, mask, grads)
    # float32 BPTT over 37 steps in another order of operations: relative 1e-6 is rounding,
    # a wrong term (a missing α, the noise, a transposed weight) is O(1).
    torch.testing.assert_close(total2, total.detach(), rtol=1e-5, atol=1e-8)
    torch.testing.assert_close(task2, task.detach(), rtol=1e-5, atol=1e-8)
    for ref, mine in zip(reference, grads, strict=True):
        torch.testing.assert_close(mine, ref, rtol=1e-4, atol=1e-6 * float(ref.abs().max()))


def same_member(run_a, i, run_b, j):
    a, b = member_state(run_a.model, i, run_a.members), member_state(run_b.model, j, run_b.members)
    assert all(torch.equal(a[k], b[k]) for k in a), "parameters differ"
    assert np.array_equal(np.stack(run_a.history.train_loss)[:, i],
                          np.stack(run_b.history.train_loss)[:, j])


def test_rnn_member_bits_do_not_depend_on_the_ensemble():
    # Members draw their own trials, so batches differ in length and the ensemble pads them:
    # the target's bits must survive that, and BIMT swaps happening during training.
    target = rnn_config(2, wiring=1e-3, wiring_locality=1.0, swap_every=20, swap_top_k=4)
    alone = train_ensemble([target], pad_single=True)
    run = train_ensemble([target, rnn_config(5), rnn_config(7, l2=1e-3), target])
    same_member(run, 0, alone, 0)
    same_member(run, 3, alone, 0)



def test_swap_keeps_the_function_and_lowers_wiring_length():
    configs = [rnn_config(s, hidden=16) for s in range(2)]
    model, _ = model_and_objective(configs)
    model.eval()
    x = torch.randn(4, 20, 85)
    with torch.no_grad():
        before = model(x)
        params = [p for p in model.parameters()]
        opt = FlatAdam(FlatParameters(params), "adam", 1e-3)
        from modlab.regularizers.bimt import connection_cost
        from modlab.train.terms import wiring_distances

        cost_before = connection_cost(model.weights, wiring_distances(model), 1.0, 0.0)
        swap_configs = [c.model_copy(update={"reg": c.reg.model_copy(
            update={"swap_every": 1, "swap_top_k": 8})}) for c in configs]
        swaps = BIMTSwaps(swap_configs, get_kind("rnn").swap_layout)
        swaps.on_step(1, model, opt)
        after = model(x)
        cost_after = connection_cost(model.weights, wiring_distances(model), 1.0, 0.0)
    assert sum(swaps.swaps) > 0
    # The same sums in another order of the hidden units: float32 rounding only.
    torch.testing.assert_close(after, before, rtol=1e-5, atol=1e-6)
    assert (cost_after < cost_before).all()


def test_swaps_move_the_adam_moments_with_the_neurons():
    # Without noise, swapping is a relabelling: a run that swaps mid-training must end with
    # the same function as one that does not, which holds only if the moments moved too.
    def cfg(swap):
        c = rnn_config(3, hidden=16, swap_every=10 if swap else 0, swap_top_k=6)
        return c.model_copy(update={"net": c.net.model_copy(update={"sigma_rec": 0.0,
                                                                    "sigma_x": 0.0})})
    x = torch.from_numpy(build_datasets([cfg(False)])[0].test_set()[0][:16])
    outputs = {}
    for swap in (False, True):
        run = train_ensemble([cfg(swap), cfg(swap)])
        run.model.eval()
        with torch.no_grad():
            outputs[swap] = run.model(x)[0]
    torch.testing.assert_close(outputs[True], outputs[False], rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_a_tiny_rnn_learns_the_go_task_well_above_chance():
    # Chance: the read-out must land within π/10 of the target (1 direction in 10) with
    # fixation held, so < 0.1. Tuning seeds 0–2 after 600 steps: 0.89, 0.66, 0.58; first
    # held-out run, seeds 10–12: 0.63, 0.27, 0.69. Single seeds spread with sd ≈ 0.22, so the
    # mean of 3 has sd ≈ 0.13: requiring mean > 0.3 fails by chance ≈ 0.5 % of the time
    # (2.5 sd), and every seed > 0.15 (1.5× chance) ≈ 2 % (the 6 seeds seen: ≥ 0.27).
    configs = [RunConfig(seed=s, task={"name": "yang19", "params": {"rules": ["go"],
                                                                  "test_trials": 64}},
                         net={"kind": "rnn", "hidden": 64},
                         optim={"steps": 600, "batch_size": 32, "eval_every": 300})
               for s in (10, 11, 12)]
    acc = [r.metrics["mean_accuracy"] for r in results_of(train_ensemble(configs))]
    assert np.mean(acc) > 0.3 and min(acc) > 0.15, acc


# BIMT's anatomical claim, on the growing-brains quick preset (64 units, go + anti, 600 steps,
# λ = 1e-5, swaps every 50 steps). Tuning seeds 0–3 gave the |W_rec|-weighted wiring-length
# z-score (`metrics.wiring_locality`, against shuffled grid positions): L1 0.43, 0.76, −0.42,
# −0.07; BIMT −6.43, −7.19, −6.84, −7.91. The claim asks every BIMT seed below −3 and BIMT's
# mean 3 below L1's; with normal per-seed values fitted to the tuning ones it fails by chance
# in < 0.1 % of runs (test_wiring_claim_rarely_fails_by_chance). The functional-cluster
# locality z (`locality_z`) did not separate on the same seeds (L1 0.55 ± 0.48, BIMT
# 0.09 ± 0.97, none 0.20 ± 1.82): no claim is made on it at this scale (docs/bimt.md).
TUNING_WIRING_Z = {"L1": [0.43, 0.76, -0.42, -0.07], "BIMT": [-6.43, -7.19, -6.84, -7.91]}


def wiring_claim(l1, bimt) -> bool:
    return bool(np.max(bimt) < -3 and np.mean(bimt) < np.mean(l1) - 3)


def test_wiring_claim_rarely_fails_by_chance():
    from heldout import chance_of_failure

    draws = {"l1": (TUNING_WIRING_Z["L1"], 3, "normal"),
             "bimt": (TUNING_WIRING_Z["BIMT"], 3, "normal")}
    assert chance_of_failure(wiring_claim, draws) < 0.001


@pytest.mark.slow
def test_bimt_wires_locally_and_l1_does_not(tmp_path):
    from heldout import TEST_SEED0

    from modlab.experiments.results import read_parquet
    from modlab.sweep import run_experiment

    out = run_experiment("growing-brains", "quick", tmp_path,
                         {"seeds": 3, "seed0": TEST_SEED0, "settings": ["L1", "BIMT"]}).path
    rows = read_parquet(out / "results.parquet")
    z = {s: [r["wiring_z"] for r in rows if r["setting"] == s] for s in ("L1", "BIMT")}
    assert all(len(v) == 3 for v in z.values()), z
    assert wiring_claim(z["L1"], z["BIMT"]), z
