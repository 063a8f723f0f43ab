"""BIMT (spec 2): coordinates, connection cost, the swap search against brute force, and swaps
that leave the network function unchanged."""
import math

import pytest
import torch

from modlab.regularizers.bimt import (
    apply_swaps_,
    connection_cost,
    connection_cost_grad,
    distances,
    grid_coords,
    line_coords,
    mlp_distances,
    mlp_owners,
    plan_swaps,
    prune_,
    ring_coords,
    rnn_owners,
    side_line,
    swap_,
)

F64 = torch.float64


# ------------------------------------------------------------------------------------------
# Coordinates, distances, cost


def test_line_and_grid_coords_are_cell_centres():
    assert torch.equal(line_coords(4)[:, 0], torch.tensor([0.125, 0.375, 0.625, 0.875], dtype=F64))
    g = grid_coords(9)
    # Row-major: neuron 5 is row 1, column 2.
    assert torch.allclose(g[5], torch.tensor([5 / 6, 1 / 2], dtype=F64))
    assert g.shape == (9, 2) and g.min() > 0 and g.max() < 1
    with pytest.raises(ValueError, match="perfect square"):
        grid_coords(10)


def test_ring_and_side_line_placement():
    r = ring_coords(8, centre=(0.5, 0.5), radius=0.3)
    assert torch.allclose((r - 0.5).norm(dim=1), torch.full((8,), 0.3, dtype=F64))
    assert torch.allclose(r[2], torch.tensor([0.5, 0.8], dtype=F64))  # angle π/2
    left, top = side_line(4, "left", gap=0.2), side_line(4, "top", gap=0.2)
    assert torch.all(left[:, 0] == -0.2) and torch.equal(left[:, 1], line_coords(4)[:, 0])
    assert torch.all(top[:, 1] == 1.2)
    with pytest.raises(ValueError, match="side"):
        side_line(3, "front")


def test_distances_manhattan_and_euclidean():
    a = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=F64)
    b = torch.tensor([[0.5, 0.25]], dtype=F64)
    assert torch.allclose(distances(a, b), torch.tensor([[0.75], [1.25]], dtype=F64))
    assert torch.allclose(distances(a, b, "euclidean")[0, 0], torch.tensor(math.hypot(.5, .25), dtype=F64))
    g = grid_coords(400)
    d = distances(g, g, "euclidean")
    assert torch.all(torch.diagonal(d) == 0) and torch.equal(d, d.T)
    with pytest.raises(ValueError, match="metric"):
        distances(a, b, "cosine")


def test_connection_cost_equation_and_l1_limit():
    g = torch.Generator().manual_seed(0)
    coords = [line_coords(n) for n in (3, 5, 2)]
    dists = mlp_distances(coords)
    ws = [torch.randn(4, 5, 3, generator=g, dtype=F64), torch.randn(4, 2, 5, generator=g, dtype=F64)]
    bs = [torch.randn(4, 5, generator=g, dtype=F64), torch.randn(4, 2, generator=g, dtype=F64)]
    cc = connection_cost(ws, dists, A=2.0, l0=0.3, biases=bs)
    m = 1  # one member by hand: Σ_ij |W_ij| (A·|x_i − x_j| + l₀) + l₀ Σ|b|
    by_hand = sum(abs(float(w[m, i, j])) * (2.0 * abs(float(coords[k + 1][i, 0] - coords[k][j, 0])) + 0.3)
                  for k, w in enumerate(ws) for i in range(w.shape[1]) for j in range(w.shape[2]))
    by_hand += 0.3 * sum(float(b[m].abs().sum()) for b in bs)
    assert cc.shape == (4,) and cc[m].item() == pytest.approx(by_hand, rel=1e-12)
    l1 = sum(w.abs().sum((-2, -1)) for w in ws)
    assert torch.allclose(connection_cost(ws, dists, A=0.0, l0=1.0), l1)


def test_connection_cost_grad_matches_autograd():
    g = torch.Generator().manual_seed(1)
    dists = mlp_distances([grid_coords(4), grid_coords(9), line_coords(2).repeat(1, 2)])
    ws = [torch.randn(3, 9, 4, generator=g, dtype=F64, requires_grad=True),
          torch.randn(3, 2, 9, generator=g, dtype=F64, requires_grad=True)]
    bs = [torch.randn(3, 9, generator=g, dtype=F64, requires_grad=True)]
    connection_cost(ws, dists, 1.5, 0.2, biases=bs).sum().backward()
    w_grads, b_grads = connection_cost_grad(ws, dists, 1.5, 0.2, biases=bs)
    for p, grad in zip(ws + bs, w_grads + b_grads):
        assert torch.allclose(p.grad, grad)


