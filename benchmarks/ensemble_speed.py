"""Ensemble training speed vs the plain-PyTorch loop a researcher writes, side by side.

    .venv/bin/python benchmarks/ensemble_speed.py                 # the full report (~3-6 min)
    .venv/bin/python benchmarks/ensemble_speed.py --quick         # a smoke run (~30 s)

In ONE process, with the same torch thread setting, it trains the Figure 1 network
(4→32→32→32→4, leaky ReLU) with the WA regulariser (λ_WA = 1e-3, α = 2, plus weight L2 1e-4,
the paper presets), Adam lr 1e-3, mini-batches of 200 from 1,000 points, for a fixed number
of steps:

  (a) baseline: one `nn.Sequential` + `torch.optim.Adam` per member, trained one member after
      another (tensors pre-loaded, no DataLoader), WA computed from the hidden activations;
  (b) modlab: the same M members as one ensemble (`train_ensemble`).

Member i of (a) is initialised by `torch.manual_seed(seed_i)` and is fed exactly the
mini-batches modlab's member i draws, so both must end at the same losses (checked, to float
tolerance). It prints model-steps/s of both, the ratio (b)/(a), the GFLOP/s (b) achieves
(forward + backward + regulariser FLOPs, `flops_per_model_step`), and this machine's measured
dense-matmul peak on the same threads, with the fraction reached. Further sections: 1 vs 2
torch threads, two ensembles on two worker processes vs one after another, and the batched
Laplacian spectrum of 1,000 32×32 matrices.

Timing: each measurement is repeated (--repeats) with (a) and (b) interleaved and the best
repeat kept; both wall-clock and CPU time of the training loop are recorded. On a machine
shared with other work, wall time is inflated by waiting for a core; the CPU-time ratio is
then the more faithful number (the report prints both).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from modlab.nn import make_generators
from modlab.tasks import make_task
from modlab.train import EpochSampler, RunConfig, train_ensemble
from modlab.train.runtime import describe_machine, resolve_device, torch_threads

WIDTHS = (4, 32, 32, 32, 4)
BATCH, LR, LAMBDA_WA, LAMBDA_L2 = 200, 1e-3, 1e-3, 1e-4


# ------------------------------------------------------------------------------------------
# FLOPs


def flops_per_model_step(widths=WIDTHS, batch: int = BATCH) -> int:
    """FLOPs of one member's training step: forward + backward + regulariser (not Adam).

    Matmuls count 2 FLOPs per multiply-add: forward B·in·out per layer, backward the same for
    ∂W and for ∂input (not needed for the first layer). Element-wise work counts 1 per
    element and operation: bias add and bias gradient, activation and its derivative, MSE and
    its gradient, WA (α = 2: h², batch mean, ‖W_:,j‖², product; their gradients) and L2.
    The matmuls are ~96 % of the total.
    """
    total = 0
    pairs = list(zip(widths[:-1], widths[1:], strict=True))
    for li, (n_in, n_out) in enumerate(pairs):
        mm = 2 * batch * n_in * n_out
        total += mm + mm + (mm if li > 0 else 0)      # forward, ∂W, ∂input
        total += 2 * batch * n_out                     # bias add, bias gradient
    hidden = widths[1:-1]
    total += sum(2 * batch * u for u in hidden)        # activation, derivative
    total += 4 * batch * widths[-1]                    # MSE: diff, square, sum, gradient
    for k, u in enumerate(hidden):                     # WA over hidden layers
        n_next = widths[k + 2]
        total += 2 * batch * u + 2 * n_next * u + 2 * u        # value
        total += 2 * batch * u + 3 * n_next * u                 # ∂h, ∂W
    total += sum(4 * i * o for i, o in pairs)          # L2 value and gradient
    return total


# ------------------------------------------------------------------------------------------
# Peak


def matmul_peak(sizes=(512, 1024, 2048), seconds: float = 0.3, repeats: int = 5) -> dict:
    """Best dense float32 square-matmul GFLOP/s on the current torch threads: torch (MKL) and
    NumPy's BLAS (limited to the same number of threads), by wall-clock and by CPU time; the
    peak is the best of both libraries."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # NumPy's BLAS then uses its own thread count: report torch only
        threadpool_limits = None
    if threadpool_limits is None:
        return _matmul_peak(sizes, seconds, repeats, with_numpy=False)
    with threadpool_limits(limits=torch.get_num_threads(), user_api="blas"):
        return _matmul_peak(sizes, seconds, repeats, with_numpy=True)


