"""Hand-derived forward and backward pass of modlab's MLP under an `Objective` (perf).

The same losses and gradients as `objective(model, x, y)` in training mode followed by
`total.sum().backward()` (same noise and dropout draws: same per-member generators, same
order), but with every large intermediate in preallocated buffers and about a third of the
kernel launches: no graph, no per-step allocation of (M, B, units) tensors. The regularisers
are the records of `train.terms`: the engine computes the weight statistics they ask for once
per step and adds each term's value and gradient contributions.
tests/test_performance.py checks it against autograd for every activation, noise site,
dropout and regulariser.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch

from ..nn import MLP
from ..nn.rng import fill_member_rand_, fill_member_randn_
from .objective import Objective
from .terms import TERMS, Stats, needed_statistics

_MANUAL_ACTIVATIONS = ("leaky_relu", "relu", "tanh", "sigmoid", "identity")


def _alpha_ok(alpha) -> bool:
    if isinstance(alpha, torch.Tensor):
        return bool((alpha >= 1).all())
    return alpha >= 1


def manual_gradient_unsupported(objective, model, batch_size: int | None = None) -> str | None:
    """Why `ManualGradient` cannot train this (model, objective), or None when it can."""
    if not isinstance(objective, Objective) or objective.task_loss.__name__ != "masked_mse":
        return f"objective is {type(objective).__name__}, not the MSE Objective"
    if not isinstance(model, MLP):
        return f"model is {type(model).__name__}, not modlab's MLP"
    if model.activation_name not in _MANUAL_ACTIVATIONS:
        return f"activation {model.activation_name!r}"
    if any(not p.requires_grad for p in model.parameters()):
        return "some parameters are frozen (requires_grad=False)"
    for name in objective.active:
        term = TERMS[name]
        if not term.manual:
            return f"the {name!r} regulariser has no hand-derived gradient"
        if term.uses_moments and not _alpha_ok(objective.params[term.alpha]):
            return f"{term.alpha} < 1 (|h|^(α-1) is unbounded at 0)"
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
        self._derived: dict = {}
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

    def k(self, coef: torch.Tensor, factor, per_batch: bool = False) -> torch.Tensor:
        """coef · factor (/ B when per_batch), built once and reused every step; `refresh`
        drops these when the coefficients change (the λ schedule)."""
        key = (id(coef), factor if type(factor) in (float, int) else id(factor), per_batch)
        t = self._derived.get(key)
        if t is None:
            t = coef * factor
            if per_batch:
                t = t * (1.0 / self.batch)
            self._derived[key] = t
        return t

    def refresh(self) -> None:
        self._derived.clear()


class ManualGradient:
    """Per-member (total, task) losses of an `Objective` on a modlab `MLP`, and the exact
    gradient of their sum written into given tensors, without autograd."""

    model_type = MLP
    follows = ("forward_hidden", "forward")      # see train.engines

    @staticmethod
    def unsupported(objective, model, batch_size: int | None = None,
                    masked: bool = False) -> str | None:
        if masked:
            return "the data has a loss mask"
        return manual_gradient_unsupported(objective, model, batch_size)

    def __init__(self, objective: Objective, model: MLP):
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
        self.terms = [TERMS[t] for t in objective.active]
        # views of the objective's coefficient tensors: the schedule updates them in place
        self.coef = {t.name: objective.coef[t.name].view(m, 1, 1) for t in self.terms}
        self.coef_flat = {t.name: objective.coef[t.name].view(m) for t in self.terms}
        self.params = objective.params
        self.weight_terms = [t for t in self.terms if t.weight_grad is not None]
        self.moment_terms = [t for t in self.terms if t.uses_moments]
        # moment terms with the same exponent share Σ_b|h|^α and one gradient pass
        self.moment_groups: dict = {}
        for t in self.moment_terms:
            alpha = self.params[t.alpha]
            key = alpha if not isinstance(alpha, torch.Tensor) else id(alpha)
            self.moment_groups.setdefault(key, (alpha, []))[1].append(t)
        need = needed_statistics(self.terms, len(self.layers))
        self._stat_plan = [(li, li in need["colsq"], li in need["rowsq"], li in need["colabs"],
                            li in need["rowabs"]) for li in range(len(self.layers))]
        self._act_, self._act_backward_ = _activation_functions(self.act)
        self._workspaces: dict[tuple, _Workspace] = {}
        self._views_key: tuple = ()
        self.stats = Stats()
        self.stats.last = len(self.layers) - 1
        objective.listeners.append(self.refresh)

    def refresh(self) -> None:
        """The coefficients changed: rebuild the constants derived from them."""
        for ws in self._workspaces.values():
            ws.refresh()

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
        """gh (+)= c · |h|^{α-1}·sign(h), i.e. c·∂(Σ_b|h|^α)/∂h / α, with c (M, 1, u) or
        (M, 1, 1); `add` False overwrites gh."""
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
        return self.step(x, y, None, grads)

    def _forward(self, x, ws: _Workspace):
        """Hidden layers and output into the workspace; returns (inputs, hidden, acts, out)."""
        last = len(self.layers) - 1
        w, wt, bias = self.w, self.wt, self.b
        noise_site, dropout, c = self.noise_site, self.dropout_p > 0, ws.c
        inputs, hidden, acts = [], [], []
        h = x
        for li in range(last):
            inputs.append(h)
            z = ws.z[li]
            if bias[li] is None:
                torch.bmm(h, wt[li], out=z)
            else:
                torch.baddbmm(bias[li], h, wt[li], out=z)
            a = self._act_(self._noise(z, ws, li) if noise_site == "pre" else z)
            acts.append(a)
            h = self._noise(a, ws, li) if noise_site == "post" else a
            if dropout:
                keep = fill_member_rand_(ws.mask[li], self.dropout_gens).ge_(self.dropout_p)
                h = torch.mul(h, keep, out=ws.h[li]).div_(c(1.0 - self.dropout_p))
            hidden.append(h)
        inputs.append(h)
        out = ws.out
        if self.out_t:  # z^T = W h^T: (M, out, B)
            if bias[last] is None:
                torch.bmm(w[last], ws.t(h), out=out)
            else:
                torch.baddbmm(bias[last], w[last], ws.t(h), out=out)
        elif bias[last] is None:
            torch.bmm(h, wt[last], out=out)
        else:
            torch.baddbmm(bias[last], h, wt[last], out=out)
        return inputs, hidden, acts, out

    def _statistics(self, ws: _Workspace, hidden) -> Stats:
        """The weight statistics and activity moments the active terms read."""
        st, w, last = self.stats, self.w, len(self.layers) - 1
        st.colsq, st.rowsq, st.colabs, st.rowabs = ([None] * (last + 1) for _ in range(4))
        vecdot = torch.linalg.vecdot
        for li, need_colsq, need_rowsq, need_colabs, need_rowabs in self._stat_plan:
            wl = w[li]
            if need_colsq:
                st.colsq[li] = vecdot(wl, wl, dim=-2)
            if need_rowsq:
                st.rowsq[li] = vecdot(wl, wl, dim=-1)
            if need_colabs or need_rowabs:
                ab = wl.abs()
                if need_colabs:
                    st.colabs[li] = ab.sum(-2)
                if need_rowabs:
                    st.rowabs[li] = ab.sum(-1)
        st.moments = {}
        for alpha, terms in self.moment_groups.values():
            sums = [self._moment_sum(hk, alpha, ws.tmp[k]) for k, hk in enumerate(hidden)]
            for t in terms:
                st.moments[t.name] = sums
        st.weights = w
        st.inv_b = ws.c(1.0 / ws.batch)
        return st

    def step(self, x: torch.Tensor, y: torch.Tensor, mask, grads: Sequence[torch.Tensor]):
        """`__call__` without the no_grad guard (the caller holds one: the training loop);
        mask must be None (see `unsupported`)."""
        self._views()
        last = len(self.layers) - 1
        ws = self.workspace(x.shape[1], x)
        w, c, out_t = self.w, ws.c, self.out_t
        inputs, hidden, acts, out = self._forward(x, ws)

        diff = torch.sub(out, y.transpose(1, 2) if out_t else y, out=ws.diff)
        n = diff.shape[1] * diff.shape[2]
        flat_diff = diff.view(diff.shape[0], n)
        task = torch.mul(flat_diff, flat_diff, out=ws.diff_sq.view(flat_diff.shape)).sum(1)
        task.mul_(c(1.0 / n))
        torch.mul(diff, c(2.0 / n), out=ws.g_out)

        st = self._statistics(ws, hidden)
        total = task
        for term in self.terms:
            total = torch.addcmul(total, self.coef_flat[term.name], term.manual_value(st))

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
            lin, sgn = self._weight_coefficients(st, li, ws)
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
            if self._hidden_gradient(st, gh, hidden[k], k, ws):
                torch.baddbmm(gh, g_in, w[li], out=gh)  # gh is its own input: no copy
            else:
                torch.bmm(g_in, w[li], out=gh)
            if self.dropout_p > 0:
                gh.div_(c(1.0 - self.dropout_p)).mul_(ws.mask[k])
            if self.noise_site == "post":
                self._noise_backward(gh, acts[k], ws, k)
            g = self._act_backward_(gh, acts[k])
            if self.noise_site == "pre":
                self._noise_backward(g, ws.z[k], ws, k)
        return total, task

    def _weight_coefficients(self, st: Stats, li: int, ws: _Workspace):
        """∂R/∂W^l = W ⊙ lin + sign(W) ⊙ sgn summed over the terms; broadcast against
        (M, post, pre)."""
        lin = sgn = None
        for term in self.weight_terms:
            a, b = term.weight_grad(st, li, self.coef[term.name], ws.k)
            if a is not None:
                lin = a if lin is None else lin + a
            if b is not None:
                sgn = b if sgn is None else sgn + b
        return lin, sgn

    def _hidden_gradient(self, st: Stats, gh, h, k: int, ws: _Workspace) -> bool:
        """Writes ∂R/∂h of the activity-moment terms into gh and returns True, or returns
        False when there are none."""
        written = False
        for alpha, terms in self.moment_groups.values():
            coef = None
            for t in terms:
                part = t.hidden_coef(st, k, self.coef[t.name], alpha, ws.k)
                coef = part if coef is None else coef + part
            self._moment_grad(gh, h, alpha, coef, ws.tmp[k], add=written)
            written = True
        return written