def test_connection_cost_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="dists\\[0\\]"):
        connection_cost([torch.zeros(3, 2)], [torch.zeros(2, 3)], 1.0, 0.1)


# ------------------------------------------------------------------------------------------
# Swap search vs brute force (the BIMT code's loop: apply each swap, recompute the full cost)


def full_cost(ws, ds, A, l0):
    """cc of the given weights, recomputed from scratch: Σ |W|·(A·d + l₀)."""
    return sum(float((w.abs() * (A * d + l0)).sum()) for w, d in zip(ws, ds))


def brute_force_plan(w_in, w_out, w_rec, coords, pre, post, A, l0, top_k, track):
    """Unbatched reference: every candidate swap is applied and the full cc recomputed."""
    n = coords.shape[0]
    w_in, w_out = w_in.clone(), w_out.clone()
    ws, ds = [w_in, w_out], [distances(coords, pre), distances(post, coords)]
    owners = [(w_in, 0), (w_out, 1)]
    score = w_in.abs().sum(1) + w_out.abs().sum(0)
    if w_rec is not None:
        w_rec = w_rec.clone()
        ws.append(w_rec)
        ds.append(distances(coords, coords))
        owners += [(w_rec, 0), (w_rec, 1)]
        score = score + w_rec.abs().sum(0) + w_rec.abs().sum(1)
    order = torch.argsort(score, descending=True, stable=True)[:top_k].tolist()
    pos = list(range(n))
    swaps, deltas = [], []
    for neuron in order:
        i = pos[neuron] if track == "neuron" else neuron
        base, costs = full_cost(ws, ds, A, l0), []
        for j in range(n):
            for t, dim in owners:
                swap_(t, dim, i, j)
            costs.append(full_cost(ws, ds, A, l0))
            for t, dim in owners:
                swap_(t, dim, i, j)
        j = min(range(n), key=costs.__getitem__)
        if costs[j] < base:
            for t, dim in owners:
                swap_(t, dim, i, j)
            at_i, at_j = pos.index(i), pos.index(j)
            pos[at_i], pos[at_j] = j, i
            swaps.append((i, j))
            deltas.append(costs[j] - base)
    return swaps, deltas


def random_weights(shape, g, density=0.7):
    w = torch.randn(*shape, generator=g, dtype=F64)
    return w * (torch.rand(*shape, generator=g, dtype=F64) < density)


def mlp_case(seed):
    g = torch.Generator().manual_seed(seed)
    n_pre, n, n_post = 4, 7, 3
    w_in, w_out = random_weights((n, n_pre), g), random_weights((n_post, n), g)
    if seed % 5 == 0:                         # a dead neuron: its swaps all have Δ ≥ 0
        w_in[2], w_out[:, 2] = 0.0, 0.0
    A = 0.5 + float(torch.rand(1, generator=g))
    return dict(w_in=w_in, w_out=w_out, w_rec=None, coords=line_coords(n),
                pre=line_coords(n_pre), post=line_coords(n_post), A=A, l0=0.2)


def rnn_case(seed):
    g = torch.Generator().manual_seed(1000 + seed)
    n, n_in, n_out = 16, 5, 3
    w_rec = random_weights((n, n), g, density=0.5)
    if seed % 2:                              # strong self and mutual pairs exercise the correction
        w_rec += torch.diag(3 * torch.randn(n, generator=g, dtype=F64))
        w_rec[0, 5], w_rec[5, 0] = 4.0, -3.0
    return dict(w_in=random_weights((n, n_in), g), w_out=random_weights((n_out, n), g),
                w_rec=w_rec, coords=grid_coords(n), pre=side_line(n_in, "left"),
                post=side_line(n_out, "right"), A=0.5 + float(torch.rand(1, generator=g)), l0=0.1)


def ours(case, top_k, track):
    return plan_swaps(case["w_in"], case["w_out"], case["coords"], case["pre"], case["post"],
                      A=case["A"], l0=case["l0"], top_k=top_k, recurrent=case["w_rec"],
                      track=track)


