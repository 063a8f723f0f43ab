"""Brain-inspired modular training (BIMT): neurons in space, wiring cost, neuron swaps (spec 2).

After Liu, Gan & Tegmark 2023 ("Seeing is believing") and, for RNNs, Liu, Khona, Fiete &
Tegmark 2023 ("Growing brains"). Weights are (post, pre), optionally with a leading member dim
(M, post, pre); coordinates are float64 tensors (n, D) shared by all members.

Geometry. A layered net (MLP) has its layers a distance l₀ apart; like the BIMT code, the cost
of a weight uses the in-layer distance d_ij (|x_i − x_j| on lines, Manhattan on 2-D grids) plus
the constant l₀, not the Euclidean length √(d² + l₀²). An RNN's recurrent units sit on a
√N × √N grid in [0, 1]² (`grid_coords`); its inputs and outputs sit on lines beside the grid
(`side_line`: by default inputs on the left edge at x = −gap, outputs on the right edge at
x = 1 + gap) or on rings (`ring_coords`), with the same Manhattan distance; every weight, input,
recurrent or output, also pays l₀ (as a weight between two layers does in the BIMT code).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch

Metric = Literal["euclidean", "manhattan"]
Track = Literal["neuron", "position"]
Owner = tuple[torch.Tensor, int]
Tensors = Sequence[torch.Tensor]
_F64 = torch.float64


# ------------------------------------------------------------------------------------------
# Coordinates and distances


def line_coords(n: int) -> torch.Tensor:
    """Spec 2: neuron i of an n-neuron layer at x = (i + ½)/n in [0, 1]; shape (n, 1)."""
    if n < 1:
        raise ValueError(f"n must be ≥ 1, got {n}")
    return ((torch.arange(n, dtype=_F64) + 0.5) / n).unsqueeze(1)


def grid_coords(n: int) -> torch.Tensor:
    """Spec 2: n = s² neurons at the cell centres of an s × s grid in [0, 1]², row-major.

    Neuron i is in row r = i // s, column c = i % s, at (x, y) = ((c + ½)/s, (r + ½)/s).
    """
    s = math.isqrt(n) if n >= 0 else -1
    if n < 1 or s * s != n:
        raise ValueError(f"n must be a perfect square ≥ 1 for a grid, got {n}")
    centres = (torch.arange(s, dtype=_F64) + 0.5) / s
    rows, cols = torch.meshgrid(centres, centres, indexing="ij")
    return torch.stack([cols.reshape(-1), rows.reshape(-1)], dim=1)


def ring_coords(n: int, centre: Sequence[float] = (0.5, 0.5), radius: float = 0.5) -> torch.Tensor:
    """n neurons on a circle, neuron i at angle 2πi/n (the preferred direction of a ring code)."""
    if n < 1:
        raise ValueError(f"n must be ≥ 1, got {n}")
    if radius < 0:
        raise ValueError(f"radius must be ≥ 0, got {radius}")
    theta = 2 * math.pi * torch.arange(n, dtype=_F64) / n
    cx, cy = (float(c) for c in centre)
    return torch.stack([cx + radius * torch.cos(theta), cy + radius * torch.sin(theta)], dim=1)


def side_line(n: int, side: Literal["left", "right", "bottom", "top"] = "left",
              gap: float = 0.1) -> torch.Tensor:
    """n neurons on a line along one side of the unit square, `gap` outside it; shape (n, 2).

    Neuron i sits at (i + ½)/n along the side: "left" at x = −gap, "right" at x = 1 + gap,
    "bottom" at y = −gap, "top" at y = 1 + gap. Default placement of an RNN's inputs (left)
    and outputs (right) beside its grid.
    """
    along = line_coords(n)[:, 0]
    offset = {"left": -gap, "right": 1 + gap, "bottom": -gap, "top": 1 + gap}
    if side not in offset:
        raise ValueError(f"side must be left, right, bottom or top, got {side!r}")
    fixed = torch.full_like(along, offset[side])
    pair = (fixed, along) if side in ("left", "right") else (along, fixed)
    return torch.stack(pair, dim=1)


def distances(post_xy: torch.Tensor, pre_xy: torch.Tensor, metric: Metric = "manhattan"
              ) -> torch.Tensor:
    """d_ij between post neuron i and pre neuron j, shape (post, pre).

    Manhattan is the default: spec 2 uses it on 2-D grids and on lines it equals |x_i − x_j|.
    """
    post_xy, pre_xy = _as_coords(post_xy, "post_xy"), _as_coords(pre_xy, "pre_xy")
    if post_xy.shape[1] != pre_xy.shape[1]:
        raise ValueError(f"post_xy and pre_xy must have the same dimension, got "
                         f"{post_xy.shape[1]} and {pre_xy.shape[1]}")
    if metric == "manhattan":
        return torch.cdist(post_xy, pre_xy, p=1)
    if metric == "euclidean":
        # The matmul shortcut would leave d(x, x) ≠ 0 by rounding.
        return torch.cdist(post_xy, pre_xy, p=2, compute_mode="donot_use_mm_for_euclid_dist")
    raise ValueError(f"metric must be 'euclidean' or 'manhattan', got {metric!r}")


def mlp_distances(coords_per_layer: Sequence[torch.Tensor], metric: Metric = "manhattan"
                  ) -> list[torch.Tensor]:
    """In-layer distances for every weight of a layered net: d^l = distances(c^{l+1}, c^l)."""
    return [distances(post, pre, metric) for pre, post in zip(coords_per_layer[:-1],
                                                              coords_per_layer[1:])]


def _as_coords(xy: torch.Tensor, name: str) -> torch.Tensor:
    xy = torch.as_tensor(xy, dtype=_F64)
    if xy.ndim == 1:
        xy = xy.unsqueeze(1)
    if xy.ndim != 2:
        raise ValueError(f"{name} must have shape (n, D), got {tuple(xy.shape)}")
    return xy


# ------------------------------------------------------------------------------------------
# Connection cost


def connection_cost(weights: Tensors, dists: Tensors, A: float, l0: float,
                    biases: Tensors | None = None) -> torch.Tensor:
    """Spec 2: cc = Σ_layers Σ_ij |W_ij| · (A·d_ij + l₀)  (+ l₀·Σ|b| when `biases` are given).

    One value per leading index: a scalar for (post, pre) weights, (M,) for an ensemble.
    A = 0 is plain L1 scaled by l₀. Differentiable (autograd); see `connection_cost_grad`.
    """
    _check_layers(weights, dists)
    total = sum((w.abs() * (A * d.to(w) + l0)).sum((-2, -1)) for w, d in zip(weights, dists))
    if biases is not None:
        total = total + l0 * sum(b.abs().sum(-1) for b in biases)
    return total


def connection_cost_grad(weights: Tensors, dists: Tensors, A: float, l0: float,
                         biases: Tensors | None = None
                         ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Subgradient of `connection_cost`: ∂cc/∂W = sign(W)·(A·d + l₀), ∂cc/∂b = l₀·sign(b).

    sign(0) = 0, the subgradient autograd takes. Returns (weight grads, bias grads); the bias
    list is empty when `biases` is None. For hand-written engines.
    """
    _check_layers(weights, dists)
    w_grads = [torch.sign(w) * (A * d.to(w) + l0) for w, d in zip(weights, dists)]
    b_grads = [l0 * torch.sign(b) for b in biases] if biases is not None else []
    return w_grads, b_grads