def _matmul_peak(sizes, seconds, repeats, with_numpy) -> dict:
    best = {"torch": [0.0, 0.0], "numpy": [0.0, 0.0]}   # [wall, cpu]
    for n in sizes:
        a, b = torch.randn(n, n), torch.randn(n, n)
        c = torch.empty(n, n)
        an, bn, cn = a.numpy(), b.numpy(), c.numpy()
        calls = {"torch": partial(torch.mm, a, b, out=c)}
        if with_numpy:
            calls["numpy"] = partial(np.matmul, an, bn, out=cn)
        reps = max(2, int(seconds * 80e9 / (2 * n ** 3)))
        for name, call in calls.items():
            call()
            for _ in range(repeats):
                wall, cpu = time.perf_counter(), time.process_time()
                for _ in range(reps):
                    call()
                flop = 2 * n ** 3 * reps / 1e9
                best[name][0] = max(best[name][0], flop / (time.perf_counter() - wall))
                best[name][1] = max(best[name][1], flop / max(time.process_time() - cpu, 1e-9))
    return {"torch_gflops": best["torch"][0], "numpy_gflops": best["numpy"][0],
            "peak_gflops": max(best["torch"][0], best["numpy"][0]),
            "torch_gflops_cpu": best["torch"][1], "numpy_gflops_cpu": best["numpy"][1],
            "peak_gflops_cpu": max(best["torch"][1], best["numpy"][1])}


# ------------------------------------------------------------------------------------------
# (a) the baseline


def baseline_member(seed: int, data, steps: int, device="cpu", dtype=torch.float32) -> dict:
    """The obvious plain-PyTorch loop for one member; fed modlab's member-`seed` batches.

    dtype=torch.float64 gives the rounding reference: same init (drawn in float32), same
    batches, arithmetic in double precision.
    """
    x, y = data.x_train.to(device, dtype), data.y_train.to(device, dtype)
    x_test, y_test = data.x_test.to(device, dtype), data.y_test.to(device, dtype)
    torch.manual_seed(seed)
    layers = []
    for n_in, n_out in zip(WIDTHS[:-1], WIDTHS[1:], strict=True):
        layers += [nn.Linear(n_in, n_out), nn.LeakyReLU(0.1)]
    net = nn.Sequential(*layers[:-1]).to(device, dtype)
    linears = [m for m in net if isinstance(m, nn.Linear)]
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    sampler = EpochSampler(x.shape[0], BATCH, make_generators([seed], "data"))
    running = torch.zeros((), device=device, dtype=dtype)
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        idx = sampler.next()[0].to(device)
        xb, yb = x[idx], y[idx]
        hidden, h = [], xb
        for m in net:
            h = m(h)
            if isinstance(m, nn.LeakyReLU):
                hidden.append(h)
        mse = F.mse_loss(h, yb)
        wa = sum((lin.weight.pow(2).sum(0) * hk.pow(2).mean(0)).sum()
                 for hk, lin in zip(hidden, linears[1:], strict=True))
        l2 = sum(lin.weight.pow(2).sum() for lin in linears)
        loss = mse + LAMBDA_WA * wa + LAMBDA_L2 * l2
        opt.zero_grad()
        loss.backward()
        opt.step()
        running += mse.detach()
    with torch.no_grad():
        test = F.mse_loss(net(x_test), y_test).item()
    train = running.item() / steps
    return {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu,
            "train_loss": train, "test_loss": test}


def run_baseline(seeds, data, steps, device="cpu", dtype=torch.float32) -> dict:
    rows = [baseline_member(s, data, steps, device, dtype) for s in seeds]
    return {"wall": sum(r["wall"] for r in rows), "cpu": sum(r["cpu"] for r in rows),
            "wall_each": np.array([r["wall"] for r in rows]),
            "cpu_each": np.array([r["cpu"] for r in rows]),
            "train_loss": np.array([r["train_loss"] for r in rows]),
            "test_loss": np.array([r["test_loss"] for r in rows])}