@pytest.mark.parametrize("make", [mlp_case, rnn_case], ids=["mlp", "rnn"])
@pytest.mark.parametrize("track", ["neuron", "position"])
def test_swap_search_equals_brute_force(make, track):
    n_swaps = 0
    for seed in range(12):
        case = make(seed)
        top_k = 4 if seed % 3 == 0 else case["coords"].shape[0]
        plan = ours(case, top_k, track)
        swaps, deltas = brute_force_plan(case["w_in"], case["w_out"], case["w_rec"],
                                         case["coords"], case["pre"], case["post"],
                                         case["A"], case["l0"], top_k, track)
        assert plan.swaps == swaps, f"seed {seed}"
        assert plan.deltas == pytest.approx(deltas, rel=1e-9, abs=1e-12)
        assert plan.cost == pytest.approx(full_cost(
            [w for w in (case["w_in"], case["w_out"], case["w_rec"]) if w is not None],
            [distances(case["coords"], case["pre"]), distances(case["post"], case["coords"]),
             distances(case["coords"], case["coords"])], case["A"], case["l0"]), rel=1e-12)
        n_swaps += len(swaps)
    assert n_swaps > 30                       # the comparison is not vacuous


def test_batched_plans_equal_per_member_plans():
    cases = [rnn_case(s) for s in range(3)]
    stack = lambda key: torch.stack([c[key] for c in cases])  # noqa: E731
    c0 = cases[0]
    plans = plan_swaps(stack("w_in"), stack("w_out"), c0["coords"], c0["pre"], c0["post"],
                       A=c0["A"], l0=0.1, top_k=6, recurrent=stack("w_rec"))
    for plan, case in zip(plans, cases):
        single = ours({**case, "A": c0["A"]}, 6, "neuron")
        assert plan.swaps == single.swaps and plan.permutation == single.permutation


def test_no_swaps_without_distance_cost():
    case = rnn_case(0)
    plan = ours({**case, "A": 0.0}, 16, "neuron")
    assert plan.swaps == [] and plan.permutation == list(range(16))


def test_plan_swaps_rejects_bad_arguments():
    case = mlp_case(1)
    with pytest.raises(ValueError, match="top_k"):
        ours(case, 0, "neuron")
    with pytest.raises(ValueError, match="w_out must have shape"):
        plan_swaps(case["w_in"], case["w_out"].T, case["coords"], case["pre"], case["post"],
                   A=1.0, top_k=2)
    with pytest.raises(ValueError, match="track"):
        ours(case, 2, "label")


# ------------------------------------------------------------------------------------------
# Swaps on real parameters: same function, cost lowered by the reported amounts.
# Tolerance: in float64 a swap only reorders the sums over the permuted index, which changes
# each output by rounding of order n·2⁻⁵³·Σ|terms| ≈ 1e-14 here; 1e-12 leaves room for the
# RNN's 12 steps of propagation while any wrongly moved weight would change outputs by O(0.1).


def test_swapping_mlp_neurons_keeps_outputs_and_lowers_cost():
    g = torch.Generator().manual_seed(7)
    sizes, M = (3, 8, 6, 2), 2
    ws = [torch.randn(M, b, a, generator=g, dtype=F64) for a, b in zip(sizes[:-1], sizes[1:])]
    bs = [torch.randn(M, b, generator=g, dtype=F64) for b in sizes[1:]]
    coords = [line_coords(n) for n in sizes]
    dists = mlp_distances(coords)
    x = torch.randn(M, 10, 3, generator=g, dtype=F64)

    def forward():
        h = x
        for k, (w, b) in enumerate(zip(ws, bs)):
            h = h @ w.transpose(1, 2) + b.unsqueeze(1)
            h = torch.relu(h) if k < len(ws) - 1 else h
        return h

    y0 = forward()
    for layer in (0, 1):
        before = connection_cost(ws, dists, 1.0, 0.1, biases=bs)
        plans = plan_swaps(ws[layer], ws[layer + 1], coords[layer + 1], coords[layer],
                           coords[layer + 2], A=1.0, l0=0.1, top_k=8)
        apply_swaps_(mlp_owners(ws, bs, layer), plans)
        after = connection_cost(ws, dists, 1.0, 0.1, biases=bs)
        for m, plan in enumerate(plans):
            assert plan.swaps                 # random weights: some swap always helps
            assert after[m] - before[m] == pytest.approx(sum(plan.deltas), rel=1e-9)
            assert after[m] < before[m]
    assert torch.allclose(forward(), y0, rtol=0, atol=1e-12)