def _check_layers(weights: Tensors, dists: Tensors) -> None:
    if len(weights) != len(dists) or not weights:
        raise ValueError(f"need one distance matrix per weight, got {len(weights)} weights and "
                         f"{len(dists)} distance matrices")
    for i, (w, d) in enumerate(zip(weights, dists)):
        if tuple(w.shape[-2:]) != tuple(d.shape):
            raise ValueError(f"dists[{i}] has shape {tuple(d.shape)}, weights[{i}] needs "
                             f"{tuple(w.shape[-2:])}")


# ------------------------------------------------------------------------------------------
# Swap search


@dataclass
class SwapPlan:
    """The swaps chosen for one member's layer, in the order applied.

    `deltas[k]` is the change of cc caused by `swaps[k]` (negative). `cost` is the cc of the
    weights that touch the layer (incoming, outgoing, recurrent) before any swap.
    `permutation[p]` is the original index of the neuron that ends at position p.
    """

    swaps: list[tuple[int, int]] = field(default_factory=list)
    deltas: list[float] = field(default_factory=list)
    cost: float = 0.0
    permutation: list[int] = field(default_factory=list)


@dataclass
class _Layer:
    """|weights| of one layer's neighbourhood in float64: working copies that get swapped.

    `here[m, a]` is F[a, a] (see `_swap_deltas`): the position-dependent cost, without the
    factor A, of the neuron now at position a, kept up to date by `_swap_layer`.
    """

    a_in: torch.Tensor | None     # (M, n, n_pre): rows move
    a_out: torch.Tensor | None    # (M, n_post, n): columns move
    s_rec: torch.Tensor | None    # (M, n, n): |W_rec| + |W_rec|ᵀ, rows and columns move
    d_in: torch.Tensor | None     # (n, n_pre)
    d_out: torch.Tensor | None    # (n_post, n)
    d_rec: torch.Tensor | None    # (n, n), symmetric
    rows: torch.Tensor            # arange(M)
    here: torch.Tensor | None = None


