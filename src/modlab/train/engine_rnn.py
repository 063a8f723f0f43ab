"""Hand-derived backpropagation through time for the leaky RNN (nn/rnn.py) under the
sequence loss and weight penalties (perf).

Forward: U = (x + σ_x ξ')W_inᵀ + b for all steps in large GEMMs, then per step
pre_t = U_t + h_{t−1}W_recᵀ + √(2/α)σ_rec ξ_t, h_t = (1−α)h_{t−1} + α·relu(pre_t), and
ŷ = sigmoid(H W_outᵀ + b_out) in large GEMMs. Backward, with e = ((ŷ − y)·m), dℓ/dz = 2e·m·ŷ(1−ŷ)/n:
dh_t = dH_t + (1−α)dh_{t+1} + δ_{t+1}W_rec, δ_t = α·dh_t ⊙ relu'(pre_t); dW_rec = Σ_t δ_tᵀh_{t−1},
dW_in = Σ_t δ_tᵀx_t, db = Σ_t δ_t. Only the two (B × N)·(N × N) products per step are
sequential.

Bits: every large GEMM runs over fixed chunks of CHUNK time steps (B·CHUNK rows), and chunks
are accumulated in time order. A member's steps beyond its own batch's length carry exactly
zero gradient, so the extra chunks a longer ensemble batch adds contribute exact zeros, and a
member's result is the same alone or in any ensemble (tests/test_reproducibility.py). Noise
is drawn exactly as `LeakyRNN.draw_noise` draws it. Checked against autograd in
tests/test_rnn.py.
"""
from __future__ import annotations

import torch

from ..nn.rnn import LeakyRNN
from ..nn.rng import fill_member_randn_
from .objective import Objective
from .terms import wiring_distances

CHUNK = 16
WEIGHT_TERMS = ("l1", "l2", "wiring")


