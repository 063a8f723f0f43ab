"""The fast paths are exact: hand-derived gradients, flat Adam, executors, threads, devices.

Correctness only (no timing assertions); benchmarks/ensemble_speed.py measures the speed.
"""
import copy
import itertools
import os
import subprocess

import numpy as np
import pytest
import torch

from modlab.metrics.spectral import laplacian_eigen, laplacian_spectrum
from modlab.nn.rng import fill_member_rand_, fill_member_randn_, make_generators, member_randn
from modlab.sweep import Job, ProcessExecutor, SerialExecutor, ensemble_job, make_executor
from modlab.train import EpochSampler, OptimConfig, RunConfig, fit, train_ensemble
from modlab.train.engine_mlp import ManualGradient, manual_gradient_unsupported
from modlab.train.ensemble import build_datasets, build_model, stack_data
from modlab.train.objective import RegressionObjective
from modlab.train.optim import FlatAdam, FlatParameters
from modlab.train.runtime import (
    THREADS_ENV,
    default_threads,
    resolve_device,
    resolve_threads,
    torch_threads,
)

REGS = {
    "wa+l2": [{"wa": 1e-2, "l2": 1e-3}] * 3,
    "mixed": [{"wa": 1e-2, "l2": 1e-3}, {"activity": 1e-2}, {"l1": 1e-3, "l12": 1e-2, "l21": 1e-2}],
    "alpha1": [{"wa": 1e-2, "wa_alpha": 1.0, "activity": 1e-2, "activity_alpha": 1.0}] * 3,
    "alpha_per_member": [{"wa": 1e-2, "wa_alpha": 1.0}, {"wa": 1e-2},
                         {"wa": 1e-2, "wa_alpha": 1.5, "activity": 1e-1, "activity_alpha": 1.5}],
    "none": [{}] * 3,
}
NOISE = {
    "none": [{}] * 3,
    "pre": [{"sigma": 0.1, "alpha": 0.0}, {"sigma": 0.1, "alpha": 1.0}, {"sigma": 0.0}],
    "post": [{"sigma": 0.2, "alpha": 2.0, "site": "post"}] * 3,
}


def _configs(net, noise, regs, **optim):
    return [RunConfig(seed=i, net=net, noise=noise[i], reg=regs[i], optim=optim or {})
            for i in range(3)]


