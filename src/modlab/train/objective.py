"""The per-member training objective: task loss plus regularisers, one value per member."""
from __future__ import annotations

from collections.abc import Sequence

import torch

from ..nn import MLP
from ..nn.rng import fill_member_rand_, fill_member_randn_
from ..regularizers import activity, l12, l21, weight_l1, weight_l2, weighted_activity
from .config import RegConfig


def mse_per_member(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error over (batch, outputs) for each member; pred is (M, B, out)."""
    return (pred - target).pow(2).mean((-2, -1))


def _alpha(values: Sequence[float]):
    """A shared α as a Python float (fast paths), per-member α as a (M, 1, 1) tensor."""
    if len(set(values)) == 1:
        return float(values[0])
    return torch.tensor(values, dtype=torch.float32).reshape(-1, 1, 1)


class RegressionObjective:
    """MSE + Σ λ_r·R_r with per-member coefficients λ (a member's own RegConfig)."""

    TERMS = ("wa", "activity", "l1", "l2", "l12", "l21")

    def __init__(self, regs: Sequence[RegConfig]):
        self.coef = {t: torch.tensor([getattr(r, t) for r in regs], dtype=torch.float32)
                     for t in self.TERMS}
        self.active = [t for t in self.TERMS if bool(self.coef[t].any())]
        self.wa_alpha = _alpha([r.wa_alpha for r in regs])
        self.activity_alpha = _alpha([r.activity_alpha for r in regs])

    def to(self, device) -> RegressionObjective:
        self.coef = {k: v.to(device) for k, v in self.coef.items()}
        for name in ("wa_alpha", "activity_alpha"):
            if isinstance(getattr(self, name), torch.Tensor):
                setattr(self, name, getattr(self, name).to(device))
        return self

    def penalties(self, model: MLP, hidden: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        weights = model.weights
        compute = {
            "wa": lambda: weighted_activity(hidden, weights[1:], self.wa_alpha),
            "activity": lambda: activity(hidden, self.activity_alpha),
            "l1": lambda: weight_l1(weights),
            "l2": lambda: weight_l2(weights),
            "l12": lambda: l12(weights),
            "l21": lambda: l21(weights),
        }
        return {t: compute[t]() for t in self.active}

    def __call__(self, model: MLP, x: torch.Tensor, y: torch.Tensor):
        """Returns (total loss per member, task loss per member)."""
        out = model.forward_hidden(x)
        task = mse_per_member(out.output, y)
        total = task
        for term, value in self.penalties(model, out.hidden).items():
            total = total + self.coef[term] * value
        return total, task


# --------------------------------------------------------------------------------------------
# Hand-derived backward pass (perf): the same objective as `RegressionObjective.__call__` +
# autograd, with every large intermediate in preallocated buffers and about a third of the ops.
# `tests/test_performance.py` checks it against autograd for every activation, noise site,
# dropout and regulariser.

_MANUAL_ACTIVATIONS = ("leaky_relu", "relu", "tanh", "sigmoid", "identity")


def _alpha_ok(alpha) -> bool:
    if isinstance(alpha, torch.Tensor):
        return bool((alpha >= 1).all())
    return alpha >= 1


def manual_gradient_unsupported(objective, model) -> str | None:
    """Why `ManualGradient` cannot train this (model, objective), or None when it can."""
    if type(objective) is not RegressionObjective:
        return f"objective is {type(objective).__name__}, not RegressionObjective"
    if type(model) is not MLP:
        return f"model is {type(model).__name__}, not modlab's MLP"
    if model.activation_name not in _MANUAL_ACTIVATIONS:
        return f"activation {model.activation_name!r}"
    if any(not p.requires_grad for p in model.parameters()):
        return "some parameters are frozen (requires_grad=False)"
    if "wa" in objective.active and not _alpha_ok(objective.wa_alpha):
        return "wa_alpha < 1"
    if "activity" in objective.active and not _alpha_ok(objective.activity_alpha):
        return "activity_alpha < 1"
    return None


def _is_two(alpha) -> bool:
    return not isinstance(alpha, torch.Tensor) and alpha == 2


def _moment(h: torch.Tensor, alpha) -> torch.Tensor:
    """E_b |h|^α over dim 1 (see `batch_moment`), (M, B, u) → (M, u)."""
    if _is_two(alpha):
        return torch.square(h).mean(1)
    if not isinstance(alpha, torch.Tensor) and alpha == 1:
        return h.abs().mean(1)
    return h.abs().pow(alpha).mean(1)


def _moment_grad(h: torch.Tensor, alpha, coef: torch.Tensor) -> torch.Tensor:
    """coef · ∂E_b|h|^α/∂h = coef · α|h|^{α-1} sign(h) / B, coef (M, 1, u)."""
    b = h.shape[1]
    if _is_two(alpha):
        return h * (coef * (2.0 / b))
    if not isinstance(alpha, torch.Tensor) and alpha == 1:
        return torch.sign(h) * (coef / b)
    return h.abs().pow(alpha - 1).mul_(torch.sign(h)).mul_(coef * alpha / b)


def _add(total, term):
    return term if total is None else total + term


class _Workspace:
    """Preallocated (M, B, u) buffers for one batch size B (no allocation in the hot loop)."""

    def __init__(self, members: int, batch: int, widths: list[int], like: torch.Tensor,
                 noise_site: str | None, dropout: bool):
        def buf(u):
            return torch.empty(members, batch, u, dtype=like.dtype, device=like.device)

        hid = widths[1:-1]
        self.z = [buf(u) for u in widths[1:]]               # pre-activations, output last
        self.gz = [buf(u) for u in widths[1:]]              # ∂/∂z
        self.a = [buf(u) for u in hid]                      # activation outputs
        self.gh = [buf(u) for u in hid]                     # ∂/∂(hidden) incl. regularisers
        self.eps = [buf(u) for u in hid] if noise_site else None
        self.amp = [buf(u) for u in hid] if noise_site else None
        self.base = [buf(u) for u in hid] if noise_site else None
        self.noisy = [buf(u) for u in hid] if noise_site else None
        self.mask = [buf(u) for u in hid] if dropout else None
        self.h = [buf(u) for u in hid] if dropout else None
        self.diff = buf(widths[-1])


class ManualGradient:
    """Per-member (total, task) loss and exact parameter gradients of a `RegressionObjective`
    on a modlab `MLP`, written into given gradient tensors, without building an autograd graph.

    Equivalent to `objective(model, x, y)` followed by `total.sum().backward()` (to float
    rounding), including activity noise (same random streams), dropout and every regulariser.
    The model must be in training mode semantics: noise and dropout are applied.
    """

    def __init__(self, objective: RegressionObjective, model: MLP):
        reason = manual_gradient_unsupported(objective, model)
        if reason is not None:
            raise ValueError(f"manual gradient not available: {reason}")
        self.model, self.objective = model, objective
        self.members = model.members
        self.widths = list(model.widths)
        self.layers = list(model.layers)
        self.act = model.activation_name
        noise = model.noise
        self.noise_site = noise.site if bool((noise.sigma != 0).any()) else None
        self.noise_eps = noise.eps
        self.noise_gens = noise.generators
        self.sigma = noise.sigma
        alphas = noise.alpha.reshape(-1)
        self.noise_alpha = float(alphas[0]) if bool((alphas == alphas[0]).all()) else noise.alpha
        self.dropout_p = model.dropout.p
        self.dropout_gens = model.dropout.generators
        m = self.members
        self.coef = {t: objective.coef[t].reshape(m, 1, 1) for t in objective.active}
        self.wa_alpha, self.act_alpha = objective.wa_alpha, objective.activity_alpha
        self._workspaces: dict[tuple, _Workspace] = {}

    def workspace(self, batch: int, like: torch.Tensor) -> _Workspace:
        key = (batch, like.device, like.dtype)
        if key not in self._workspaces:
            self._workspaces[key] = _Workspace(self.members, batch, self.widths, like,
                                               self.noise_site, self.dropout_p > 0)
        return self._workspaces[key]

    # -- forward pieces ---------------------------------------------------------------------
    def _activation(self, z: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        if self.act == "leaky_relu":
            return torch._C._nn.leaky_relu(z, 0.1, out=out)
        if self.act == "relu":
            return torch.clamp_min(z, 0.0, out=out)
        if self.act == "tanh":
            return torch.tanh(z, out=out)
        if self.act == "sigmoid":
            return torch.sigmoid(z, out=out)
        return z

    def _activation_backward(self, g: torch.Tensor, z: torch.Tensor, a: torch.Tensor,
                             out: torch.Tensor) -> torch.Tensor:
        aten = torch.ops.aten
        if self.act == "leaky_relu":
            return aten.leaky_relu_backward.grad_input(g, z, 0.1, False, grad_input=out)
        if self.act == "relu":
            return aten.threshold_backward.grad_input(g, a, 0.0, grad_input=out)
        if self.act == "tanh":
            return aten.tanh_backward.grad_input(g, a, grad_input=out)
        if self.act == "sigmoid":
            return aten.sigmoid_backward.grad_input(g, a, grad_input=out)
        return g

    def _noise(self, v: torch.Tensor, ws: _Workspace, k: int) -> torch.Tensor:
        """v + σ·ε·(v² + e²)^{α/4} into ws.noisy[k]; keeps σε, amplitude and base for backward."""
        eps = fill_member_randn_(ws.eps[k], self.noise_gens).mul_(self.sigma)
        alpha = self.noise_alpha
        if not isinstance(alpha, torch.Tensor) and alpha == 0:
            return torch.add(v, eps, out=ws.noisy[k])
        base = torch.mul(v, v, out=ws.base[k]).add_(self.noise_eps * self.noise_eps)
        if isinstance(alpha, torch.Tensor):
            amp = torch.pow(base, alpha / 4, out=ws.amp[k])
        elif alpha == 2:
            amp = torch.sqrt(base, out=ws.amp[k])
        else:
            amp = torch.pow(base, alpha / 4, out=ws.amp[k])
        return torch.addcmul(v, eps, amp, out=ws.noisy[k])

    def _noise_backward(self, g: torch.Tensor, v: torch.Tensor, ws: _Workspace, k: int) -> None:
        """g ← g · ∂(noisy)/∂v = g · (1 + σε·(α/2)·v·amp/base), in place."""
        alpha = self.noise_alpha
        if not isinstance(alpha, torch.Tensor) and alpha == 0:
            return
        t = ws.eps[k] * ws.amp[k]
        t.mul_(v).div_(ws.base[k]).mul_(alpha / 2)
        g.addcmul_(g, t)

    # -- the step -----------------------------------------------------------------------------
    @torch.no_grad()
    def __call__(self, x: torch.Tensor, y: torch.Tensor, grads: Sequence[torch.Tensor]):
        """Loss per member and gradients written into `grads` (aligned with model.parameters()).

        x (M, B, in) and y (M, B, out); returns (total, task), each (M,).
        """
        n_layers = len(self.layers)
        ws = self.workspace(x.shape[1], x)
        weights = [layer.weight for layer in self.layers]
        biases = [layer.bias for layer in self.layers]
        inputs, hidden, pre, acts = [], [], [], []
        h = x
        for li, (w, b) in enumerate(zip(weights, biases, strict=True)):
            inputs.append(h)
            z = ws.z[li]
            if b is None:
                torch.bmm(h, w.transpose(1, 2), out=z)
            else:
                torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2), out=z)
            if li == n_layers - 1:
                break
            k = li
            if self.noise_site == "pre":
                zin = self._noise(z, ws, k)
            else:
                zin = z
            a = self._activation(zin, ws.a[k])
            pre.append(zin)
            acts.append(a)
            h = a
            if self.noise_site == "post":
                h = self._noise(a, ws, k)
            if self.dropout_p > 0:
                keep = fill_member_rand_(ws.mask[k], self.dropout_gens).ge_(self.dropout_p)
                h = torch.mul(h, keep, out=ws.h[k]).div_(1.0 - self.dropout_p)
            hidden.append(h)

        out = ws.z[-1]
        diff = torch.sub(out, y, out=ws.diff)
        task = torch.square(diff).mean((1, 2))
        torch.mul(diff, 2.0 / diff[0].numel(), out=ws.gz[-1])

        # Regularisers: values and the pieces their gradients need.
        active, coef = self.objective.active, self.coef
        reg_total = None
        stats: dict[tuple[str, int], torch.Tensor] = {}

        def stat(kind: str, li: int) -> torch.Tensor:
            key = (kind, li)
            if key not in stats:
                w = weights[li]
                if kind == "colsq":
                    stats[key] = torch.square(w).sum(-2)
                elif kind == "rowsq":
                    stats[key] = torch.square(w).sum(-1)
                elif kind == "colabs":
                    stats[key] = w.abs().sum(-2)
                else:
                    stats[key] = w.abs().sum(-1)
            return stats[key]

        moments: dict[tuple[str, int], torch.Tensor] = {}
        if "wa" in active:
            value = None
            for k, h in enumerate(hidden):
                moments["wa", k] = _moment(h, self.wa_alpha)
                value = _add(value, (stat("colsq", k + 1) * moments["wa", k]).sum(-1))
            reg_total = _add(reg_total, coef["wa"].view(-1) * value)
        if "activity" in active:
            value = None
            for h in hidden:
                mom = _moment(h, self.act_alpha)
                value = _add(value, mom.sum(-1))
            reg_total = _add(reg_total, coef["activity"].view(-1) * value)
        if "l1" in active:
            value = _sum_all(w.abs().sum((-2, -1)) for w in weights)
            reg_total = _add(reg_total, coef["l1"].view(-1) * value)
        if "l2" in active:
            value = _sum_all(torch.square(w).sum((-2, -1)) for w in weights)
            reg_total = _add(reg_total, coef["l2"].view(-1) * value)
        if "l12" in active:
            value = _sum_all((stat("colsq", li + 1) * stat("rowabs", li)).sum(-1)
                             for li in range(n_layers - 1))
            reg_total = _add(reg_total, coef["l12"].view(-1) * value)
        if "l21" in active:
            value = _sum_all((stat("colabs", li + 1) * stat("rowsq", li)).sum(-1)
                             for li in range(n_layers - 1))
            reg_total = _add(reg_total, coef["l21"].view(-1) * value)
        total = task if reg_total is None else task + reg_total

        # Backward, output layer first.
        for li in range(n_layers - 1, -1, -1):
            g, w, inp = ws.gz[li], weights[li], inputs[li]
            gw = grads[2 * li] if biases[0] is not None else grads[li]
            lin, sgn = self._weight_coefficients(li, n_layers, stat, moments)
            if lin is None and sgn is None:
                torch.bmm(g.transpose(1, 2), inp, out=gw)
            else:
                reg = None if lin is None else w * lin
                if sgn is not None:
                    reg = _add(reg, torch.sign(w) * sgn)
                torch.baddbmm(reg, g.transpose(1, 2), inp, out=gw)
            if biases[li] is not None:
                torch.sum(g, 1, out=grads[2 * li + 1])
            if li == 0:
                break
            k = li - 1
            gh = ws.gh[k]
            extra = self._hidden_gradient(hidden[k], k, stat)
            if extra is None:
                torch.bmm(g, w, out=gh)
            else:
                torch.baddbmm(extra, g, w, out=gh)
            if self.dropout_p > 0:
                gh.div_(1.0 - self.dropout_p).mul_(ws.mask[k])
            if self.noise_site == "post":
                self._noise_backward(gh, acts[k], ws, k)
            gz = self._activation_backward(gh, pre[k], acts[k], ws.gz[k])
            if self.noise_site == "pre":
                if gz is not ws.gz[k]:
                    gz = ws.gz[k].copy_(gz)
                self._noise_backward(gz, ws.z[k], ws, k)
            elif gz is not ws.gz[k]:
                ws.gz[k].copy_(gz)
        return total, task

    def _weight_coefficients(self, li: int, n_layers: int, stat, moments):
        """∂R/∂W^l = W ⊙ lin + sign(W) ⊙ sgn, with lin, sgn broadcastable to (M, post, pre)."""
        active, coef = self.objective.active, self.coef
        lin = sgn = None
        if "l2" in active:
            lin = _add(lin, 2 * coef["l2"])
        if "l1" in active:
            sgn = _add(sgn, coef["l1"])
        if li >= 1:  # W^l is the outgoing weight of hidden layer l-1 (columns = its neurons)
            if "wa" in active:
                lin = _add(lin, (2 * coef["wa"]) * moments["wa", li - 1].unsqueeze(1))
            if "l12" in active:
                lin = _add(lin, (2 * coef["l12"]) * stat("rowabs", li - 1).unsqueeze(1))
            if "l21" in active:
                sgn = _add(sgn, coef["l21"] * stat("rowsq", li - 1).unsqueeze(1))
        if li <= n_layers - 2:  # W^l is the incoming weight of hidden layer l (rows = its neurons)
            if "l12" in active:
                sgn = _add(sgn, coef["l12"] * stat("colsq", li + 1).unsqueeze(2))
            if "l21" in active:
                lin = _add(lin, (2 * coef["l21"]) * stat("colabs", li + 1).unsqueeze(2))
        return lin, sgn

    def _hidden_gradient(self, h: torch.Tensor, k: int, stat) -> torch.Tensor | None:
        """∂R/∂h^k from the activity-dependent regularisers (WA, activity), or None."""
        active, coef = self.objective.active, self.coef
        terms = []
        if "wa" in active:
            terms.append((self.wa_alpha, coef["wa"] * stat("colsq", k + 1).unsqueeze(1)))
        if "activity" in active:
            terms.append((self.act_alpha, coef["activity"]))
        if not terms:
            return None
        if len(terms) == 2 and _same_alpha(terms[0][0], terms[1][0]):
            terms = [(terms[0][0], terms[0][1] + terms[1][1])]
        out = None
        for alpha, c in terms:
            out = _add(out, _moment_grad(h, alpha, c))
        return out


def _same_alpha(a, b) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return a is b
    return a == b


def _sum_all(values) -> torch.Tensor:
    values = list(values)
    total = values[0]
    for v in values[1:]:
        total = total + v
    return total