def test_swapping_rnn_neurons_keeps_outputs_and_lowers_cost():
    g = torch.Generator().manual_seed(8)
    M, n, n_in, n_out, alpha = 2, 16, 5, 3, 0.2
    w_in = torch.randn(M, n, n_in, generator=g, dtype=F64)
    w_rec = torch.randn(M, n, n, generator=g, dtype=F64) / 4
    b = torch.randn(M, n, generator=g, dtype=F64)
    w_out = torch.randn(M, n_out, n, generator=g, dtype=F64)
    b_out = torch.randn(M, n_out, generator=g, dtype=F64)
    x = torch.randn(M, 4, 12, n_in, generator=g, dtype=F64)   # (M, batch, T, inputs)
    grid, pre, post = grid_coords(n), side_line(n_in, "left"), side_line(n_out, "right")
    dists = [distances(grid, pre), distances(grid, grid), distances(post, grid)]

    def forward():
        """Reference leaky RNN: h ← (1−α)h + α·relu(W_rec h + W_in x + b), y = W_out h + b_out."""
        h, ys = torch.zeros(M, x.shape[1], n, dtype=F64), []
        for t in range(x.shape[2]):
            drive = h @ w_rec.transpose(1, 2) + x[:, :, t] @ w_in.transpose(1, 2) + b.unsqueeze(1)
            h = (1 - alpha) * h + alpha * torch.relu(drive)
            ys.append(h @ w_out.transpose(1, 2) + b_out.unsqueeze(1))
        return torch.stack(ys, 2)

    y0 = forward()
    before = connection_cost([w_in, w_rec, w_out], dists, 2.0, 0.1)
    plans = plan_swaps(w_in, w_out, grid, pre, post, A=2.0, l0=0.1, top_k=10, recurrent=w_rec)
    apply_swaps_(rnn_owners(w_in, w_rec, b, w_out), plans)
    after = connection_cost([w_in, w_rec, w_out], dists, 2.0, 0.1)
    for m, plan in enumerate(plans):
        assert plan.swaps
        assert plan.cost == pytest.approx(float(before[m]), rel=1e-12)
        assert after[m] - before[m] == pytest.approx(sum(plan.deltas), rel=1e-9)
    assert torch.allclose(forward(), y0, rtol=0, atol=1e-12)


def test_permutation_describes_the_applied_swaps():
    case = rnn_case(3)
    plan = ours(case, 16, "neuron")
    moved = case["w_rec"].clone()
    for i, j in plan.swaps:
        swap_(moved, 0, i, j)
        swap_(moved, 1, i, j)
    p = torch.tensor(plan.permutation)
    assert torch.equal(moved, case["w_rec"][p][:, p])


# ------------------------------------------------------------------------------------------
# swap_ and prune_


def test_swap_acts_on_one_member_only():
    t = torch.arange(24.0).reshape(2, 3, 4)
    swap_(t, 2, 0, 3, member=1)
    assert torch.equal(t[0], torch.arange(12.0).reshape(3, 4))
    assert torch.equal(t[1, :, 0], torch.tensor([15.0, 19.0, 23.0]))
    with pytest.raises(ValueError, match="member dim"):
        swap_(t, 0, 0, 1, member=0)


def test_prune_zeroes_small_weights_and_reports_fraction_kept():
    w = torch.tensor([[[0.5, -0.01], [0.2, 0.0]], [[-2.0, 3.0], [0.05, 0.1]]])
    kept = prune_([w.clone()], 0.1, per_member=True)
    assert torch.allclose(kept, torch.tensor([0.5, 0.75]))
    w2 = w.clone()
    assert prune_(w2, 0.1) == pytest.approx(5 / 8)
    assert torch.equal(w2 == 0, w.abs() < 0.1)


# ------------------------------------------------------------------------------------------
# Drawing (spec 2): one line per weight kept, width ∝ |w| / max|w|, sign colours


def test_draw_mlp_hides_small_weights_and_scales_widths():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from modlab.experiments.drawing import draw_mlp, draw_rnn_grid

    w = [torch.tensor([[1.0, -0.05], [0.5, 0.0], [-2.0, 0.3]])]
    fig, (a1, a2) = plt.subplots(1, 2)
    draw_mlp(a1, w, [line_coords(2), line_coords(3)], min_frac=0.1, max_width=4.0)
    lines = a1.collections[0]
    assert sorted(lines.get_linewidths()) == pytest.approx([0.6, 1.0, 2.0, 4.0])
    draw_rnn_grid(a2, grid_coords(9), [0, 0, 1, 1, 1, 2, 2, -1, 2], torch.randn(9, 9), top=5)
    assert len(a2.collections[0].get_segments()) == 5
    plt.close(fig)