def plan_swaps(w_in: torch.Tensor | None, w_out: torch.Tensor | None, coords: torch.Tensor,
               pre_coords: torch.Tensor | None = None, post_coords: torch.Tensor | None = None,
               *, A: float, l0: float = 0.0, top_k: int, recurrent: torch.Tensor | None = None,
               metric: Metric = "manhattan", track: Track = "neuron"
               ) -> SwapPlan | list[SwapPlan]:
    """Spec 2 swaps: greedy relocation of a layer's top_k neurons to lower the connection cost.

    The layer's n neurons sit at `coords`; `w_in` (n, n_pre) comes from neurons at
    `pre_coords`, `w_out` (n_post, n) goes to neurons at `post_coords`, and `recurrent`
    (n, n) connects the layer to itself (RNN); any of the three may be None. Leading member
    dims (M, ...) give one plan per member. Candidates are the top_k neurons by
    Σ|in| + Σ|out| (every weight touching the neuron, stable order on ties); each in turn, it
    is swapped with the position that lowers cc most (none if none lowers it), and later
    candidates see the earlier swaps. `track="neuron"` follows each candidate neuron to where
    earlier swaps moved it; `track="position"` relocates whatever sits at the candidate's
    original position (the BIMT code's loop). l₀ does not change any Δ (a swap keeps Σ|W|); it
    enters only `SwapPlan.cost`. The inputs are not modified: apply a plan with `apply_swaps_`.
    """
    if top_k < 1:
        raise ValueError(f"top_k must be ≥ 1, got {top_k}")
    if A < 0:
        raise ValueError(f"A must be ≥ 0, got {A}")
    if track not in ("neuron", "position"):
        raise ValueError(f"track must be 'neuron' or 'position', got {track!r}")
    layer, batched = _prepare(w_in, w_out, recurrent, coords, pre_coords, post_coords, metric)
    n, members, dev = coords.shape[0], len(layer.rows), layer.rows.device
    plans = [SwapPlan(cost=float(c)) for c in _layer_cost(layer, A, l0)]
    order = torch.argsort(_scores(layer), dim=1, descending=True, stable=True)[:, :top_k]
    order = order.cpu().numpy()
    rows = np.arange(members)
    at = np.tile(np.arange(n), (members, 1))         # at[m, p]: original neuron at position p
    pos = at.copy()                                  # pos[m, a]: position of original neuron a
    for k in range(order.shape[1]):
        i = pos[rows, order[:, k]] if track == "neuron" else order[:, k]
        i_t = torch.from_numpy(i).to(dev)
        delta = A * _swap_deltas(layer, i_t)
        j_t = torch.argmin(delta, dim=1)
        gain = delta[layer.rows, j_t].cpu().numpy()
        moves = gain < 0
        if not moves.any():
            continue
        j = np.where(moves, j_t.cpu().numpy(), i)
        _swap_layer(layer, i_t, torch.from_numpy(j).to(dev))
        ai, aj = at[rows, i], at[rows, j]
        at[rows, i], at[rows, j] = aj, ai
        pos[rows, ai], pos[rows, aj] = j, i
        for m in np.flatnonzero(moves):
            plans[m].swaps.append((int(i[m]), int(j[m])))
            plans[m].deltas.append(float(gain[m]))
    for m, plan in enumerate(plans):
        plan.permutation = at[m].tolist()
    return plans if batched else plans[0]


