"""BIMT swap search: modlab's `plan_swaps` vs the BIMT code's algorithm, side by side.

    .venv/bin/python benchmarks/bimt_swap.py              # ~15-30 s (the baseline is slow)

Baseline (the algorithm of the BIMT code, KindXiaoming/BIMT notebooks, re-implemented here):
for each of the top_k neurons by Σ|in| + Σ|out|, for every position j of its
layer, apply the swap to the weights, recompute the full connection cost
cc = Σ |W|·(A·d + l₀) of the network, and swap back; then apply the best swap. Ours computes
the cost change of all n candidate swaps of one neuron at once (`plan_swaps`). Both run with
track="position" (the BIMT loop relocates whatever sits at each top-k position), in float64 so
that both must choose the same swaps (checked).

Cases:
  rnn  one recurrent layer of 400 units on a 20 × 20 grid, 85 inputs on a line left of the
       grid and 33 outputs on a line right of it (Manhattan distance), top_k = 30.
  mlp  a layered net 64 → 200 → 200 → 10 on lines, both hidden layers relocated in turn
       (top_k = 30 each), the baseline's cost being the whole network's, as in the BIMT code.

Timing: best of --repeats for ours, one run of the baseline (slow); wall time and process CPU
time, one torch thread by default (--threads): every op here touches at most 400 × 400
numbers, too few for intra-op threads to pay, and on a busy 2-core machine 2 threads made the
baseline's cost evaluation 15× slower. On a shared machine wall time includes waiting for a
core; the CPU-time ratio is then the more faithful number.
"""
from __future__ import annotations

import argparse
import time

import torch

from modlab.regularizers.bimt import (
    apply_swaps_,
    distances,
    grid_coords,
    line_coords,
    mlp_owners,
    plan_swaps,
    side_line,
    swap_,
)

A, L0, TOP_K = 2.0, 0.1, 30


def timed(fn, repeats: int):
    best_wall = best_cpu = float("inf")
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        best_wall = min(best_wall, time.perf_counter() - w0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    return out, best_wall, best_cpu


def random_weights(shape, g, density=0.5):
    w = torch.randn(*shape, generator=g, dtype=torch.float64)
    return w * (torch.rand(*shape, generator=g, dtype=torch.float64) < density)


# ------------------------------------------------------------------------------------------
# The baseline: the BIMT code's relocation loop


def full_cost(weights, factors) -> float:
    """cc = Σ_l Σ_ij |W_ij|·(A·d_ij + l₀), the factors A·d + l₀ precomputed (favours the baseline)."""
    return float(sum((w.abs() * f).sum() for w, f in zip(weights, factors)))


def baseline_relocate(weights, factors, owners, scores, top_k):
    """Relocate one layer in place; returns the swaps applied (j ≠ i)."""
    n = scores.shape[0]
    swaps = []
    for i in torch.argsort(scores, descending=True, stable=True)[:top_k].tolist():
        costs = []
        for j in range(n):
            for t, dim in owners:
                swap_(t, dim, i, j)
            costs.append(full_cost(weights, factors))
            for t, dim in owners:
                swap_(t, dim, i, j)
        j = min(range(n), key=costs.__getitem__)
        if j != i:
            for t, dim in owners:
                swap_(t, dim, i, j)
            swaps.append((i, j))
    return swaps


# ------------------------------------------------------------------------------------------
# Cases


def rnn_case(repeats: int) -> None:
    g = torch.Generator().manual_seed(0)
    n, n_in, n_out = 400, 85, 33
    grid, pre, post = grid_coords(n), side_line(n_in, "left"), side_line(n_out, "right")
    w_in, w_rec, w_out = (random_weights((n, n_in), g), random_weights((n, n), g),
                          random_weights((n_out, n), g))
    dists = [distances(grid, pre), distances(grid, grid), distances(post, grid)]

    def ours():
        return plan_swaps(w_in, w_out, grid, pre, post, A=A, l0=L0, top_k=TOP_K,
                          recurrent=w_rec, track="position")

    def baseline():
        ws = [w.clone() for w in (w_in, w_rec, w_out)]
        owners = [(ws[0], 0), (ws[1], 0), (ws[1], 1), (ws[2], 1)]
        scores = ws[0].abs().sum(1) + ws[1].abs().sum(0) + ws[1].abs().sum(1) + ws[2].abs().sum(0)
        return baseline_relocate(ws, [A * d + L0 for d in dists], owners, scores, TOP_K)

    plan, t_ours, c_ours = timed(ours, repeats)
    swaps, t_base, c_base = timed(baseline, 1)
    members = torch.Generator().manual_seed(1)
    stack = lambda shape: random_weights((8, *shape), members)  # noqa: E731
    e_in, e_rec, e_out = stack((n, n_in)), stack((n, n)), stack((n_out, n))
    _, t_ens, _ = timed(lambda: plan_swaps(e_in, e_out, grid, pre, post, A=A, top_k=TOP_K,
                                           recurrent=e_rec, track="position"), repeats)
    report(f"rnn: {n} units (20x20 grid), {n_in} inputs, {n_out} outputs, top_k={TOP_K}",
           plan.swaps, swaps, t_ours, c_ours, t_base, c_base)
    print(f"  ours, an ensemble of 8 members in one call: {1e3 * t_ens:.1f} ms")


def mlp_case(repeats: int) -> None:
    g = torch.Generator().manual_seed(2)
    sizes = (64, 200, 200, 10)
    coords = [line_coords(k) for k in sizes]
    dists = [distances(b, a) for a, b in zip(coords[:-1], coords[1:])]
    weights = [random_weights((b, a), g) for a, b in zip(sizes[:-1], sizes[1:])]

    def ours():
        ws = [w.clone() for w in weights]
        out = []
        for layer in (0, 1):
            plan = plan_swaps(ws[layer], ws[layer + 1], coords[layer + 1], coords[layer],
                              coords[layer + 2], A=A, l0=L0, top_k=TOP_K, track="position")
            apply_swaps_(mlp_owners(ws, None, layer), plan)
            out += plan.swaps
        return out

    def baseline():
        ws = [w.clone() for w in weights]
        factors = [A * d + L0 for d in dists]
        out = []
        for layer in (0, 1):
            scores = ws[layer].abs().sum(1) + ws[layer + 1].abs().sum(0)
            out += baseline_relocate(ws, factors, mlp_owners(ws, None, layer), scores, TOP_K)
        return out

    mine, t_ours, c_ours = timed(ours, repeats)
    swaps, t_base, c_base = timed(baseline, 1)
    report(f"mlp: {' -> '.join(map(str, sizes))}, 2 hidden layers relocated, top_k={TOP_K} each",
           mine, swaps, t_ours, c_ours, t_base, c_base)


def report(title, ours, base, t_ours, c_ours, t_base, c_base) -> None:
    same = ours == base
    print(title)
    print(f"  swaps chosen: ours {len(ours)}, baseline {len(base)}, identical: {same}")
    print(f"  wall: ours {1e3 * t_ours:.1f} ms, baseline {1e3 * t_base:.0f} ms, "
          f"ratio {t_base / t_ours:.0f}x")
    print(f"  cpu:  ours {1e3 * c_ours:.1f} ms, baseline {1e3 * c_base:.0f} ms, "
          f"ratio {c_base / max(c_ours, 1e-9):.0f}x")
    if not same:
        raise SystemExit("the two searches chose different swaps")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="repeats of ours (best kept)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, float64")
    rnn_case(args.repeats)
    mlp_case(args.repeats)


if __name__ == "__main__":
    main()
