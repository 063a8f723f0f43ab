"""One flat parameter buffer and one fused Adam over it (the optimiser of `fit`)."""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch


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

    clip > 0 clamps every gradient value to [−clip, clip] before the update (Yang et al. 2019,
    gyyang/multitask network.py: ±1). On the flat buffer, so it acts the same whichever
    engine filled it, and per value, so a member's update never depends on its ensemble.
    warmup > 0 ramps the learning rate linearly from lr/warmup at the first step to lr at step
    `warmup` (Goyal et al. 2017, "Accurate, large minibatch SGD", §2.2): Adam's first updates
    move every weight by ≈ lr at once, whatever the size of its gradient.
    """

    def __init__(self, flat: FlatParameters, name: str, lr: float, weight_decay: float = 0.0,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 clip: float = 0.0, warmup: int = 0):
        if clip < 0:
            raise ValueError(f"clip must be >= 0 (0 = off), got {clip}")
        if warmup < 0:
            raise ValueError(f"warmup must be >= 0 steps (0 = off), got {warmup}")
        if name not in ("adam", "adamw"):
            raise ValueError(f"optimizer must be one of ['adam', 'adamw'], got {name!r}")
        self.flat, self.decoupled = flat, name == "adamw"
        self.lr, self.weight_decay, self.betas, self.eps = lr, weight_decay, betas, eps
        self.clip, self.warmup = clip, warmup
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

    def _views_of(self, param: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """param's slices of the two moment buffers, shaped like param."""
        for p in self.flat.params:
            if p is param:
                offset = (p.data_ptr() - self.flat.data.data_ptr()) // p.element_size()
                n = p.numel()
                return (self.exp_avg[offset:offset + n].view_as(p),
                        self.exp_avg_sq[offset:offset + n].view_as(p))
        raise ValueError("permute_: the tensor is not one of the optimised parameters")

    @torch.no_grad()
    def permute_(self, param: torch.Tensor, dim: int, index: torch.Tensor,
                 member: int | None = None) -> None:
        """Reorder param's Adam moments along `dim` by `index` (new[i] = old[index[i]]), for one
        member (dims counted after the member dim) or all: a neuron swap that permutes a
        weight's rows or columns moves that neuron's optimiser state with it."""
        for buf in self._views_of(param):
            view = buf if member is None else buf[member]
            view.copy_(view.index_select(dim, index.to(view.device)))

    def state_tensors(self) -> dict[str, torch.Tensor]:
        return {"exp_avg": self.exp_avg, "exp_avg_sq": self.exp_avg_sq,
                "step_t": self.step_t.reshape(1),
                "steps": torch.tensor([self.steps], dtype=torch.int64)}

    @torch.no_grad()
    def load_state_tensors(self, state: dict[str, torch.Tensor]) -> None:
        self.exp_avg.copy_(state["exp_avg"])
        self.exp_avg_sq.copy_(state["exp_avg_sq"])
        self.step_t.copy_(state["step_t"].reshape(()))
        self.steps = int(state["steps"][0])

    def raw_step(self) -> None:
        """`step` without the no_grad guard (for callers that hold one)."""
        self.steps += 1
        p, g = self.flat.data, self.flat.grad
        if self.clip:
            g.clamp_(-self.clip, self.clip)
        b1, b2 = self.betas
        lr = self.lr * min(1.0, self.steps / self.warmup) if self.warmup else self.lr
        if self._fused is not None:
            self.step_t.add_(self._one)   # a tensor: a Python 1 costs 4 extra ops
            self._fused([p], [g], [self.exp_avg], [self.exp_avg_sq], [], [self.step_t],
                        lr=lr, beta1=b1, beta2=b2, weight_decay=self.weight_decay,
                        eps=self.eps, amsgrad=False, maximize=False)
            return
        if self.weight_decay:
            if self.decoupled:
                p.mul_(1 - lr * self.weight_decay)
            else:
                g = g.add(p, alpha=self.weight_decay)
        self.exp_avg.lerp_(g, 1 - b1)
        self.exp_avg_sq.mul_(b2).addcmul_(g, g, value=1 - b2)
        bias1, bias2 = 1 - b1 ** self.steps, 1 - b2 ** self.steps
        denom = (self.exp_avg_sq.sqrt() / math.sqrt(bias2)).add_(self.eps)
        p.addcdiv_(self.exp_avg, denom, value=-lr / bias1)