def _swap_deltas(layer: _Layer, i: torch.Tensor) -> torch.Tensor:
    """Δ(i_m, j)/A for every member m and position j, shape (M, n), from O(n·fan) work.

    F[a, p] is the position-dependent cost Σ_k |w_ak| d(p, k) of the neuron now at a if it sat
    at p, other neurons fixed. Then Δ(i, j) = F[i, j] + F[j, i] − F[i, i] − F[j, j], plus, for
    recurrent weights, the exact correction D_ij·(2S_ij − S_ii − S_jj) (S = |R| + |R|ᵀ): F
    evaluates the self-connections at a distance they do not have after the swap and the
    mutual i–j pair at distance 0 where it keeps D_ij. Row F[i, :] and column F[:, i] cost
    one matrix-vector product per weight; the diagonal is `layer.here`.
    """
    rows = layer.rows
    row = col = corr = 0
    if layer.a_in is not None:
        a, d = layer.a_in, layer.d_in
        row = row + a[rows, i] @ d.T
        col = col + (a @ d[i].unsqueeze(-1)).squeeze(-1)
    if layer.a_out is not None:
        a, d = layer.a_out, layer.d_out
        row = row + a[rows, :, i] @ d
        col = col + (d[:, i].T.unsqueeze(1) @ a).squeeze(1)
    if layer.s_rec is not None:
        s, d = layer.s_rec, layer.d_rec
        s_i = s[rows, i]
        row = row + s_i @ d
        col = col + (s @ d[i].unsqueeze(-1)).squeeze(-1)
        s_diag = torch.diagonal(s, dim1=-2, dim2=-1)
        corr = d[i] * (2 * s_i - s_diag[rows, i].unsqueeze(1) - s_diag)
    delta = row + col - layer.here[rows, i].unsqueeze(1) - layer.here + corr
    delta[rows, i] = 0.0
    return delta


def _here_at(layer: _Layer, p: torch.Tensor) -> torch.Tensor:
    """F[p_m, p_m] computed afresh for one position per member, (M,)."""
    rows, total = layer.rows, 0
    if layer.a_in is not None:
        total = total + (layer.a_in[rows, p] * layer.d_in[p]).sum(-1)
    if layer.a_out is not None:
        total = total + (layer.a_out[rows, :, p] * layer.d_out[:, p].T).sum(-1)
    if layer.s_rec is not None:
        total = total + (layer.s_rec[rows, p] * layer.d_rec[p]).sum(-1)
    return total


def _swap_layer(layer: _Layer, i: torch.Tensor, j: torch.Tensor) -> None:
    """Swap positions i_m ↔ j_m in every working copy (i = j is a no-op) and update `here`.

    A neuron a ∉ {i, j} keeps its place, but its recurrent partners at i and j trade places:
    F[a, a] changes by (S_ai − S_aj)(D_aj − D_ai), an O(n) update; F at i and j is recomputed.
    """
    if layer.s_rec is not None:
        s, d = layer.s_rec, layer.d_rec
        layer.here += (s[layer.rows, i] - s[layer.rows, j]) * (d[j] - d[i])   # S, D symmetric
    if layer.a_in is not None:
        _swap_batched(layer.a_in, 1, i, j)
    if layer.a_out is not None:
        _swap_batched(layer.a_out, 2, i, j)
    if layer.s_rec is not None:
        _swap_batched(layer.s_rec, 1, i, j)
        _swap_batched(layer.s_rec, 2, i, j)
    layer.here[layer.rows, i] = _here_at(layer, i)
    layer.here[layer.rows, j] = _here_at(layer, j)


def _swap_batched(t: torch.Tensor, dim: int, i: torch.Tensor, j: torch.Tensor) -> None:
    rows = torch.arange(t.shape[0], device=t.device)
    index = [rows] + [slice(None)] * (dim - 1)
    ti, tj = (*index, i), (*index, j)
    saved = t[ti].clone()
    t[ti] = t[tj]
    t[tj] = saved


