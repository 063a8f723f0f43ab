"""The one training loop: an ensemble of M members trained in one batched computation."""
from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ..nn import make_generators
from .objective import ManualGradient, manual_gradient_unsupported, mse_per_member
from .runtime import torch_threads
from .sampler import EpochSampler


@dataclass
class Data:
    """Training and test tensors: (N, d) shared by all members, or (M, N, d) per member."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    def to(self, device) -> Data:
        return Data(*(t.to(device) for t in (self.x_train, self.y_train, self.x_test, self.y_test)))


@dataclass
class History:
    steps: list[int] = field(default_factory=list)
    train_loss: list[np.ndarray] = field(default_factory=list)   # mean task loss since last eval
    test_loss: list[np.ndarray] = field(default_factory=list)    # noise-free test MSE
    diverged_at: np.ndarray | None = None                        # step of first NaN/inf, −1 if none
    wall_s: float = 0.0                                          # training loop, wall clock
    cpu_s: float = 0.0                                           # training loop, process CPU time

    def as_arrays(self) -> dict[str, np.ndarray]:
        return {"steps": np.asarray(self.steps), "train_loss": np.stack(self.train_loss),
                "test_loss": np.stack(self.test_loss)}


def _gather_rows(t: torch.Tensor, idx: torch.Tensor, out: torch.Tensor) -> None:
    """`gather(t, idx, out=out)`; on the CPU through NumPy, ~3× faster for short rows."""
    if t.device.type == "cpu" and idx.device.type == "cpu" and t.dtype != torch.bfloat16:
        src, index, dst = t.numpy(), idx.numpy(), out.numpy()
        if t.dim() == 2:
            np.take(src, index.reshape(-1), axis=0, out=dst.reshape(-1, src.shape[-1]))
        else:
            dst[...] = np.take_along_axis(src, index[..., None], axis=1)
        return
    gather(t, idx.to(t.device), out=out)


def gather(t: torch.Tensor, idx: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """Rows idx (M, B) of a shared (N, d) or per-member (M, N, d) tensor → (M, B, d).

    `out` (M, B, d), contiguous, receives the result without allocating.
    """
    if out is None:
        if t.dim() == 2:
            return t[idx]
        return t[torch.arange(t.shape[0], device=t.device).unsqueeze(1), idx]
    if t.dim() == 2:
        torch.index_select(t, 0, idx.reshape(-1), out=out.view(-1, t.shape[-1]))
    else:
        torch.gather(t, 1, idx.unsqueeze(-1).expand(*idx.shape, t.shape[-1]), out=out)
    return out


@torch.no_grad()
def evaluate_mse(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Test MSE per member with the model in eval mode (noise and dropout off)."""
    was_training = model.training
    model.eval()
    loss = mse_per_member(model(x), y)
    model.train(was_training)
    return loss


class _Freezer:
    """Members whose loss turned NaN/inf keep the parameters they had then; the rest go on."""

    def __init__(self, params: list[nn.Parameter], members: int):
        self.params = params
        self.dead = torch.zeros(members, dtype=torch.bool)
        self.any = False
        self.saved: list[torch.Tensor] = []

    @torch.no_grad()
    def mark(self, newly_dead: torch.Tensor) -> None:
        if not self.saved:
            self.saved = [p.detach().clone() for p in self.params]
        for p, s in zip(self.params, self.saved, strict=True):
            s[newly_dead] = p[newly_dead]
        self.dead |= newly_dead
        self.any = True

    def mask_loss(self, loss: torch.Tensor) -> torch.Tensor:
        return torch.where(self.dead.to(loss.device), torch.zeros_like(loss), loss)

    @torch.no_grad()
    def zero_dead_grads(self) -> None:
        for p in self.params:
            if p.grad is not None:
                p.grad[self.dead] = 0.0

    @torch.no_grad()
    def restore(self) -> None:
        for p, s in zip(self.params, self.saved, strict=True):
            p[self.dead] = s[self.dead]


