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
from .checkpoint import Checkpoint, module_generators
from .data import Data, EpochGather, Stream, gather  # noqa: F401  (gather: public re-export)
from .engines import select_engine
from .objective import mse_per_member
from .optim import FlatAdam, FlatParameters
from .runtime import torch_threads
from .sampler import EpochSampler

# A finite loss this many times its first value counts as diverged (it would otherwise pass
# as a result: a run at 1e28 has learned nothing).
EXPLOSION = 1e6


@dataclass
class History:
    steps: list[int] = field(default_factory=list)
    train_loss: list[np.ndarray] = field(default_factory=list)   # mean task loss since last eval
    test_loss: list[np.ndarray] = field(default_factory=list)    # noise-free test loss
    train_eval: list[np.ndarray] = field(default_factory=list)   # noise-free loss, whole train set
    extra: dict[str, list] = field(default_factory=dict)         # what callbacks record
    diverged_at: np.ndarray | None = None                        # step of divergence, −1 if none
    wall_s: float = 0.0                                          # training loop, wall clock
    cpu_s: float = 0.0                                           # training loop, process CPU time

    def as_arrays(self) -> dict[str, np.ndarray]:
        out = {"steps": np.asarray(self.steps), "train_loss": np.stack(self.train_loss),
               "test_loss": np.stack(self.test_loss)}
        if self.train_eval:
            out["train_eval"] = np.stack(self.train_eval)
        return out


class Callback:
    """Hooks into `fit`. `on_step` runs after every optimiser step and may change parameters in
    place (e.g. BIMT's neuron swaps, which also call `optimizer.permute_` so the moments move
    with the neurons); `on_eval` after every evaluation. `state`/`load_state` carry what a
    callback must remember across a checkpoint (JSON-able)."""

    def on_step(self, step: int, model: nn.Module, optimizer: FlatAdam) -> None:
        pass

    def on_eval(self, step: int, history: History) -> None:
        pass

    def diverged(self, step: int, history: History, model: nn.Module) -> torch.Tensor | None:
        """After each evaluation, before `finished`: a (M,) bool mask of members whose state
        has run away although their loss has not (e.g. exploding activity under a bounded
        loss). They are reported in `History.diverged_at` and frozen like members whose
        loss diverged. None: nobody."""
        return None

    def finished(self, step: int, history: History, model: nn.Module) -> torch.Tensor | None:
        """After each evaluation: a (M,) bool mask of members that are done (e.g. reached an
        accuracy criterion). They keep their parameters from then on; when every member is
        done or diverged, training ends. None: nobody is done."""
        return None

    def state(self) -> dict:
        return {}

    def load_state(self, state: dict) -> None:
        pass


class _EvalCallback(Callback):
    """The 0.1 `on_eval(step, history)` function as a callback."""

    def __init__(self, fn):
        self.fn = fn

    def on_eval(self, step, history):
        self.fn(step, history)