def _scores(layer: _Layer) -> torch.Tensor:
    """Σ|in| + Σ|out| per neuron, (M, n); with recurrent weights both their row and column."""
    score = 0
    if layer.a_in is not None:
        score = score + layer.a_in.sum(-1)
    if layer.a_out is not None:
        score = score + layer.a_out.sum(-2)
    if layer.s_rec is not None:
        score = score + layer.s_rec.sum(-1)
    return score


def _layer_cost(layer: _Layer, A: float, l0: float) -> torch.Tensor:
    """cc of the weights touching the layer, (M,); |W_rec| counted once (S double-counts it)."""
    cost = 0
    for a, d, share in ((layer.a_in, layer.d_in, 1.0), (layer.a_out, layer.d_out, 1.0),
                        (layer.s_rec, layer.d_rec, 0.5)):
        if a is not None:
            cost = cost + share * (a * (A * d + l0)).sum((-2, -1))
    return cost.cpu()


def _here_all(layer: _Layer) -> torch.Tensor:
    """F[a, a] for every position, (M, n)."""
    total = 0
    if layer.a_in is not None:
        total = total + (layer.a_in * layer.d_in).sum(-1)
    if layer.a_out is not None:
        total = total + (layer.a_out * layer.d_out).sum(-2)
    if layer.s_rec is not None:
        total = total + (layer.s_rec * layer.d_rec).sum(-1)
    return total


def _prepare(w_in, w_out, recurrent, coords, pre_coords, post_coords, metric
             ) -> tuple[_Layer, bool]:
    given = [w for w in (w_in, w_out, recurrent) if w is not None]
    if not given:
        raise ValueError("plan_swaps needs at least one of w_in, w_out, recurrent")
    batched = given[0].ndim == 3
    coords = _as_coords(coords, "coords")
    n = coords.shape[0]

    def prep(w: torch.Tensor) -> torch.Tensor:
        a = w.detach().to(_F64).abs()
        return a if batched else a.unsqueeze(0)

    a_in = a_out = s_rec = d_in = d_out = d_rec = None
    if w_in is not None:
        if pre_coords is None:
            raise ValueError("pre_coords is required with w_in")
        d_in = distances(coords, pre_coords, metric)
        a_in = prep(_check_shape(w_in, "w_in", (n, d_in.shape[1]), batched))
    if w_out is not None:
        if post_coords is None:
            raise ValueError("post_coords is required with w_out")
        d_out = distances(post_coords, coords, metric)
        a_out = prep(_check_shape(w_out, "w_out", (d_out.shape[0], n), batched))
    if recurrent is not None:
        a_rec = prep(_check_shape(recurrent, "recurrent", (n, n), batched))
        s_rec, d_rec = a_rec + a_rec.transpose(1, 2), distances(coords, coords, metric)
    present = [a for a in (a_in, a_out, s_rec) if a is not None]
    members = present[0].shape[0]
    if any(a.shape[0] != members for a in present):
        raise ValueError(f"w_in, w_out and recurrent must have the same member count, got "
                         f"{[a.shape[0] for a in present]}")
    dev = present[0].device
    d_in, d_out, d_rec = (None if d is None else d.to(dev) for d in (d_in, d_out, d_rec))
    layer = _Layer(a_in, a_out, s_rec, d_in, d_out, d_rec, torch.arange(members, device=dev))
    layer.here = _here_all(layer)
    return layer, batched


def _check_shape(w: torch.Tensor, name: str, shape: tuple[int, int], batched: bool
                 ) -> torch.Tensor:
    if w.ndim != (3 if batched else 2) or tuple(w.shape[-2:]) != shape:
        want = ("(M, %d, %d)" if batched else "(%d, %d)") % shape
        raise ValueError(f"{name} must have shape {want}, got {tuple(w.shape)}")
    return w


# ------------------------------------------------------------------------------------------
# Applying swaps to parameters