class RNNGradient:
    """Per-member (total, task) losses and the exact gradient of their sum, without autograd."""

    @staticmethod
    def unsupported(objective, model, batch_size=None, masked=True) -> str | None:
        if type(model) is not LeakyRNN:
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
    def _buf(self, name: str, shape, like: torch.Tensor) -> torch.Tensor:
        t = self._buffers.get(name)
        if t is None or t.shape != torch.Size(shape):
            t = self._buffers[name] = torch.empty(shape, dtype=like.dtype, device=like.device)
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
        chunks = -(-t // CHUNK)
        tp = chunks * CHUNK
        alpha = model.alpha
        # Noise exactly as LeakyRNN.draw_noise: input then recurrent, max(T, max_steps) steps.
        steps = max(t, model.max_steps)
        if model.sigma_x > 0:
            ex = fill_member_randn_(self._buf("ex", (m, b, steps, n_in), x), model.generators)
            x = x + model.sigma_x * ex[:, :, :t]
        # time-major, padded to whole chunks
        xs = self._buf("x", (m, tp, b, n_in), x)
        xs[:, :t].copy_(x.transpose(1, 2))
        xs[:, t:].zero_()
        ys = self._buf("y", (m, tp, b, n_out), x)
        ys[:, :t].copy_(y.transpose(1, 2))
        ys[:, t:].zero_()
        ms = self._buf("mask", (m, tp, b, n_out), x)
        if mask is None:
            ms[:, :t].fill_(1.0)
        else:
            ms[:, :t].copy_(mask.transpose(1, 2))
        ms[:, t:].zero_()
        noise = None
        if model.sigma_rec > 0:
            er = fill_member_randn_(self._buf("er", (m, steps, b, n), x), model.generators)
            noise = self._buf("noise", (m, tp, b, n), x)
            torch.mul(er[:, :t], model.noise_std, out=noise[:, :t])
            noise[:, t:].zero_()
        rows = CHUNK * b
        w_in, w_rec, w_out = model.w_in, model.w_rec, model.w_out
        # U = x W_inᵀ + b (+ noise), chunk by chunk
        pre = self._buf("pre", (m, tp, b, n), x)
        for c in range(chunks):
            sl = slice(c * CHUNK, (c + 1) * CHUNK)
            torch.baddbmm(model.b.unsqueeze(1), xs[:, sl].reshape(m, rows, n_in),
                          w_in.transpose(1, 2), out=pre[:, sl].view(m, rows, n))
        if noise is not None:
            pre.add_(noise)
        # recurrence; hs[:, s] = h_{s−1} (hs[:, 0] = 0)
        hs = self._buf("h", (m, tp + 1, b, n), x)
        hs[:, 0].zero_()
        w_rec_t = w_rec.transpose(1, 2)
        keep = 1.0 - alpha
        r = self._buf("r", (m, b, n), x)
        for s in range(tp):
            p = pre[:, s]
            torch.baddbmm(p, hs[:, s], w_rec_t, out=p)
            torch.clamp_min(p, 0.0, out=r)
            torch.add(hs[:, s] * keep, r, alpha=alpha, out=hs[:, s + 1])
        # output, loss and its gradient, chunk by chunk
        task = torch.zeros(m, dtype=x.dtype, device=x.device)
        dz = self._buf("dz", (m, tp, b, n_out), x)
        yhat = self._buf("yhat", (m, tp, b, n_out), x)
        scale = 2.0 / (b * self.norm_steps * n_out)
        for c in range(chunks):
            sl = slice(c * CHUNK, (c + 1) * CHUNK)
            z = yhat[:, sl].view(m, rows, n_out)
            torch.baddbmm(model.b_out.unsqueeze(1), hs[:, c * CHUNK + 1:(c + 1) * CHUNK + 1]
                          .reshape(m, rows, n), w_out.transpose(1, 2), out=z)
            z.sigmoid_()
            e = (z - ys[:, sl].reshape(m, rows, n_out)).mul_(ms[:, sl].reshape(m, rows, n_out))
            task.add_(e.pow(2).sum((1, 2)))
            g = dz[:, sl].view(m, rows, n_out)
            torch.mul(e, ms[:, sl].reshape(m, rows, n_out), out=g)
            g.mul_(z).mul_(1.0 - z).mul_(scale)
        task.div_(b * self.norm_steps * n_out)
        # gradients of the output layer, and dH from it
        g_w_in, g_w_rec, g_b, g_w_out, g_b_out = grads
        dh_out = self._buf("dh", (m, tp, b, n), x)
        for c in range(chunks):
            sl = slice(c * CHUNK, (c + 1) * CHUNK)
            g = dz[:, sl].reshape(m, rows, n_out)
            h_c = hs[:, c * CHUNK + 1:(c + 1) * CHUNK + 1].reshape(m, rows, n)
            _accumulate(c, g_w_out, g.transpose(1, 2), h_c)
            _accumulate_sum(c, g_b_out, g)
            torch.bmm(g, w_out, out=dh_out[:, sl].view(m, rows, n))
        # backward through time: delta_s = α·dh_s ⊙ relu'(pre_s), stored in place of dh_out
        carry = self._buf("carry", (m, b, n), x)
        carry.zero_()
        for s in range(tp - 1, -1, -1):
            dh = dh_out[:, s]
            dh.add_(carry)
            torch.mul(dh, keep, out=carry)
            dh.mul_((pre[:, s] > 0).to(dh.dtype)).mul_(alpha)       # now δ_s
            carry.baddbmm_(dh, w_rec)
        delta = dh_out
        for c in range(chunks):
            sl = slice(c * CHUNK, (c + 1) * CHUNK)
            d = delta[:, sl].reshape(m, rows, n)
            _accumulate(c, g_w_rec, d.transpose(1, 2), hs[:, c * CHUNK:(c + 1) * CHUNK]
                        .reshape(m, rows, n))
            _accumulate(c, g_w_in, d.transpose(1, 2), xs[:, sl].reshape(m, rows, n_in))
            _accumulate_sum(c, g_b, d)
        total = task.clone()
        for term in self.terms:
            total = self._weight_term(term, (w_in, w_rec, w_out), (g_w_in, g_w_rec, g_w_out),
                                      total)
        return total, task

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


def _accumulate(chunk: int, out: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> None:
    """out (=|+=) a @ b: the first chunk writes, later ones add (in time order)."""
    if chunk == 0:
        torch.bmm(a, b, out=out)
    else:
        out.baddbmm_(a, b)


def _accumulate_sum(chunk: int, out: torch.Tensor, g: torch.Tensor) -> None:
    """out (=|+=) Σ over rows of g (M, rows, k) → (M, k)."""
    if chunk == 0:
        torch.sum(g, 1, out=out)
    else:
        out.add_(g.sum(1))
