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
# Hand-derived backward pass (perf). The same objective as `RegressionObjective.__call__` +
# autograd, but with every large intermediate in preallocated buffers and about a third of the
# kernel launches: no graph, no per-step allocation of (M, B, units) tensors.
# tests/test_performance.py checks it against autograd for every activation, noise site,
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
        return "wa_alpha < 1 (|h|^(α-1) is unbounded at 0)"
    if "activity" in objective.active and not _alpha_ok(objective.activity_alpha):
        return "activity_alpha < 1 (|h|^(α-1) is unbounded at 0)"
    return None


def _scalar(alpha, value: float) -> bool:
    return not isinstance(alpha, torch.Tensor) and alpha == value


def _add(total, term):
    return term if total is None else total + term


# A matmul whose result has fewer columns than this is slow on CPU BLAS (measured: ~5× for
# 32×4 results of a length-200 contraction); such products are computed transposed.
_NARROW = 16


def _activation_functions(name: str):
    """(φ in place, g ← g·φ'(z) in place) for a named activation. The derivative is computed
    from the output a = φ(z) alone (ReLU, leaky ReLU: z > 0 ⇔ a > 0; tanh: 1 - a²;
    sigmoid: a(1 - a)), so z need not be kept."""
    aten = torch.ops.aten
    if name == "leaky_relu":
        bwd = aten.leaky_relu_backward.grad_input
        return (lambda z: torch._C._nn.leaky_relu_(z, 0.1),
                lambda g, a: bwd(g, a, 0.1, True, grad_input=g))
    if name == "relu":
        bwd = aten.threshold_backward.grad_input
        return (lambda z: z.clamp_min_(0.0), lambda g, a: bwd(g, a, 0.0, grad_input=g))
    if name == "tanh":
        bwd = aten.tanh_backward.grad_input
        return (lambda z: z.tanh_(), lambda g, a: bwd(g, a, grad_input=g))
    if name == "sigmoid":
        bwd = aten.sigmoid_backward.grad_input
        return (lambda z: z.sigmoid_(), lambda g, a: bwd(g, a, grad_input=g))
    return (lambda z: z), (lambda g, a: g)


class _Workspace:
    """Preallocated buffers for one batch size B, kept small so they stay in cache.

    Forward: one (M, B, u) buffer per hidden layer (the activation is applied in place), plus
    the noise and dropout buffers when those are on. Backward: two shared buffers, used by
    alternate layers. The output layer is (M, out, B) (units-major) when `out_t`, see `_NARROW`.
    """

    def __init__(self, members: int, batch: int, widths: list[int], like: torch.Tensor,
                 noise_site: str | None, dropout: bool, out_t: bool):
        opts = {"dtype": like.dtype, "device": like.device}

        def bufs(units, on=True):
            return [torch.empty(members, batch, u, **opts) for u in units] if on else None

        def shared(units):
            storage = torch.empty(members * batch * max(units), **opts)
            return [storage[: members * batch * u].view(members, batch, u) for u in units]

        hid = widths[1:-1]
        n_out = widths[-1]
        noisy = noise_site is not None
        self.batch, self.members = batch, members
        self.z = bufs(hid)                          # pre-activations (activation in place
        self.eps = bufs(hid, noisy)                 # unless noise needs z): σ·ε
        self.amp = bufs(hid, noisy)                 # (v² + e²)^{α/4}
        self.base = bufs(hid, noisy)                # v² + e²
        self.noisy = bufs(hid, noisy)               # v + σ·ε·amp
        self.mask = bufs(hid, dropout)
        self.h = bufs(hid, dropout)
        self.grad = [shared(hid), shared(hid)]      # ∂/∂h then, in place, ∂/∂z: layer k uses k % 2
        self.tmp = shared(hid)
        out_shape = (members, n_out, batch) if out_t else (members, batch, n_out)
        self.out = torch.empty(out_shape, **opts)
        self.diff = torch.empty(out_shape, **opts)
        self.diff_sq = torch.empty(out_shape, **opts)
        self.g_out = torch.empty(out_shape, **opts)
        # ∂W^l computed as its transpose (in × out), for layers with a narrow input
        self.gw_t = {li: torch.empty(members, a, b, **opts)
                     for li, (a, b) in enumerate(zip(widths[:-1], widths[1:], strict=True))
                     if a < _NARROW <= b}
        self._opts = opts
        self._consts: dict = {}
        # transposed views of the fixed buffers, by identity (ops with out= and in-place ops
        # return these same objects): saves a transpose() call per use in the hot loop
        buffers = [*self.z, *self.grad[0], *self.grad[1], self.g_out, self.out]
        for group in (self.noisy, self.h):
            buffers += group or []
        self._t = {id(t): t.transpose(1, 2) for t in buffers}

    def t(self, x: torch.Tensor) -> torch.Tensor:
        """x.transpose(1, 2), cached for this workspace's own buffers."""
        view = self._t.get(id(x))
        return x.transpose(1, 2) if view is None else view

    def c(self, value: float) -> torch.Tensor:
        """A cached 0-dim tensor: multiplying by a Python float converts it to a tensor on
        every call (four extra dispatcher ops)."""
        t = self._consts.get(value)
        if t is None:
            t = self._consts[value] = torch.tensor(value, **self._opts)
        return t

    def scaled(self, key: str, coef: torch.Tensor, factor: float) -> torch.Tensor:
        """coef · factor, computed once per workspace."""
        t = self._consts.get((key, factor))
        if t is None:
            t = self._consts[(key, factor)] = coef * factor
        return t


