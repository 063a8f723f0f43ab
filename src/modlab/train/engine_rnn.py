"""Hand-derived backpropagation through time for the leaky RNN (nn/rnn.py) under the
sequence loss and weight penalties (perf).

Forward, per step: pre_t = (x_t + σ_x ξ'_t)W_inᵀ + b + √(2/α)σ_rec ξ_t + h_{t−1}W_recᵀ,
h_t = (1−α)h_{t−1} + α·relu(pre_t), ŷ_t = sigmoid(h_t W_outᵀ + b_out). Backward, with e = ((ŷ − y)·m), dℓ/dz = 2e·m·ŷ(1−ŷ)/n:
dh_t = dH_t + (1−α)dh_{t+1} + δ_{t+1}W_rec, δ_t = α·dh_t ⊙ relu'(pre_t); dW_rec = Σ_t δ_tᵀh_{t−1},
dW_in = Σ_t δ_tᵀx_t, db = Σ_t δ_t. All in preallocated buffers, no autograd graph.

Layout and bits: buffers are member-major (M, T, B, ·). Products over rows (input and output
projections) round each row alike whatever the number of rows; sums over time (weight and
bias gradients, the loss) run over fixed chunks of CHUNK steps added in time order. A member's steps beyond its own batch's length carry exactly
zero gradient (their mask is 0), so the extra steps a longer ensemble batch adds contribute
exact zeros, and a member's result is the same alone or in any ensemble
(tests/test_reproducibility.py). Noise is drawn exactly as `LeakyRNN.draw_noise` draws it.
Checked against autograd in tests/test_rnn.py.
"""
from __future__ import annotations

import torch

from ..nn.rng import fill_member_randn_
from ..nn.rnn import LeakyRNN
from .objective import Objective
from .terms import wiring_distances

CHUNK = 16
WEIGHT_TERMS = ("l1", "l2", "wiring")