def _manual_vs_autograd(cfgs, batch=40):
    model = build_model(cfgs, 4, 4)
    objective = RegressionObjective([c.reg for c in cfgs])
    twin = copy.deepcopy(model)  # same parameters and the same noise/dropout generator states
    torch.manual_seed(0)
    x, y = torch.randn(3, batch, 4), torch.randn(3, batch, 4)
    model.train()
    total, task = objective(model, x, y)
    total.sum().backward()
    grads = [torch.empty_like(p) for p in twin.parameters()]
    total2, task2 = ManualGradient(objective, twin)(x, y, grads)
    torch.testing.assert_close(total2, total.detach(), rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(task2, task.detach(), rtol=1e-5, atol=1e-7)
    for p, g in zip(model.parameters(), grads, strict=True):
        torch.testing.assert_close(g, p.grad, rtol=1e-4, atol=1e-6 * float(p.grad.abs().max()))


@pytest.mark.parametrize("activation,reg,noise,dropout", [
    *[(a, "mixed", n, d) for a, n, d in itertools.product(
        ["leaky_relu", "relu", "tanh", "sigmoid", "identity"], NOISE, [0.0, 0.1])],
    *[("leaky_relu", r, n, 0.0) for r, n in itertools.product(REGS, ["none", "pre"])],
])
def test_manual_gradient_equals_autograd(activation, reg, noise, dropout):
    net = {"activation": activation, "dropout": dropout, "bias": activation != "identity"}
    _manual_vs_autograd(_configs(net, NOISE[noise], REGS[reg]))


def test_manual_and_autograd_engines_train_alike():
    cfgs = _configs({}, NOISE["pre"], REGS["mixed"], steps=60, eval_every=30)
    runs = {e: train_ensemble(cfgs, engine=e) for e in ("manual", "autograd")}
    for p, q in zip(runs["manual"].model.parameters(), runs["autograd"].model.parameters(),
                    strict=True):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(runs["manual"].history.test_loss[-1],
                               runs["autograd"].history.test_loss[-1], rtol=1e-4)


def test_engine_selection():
    cfgs = _configs({}, NOISE["none"], REGS["wa+l2"])
    datasets = build_datasets(cfgs)
    model = build_model(cfgs, 4, 4)
    objective = RegressionObjective([c.reg for c in cfgs])
    assert manual_gradient_unsupported(objective, model) is None
    low_alpha = RegressionObjective([c.reg.model_copy(update={"wa_alpha": 0.5}) for c in cfgs])
    assert "wa_alpha" in manual_gradient_unsupported(low_alpha, model)

    def custom(model, x, y):  # any callable objective trains through autograd
        task = (model(x) - y).pow(2).mean((-2, -1))
        return task, task

    data = stack_data(datasets)
    history = fit(model, custom, data, seeds=[0, 1, 2], steps=5, eval_every=5)
    assert np.isfinite(history.test_loss[-1]).all()
    with pytest.raises(ValueError, match="engine='manual'"):
        fit(model, custom, data, seeds=[0, 1, 2], steps=1, engine="manual")
    with pytest.raises(ValueError, match="engine must be"):
        fit(model, custom, data, seeds=[0, 1, 2], steps=1, engine="fast")


@pytest.mark.parametrize("name,weight_decay", [("adam", 0.0), ("adam", 1e-2), ("adamw", 1e-2)])
@pytest.mark.parametrize("fused", [True, False])
def test_flat_adam_equals_torch_adam(name, weight_decay, fused):
    torch.manual_seed(0)
    params = [torch.randn(3, 5), torch.randn(3)]
    ref = [p.clone().requires_grad_() for p in params]
    torch_opt = (torch.optim.Adam if name == "adam" else torch.optim.AdamW)(
        ref, lr=1e-2, weight_decay=weight_decay)
    mine = [torch.nn.Parameter(p.clone()) for p in params]
    flat = FlatParameters(mine)
    opt = FlatAdam(flat, name, lr=1e-2, weight_decay=weight_decay)
    if not fused:
        opt._fused = None
    for _ in range(5):
        grads = [torch.randn_like(p) for p in params]
        for r, g in zip(ref, grads, strict=True):
            r.grad = g.clone()
        for view, g in zip(flat.grads, grads, strict=True):
            view.copy_(g)
        torch_opt.step()
        opt.step()
    for r, p in zip(ref, mine, strict=True):
        torch.testing.assert_close(p.detach(), r.detach(), rtol=1e-5, atol=1e-6)
    assert mine[0].data_ptr() == flat.data.data_ptr()  # parameters are views of the buffer


def test_epoch_sampler_span_matches_next():
    a = EpochSampler(10, 4, make_generators([0, 1], "data"))
    b = EpochSampler(10, 4, make_generators([0, 1], "data"))
    for _ in range(9):
        perm, lo, hi = b.next_span()
        assert torch.equal(a.next(), perm[:, lo:hi])
        assert hi - lo in (4, 2)


def test_in_place_member_streams_match():
    gens_a, gens_b = make_generators([3, 4], "noise"), make_generators([3, 4], "noise")
    expected = member_randn((2, 5, 7), gens_a)
    assert torch.equal(fill_member_randn_(torch.empty(2, 5, 7), gens_b), expected)
    u = fill_member_rand_(torch.empty(2, 100), make_generators([1, 2]))
    assert ((u >= 0) & (u < 1)).all()


def test_threads_default_env_and_restore(monkeypatch):
    monkeypatch.delenv(THREADS_ENV, raising=False)
    assert default_threads() == 1 and resolve_threads(None) == 1
    monkeypatch.setenv(THREADS_ENV, "2")
    assert resolve_threads(None) == 2 and resolve_threads(3) == 3
    monkeypatch.setenv(THREADS_ENV, "0")
    assert resolve_threads(None) == torch.get_num_threads()
    monkeypatch.setenv(THREADS_ENV, "many")
    with pytest.raises(ValueError, match=THREADS_ENV):
        default_threads()
    monkeypatch.delenv(THREADS_ENV)
    before = torch.get_num_threads()
    seen = []
    with torch_threads(None):
        seen.append(torch.get_num_threads())
    assert seen == [1] and torch.get_num_threads() == before
    cfg = RunConfig(seed=0, optim=OptimConfig(steps=3, eval_every=3))
    train_ensemble([cfg], on_eval=lambda step, h: seen.append(torch.get_num_threads()))
    assert seen[-1] == 1 and torch.get_num_threads() == before


def test_device_resolution():
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("tpu-ish")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_ensemble_matches_cpu():
    cfgs = _configs({}, NOISE["pre"], REGS["wa+l2"], steps=50, eval_every=50)
    cpu, gpu = train_ensemble(cfgs), train_ensemble(cfgs, device="cuda")
    for p, q in zip(cpu.model.parameters(), gpu.model.parameters(), strict=True):
        torch.testing.assert_close(q.cpu(), p, rtol=1e-3, atol=1e-4)


def _boom(message):
    raise RuntimeError(message)


@pytest.fixture(scope="module")
def pool():
    ex = ProcessExecutor(max_workers=2)
    yield ex
    ex.shutdown(wait=False)


def test_process_pool_reports_each_job_as_it_finishes(pool, tmp_path):
    """A finished job reaches the driver (and the store) while others still run: the second
    job waits for the marker that the driver writes on the first job's result."""
    marker = tmp_path / "first-reported"
    waiter = ["sh", "-c", f"for i in $(seq 600); do [ -e '{marker}' ] && exit 0; sleep 0.1; done; exit 1"]
    seen = []

    def on_result(i, result):
        seen.append(i)
        if i == 0:
            marker.touch()

    out = pool.run([Job(sum, ([1, 2],)), Job(subprocess.call, (waiter,))], on_result=on_result)
    assert out == [3, 0] and seen == [0, 1]


def test_process_executor_equals_serial(pool):
    def ens(act, seed0):
        cfgs = [RunConfig(seed=s, net={"activation": act}, reg={"wa": 1e-3, "l2": 1e-4},
                          optim={"steps": 30, "eval_every": 15}) for s in (seed0, seed0 + 1)]
        return ensemble_job(cfgs)

    jobs = [ens("leaky_relu", 0), ens("tanh", 2)]
    seen = []
    parallel = pool.run(jobs, on_result=lambda i, r: seen.append(i))
    serial = SerialExecutor().run(jobs)
    assert sorted(seen) == [0, 1]
    for a, b in zip(serial, parallel, strict=True):
        assert a.configs == b.configs
        for p, q in zip(a.model.parameters(), b.model.parameters(), strict=True):
            assert torch.equal(p, q)
        assert np.array_equal(np.stack(a.history.test_loss), np.stack(b.history.test_loss))
    # workers run on one torch thread each, and are separate processes
    threads = pool.run([Job(torch.get_num_threads), Job(torch.get_num_threads)])
    assert threads == [1, 1]
    assert os.getpid() not in pool.run([Job(os.getpid)])


def test_process_executor_reraises(pool):
    with pytest.raises(RuntimeError, match="job failed"):
        pool.run([Job(_boom, ("job failed",))])


def test_make_executor_defaults():
    ex = make_executor("serial")
    assert isinstance(ex, SerialExecutor)
    assert ex.run([Job(sum, ([1, 2],))]) == [3]
    proc = make_executor()
    assert isinstance(proc, ProcessExecutor) and proc.max_workers >= 1
    with pytest.raises(ValueError):
        make_executor("threads")


def test_batched_spectrum_with_dead_neurons_matches_one_by_one():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((40, 8, 6))
    w[rng.random((40, 8)) < 0.2] = 0.0
    w[0] = 0.0
    spectra = laplacian_spectrum(w.reshape(4, 10, 8, 6)).reshape(40, 8)
    for i in range(40):
        vals = laplacian_eigen(w[i]).eigvals
        np.testing.assert_allclose(spectra[i, :len(vals)], vals, atol=1e-10)
        assert np.isnan(spectra[i, len(vals):]).all()