class ManualGradient:
    """Per-member (total, task) losses of a `RegressionObjective` on a modlab `MLP`, and the
    exact gradient of their sum written into given tensors, without autograd.

    Equal (to float rounding) to `total, task = objective(model, x, y)` in training mode
    followed by `total.sum().backward()`: same noise and dropout draws (same per-member
    generators, same order), same regularisers (WA, activity with any α ≥ 1, L1, L2, L12, L21).
    """

    def __init__(self, objective: RegressionObjective, model: MLP):
        reason = manual_gradient_unsupported(objective, model)
        if reason is not None:
            raise ValueError(f"manual gradient not available: {reason}")
        self.model, self.objective = model, objective
        self.members = m = model.members
        self.widths = list(model.widths)
        self.layers = list(model.layers)
        self._weight_params = [layer.weight for layer in self.layers]
        self.has_bias = self.layers[0].bias is not None
        self.out_t = self.widths[-1] < _NARROW
        self.act = model.activation_name
        noise = model.noise
        self.noise_site = noise.site if bool((noise.sigma != 0).any()) else None
        self.noise_e2 = noise.eps * noise.eps
        self.noise_gens = noise.generators
        self.sigma = noise.sigma
        alphas = noise.alpha.reshape(-1)
        same = bool((alphas == alphas[0]).all())
        self.noise_alpha = float(alphas[0]) if same else noise.alpha
        self.noise_half_alpha = self.noise_alpha / 2
        self.dropout_p = model.dropout.p
        self.dropout_gens = model.dropout.generators
        self.active = set(objective.active)
        self.coef = {t: objective.coef[t].reshape(m, 1, 1) for t in objective.active}
        self.coef_flat = {t: objective.coef[t].reshape(m) for t in objective.active}
        self.coef2 = {t: 2 * c for t, c in self.coef.items()}
        self.wa_alpha, self.act_alpha = objective.wa_alpha, objective.activity_alpha
        need = self._needed_statistics(len(self.layers))
        self._stat_plan = [(li, li in need["colsq"], li in need["rowsq"], li in need["colabs"],
                            li in need["rowabs"]) for li in range(len(self.layers))]
        for term in RegressionObjective.TERMS:
            setattr(self, f"has_{term}", term in self.active)
        self._act_, self._act_backward_ = _activation_functions(self.act)
        self._workspaces: dict[tuple, _Workspace] = {}
        self._views_key: tuple = ()

    def _needed_statistics(self, n_layers: int) -> dict[str, set[int]]:
        """Which per-layer weight statistics (squared / absolute row and column sums) the
        active regularisers use, by layer index."""
        every, outgoing, incoming = set(range(n_layers)), set(range(1, n_layers)), set(range(n_layers - 1))
        active = self.active
        need = {k: set() for k in ("colsq", "rowsq", "colabs", "rowabs")}
        if "l2" in active:
            need["colsq"] |= every
        if "wa" in active:
            need["colsq"] |= outgoing
        if "l1" in active:
            need["rowabs"] |= every
        if "l12" in active:
            need["colsq"] |= outgoing
            need["rowabs"] |= incoming
        if "l21" in active:
            need["colabs"] |= outgoing
            need["rowsq"] |= incoming
        return need

    def workspace(self, batch: int, like: torch.Tensor) -> _Workspace:
        key = (batch, like.device, like.dtype)
        if key not in self._workspaces:
            self._workspaces[key] = _Workspace(self.members, batch, self.widths, like,
                                               self.noise_site, self.dropout_p > 0, self.out_t)
        return self._workspaces[key]

    def _views(self):
        """Weights, their transposes and (M, 1, out) biases; rebuilt if parameters moved."""
        key = tuple(w.data_ptr() for w in self._weight_params)
        if key != self._views_key:
            self.w = [layer.weight for layer in self.layers]
            self.wt = [w.transpose(1, 2) for w in self.w]
            self.b = [None if layer.bias is None else layer.bias.unsqueeze(1)
                      for layer in self.layers]
            last = self.layers[-1].bias
            if self.out_t and last is not None:
                self.b[-1] = last.unsqueeze(2)
            self._views_key = key

    # -- pieces -------------------------------------------------------------------------------
    def _noise(self, v: torch.Tensor, ws: _Workspace, k: int) -> torch.Tensor:
        """v + σ·ε·(v² + e²)^{α/4} (Eqs. 2, 4); keeps σε, amplitude and v² + e² for backward."""
        eps = fill_member_randn_(ws.eps[k], self.noise_gens).mul_(self.sigma)
        alpha = self.noise_alpha
        if _scalar(alpha, 0):
            return torch.add(v, eps, out=ws.noisy[k])
        base = torch.mul(v, v, out=ws.base[k]).add_(ws.c(self.noise_e2))
        if _scalar(alpha, 2):
            amp = torch.sqrt(base, out=ws.amp[k])
        else:
            amp = torch.pow(base, alpha / 4, out=ws.amp[k])
        return torch.addcmul(v, eps, amp, out=ws.noisy[k])

    def _noise_backward(self, g: torch.Tensor, v: torch.Tensor, ws: _Workspace, k: int) -> None:
        """g ← g · (1 + σε·(α/2)·v·amp/(v² + e²)), in place (g must not alias ws.tmp[k])."""
        if _scalar(self.noise_alpha, 0):
            return
        t = torch.mul(ws.eps[k], ws.amp[k], out=ws.tmp[k])
        half = self.noise_half_alpha
        t.mul_(v).div_(ws.base[k]).mul_(half if isinstance(half, torch.Tensor) else ws.c(half))
        g.addcmul_(g, t)

    @staticmethod
    def _moment_sum(h: torch.Tensor, alpha, tmp: torch.Tensor) -> torch.Tensor:
        """Σ_b |h|^α per member and unit, (M, B, u) → (M, 1, u): B·`batch_moment` (the 1/B is
        folded into the coefficients). Goes through tmp: a fresh (M, B, u) temporary per
        call costs page faults at large M."""
        if _scalar(alpha, 2):
            return torch.mul(h, h, out=tmp).sum(1, keepdim=True)
        if _scalar(alpha, 1):
            return torch.abs(h, out=tmp).sum(1, keepdim=True)
        return torch.abs(h, out=tmp).pow_(alpha).sum(1, keepdim=True)

    @staticmethod
    def _moment_grad(gh: torch.Tensor, h: torch.Tensor, alpha, c: torch.Tensor,
                     tmp: torch.Tensor, add: bool) -> None:
        """gh (+)= c · ∂(B·E_b|h|^α)/∂h / α = c · |h|^{α-1}·sign(h), with c = coef·α/B (M, 1, u)
        or (M, 1, 1) (see `_hidden_gradient`); `add` False overwrites gh."""
        if _scalar(alpha, 2):
            term = h
        elif _scalar(alpha, 1):
            term = torch.sign(h, out=tmp)
        else:
            term = torch.abs(h, out=tmp).pow_(alpha - 1).mul_(torch.sign(h))
        if add:
            gh.addcmul_(term, c)
        else:
            torch.mul(term, c, out=gh)

    # -- the step -----------------------------------------------------------------------------
    @torch.no_grad()
    def __call__(self, x: torch.Tensor, y: torch.Tensor, grads: Sequence[torch.Tensor]):
        """Losses per member and gradients written into `grads` (ordered as model.parameters()).

        x (M, B, in) and y (M, B, out), any strides; returns (total, task), each (M,).
        """
        return self.step(x, y, grads)

    def step(self, x: torch.Tensor, y: torch.Tensor, grads: Sequence[torch.Tensor]):
        """`__call__` without the no_grad guard (the caller holds one: the training loop)."""
        self._views()
        last = len(self.layers) - 1
        ws = self.workspace(x.shape[1], x)
        w, wt, bias = self.w, self.wt, self.b
        noise_site, dropout, out_t = self.noise_site, self.dropout_p > 0, self.out_t
        act_, act_backward_ = self._act_, self._act_backward_
        c = ws.c

        # Forward.
        inputs, hidden, acts = [], [], []
        h = x
        for li in range(last):
            inputs.append(h)
            z = ws.z[li]
            if bias[li] is None:
                torch.bmm(h, wt[li], out=z)
            else:
                torch.baddbmm(bias[li], h, wt[li], out=z)
            a = act_(self._noise(z, ws, li) if noise_site == "pre" else z)
            acts.append(a)
            h = self._noise(a, ws, li) if noise_site == "post" else a
            if dropout:
                keep = fill_member_rand_(ws.mask[li], self.dropout_gens).ge_(self.dropout_p)
                h = torch.mul(h, keep, out=ws.h[li]).div_(c(1.0 - self.dropout_p))
            hidden.append(h)
        inputs.append(h)
        out = ws.out
        if out_t:  # z^T = W h^T: (M, out, B)
            if bias[last] is None:
                torch.bmm(w[last], ws.t(h), out=out)
            else:
                torch.baddbmm(bias[last], w[last], ws.t(h), out=out)
        elif bias[last] is None:
            torch.bmm(h, wt[last], out=out)
        else:
            torch.baddbmm(bias[last], h, wt[last], out=out)

        diff = torch.sub(out, y.transpose(1, 2) if out_t else y, out=ws.diff)
        n = diff.shape[1] * diff.shape[2]
        flat_diff = diff.view(diff.shape[0], n)
        task = torch.mul(flat_diff, flat_diff, out=ws.diff_sq.view(flat_diff.shape)).sum(1)
        task.mul_(c(1.0 / n))
        torch.mul(diff, c(2.0 / n), out=ws.g_out)

        # Weight statistics the regularisers need (small tensors), then their values.
        colsq, rowsq, colabs, rowabs = ([None] * (last + 1) for _ in range(4))
        vecdot = torch.linalg.vecdot
        for li, need_colsq, need_rowsq, need_colabs, need_rowabs in self._stat_plan:
            wl = w[li]
            if need_colsq:
                colsq[li] = vecdot(wl, wl, dim=-2)
            if need_rowsq:
                rowsq[li] = vecdot(wl, wl, dim=-1)
            if need_colabs or need_rowabs:
                ab = wl.abs()
                if need_colabs:
                    colabs[li] = ab.sum(-2)
                if need_rowabs:
                    rowabs[li] = ab.sum(-1)
        cf = self.coef_flat
        inv_b = c(1.0 / ws.batch)
        total = task
        wa_sums = []   # Σ_b |h|^α per layer: the WA moments times B
        if self.has_wa:
            wa_sums = [self._moment_sum(hk, self.wa_alpha, ws.tmp[k])
                       for k, hk in enumerate(hidden)]
            value = vecdot(torch.cat(colsq[1:], 1), torch.cat(wa_sums, 2).view(ws.members, -1))
            value.mul_(inv_b)
            total = torch.addcmul(total, cf["wa"], value)
        if self.has_activity:
            sums = [self._moment_sum(hk, self.act_alpha, ws.tmp[k]) for k, hk in enumerate(hidden)]
            total = torch.addcmul(total, cf["activity"], torch.cat(sums, 2).sum((1, 2)).mul_(inv_b))
        if self.has_l1:
            total = torch.addcmul(total, cf["l1"], torch.cat(rowabs, 1).sum(1))
        if self.has_l2:
            total = torch.addcmul(total, cf["l2"], torch.cat(colsq, 1).sum(1))
        if self.has_l12:
            value = vecdot(torch.cat(colsq[1:], 1), torch.cat(rowabs[:-1], 1))
            total = torch.addcmul(total, cf["l12"], value)
        if self.has_l21:
            value = vecdot(torch.cat(colabs[1:], 1), torch.cat(rowsq[:-1], 1))
            total = torch.addcmul(total, cf["l21"], value)

        # Backward, output layer first.
        stride = 2 if self.has_bias else 1
        g = ws.g_out
        for li in range(last, -1, -1):
            gw = grads[stride * li]
            g_t = li == last and out_t   # g is (M, out, B)
            if g_t:
                torch.bmm(g, inputs[li], out=gw)
            elif li in ws.gw_t:
                gw.copy_(torch.bmm(ws.t(inputs[li]), g, out=ws.gw_t[li]).transpose(1, 2))
            else:
                torch.bmm(ws.t(g), inputs[li], out=gw)
            lin, sgn = self._weight_coefficients(li, last, wa_sums, colsq, rowsq, colabs,
                                                 rowabs, ws)
            if lin is not None:
                gw.addcmul_(w[li], lin)
            if sgn is not None:
                gw.addcmul_(torch.sign(w[li]), sgn)
            if stride == 2:
                torch.sum(g, 2 if g_t else 1, out=grads[2 * li + 1])
            if li == 0:
                break
            k = li - 1
            gh, g_in = ws.grad[k % 2][k], ws.t(g) if g_t else g
            if self._hidden_gradient(gh, hidden[k], colsq[li], ws.tmp[k], ws):
                torch.baddbmm(gh, g_in, w[li], out=gh)  # gh is its own input: no copy
            else:
                torch.bmm(g_in, w[li], out=gh)
            if dropout:
                gh.div_(c(1.0 - self.dropout_p)).mul_(ws.mask[k])
            if noise_site == "post":
                self._noise_backward(gh, acts[k], ws, k)
            g = act_backward_(gh, acts[k])
            if noise_site == "pre":
                self._noise_backward(g, ws.z[k], ws, k)
        return total, task

    def _weight_coefficients(self, li, last, wa_sums, colsq, rowsq, colabs, rowabs, ws):
        """∂R/∂W^l = W ⊙ lin + sign(W) ⊙ sgn; lin, sgn broadcast against (M, post, pre)."""
        coef, coef2 = self.coef, self.coef2
        lin = coef2["l2"] if self.has_l2 else None
        sgn = coef["l1"] if self.has_l1 else None
        if li >= 1:  # W^l leaves hidden layer l-1: its columns are that layer's neurons
            if self.has_wa:  # 2λ·E_b|h|^α = (2λ/B)·Σ_b|h|^α
                k2 = ws.scaled("wa2/B", coef2["wa"], 1.0 / ws.batch)
                mom = wa_sums[li - 1]
                lin = k2 * mom if lin is None else torch.addcmul(lin, k2, mom)
            if self.has_l12:
                lin = _add(lin, coef2["l12"] * rowabs[li - 1].unsqueeze(1))
            if self.has_l21:
                sgn = _add(sgn, coef["l21"] * rowsq[li - 1].unsqueeze(1))
        if li < last:  # W^l enters hidden layer l: its rows are that layer's neurons
            if self.has_l12:
                sgn = _add(sgn, coef["l12"] * colsq[li + 1].unsqueeze(2))
            if self.has_l21:
                lin = _add(lin, coef2["l21"] * colabs[li + 1].unsqueeze(2))
        return lin, sgn

    def _hidden_gradient(self, gh, h, colsq_out, tmp, ws: _Workspace) -> bool:
        """Writes ∂R/∂h of the activity-dependent regularisers (WA, activity) into gh and
        returns True, or returns False when there are none. colsq_out: squared column norms
        of the weight leaving this layer."""
        wa = act = None
        if self.has_wa:
            wa = colsq_out.unsqueeze(1) * self._moment_coef(ws, "wa", self.wa_alpha)
        if self.has_activity:
            act = self._moment_coef(ws, "activity", self.act_alpha)
        if wa is not None and act is not None and _same_alpha(self.wa_alpha, self.act_alpha):
            wa, act = wa + act, None
        if wa is not None:
            self._moment_grad(gh, h, self.wa_alpha, wa, tmp, add=False)
        if act is not None:
            self._moment_grad(gh, h, self.act_alpha, act, tmp, add=wa is not None)
        return wa is not None or act is not None

    def _moment_coef(self, ws: _Workspace, term: str, alpha) -> torch.Tensor:
        """λ·α/B (M, 1, 1), cached per workspace (B)."""
        key = (term, "moment")
        t = ws._consts.get(key)
        if t is None:
            t = ws._consts[key] = self.coef[term] * alpha * (1.0 / ws.batch)
        return t


def _same_alpha(a, b) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return a is b
    return a == b