class RNNGradient:
    """Per-member (total, task) losses and the exact gradient of their sum, without autograd."""

    model_type = LeakyRNN
    follows = ("forward_hidden", "forward", "phi", "draw_noise")     # see train.engines

    @staticmethod
    def unsupported(objective, model, batch_size=None, masked=True) -> str | None:
        if not isinstance(model, LeakyRNN):
            return f"model is {type(model).__name__}, not modlab's LeakyRNN"
        if model.activation_name != "relu":
            return f"activation {model.activation_name!r}"
        if not isinstance(objective, Objective) or objective.task_loss.__name__ != "sequence_loss":
            return "objective is not the RNN sequence loss"
        extra = [t for t in objective.active if t not in WEIGHT_TERMS]
        if extra:
            return f"the {extra[0]!r} regulariser has no hand-derived RNN gradient"
        if any(not p.requires_grad for p in model.parameters()):
            return "some parameters are frozen (requires_grad=False)"
        return None

    def __init__(self, objective: Objective, model: LeakyRNN):
        reason = self.unsupported(objective, model)
        if reason is not None:
            raise ValueError(f"manual RNN gradient not available: {reason}")
        self.model, self.objective = model, objective
        self.m, self.n = model.members, model.hidden_size
        self.norm_steps = objective.task_loss.max_steps
        self.terms = [t for t in objective.active]
        self.coef = {t: objective.coef[t].view(self.m, 1, 1) for t in self.terms}
        self.coef_flat = {t: objective.coef[t].view(self.m) for t in self.terms}
        self._buffers: dict = {}
        self._wiring = None

    # -- buffers ------------------------------------------------------------------------------
    def _buf(self, name: str, shape, like: torch.Tensor, dtype=None) -> torch.Tensor:
        t = self._buffers.get(name)
        if t is None or t.shape != torch.Size(shape):
            t = self._buffers[name] = torch.empty(shape, dtype=dtype or like.dtype,
                                                  device=like.device)
        return t

    def _wiring_costs(self) -> list[torch.Tensor]:
        """A·d + l₀ per weight, (M, post, pre) (per member A and l₀)."""
        if self._wiring is None:
            p = self.objective.params
            a, l0 = p["wiring_locality"], p["wiring_l0"]
            self._wiring = [a * d + l0 if not isinstance(a, torch.Tensor) else
                            (a.view(-1, 1, 1) * d + l0) for d in wiring_distances(self.model)]
            self._wiring = [c.expand(self.m, *c.shape[-2:]) if c.dim() == 2 else c
                            for c in self._wiring]
        return self._wiring

    # -- the step -----------------------------------------------------------------------------
    def step(self, x: torch.Tensor, y: torch.Tensor, mask, grads):
        model, m, n = self.model, self.m, self.n
        if x.dim() == 3:
            x = x.expand(m, *x.shape)
        b, t, n_in = x.shape[1], x.shape[2], x.shape[3]
        n_out = y.shape[-1]
        tp = -(-t // CHUNK) * CHUNK
        alpha, keep = model.alpha, 1.0 - model.alpha
        # Noise exactly as LeakyRNN.draw_noise: input then recurrent, max(T, max_steps) steps,
        # drawn straight into preallocated buffers (fresh 50 MB temporaries cost page faults).
        steps = max(t, model.max_steps)
        ex = None
        if model.sigma_x > 0:
            ex = fill_member_randn_(self._buf("ex", (m, b, steps, n_in), x), model.generators)
        er = None
        if model.sigma_rec > 0:
            er = fill_member_randn_(self._buf("er", (m, steps, b, n), x), model.generators)
        # member-major, time-then-batch rows, padded with zeros to whole chunks
        xs = self._padded("x", x, tp)
        if ex is not None:
            xs[:, :t].add_(ex[:, :, :t].transpose(1, 2), alpha=model.sigma_x)
        ys = self._padded("y", y, tp)
        ms = self._padded("mask", mask, tp) if mask is not None else None
        rows = tp * b
        # U = x W_inᵀ + b (+ noise): row-wise products, whatever the number of rows
        pre = self._buf("pre", (m, tp, b, n), x)
        torch.baddbmm(model.b.unsqueeze(1), xs.view(m, rows, n_in), model.w_in.transpose(1, 2),
                      out=pre.view(m, rows, n))
        if er is not None:
            pre[:, :t].add_(er[:, :t], alpha=model.noise_std)
        # the recurrence: hs[:, s] = h_{s−1}, hs[:, 0] = 0; products into a contiguous buffer
        # (an in-place product into a strided slice is split member by member: 4× slower)
        hs = self._buf("h", (m, tp + 1, b, n), x)
        hs[:, 0].zero_()
        cur = self._buf("cur", (m, b, n), x)
        relu = self._buf("relu", (m, tp, b, n), x)
        w_rec_t = model.w_rec.transpose(1, 2)
        for s in range(tp):                  # 3 kernels per step: the loop is the latency
            torch.baddbmm(pre[:, s], hs[:, s], w_rec_t, out=cur)
            torch.clamp_min(cur, 0.0, out=relu[:, s])
            torch.lerp(hs[:, s], relu[:, s], alpha, out=hs[:, s + 1])   # (1−α)h + α·relu
        h_all = hs[:, 1:]
        # output, loss (summed chunk by chunk, in time order) and ∂/∂z
        z = self._buf("z", (m, tp, b, n_out), x)
        torch.baddbmm(model.b_out.unsqueeze(1), h_all.reshape(m, rows, n),
                      model.w_out.transpose(1, 2), out=z.view(m, rows, n_out)).sigmoid_()
        e = torch.sub(z, ys, out=self._buf("e", z.shape, x))
        if ms is not None:
            e.mul_(ms)
        task = _chunk_dots(e, tp).div_(b * self.norm_steps * n_out)
        dz = e.mul_(ms) if ms is not None else e
        dz.mul_(torch.addcmul(z, z, z, value=-1.0, out=z))              # z(1 − z), in place
        dz.mul_(2.0 / (b * self.norm_steps * n_out))
        dh = torch.bmm(dz.view(m, rows, n_out), model.w_out,
                       out=self._buf("dh", (m, rows, n), x)).view(m, tp, b, n)
        # α·relu'(pre) for every step at once, then backward through time:
        # dh_s ← dH_s + carry, δ_s = α·relu'(pre_s)·dh_s, carry ← (1−α)·dh_s + δ_s·W_rec
        agate = torch.gt(relu, 0, out=self._buf("gate", relu.shape, x, torch.bool))
        agate = torch.mul(agate, alpha, out=self._buf("agate", relu.shape, x))
        delta = self._buf("delta", (m, tp, b, n), x)
        carry = self._buf("carry", (m, b, n), x)
        carry.zero_()
        w_rec = model.w_rec
        for s in range(tp - 1, -1, -1):
            d = dh[:, s].add_(carry)
            torch.mul(d, agate[:, s], out=delta[:, s])
            torch.baddbmm(d, delta[:, s], w_rec, beta=keep, out=carry)
        # weight and bias gradients: fixed-size chunks (CHUNK·B rows), accumulated in time order
        g_w_in, g_w_rec, g_b, g_w_out, g_b_out = grads
        _chunk_products(g_w_out, dz, h_all, tp)
        _chunk_products(g_w_rec, delta, hs[:, :tp], tp)
        _chunk_products(g_w_in, delta, xs, tp)
        _chunk_sums(delta, tp, out=g_b, keep_last=True)
        _chunk_sums(dz, tp, out=g_b_out, keep_last=True)
        total = task.clone()
        for term in self.terms:
            total = self._weight_term(term, (model.w_in, w_rec, model.w_out),
                                      (g_w_in, g_w_rec, g_w_out), total)
        return total, task

    def _padded(self, name: str, a: torch.Tensor, tp: int) -> torch.Tensor:
        """(M, B, T, k) → a buffer (M, tp, B, k): time then batch, zeros beyond T."""
        m, b, t, k = a.shape
        out = self._buf(name, (m, tp, b, k), a)
        out[:, :t].copy_(a.transpose(1, 2))
        out[:, t:].zero_()
        return out

    def _weight_term(self, term: str, weights, grads, total):
        coef, flat = self.coef[term], self.coef_flat[term]
        costs = self._wiring_costs() if term == "wiring" else None
        for k, (w, g) in enumerate(zip(weights, grads, strict=True)):
            if term == "l2":
                total = total + flat * w.pow(2).sum((1, 2))
                g.add_(w * (2 * coef))
            else:
                ab, sign = w.abs(), torch.sign(w)
                factor = coef if costs is None else coef * costs[k]
                total = total + flat * (ab if costs is None else ab * costs[k]).sum((1, 2))
                g.addcmul_(sign, factor.expand_as(sign) if factor.dim() == 3 else factor)
        return total


def _chunk_products(out: torch.Tensor, a: torch.Tensor, b: torch.Tensor, tp: int) -> None:
    """out = Σ_s a_sᵀ b_s over time (a, b: (M, tp, B, ·)), as fixed CHUNK-step products added
    in time order: the same K for every product, whatever the padded length."""
    m = a.shape[0]
    for c in range(tp // CHUNK):
        sl = slice(c * CHUNK, (c + 1) * CHUNK)
        ac = a[:, sl].reshape(m, -1, a.shape[-1]).transpose(1, 2)
        bc = b[:, sl].reshape(m, -1, b.shape[-1])
        if c == 0:
            torch.bmm(ac, bc, out=out)
        else:
            out.baddbmm_(ac, bc)


def _chunk_dots(e: torch.Tensor, tp: int) -> torch.Tensor:
    """Σ e² per member over time, batch and outputs, CHUNK steps at a time in time order."""
    m = e.shape[0]
    total = None
    for c in range(tp // CHUNK):
        part = e[:, c * CHUNK:(c + 1) * CHUNK].reshape(m, -1)
        part = torch.linalg.vecdot(part, part)
        total = part if total is None else total.add_(part)
    return total


def _chunk_sums(a: torch.Tensor, tp: int, out: torch.Tensor | None = None,
                keep_last: bool = False) -> torch.Tensor:
    """Σ over time and batch of a (M, tp, B, ·): per member, (M,) — or (M, ·) with
    keep_last — as CHUNK-step sums added in time order."""
    m = a.shape[0]
    total = out
    for c in range(tp // CHUNK):
        part = a[:, c * CHUNK:(c + 1) * CHUNK].reshape(m, -1, a.shape[-1])
        part = part.sum(1) if keep_last else part.reshape(m, -1).sum(1)
        if total is None:
            total = part
        elif c == 0:
            total.copy_(part)
        else:
            total.add_(part)
    return total