class FlatParameters:
    """Moves parameters into one contiguous buffer: each parameter becomes a view of `data` and
    its `.grad` a view of `grad`, so the optimizer updates all of them in one fused kernel."""

    # Why the padding: torch's fused CPU Adam runs a SIMD loop over the buffer and a scalar
    # loop over its last `numel % vector width` elements, and the two round differently (FMA
    # vs separate multiply-add). Unpadded, whether a member's element lands in that tail
    # depends on the ensemble's size and the member's position, so a run's bits would depend
    # on the ensemble it was packed into. Padding to a multiple of PAD elements (≥ any SIMD
    # width; the kernel's work units are 64-byte cache lines) sends every element through
    # the SIMD loop. The padding is zero and has zero gradient.
    PAD = 64

    def __init__(self, params: Sequence[torch.Tensor]):
        params = list(params)
        first = params[0]
        total = sum(p.numel() for p in params)
        padded = -(-total // self.PAD) * self.PAD
        self.data = torch.zeros(padded, dtype=first.dtype, device=first.device)
        self.grad = torch.zeros_like(self.data)
        self.params, self.grads = params, []
        offset = 0
        with torch.no_grad():
            for p in params:
                n = p.numel()
                view = self.data[offset:offset + n].view_as(p)
                view.copy_(p)
                p.data = view
                grad = self.grad[offset:offset + n].view_as(p)
                p.grad = grad
                self.grads.append(grad)
                offset += n

    @torch.no_grad()
    def release(self) -> None:
        """Give every parameter (and gradient) its own storage again, as before flattening."""
        for p in self.params:
            p.data = p.data.clone()
            if p.grad is not None:
                p.grad = p.grad.clone()

    @staticmethod
    def supported(params: Sequence[torch.Tensor]) -> bool:
        return bool(params) and len({(p.dtype, p.device) for p in params}) == 1


class FlatAdam:
    """Adam / AdamW (torch's defaults: betas 0.9/0.999, eps 1e-8) on one flat buffer.

    Uses torch's fused kernel where it exists (CPU and CUDA, torch ≥ 2.4), else the same
    update written out; both equal `torch.optim.Adam` to float rounding.
    """

    def __init__(self, flat: FlatParameters, name: str, lr: float, weight_decay: float = 0.0,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        if name not in ("adam", "adamw"):
            raise ValueError(f"optimizer must be one of ['adam', 'adamw'], got {name!r}")
        self.flat, self.decoupled = flat, name == "adamw"
        self.lr, self.weight_decay, self.betas, self.eps = lr, weight_decay, betas, eps
        self.exp_avg = torch.zeros_like(flat.data)
        self.exp_avg_sq = torch.zeros_like(flat.data)
        self.step_t = torch.zeros((), dtype=torch.float32, device=flat.data.device)
        self._one = torch.ones((), dtype=torch.float32, device=flat.data.device)
        self.steps = 0
        kernel = getattr(torch, "_fused_adamw_" if self.decoupled else "_fused_adam_", None)
        ok_dtype = flat.data.dtype in (torch.float32, torch.float64, torch.float16, torch.bfloat16)
        self._fused = kernel if (kernel is not None and ok_dtype
                                 and flat.data.device.type in ("cpu", "cuda")) else None

    @torch.no_grad()
    def step(self) -> None:
        self.raw_step()

    def raw_step(self) -> None:
        """`step` without the no_grad guard (for callers that hold one)."""
        self.steps += 1
        p, g = self.flat.data, self.flat.grad
        b1, b2 = self.betas
        if self._fused is not None:
            self.step_t.add_(self._one)   # a tensor: a Python 1 costs 4 extra ops
            self._fused([p], [g], [self.exp_avg], [self.exp_avg_sq], [], [self.step_t],
                        lr=self.lr, beta1=b1, beta2=b2, weight_decay=self.weight_decay,
                        eps=self.eps, amsgrad=False, maximize=False)
            return
        if self.weight_decay:
            if self.decoupled:
                p.mul_(1 - self.lr * self.weight_decay)
            else:
                g = g.add(p, alpha=self.weight_decay)
        self.exp_avg.lerp_(g, 1 - b1)
        self.exp_avg_sq.mul_(b2).addcmul_(g, g, value=1 - b2)
        bias1, bias2 = 1 - b1 ** self.steps, 1 - b2 ** self.steps
        denom = (self.exp_avg_sq.sqrt() / math.sqrt(bias2)).add_(self.eps)
        p.addcdiv_(self.exp_avg, denom, value=-self.lr / bias1)


ENGINES = ("auto", "manual", "autograd")


def fit(model: nn.Module, objective: Callable, data: Data, *, seeds: Sequence[int], steps: int,
        batch_size: int = 200, lr: float = 1e-3, optimizer: str = "adam", weight_decay: float = 0.0,
        eval_every: int = 500, on_eval: Callable[[int, History], None] | None = None,
        engine: str = "auto", threads: int | None = None) -> History:
    """Train all M members of `model` for `steps` Adam steps; returns the loss history.

    `objective(model, x, y)` returns (loss to minimise, task loss), each of shape (M,). Each
    member draws its mini-batches from its own generator (stream "data" of its seed), so member i
    follows the same trajectory as when trained alone. Members whose loss becomes non-finite are
    frozen at their last finite parameters and reported in `History.diverged_at`.

    engine picks only how gradients are computed; the loop, batching, divergence handling and
    the fused Adam on one flat parameter buffer are shared. "manual": `ManualGradient`
    (hand-derived backward, no autograd graph; several times faster on small networks);
    "autograd": `objective` + autograd (any model and objective); "auto" (default) takes
    "manual" whenever it supports the model and objective.
    threads: torch threads for the duration of the call (None → `runtime.default_threads()`,
    i.e. 1 unless $MODLAB_THREADS says otherwise; 0 → leave torch's setting).
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {list(ENGINES)}, got {engine!r}")
    params = [p for p in model.parameters() if p.requires_grad]
    use_manual = engine == "manual"
    if engine != "autograd":
        reason = manual_gradient_unsupported(objective, model)
        if reason is None and not FlatParameters.supported(params):
            reason = "parameters differ in dtype or device"
        if reason is not None and engine == "manual":
            raise ValueError(f"engine='manual' cannot train this model: {reason}")
        use_manual = reason is None
    with torch_threads(threads):
        return _fit(model, objective, data, seeds=seeds, steps=steps, batch_size=batch_size,
                    lr=lr, optimizer=optimizer, weight_decay=weight_decay,
                    eval_every=eval_every, on_eval=on_eval, manual=use_manual)


def _record_eval(model, data: Data, history: History, freezer: _Freezer, step: int,
                 running: torch.Tensor, since_eval: int, on_eval) -> None:
    """Log the mean task loss since the last evaluation and the test loss, then reset the
    running sum and call the user's callback."""
    history.steps.append(step)
    history.train_loss.append((running / since_eval).cpu().numpy())
    test = evaluate_mse(model, data.x_test, data.y_test).cpu().numpy()
    test[freezer.dead.numpy()] = np.nan
    history.test_loss.append(test)
    running.zero_()
    if on_eval is not None:
        on_eval(step, history)


class _ManualStep:
    """Gradients from the hand-derived backward pass, written straight into the flat buffer.
    Runs in inference mode: no autograd bookkeeping (~20 % less per-op overhead at M = 1)."""

    context = staticmethod(torch.inference_mode)

    def __init__(self, model, objective, flat: FlatParameters):
        self._step, self._grads = ManualGradient(objective, model).step, flat.grads

    def __call__(self, x, y):
        return self._step(x, y, self._grads)


class _AutogradStep:
    """Gradients from `objective` + autograd, copied into the flat buffer (any model)."""

    context = staticmethod(nullcontext)

    def __init__(self, model, objective, flat: FlatParameters):
        self.model, self.objective, self._grads = model, objective, flat.grads
        self._params = flat.params

    def __call__(self, x, y):
        loss, task = self.objective(self.model, x, y)
        # A diverged member's NaN loss only reaches its own parameters' gradients (the sum's
        # derivative is 1 per member); the freezer zeroes those.
        grads = torch.autograd.grad(loss.sum(), self._params, allow_unused=True)
        with torch.no_grad():
            for out, g in zip(self._grads, grads, strict=True):
                out.zero_() if g is None else out.copy_(g)
        return loss.detach(), task.detach()


def _fit(model, objective, data: Data, *, seeds, steps, batch_size, lr, optimizer,
         weight_decay, eval_every, on_eval, manual: bool) -> History:
    members = len(seeds)
    params = [p for p in model.parameters() if p.requires_grad]
    if not FlatParameters.supported(params):
        raise ValueError("fit needs parameters of one dtype on one device")
    flat = FlatParameters(params)
    opt = FlatAdam(flat, optimizer, lr, weight_decay)
    gradient_step = (_ManualStep if manual else _AutogradStep)(model, objective, flat)
    opt_step = opt.raw_step if manual else opt.step   # raw: already inside inference mode
    device = flat.data.device
    sampler = EpochSampler(data.x_train.shape[-2], batch_size, make_generators(seeds, "data"))
    freezer = _Freezer(params, members)
    history = History(diverged_at=np.full(members, -1))
    running = torch.zeros(members, device=device)
    since_eval = 0
    # x and y side by side, so that one gather per epoch fetches both; per step, views.
    xy = torch.cat([data.x_train, data.y_train], -1)
    dx = data.x_train.shape[-1]
    xy_epoch = torch.empty(members, xy.shape[-2], xy.shape[-1], dtype=xy.dtype, device=xy.device)
    start, cpu_start = time.perf_counter(), time.process_time()
    model.train()
    with _gc_paused() as gc_was_enabled:
        for step in range(1, steps + 1):
            evaluate = step % eval_every == 0 or step == steps
            with gradient_step.context():
                perm, lo, hi = sampler.next_span()
                if lo == 0:  # a new epoch: gather its data once, then slice views per step
                    _gather_rows(xy, perm, xy_epoch)
                batch = xy_epoch[:, lo:hi]
                total, task = gradient_step(batch[..., :dx], batch[..., dx:])
                if not math.isfinite(float(total.sum())):
                    finite = torch.isfinite(total).cpu()
                    newly = ~finite & ~freezer.dead
                    if bool(newly.any()):
                        history.diverged_at[newly.numpy()] = step
                        freezer.mark(newly)
                if freezer.any:
                    task = freezer.mask_loss(task)
                    freezer.zero_dead_grads()
                    opt_step()
                    freezer.restore()
                else:
                    opt_step()
                # One add per step, not a block sum: a (steps, M) reduction's summation order
                # depends on M, and a member's logged losses must not.
                running.add_(task)
                since_eval += 1
            if evaluate:
                with _gc_enabled(gc_was_enabled):
                    _record_eval(model, data, history, freezer, step, running, since_eval,
                                 on_eval)
                    since_eval = 0
    history.wall_s = time.perf_counter() - start
    history.cpu_s = time.process_time() - cpu_start
    flat.release()
    return history


@contextmanager
def _gc_paused():
    """No cyclic garbage collection in the hot loop: it creates no reference cycles, and the
    collector's passes over torch's many objects cost ~5-10 % of a small ensemble's step."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield was
    finally:
        if was:
            gc.enable()


@contextmanager
def _gc_enabled(enable: bool):
    """Collector back on (if it was before the loop) for evaluation and user callbacks."""
    if enable:
        gc.enable()
    try:
        yield
    finally:
        gc.disable()