# ------------------------------------------------------------------------------------------
# (b) modlab


def configs_for(seeds, steps: int) -> list[RunConfig]:
    return [RunConfig(seed=s, reg={"wa": LAMBDA_WA, "l2": LAMBDA_L2},
                      optim={"steps": steps, "batch_size": BATCH, "lr": LR, "eval_every": steps})
            for s in seeds]


def run_modlab(seeds, steps, device="cpu", threads: int | None = None,
               engine: str = "auto") -> dict:
    run = train_ensemble(configs_for(seeds, steps), device=device, threads=threads, engine=engine)
    return {"wall": run.history.wall_s, "cpu": run.history.cpu_s,   # the training loop only
            "train_loss": run.history.train_loss[-1], "test_loss": run.history.test_loss[-1]}


# ------------------------------------------------------------------------------------------


@dataclass
class Row:
    members: int
    steps: int
    baseline_steps_per_s: float
    modlab_steps_per_s: float
    ratio: float
    baseline_steps_per_s_cpu: float
    modlab_steps_per_s_cpu: float
    ratio_cpu: float
    gflops: float
    gflops_cpu: float
    percent_of_peak: float
    percent_of_peak_cpu: float
    max_rel_loss_diff: float


def compare(members: int, steps: int, repeats: int, data, peak: dict, device) -> Row:
    seeds = list(range(members))
    best_a = best_b = None
    for _ in range(repeats):
        a = run_baseline(seeds, data, steps, device)
        b = run_modlab(seeds, steps, device)
        if best_a is None:
            best_a, best_b = a, b
            continue
        # (a): each member's best repeat (generous to the baseline on a noisy machine)
        for key in ("wall_each", "cpu_each"):
            best_a[key] = np.minimum(best_a[key], a[key])
        best_b = {**b, "wall": min(b["wall"], best_b["wall"]), "cpu": min(b["cpu"], best_b["cpu"])}
    best_a["wall"], best_a["cpu"] = float(best_a["wall_each"].sum()), float(best_a["cpu_each"].sum())
    diffs = []
    for key in ("train_loss", "test_loss"):
        ref = np.asarray(best_a[key])
        diffs.append(np.max(np.abs(np.asarray(best_b[key]) - ref) / np.abs(ref)))
    work = members * steps
    flops = flops_per_model_step() * work
    return Row(members, steps,
               work / best_a["wall"], work / best_b["wall"], best_a["wall"] / best_b["wall"],
               work / best_a["cpu"], work / best_b["cpu"], best_a["cpu"] / best_b["cpu"],
               flops / best_b["wall"] / 1e9, flops / best_b["cpu"] / 1e9,
               100 * flops / best_b["wall"] / 1e9 / peak["peak_gflops"],
               100 * flops / best_b["cpu"] / 1e9 / peak["peak_gflops_cpu"],
               float(max(diffs)))


def accuracy_section(members: int, steps: int, data, device) -> dict:
    """(a) vs (b) final losses, against float32's own rounding sensitivity: the same baseline
    in float64 (same init, same batches). Training amplifies rounding differences, so after many
    steps no float32 implementation matches another bit for bit; (b) is "the same to float
    tolerance" when it is as close to the float64 run as (a) itself is."""
    seeds = list(range(members))
    a = run_baseline(seeds, data, steps, device)
    a64 = run_baseline(seeds, data, steps, device, dtype=torch.float64)
    b = run_modlab(seeds, steps, device)
    out = {"members": members, "steps": steps}
    for key in ("train_loss", "test_loss"):
        ref = np.asarray(a64[key])
        out[key] = {
            "b_vs_a": float(np.max(np.abs(np.asarray(b[key]) / np.asarray(a[key]) - 1))),
            "a_vs_float64": float(np.max(np.abs(np.asarray(a[key]) / ref - 1))),
            "b_vs_float64": float(np.max(np.abs(np.asarray(b[key]) / ref - 1))),
        }
    out["ok"] = all(out[k]["b_vs_float64"] <= 3 * out[k]["a_vs_float64"] + 1e-6
                    for k in ("train_loss", "test_loss"))
    return out


