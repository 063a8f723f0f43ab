"""RNN training speed, side by side in one process (1 torch thread unless --threads).

    .venv/bin/python benchmarks/rnn_speed.py             # both sections (~3-5 min)
    .venv/bin/python benchmarks/rnn_speed.py --quick     # a smoke run

(a) 400 leaky-ReLU units (Yang 2019), batch 64, one member, T = 160 steps of the 85-input /
    33-output Yang encoding: time per training step of modlab's engine (hand-derived BPTT,
    `train/engine_rnn.py`, noise included) and its GFLOP/s as a fraction of this machine's
    dense-matmul peak measured by the same script. FLOPs counted: the matmuls of forward,
    ∂input and ∂W (2 per multiply-add), 6·B·T·N·(N + n_in + n_out) per step.
(b) 64 units, M = 16 members: model-steps/s of one 16-member modlab ensemble against a plain
    PyTorch loop a researcher would write: one `nn.Module` RNN per member (same equations,
    autograd through time, `torch.optim.Adam`), trained one member after another on the same
    batches.
Both sides use the same data (random batches with Yang's shapes; the task generator is not
timed), best of --repeats, interleaved.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ensemble_speed import matmul_peak  # noqa: E402

import modlab  # noqa: E402,F401  (sets MKL's reproducibility mode before torch's first matmul)
from modlab.train import RunConfig, get_kind  # noqa: E402
from modlab.train.engine_rnn import RNNGradient  # noqa: E402
from modlab.train.ensemble import build_datasets  # noqa: E402
from modlab.train.optim import FlatAdam, FlatParameters  # noqa: E402
from modlab.train.runtime import describe_machine, torch_threads  # noqa: E402

N_IN, N_OUT, ALPHA = 85, 33, 0.2


def flops(b: int, t: int, n: int) -> float:
    return 6.0 * b * t * n * (n + N_IN + N_OUT)


def batch(m: int, b: int, t: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(m, b, t, N_IN, generator=g)
    y = torch.rand(m, b, t, N_OUT, generator=g)
    return x, y, torch.ones(m, b, t, N_OUT)


def modlab_step(n: int, m: int):
    """A callable doing one full modlab training step (gradients + fused Adam) on M members."""
    cfgs = [RunConfig(seed=s, task={"name": "yang19", "params": {"rules": ["go"]}},
                      net={"kind": "rnn", "hidden": n}) for s in range(m)]
    kind = get_kind("rnn")
    model = kind.build(cfgs, build_datasets(cfgs)[0])
    model.max_steps = 0
    objective = kind.objective(cfgs, model)
    flat = FlatParameters(list(model.parameters()))
    opt = FlatAdam(flat, "adam", 1e-3)
    engine = RNNGradient(objective, model)

    def step(x, y, mask):
        with torch.inference_mode():
            engine.step(x, y, mask, flat.grads)
            opt.raw_step()
    return step


class PlainRNN(nn.Module):
    """The same leaky RNN, written as a researcher would (one model, autograd)."""

    def __init__(self, n: int, seed: int):
        super().__init__()
        torch.manual_seed(seed)
        self.w_in = nn.Linear(N_IN, n)
        self.w_rec = nn.Linear(n, n, bias=False)
        self.out = nn.Linear(n, N_OUT)
        self.noise = math.sqrt(2 / ALPHA) * 0.05

    def forward(self, x):
        h = x.new_zeros(x.shape[0], self.w_rec.in_features)
        u = self.w_in(x + 0.01 * torch.randn_like(x))
        outs = []
        for t in range(x.shape[1]):
            pre = u[:, t] + self.w_rec(h) + self.noise * torch.randn_like(h)
            h = (1 - ALPHA) * h + ALPHA * torch.relu(pre)
            outs.append(h)
        return torch.sigmoid(self.out(torch.stack(outs, 1)))


def plain_steps(n: int, m: int):
    models = [PlainRNN(n, s) for s in range(m)]
    opts = [torch.optim.Adam(mod.parameters(), lr=1e-3) for mod in models]

    def step(x, y, mask):
        for i, (mod, opt) in enumerate(zip(models, opts, strict=True)):
            loss = (((mod(x[i]) - y[i]) * mask[i]) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return step


def best_time(fn, args, steps: int, repeats: int) -> float:
    fn(*args)                       # warm-up: buffers, caches
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            fn(*args)
        best = min(best, (time.perf_counter() - start) / steps)
    return best


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=3, help="training steps per timing")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--time-steps", type=int, default=160, help="T of every batch")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--json")
    a = p.parse_args(argv)
    if a.quick:
        a.steps, a.repeats, a.time_steps = 1, 1, 40
    out: dict = {"machine": describe_machine()}
    with torch_threads(a.threads):
        peak = matmul_peak()["peak_gflops"]
        out["peak_gflops"] = peak
        x, y, mask = batch(1, 64, a.time_steps)
        t400 = best_time(modlab_step(400, 1), (x, y, mask), a.steps, a.repeats)
        g400 = flops(64, a.time_steps, 400) / t400 / 1e9
        out["rnn400"] = {"seconds_per_step": t400, "gflops": g400, "fraction_of_peak": g400 / peak}
        print(f"(a) N = 400, B = 64, T = {a.time_steps}, 1 member: {t400 * 1e3:.0f} ms/step, "
              f"{g400:.1f} GFLOP/s = {100 * g400 / peak:.0f} % of the {peak:.1f} GFLOP/s peak")
        x, y, mask = batch(16, 64, a.time_steps)
        ours, theirs = modlab_step(64, 16), plain_steps(64, 16)
        t_ours = t_plain = math.inf
        for _ in range(a.repeats):       # interleaved
            t_ours = min(t_ours, best_time(ours, (x, y, mask), a.steps, 1))
            t_plain = min(t_plain, best_time(theirs, (x, y, mask), max(a.steps // 2, 1), 1))
        rate_ours, rate_plain = 16 / t_ours, 16 / t_plain
        out["rnn64_m16"] = {"modlab_model_steps_per_s": rate_ours,
                            "plain_model_steps_per_s": rate_plain,
                            "ratio": rate_ours / rate_plain}
        print(f"(b) N = 64, M = 16, B = 64, T = {a.time_steps}: modlab {rate_ours:.1f} "
              f"model-steps/s, plain PyTorch loop {rate_plain:.1f} → {rate_ours / rate_plain:.1f}×")
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