@torch.no_grad()
def evaluate_mse(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Test MSE per member with the model in eval mode (noise and dropout off)."""
    was_training = model.training
    model.eval()
    loss = mse_per_member(model(x), y)
    model.train(was_training)
    return loss


class _Freezer:
    """Members whose loss diverged keep the parameters they had then; the rest go on.
    Parameters are member-major ((M·k, …) for block parameters), so each is viewed (M, −1)."""

    def __init__(self, params: list[nn.Parameter], members: int):
        self.params, self.members = params, members
        self.dead = torch.zeros(members, dtype=torch.bool)
        self.any = False
        self.saved: list[torch.Tensor] = []

    def _rows(self, t: torch.Tensor) -> torch.Tensor:
        return t.view(self.members, -1)

    @torch.no_grad()
    def mark(self, newly_dead: torch.Tensor) -> None:
        """Freeze these members at their current parameters (the step's loss was computed from
        them: the last finite ones, or the ones at which the loss exploded)."""
        if not self.saved:
            self.saved = [p.detach().clone() for p in self.params]
        for p, s in zip(self.params, self.saved, strict=True):
            self._rows(s)[newly_dead] = self._rows(p.data)[newly_dead]
        self.dead |= newly_dead
        self.any = True

    def mask_loss(self, loss: torch.Tensor) -> torch.Tensor:
        return torch.where(self.dead.to(loss.device), torch.zeros_like(loss), loss)

    @torch.no_grad()
    def zero_dead_grads(self) -> None:
        for p in self.params:
            if p.grad is not None:
                self._rows(p.grad)[self.dead.to(p.device)] = 0.0

    @torch.no_grad()
    def restore(self) -> None:
        for p, s in zip(self.params, self.saved, strict=True):
            dead = self.dead.to(p.device)
            self._rows(p.data)[dead] = self._rows(s)[dead]


class _FixedBatches:
    """Mini-batches of a fixed `Data`: each member reshuffles its own rows every epoch."""

    def __init__(self, data: Data, members: int, seeds: Sequence[int], batch_size: int):
        self.sampler = EpochSampler(data.n_train, batch_size, make_generators(seeds, "data"))
        self.gather = EpochGather(data, members)

    def next(self):
        perm, lo, hi = self.sampler.next_span()
        if lo == 0:  # a new epoch: gather its data once, then slice views per step
            self.gather.new_epoch(perm)
        return self.gather.batch(lo, hi)

    def state(self) -> dict:
        return self.sampler.state()

    def load_state(self, state: dict) -> None:
        self.sampler.load_state(state)
        if self.sampler.has_epoch:
            self.gather.new_epoch(self.sampler.permutation)


class _StreamBatches:
    """Trials drawn afresh every step, member i from its own NumPy generator."""

    def __init__(self, stream: Stream, seeds: Sequence[int], batch_size: int, device):
        from ..nn.rng import derive_seed

        self.stream, self.batch_size, self.device = stream, batch_size, device
        self.rngs = [np.random.default_rng(derive_seed(int(s), "data")) for s in seeds]

    def next(self):
        x, y, mask = self.stream.sample(self.rngs, self.batch_size)
        return tuple(None if t is None else t.to(self.device) for t in (x, y, mask))

    def state(self) -> dict:
        return {"rngs": [g.bit_generator.state for g in self.rngs]}

    def load_state(self, state: dict) -> None:
        for g, s in zip(self.rngs, state["rngs"], strict=True):
            g.bit_generator.state = s


ENGINES = ("auto", "manual", "autograd")


def fit(model: nn.Module, objective: Callable, data: Data | Stream, *, seeds: Sequence[int],
        steps: int, batch_size: int = 200, lr: float = 1e-3, optimizer: str = "adam",
        weight_decay: float = 0.0, eval_every: int = 500,
        on_eval: Callable[[int, History], None] | None = None,
        callbacks: Sequence[Callback] = (), schedule: Callable[[int], torch.Tensor] | None = None,
        eval_train: bool = False, checkpoint: Checkpoint | None = None,
        engine: str = "auto", threads: int | None = None, clip: float = 0.0,
        warmup: int = 0) -> History:
    """Train all M members of `model` for `steps` Adam steps; returns the loss history.

    `objective(model, x, y, mask)` returns (loss to minimise, task loss), each (M,), and
    `objective.evaluate(model, x, y, mask)` the noise-free task loss (plain callables: MSE).
    `data`: fixed tensors (`Data`, mini-batches reshuffled per epoch by each member from its own
    stream "data") or a `Stream` of fresh trials (member i draws from its own generator). So
    member i follows the same trajectory, bit for bit, as when trained alone.

    Members whose loss becomes non-finite are frozen at their last finite parameters, those
    whose loss exceeds EXPLOSION × its first value at their parameters then; both are reported
    in `History.diverged_at`. `callbacks`: see `Callback`. `schedule(step)` → (M,) factors on
    the regulariser coefficients (`objective.set_factor`), applied when they change.
    `checkpoint`: every `checkpoint.every` steps the whole training state (parameters,
    optimiser, random streams, history) is saved; a run restarted with the same checkpoint
    path resumes there and ends bitwise identical to an uninterrupted run.

    engine picks only how gradients are computed; the loop, batching, divergence handling and
    the fused Adam on one flat parameter buffer are shared. "manual": a hand-derived backward
    (modlab's MLP: `engine_mlp.ManualGradient`; several times faster on small networks);
    "autograd": `objective` + autograd (any model and objective); "auto" (default) takes the
    manual engine whenever it supports the model and objective.
    threads: torch threads for the duration of the call (None → `runtime.default_threads()`,
    i.e. 1 unless $MODLAB_THREADS says otherwise; 0 → leave torch's setting).
    clip: clamp every gradient value to ±clip before the Adam update; warmup: ramp the
    learning rate linearly over the first `warmup` steps (0 = off for both; `FlatAdam`).
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {list(ENGINES)}, got {engine!r}")
    params = [p for p in model.parameters() if p.requires_grad]
    if not FlatParameters.supported(params):
        raise ValueError("fit needs parameters of one dtype on one device")
    masked = not isinstance(data, Data) or data.mask_train is not None
    manual = select_engine(engine, model, objective, batch_size, masked)
    loop_callbacks = list(callbacks) + ([_EvalCallback(on_eval)] if on_eval else [])
    with torch_threads(threads):
        return _Loop(model, objective, data, seeds, steps, batch_size, lr, optimizer,
                     weight_decay, eval_every, loop_callbacks, schedule, eval_train,
                     checkpoint, manual, clip, warmup).run()


class _AutogradStep:
    """Gradients from `objective` + autograd, copied into the flat buffer (any model)."""

    context = staticmethod(nullcontext)

    def __init__(self, model, objective, flat: FlatParameters):
        self.model, self.objective, self._grads = model, objective, flat.grads
        self._params = flat.params

    def __call__(self, x, y, mask):
        loss, task = self.objective(self.model, x, y, mask) if mask is not None \
            else self.objective(self.model, x, y)
        # A diverged member's NaN loss only reaches its own parameters' gradients (the sum's
        # derivative is 1 per member); the freezer zeroes those.
        grads = torch.autograd.grad(loss.sum(), self._params, allow_unused=True)
        with torch.no_grad():
            for out, g in zip(self._grads, grads, strict=True):
                out.zero_() if g is None else out.copy_(g)
        return loss.detach(), task.detach()


def _evaluate(objective, model, x, y, mask):
    if hasattr(objective, "evaluate"):
        return objective.evaluate(model, x, y, mask)
    return evaluate_mse(model, x, y)


class _Loop:
    """The state of one `fit` call; `run` is the loop."""

    def __init__(self, model, objective, data, seeds, steps, batch_size, lr, optimizer,
                 weight_decay, eval_every, callbacks, schedule, eval_train, checkpoint, manual,
                 clip=0.0, warmup=0):
        self.model, self.objective, self.data = model, objective, data
        self.members, self.steps, self.eval_every = len(seeds), steps, eval_every
        self.callbacks, self.schedule, self.eval_train = callbacks, schedule, eval_train
        self.checkpoint = checkpoint
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.flat = FlatParameters(self.params)
        self.opt = FlatAdam(self.flat, optimizer, lr, weight_decay, clip=clip, warmup=warmup)
        self.gradient_step = (manual or _AutogradStep)(model, objective, self.flat)
        self.opt_step = self.opt.raw_step if manual else self.opt.step   # raw: in inference mode
        device = self.flat.data.device
        self.batches = (_FixedBatches(data, self.members, seeds, batch_size)
                        if isinstance(data, Data) else _StreamBatches(data, seeds, batch_size, device))
        self.freezer = _Freezer(self.params, self.members)
        self.history = History(diverged_at=np.full(self.members, -1))
        self.running = torch.zeros(self.members, device=device)
        self.first = torch.full((self.members,), math.nan, device=device)
        self.since_eval = 0
        self.start_step = 1
        self.factors: torch.Tensor | None = None

    # -- checkpoints ----------------------------------------------------------------------
    def _state(self, step: int) -> tuple[dict, dict]:
        tensors = {"params": self.flat.data, "running": self.running, "first": self.first,
                   "dead": self.freezer.dead, **{f"opt.{k}": v for k, v in
                                                 self.opt.state_tensors().items()}}
        if self.freezer.saved:
            tensors.update({f"frozen.{i}": s for i, s in enumerate(self.freezer.saved)})
        for name, gens in module_generators(self.model).items():
            for i, g in enumerate(gens):
                tensors[f"gen.{name}.{i}"] = g.get_state()
        h = self.history
        meta = {"step": step, "since_eval": self.since_eval, "any_dead": self.freezer.any,
                "batches": self.batches.state(),
                "callbacks": self._callback_states(),
                "history": {"steps": h.steps, "train_loss": [a.tolist() for a in h.train_loss],
                            "test_loss": [a.tolist() for a in h.test_loss],
                            "train_eval": [a.tolist() for a in h.train_eval],
                            "extra": h.extra, "diverged_at": h.diverged_at.tolist(),
                            "wall_s": h.wall_s + time.perf_counter() - self._t0,
                            "cpu_s": h.cpu_s + time.process_time() - self._c0}}
        return tensors, meta

    @torch.no_grad()
    def _restore(self, tensors: dict, meta: dict) -> None:
        self.flat.data.copy_(tensors["params"])
        self.running.copy_(tensors["running"])
        self.first.copy_(tensors["first"])
        self.freezer.dead.copy_(tensors["dead"])
        self.freezer.any = meta["any_dead"]
        frozen = sorted((k for k in tensors if k.startswith("frozen.")),
                        key=lambda k: int(k.split(".")[1]))
        self.freezer.saved = [tensors[k].clone() for k in frozen]
        self.opt.load_state_tensors({k[4:]: v for k, v in tensors.items() if k.startswith("opt.")})
        for name, gens in module_generators(self.model).items():
            for i, g in enumerate(gens):
                g.set_state(tensors[f"gen.{name}.{i}"])
        self.batches.load_state(meta["batches"])
        states = meta["callbacks"]
        for key, c in self._keyed_callbacks():
            if key in states:
                c.load_state(states[key])
        h, saved = self.history, meta["history"]
        h.steps = list(saved["steps"])
        for key in ("train_loss", "test_loss", "train_eval"):
            setattr(h, key, [np.asarray(a, dtype=np.float32) for a in saved[key]])
        h.extra, h.diverged_at = saved["extra"], np.asarray(saved["diverged_at"])
        h.wall_s, h.cpu_s = saved["wall_s"], saved["cpu_s"]
        self.since_eval = meta["since_eval"]
        self.start_step = meta["step"] + 1

    def _keyed_callbacks(self):
        """Callbacks keyed by class name and rank among callbacks of that class."""
        seen: dict[str, int] = {}
        for c in self.callbacks:
            name = type(c).__qualname__
            seen[name] = seen.get(name, -1) + 1
            yield f"{name}.{seen[name]}", c

    def _callback_states(self) -> dict:
        return {k: st for k, c in self._keyed_callbacks() if (st := c.state())}

    # -- the loop -------------------------------------------------------------------------
    def _apply_schedule(self, step: int) -> None:
        factors = self.schedule(step)
        if self.factors is None or not torch.equal(factors, self.factors):
            self.objective.set_factor(factors)
            self.factors = factors

    def _check(self, step: int, total: torch.Tensor, task: torch.Tensor) -> None:
        """Freeze members whose loss is non-finite, or has exploded, at this step."""
        if step == 1 or bool(torch.isnan(self.first).any()):
            self.first = torch.where(torch.isnan(self.first) & torch.isfinite(task),
                                     task.detach(), self.first)
        finite = torch.isfinite(total).cpu()
        exploded = (task.detach() > EXPLOSION * self.first).cpu() & finite
        newly = (~finite | exploded) & ~self.freezer.dead
        if bool(newly.any()):
            self.history.diverged_at[newly.numpy()] = step
            self.freezer.mark(newly)

    def _record_eval(self, step: int) -> None:
        """Log the mean task loss since the last evaluation and the test loss, then reset the
        running sum and call the callbacks."""
        h, data = self.history, self.data
        h.steps.append(step)
        h.train_loss.append((self.running / self.since_eval).cpu().numpy())
        x, y, mask = data.test_batch() if isinstance(data, Data) else data.test
        test = _evaluate(self.objective, self.model, x, y, mask).cpu().numpy()
        dead = h.diverged_at >= 0
        test[dead] = np.nan
        h.test_loss.append(test)
        if self.eval_train and isinstance(data, Data):
            train = _evaluate(self.objective, self.model, *data.train_batch()).cpu().numpy()
            train[dead] = np.nan
            h.train_eval.append(train)
        self.running.zero_()
        self.since_eval = 0
        for c in self.callbacks:
            c.on_eval(step, h)
        for c in self.callbacks:
            bad = c.diverged(step, h, self.model)
            if bad is not None:
                newly = bad.cpu() & ~self.freezer.dead
                if bool(newly.any()):
                    h.diverged_at[newly.numpy()] = step
                    self.freezer.mark(newly)
        for c in self.callbacks:
            done = c.finished(step, h, self.model)
            if done is not None:
                newly = done.cpu() & ~self.freezer.dead
                if bool(newly.any()):
                    stopped = h.extra.setdefault("stopped_at", [-1] * self.members)
                    for i in torch.nonzero(newly).flatten().tolist():
                        stopped[i] = step
                    self.freezer.mark(newly)

    def run(self) -> History:
        self._t0, self._c0 = time.perf_counter(), time.process_time()
        if self.checkpoint is not None and self.checkpoint.exists():
            self._restore(*self.checkpoint.load())
        step_fn, opt_step, freezer = self.gradient_step, self.opt_step, self.freezer
        model, callbacks = self.model, [c for c in self.callbacks
                                        if type(c).on_step is not Callback.on_step]
        model.train()
        with _gc_paused() as gc_was_enabled:
            for step in range(self.start_step, self.steps + 1):
                if self.schedule is not None:
                    self._apply_schedule(step)
                evaluate = step % self.eval_every == 0 or step == self.steps
                with step_fn.context():
                    x, y, mask = self.batches.next()
                    total, task = step_fn(x, y, mask)
                    if not math.isfinite(float(total.sum())) or step == 1 or evaluate:
                        self._check(step, total, task)
                    if freezer.any:
                        task = freezer.mask_loss(task)
                        freezer.zero_dead_grads()
                        opt_step()
                        freezer.restore()
                    else:
                        opt_step()
                    # One add per step, not a block sum: a (steps, M) reduction's summation
                    # order depends on M, and a member's logged losses must not.
                    self.running.add_(task)
                    self.since_eval += 1
                for c in callbacks:
                    c.on_step(step, model, self.opt)
                if evaluate:
                    with _gc_enabled(gc_was_enabled):
                        self._record_eval(step)
                    if bool(self.freezer.dead.all()) and step < self.steps:
                        # every member stopped or diverged: the rest would change nothing
                        self.history.extra["ended_at"] = step
                        if self.checkpoint is not None:
                            self.checkpoint.save(*self._state(self.steps))
                        break
                # The last step is saved too: a driver that dies before storing the result
                # finds the run finished on its restart.
                if self.checkpoint is not None and (step % self.checkpoint.every == 0
                                                    or step == self.steps):
                    with _gc_enabled(gc_was_enabled):
                        self.checkpoint.save(*self._state(step))
        h = self.history
        h.wall_s += time.perf_counter() - self._t0
        h.cpu_s += time.process_time() - self._c0
        self.flat.release()
        return h


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