def threads_section(members_list, steps, repeats, data, device) -> list[dict]:
    """Wall-clock model-steps/s of modlab (and the baseline, 1 member) on 1 vs 2 threads.

    Shorter runs than the main table: with 2 threads on a busy machine a step can take 100×
    longer (threads spin waiting for each other)."""
    out = []
    for threads in (1, 2):
        with torch_threads(threads):
            base = min(baseline_member(0, data, steps, device)["wall"] for _ in range(repeats))
        out.append({"threads": threads, "what": "baseline M=1", "steps_per_s": steps / base})
        for m in members_list:
            best = min(run_modlab(list(range(m)), steps, device, threads=threads)["wall"]
                       for _ in range(repeats))
            out.append({"threads": threads, "what": f"modlab M={m}", "steps_per_s": m * steps / best})
    return out


def parallel_section(members: int, steps: int, repeats: int) -> dict:
    """Two independent ensembles (leaky ReLU and tanh, which cannot share a batch): each
    alone, both one after another in this process, and both on 2 worker processes (a warm
    pool, 1 thread each). Best of `repeats` for each."""
    from modlab.sweep import ProcessExecutor, SerialExecutor, ensemble_job

    ens = []
    for act in ("leaky_relu", "tanh"):
        cfgs = configs_for(range(members), steps)
        for c in cfgs:
            c.net.activation = act
        ens.append(ensemble_job(cfgs))
    serial_ex = SerialExecutor(threads=1)
    alone = [min(_timed(lambda j=j: serial_ex.run([j])) for _ in range(repeats)) for j in ens]
    t_serial = min(_timed(lambda: serial_ex.run(ens)) for _ in range(repeats))
    serial = serial_ex.run(ens)
    with ProcessExecutor(max_workers=2) as ex:
        ex.warm_up()
        t_par, par = float("inf"), None
        for _ in range(repeats):
            t = time.perf_counter()
            par = ex.run(ens)
            t_par = min(t_par, time.perf_counter() - t)
    same = all(torch.equal(p, q) for a, b in zip(serial, par, strict=True)
               for p, q in zip(a.model.parameters(), b.model.parameters(), strict=True))
    return {"members": members, "steps": steps, "alone_s": alone, "two_serial_s": t_serial,
            "two_on_2_workers_s": t_par, "identical_results": same}