def swap_(tensor: torch.Tensor, dim: int, i: int, j: int, member: int | None = None
          ) -> torch.Tensor:
    """Swap index i and j of `tensor` along `dim` in place (of member `member` only, if given).

    `dim` counts the member dim as 0 when there is one. Works on parameters (no autograd).
    """
    dim = dim % tensor.ndim
    if member is not None and dim == 0:
        raise ValueError("dim must not be the member dim 0 when member is given")
    with torch.no_grad():
        view = tensor if member is None else tensor[member]
        d = dim if member is None else dim - 1
        index = torch.tensor([i, j], device=tensor.device)
        view.index_copy_(d, index, view.index_select(d, index.flip(0)))
    return tensor


def mlp_owners(weights: Tensors, biases: Tensors | None, layer: int) -> list[Owner]:
    """(tensor, dim) pairs a neuron of hidden layer `layer` owns: it is the output of
    weights[layer], so rows of weights[layer] and biases[layer], and columns of
    weights[layer + 1]. Dims count a member dim as 0 when the weights have one."""
    if not 0 <= layer < len(weights) - 1:
        raise ValueError(f"layer must be a hidden layer in 0..{len(weights) - 2}, got {layer}")
    w, w_next = weights[layer], weights[layer + 1]
    owners = [(w, w.ndim - 2), (w_next, w_next.ndim - 1)]
    if biases is not None and biases[layer] is not None:
        owners.insert(1, (biases[layer], biases[layer].ndim - 1))
    return owners


def rnn_owners(w_in: torch.Tensor, w_rec: torch.Tensor, b: torch.Tensor | None,
               w_out: torch.Tensor) -> list[Owner]:
    """(tensor, dim) pairs a recurrent neuron owns: rows of W_in, rows and columns of W_rec,
    b, columns of W_out (the output bias is not the neuron's)."""
    owners = [(w_in, w_in.ndim - 2), (w_rec, w_rec.ndim - 2), (w_rec, w_rec.ndim - 1),
              (w_out, w_out.ndim - 1)]
    if b is not None:
        owners.insert(3, (b, b.ndim - 1))
    return owners


def permute_(tensor: torch.Tensor, dim: int, perm: Sequence[int] | torch.Tensor,
             member: int | None = None) -> torch.Tensor:
    """Reorder `tensor` along `dim` in place so that new index p holds old index perm[p]
    (of member `member` only, if given; `dim` counts the member dim as 0 when there is one)."""
    dim = dim % tensor.ndim
    if member is not None and dim == 0:
        raise ValueError("dim must not be the member dim 0 when member is given")
    with torch.no_grad():
        view = tensor if member is None else tensor[member]
        d = dim if member is None else dim - 1
        index = torch.as_tensor(perm, device=tensor.device)
        view.copy_(view.index_select(d, index))
    return tensor


def apply_swaps_(owners: Sequence[Owner], plans: SwapPlan | Sequence[SwapPlan]) -> None:
    """Apply plans to every owned (tensor, dim): one plan for unbatched tensors, or one plan
    per member (plans[m] acts on member m). The swaps are applied as their composed
    permutation, one gather per tensor, which moves exactly the same numbers."""
    single = isinstance(plans, SwapPlan)
    for m, plan in enumerate([plans] if single else plans):
        if plan.swaps:
            for t, dim in owners:
                permute_(t, dim, plan.permutation, member=None if single else m)


# ------------------------------------------------------------------------------------------
# Pruning


def prune_(weights: torch.Tensor | Tensors, threshold: float, *, per_member: bool = False
           ) -> float | torch.Tensor:
    """Spec 2 pruning: zero every |w| < threshold in place; return the fraction kept.

    With `per_member`, weights are (M, ...) and the fraction is returned per member, (M,).
    """
    if threshold < 0:
        raise ValueError(f"threshold must be ≥ 0, got {threshold}")
    weights = [weights] if isinstance(weights, torch.Tensor) else list(weights)
    kept = total = 0
    with torch.no_grad():
        for w in weights:
            mask = w.abs() >= threshold
            w.mul_(mask)
            if per_member:
                kept = kept + mask.reshape(w.shape[0], -1).sum(1)
                total = total + mask[0].numel()
            else:
                kept, total = kept + int(mask.sum()), total + mask.numel()
    return kept / total if per_member else float(kept / total)