def spectrum_section(n: int = 1000) -> dict:
    from modlab.metrics import laplacian_spectrum

    w = np.random.default_rng(0).standard_normal((n, 32, 32))
    laplacian_spectrum(w[:4])
    best = min(_timed(lambda: laplacian_spectrum(w)) for _ in range(3))
    return {"matrices": n, "seconds": best}


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--members", type=int, nargs="+", default=[1, 4, 16, 64])
    p.add_argument("--steps", type=int, default=500, help="training steps per run")
    p.add_argument("--repeats", type=int, default=2, help="best of this many (a)/(b) repeats")
    p.add_argument("--threads", type=int, default=1, help="torch threads for (a) and (b)")
    p.add_argument("--device", default="cpu", help="cpu | cuda | auto")
    p.add_argument("--no-threads", action="store_true", help="skip the 1-vs-2-threads section")
    p.add_argument("--no-parallel", action="store_true", help="skip the 2-worker section")
    p.add_argument("--quick", action="store_true", help="small smoke run")
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args(argv)
    if args.quick:
        args.members, args.steps, args.repeats = [1, 16], 200, 2
    device = resolve_device(args.device)
    torch.set_num_threads(args.threads)
    os.environ["MODLAB_THREADS"] = str(args.threads)   # modlab's own default follows suit
    data = make_task("modular")

    machine = describe_machine()
    print(f"command: {' '.join([os.path.basename(sys.executable)] + sys.argv)}")
    print(f"machine: {machine['cpu']}, {machine['cores']} cores; torch {machine['torch']}; "
          f"torch threads {args.threads}; device {device}")
    print(f"load average: {' '.join(f'{v:.2f}' for v in os.getloadavg())} "
          "(1/5/15 min; above 0 means other work shares these cores)")
    peak = matmul_peak()
    print(f"dense matmul peak ({args.threads} thread(s)), GFLOP/s by wall clock: torch "
          f"{peak['torch_gflops']:.1f}, numpy {peak['numpy_gflops']:.1f} → {peak['peak_gflops']:.1f}"
          f"; by CPU time: torch {peak['torch_gflops_cpu']:.1f}, numpy "
          f"{peak['numpy_gflops_cpu']:.1f} → {peak['peak_gflops_cpu']:.1f}")
    fps = flops_per_model_step()
    print(f"FLOPs per model-step (fwd + bwd + WA/L2 regulariser): {fps / 1e6:.3f} M")
    print()
    hdr = (f"{'M':>3} {'steps':>6} | {'(a) steps/s':>11} {'(b) steps/s':>11} {'ratio':>6} "
           f"{'GFLOP/s':>7} {'%peak':>6} | {'ratio cpu':>9} {'GF/s cpu':>8} {'%pk cpu':>7} "
           f"| {'max rel Δloss':>13}")
    print(hdr)
    print("-" * len(hdr))
    rows = []
    for m in args.members:
        r = compare(m, args.steps, args.repeats, data, peak, device)
        rows.append(r)
        print(f"{r.members:>3} {r.steps:>6} | {r.baseline_steps_per_s:>11.0f} "
              f"{r.modlab_steps_per_s:>11.0f} {r.ratio:>5.1f}× {r.gflops:>7.1f} "
              f"{r.percent_of_peak:>5.1f}% | {r.ratio_cpu:>8.1f}× {r.gflops_cpu:>8.1f} "
              f"{r.percent_of_peak_cpu:>6.1f}% | {r.max_rel_loss_diff:>13.1e}", flush=True)
    acc = accuracy_section(min(8, max(args.members)), args.steps, data, device)
    print(f"\nsame losses? {acc['members']} members, {acc['steps']} steps, max relative "
          "difference of the final train / test MSE:")
    for key in ("train_loss", "test_loss"):
        d = acc[key]
        print(f"  {key:<10}  (b) vs (a): {d['b_vs_a']:.1e}   (a) vs float64 (a): "
              f"{d['a_vs_float64']:.1e}   (b) vs float64 (a): {d['b_vs_float64']:.1e}")
    print(f"  → (b) is as close to the float64 run as (a) is: "
          f"{'OK, same to float tolerance' if acc['ok'] else 'NO'}")
    result = {"command": " ".join(sys.argv), "machine": machine, "threads": args.threads,
              "device": str(device), "loadavg": os.getloadavg(), "peak": peak,
              "flops_per_model_step": fps, "rows": [asdict(r) for r in rows], "accuracy": acc}
    if not args.no_threads:
        print("\n1 vs 2 torch threads (wall-clock model-steps/s):")
        section = threads_section([m for m in args.members if m in (1, 16, 64)] or args.members[:1],
                                  max(50, args.steps // 5), args.repeats, data, device)
        for s in section:
            print(f"  {s['what']:<14} threads={s['threads']}: {s['steps_per_s']:>8.0f}")
        result["threads_section"] = section
    if not args.no_parallel and device.type == "cpu":
        m = 16 if 16 in args.members else args.members[-1]
        par = parallel_section(m, args.steps, args.repeats)
        print(f"\ntwo ensembles of M={m} (leaky ReLU, tanh), {args.steps} steps: alone "
              f"{par['alone_s'][0]:.2f} s and {par['alone_s'][1]:.2f} s; one after another "
              f"{par['two_serial_s']:.2f} s; on 2 worker processes {par['two_on_2_workers_s']:.2f} s"
              f" = {par['two_on_2_workers_s'] / max(par['alone_s']):.2f}× the slower one alone "
              f"(identical results: {par['identical_results']})")
        result["parallel_section"] = par
    spec = spectrum_section()
    print(f"\nLaplacian spectra of {spec['matrices']} 32×32 weight matrices (batched eigh): "
          f"{spec['seconds'] * 1e3:.0f} ms")
    result["spectrum_section"] = spec
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2, default=float)
    return result


if __name__ == "__main__":
    main()
