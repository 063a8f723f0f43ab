"""Drop-in regularisers and activity-dependent noise for any `nn.Module`, through hooks.

    penalty = attach(model, "wa", layers=["1", "3"], strength=1e-3)   # the ReLUs of a Sequential
    loss = task_loss(model(x), y) + penalty()

| regularizer     | `layers` names                               | penalty (spec 1)              |
|-----------------|----------------------------------------------|-------------------------------|
| "wa"            | hidden activation modules (e.g. the ReLUs)   | Eq. 18, with outgoing weights |
| "activity"      | hidden activation modules                    | Eq. 19                        |
| "l1", "l2"      | weight modules (default: every nn.Linear)    | Σ|W|, Eq. 20 Σ‖W‖²_F          |
| "l12", "l21"    | a chain of weight modules (default: Linears) | Eq. 15 and its reverse        |

Layers are named by their dotted names in `model.named_modules()`. WA needs each hidden
layer's *outgoing* weight: in an nn.Sequential (nested ones too) it is found automatically as
the weight of the first nn.Linear after the layer; in other modules pass `outgoing=[...]`
(module names such as "fc2", parameter names such as "fc2.weight", or the tensors).
The penalty is `strength ×` the pure function of `regularizers.penalties`, evaluated on the
activations recorded during the model's most recent forward pass; leading dims of an
activation (batch, time, …) all count as batch. A new regulariser (e.g. BIMT's wiring cost)
is one `register_regularizer` call; see the end of this file.

`inject_noise(model, layers, alpha, sigma, site)` adds ξ = σ·ε·|z|^{α/2} (Eqs. 2, 4) to the
input ("pre": the paper's h = φ(z + ξ) when the layer is the activation module) or to the
output ("post": the authors' code) of each named module, in training mode only.

Limits: a hooked module must take / return one tensor (not tuples, e.g. not nn.LSTM itself);
a module called more than once per forward (weight sharing, an RNN cell in a loop) is an error
for `attach` (the penalty would see only one call) and gets fresh noise on every call from
`inject_noise`; `nn.DataParallel` is not supported (its replicas run the hooks in threads that
overwrite each other's records) — use DistributedDataParallel, one process per model, and
name layers with its "module." prefix. Functional activations (F.relu inside forward) have no
module: name the Linear instead (its output is z, so `site="post"` there is the paper's
pre-activation noise; WA/activity on it penalise z, not h).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from ..nn.noise import SITES, activity_noise
from .penalties import activity, l12, l21, weight_l1, weight_l2, weighted_activity

Ref = str | torch.Tensor


@dataclass(frozen=True)
class Regularizer:
    """How a named penalty is computed: `fn(hidden, weights, **options)` → a scalar.

    `hidden`: the named layers' latest outputs, each (N, units), if `activations`;
    `weights`: "own" — the named modules' weights; "outgoing" — the weights leaving the named
    layers; None — none. `options`: the keyword options `attach` may pass on to `fn`.
    """

    fn: Callable[..., torch.Tensor]
    activations: bool = False
    weights: str | None = None
    options: tuple[str, ...] = ()


REGULARIZERS: dict[str, Regularizer] = {}


def register_regularizer(name: str, fn: Callable[..., torch.Tensor], *, activations: bool = False,
                         weights: str | None = None, options: Sequence[str] = ()) -> None:
    """Make `attach(model, name, ...)` available (see `Regularizer` for the arguments)."""
    if weights not in (None, "own", "outgoing"):
        raise ValueError(f"weights must be None, 'own' or 'outgoing', got {weights!r}")
    REGULARIZERS[name] = Regularizer(fn, activations, weights, tuple(options))


def _modules(model: nn.Module) -> dict[str, nn.Module]:
    return {n: m for n, m in model.named_modules() if n}


def _module(model: nn.Module, name: str) -> nn.Module:
    modules = _modules(model)
    if name not in modules:
        raise ValueError(f"unknown layer {name!r}; valid layer names: {', '.join(modules)}")
    return modules[name]


def _weight(model: nn.Module, ref: Ref) -> tuple[str, torch.Tensor]:
    """A weight named by its module ("fc2"), its parameter name ("fc2.weight"), or given."""
    if isinstance(ref, torch.Tensor):
        return "<tensor>", ref
    params = dict(model.named_parameters())
    if ref in params:
        return ref, params[ref]
    module = _modules(model).get(ref)
    if module is not None and isinstance(getattr(module, "weight", None), torch.Tensor):
        return f"{ref}.weight", module.weight
    valid = [n for n, m in _modules(model).items() if isinstance(getattr(m, "weight", None), torch.Tensor)]
    raise ValueError(f"unknown weight {ref!r}; valid: modules {', '.join(valid)} "
                     f"or parameters {', '.join(params)}")


def _sequential_path(model: nn.Module, name: str) -> bool:
    """Whether every container from the root down to `name` is an nn.Sequential, so that
    registration order is execution order."""
    parts = name.split(".")
    node = model
    for part in parts[:-1] + [None]:
        if not isinstance(node, nn.Sequential):
            return False
        if part is None:
            return True
        node = getattr(node, part)
    return True


def next_linear(model: nn.Module, name: str) -> str:
    """The dotted name of the first nn.Linear that runs after layer `name` in a (nested)
    nn.Sequential: the module whose weight leaves `name` (its column j leaves unit j)."""
    names = list(_modules(model))
    if not _sequential_path(model, name):
        raise ValueError(f"cannot find the outgoing weight of layer {name!r} automatically: it "
                         f"is not inside nn.Sequential containers only; pass outgoing=[...] "
                         f"naming the next layer of each (e.g. 'fc2')")
    modules = _modules(model)
    for later in names[names.index(name) + 1:]:
        if later.startswith(name + "."):
            continue
        if isinstance(modules[later], nn.Linear) and _sequential_path(model, later):
            return later
    raise ValueError(f"layer {name!r} has no nn.Linear after it; pass outgoing=[...]")


def _default_weight_layers(model: nn.Module, regularizer: str) -> list[str]:
    found = [n for n, m in _modules(model).items() if isinstance(m, nn.Linear)]
    if not found:
        raise ValueError(f"{regularizer!r} needs layers=[...]: the model has no nn.Linear")
    return found


@dataclass
class _Record:
    output: object = None
    generation: int = -1
    calls: int = 0


@dataclass
class Penalty:
    """A penalty attached to a model: call it after the forward pass, add it to the loss.

    `remove()` (or leaving a `with` block) detaches its hooks.
    """

    name: str
    regularizer: Regularizer = field(repr=False)
    strength: float
    layers: list[str]
    weight_names: list[str]
    weights: list[torch.Tensor] = field(repr=False)
    options: dict
    _records: dict[str, _Record] = field(default_factory=dict, repr=False)
    _handles: list = field(default_factory=list, repr=False)
    _generation: int = field(default=0, repr=False)

    def _hook_layers(self, model: nn.Module) -> None:
        def new_forward(_module, _args):
            self._generation += 1

        self._handles.append(model.register_forward_pre_hook(new_forward))
        for name in self.layers:
            self._records[name] = _Record()
            self._handles.append(_module(model, name).register_forward_hook(self._recorder(name)))

    def _recorder(self, name: str):
        def record(_module, _args, output):
            rec = self._records[name]
            rec.calls = rec.calls + 1 if rec.generation == self._generation else 1
            rec.output, rec.generation = output, self._generation
        return record

    def _activation(self, name: str) -> torch.Tensor:
        rec = self._records[name]
        if rec.generation < 0:
            raise ValueError(f"layer {name!r} has not run yet: run the model before penalty()")
        if rec.generation != self._generation:
            raise ValueError(f"layer {name!r} did not run in the model's last forward pass")
        if self._generation and rec.calls > 1:
            raise ValueError(f"layer {name!r} ran {rec.calls} times in one forward pass; the "
                             f"penalty would see only the last call (use one module per use)")
        out = rec.output
        if not isinstance(out, torch.Tensor):
            raise ValueError(f"layer {name!r} returned a {type(out).__name__}, not a tensor; "
                             f"name a module whose output is the hidden activation")
        return out.reshape(-1, out.shape[-1]) if out.dim() != 2 else out

    def _checked_outgoing(self, hidden: list[torch.Tensor]) -> None:
        for name, h, wname, w in zip(self.layers, hidden, self.weight_names, self.weights):
            if w.dim() != 2 or w.shape[-1] != h.shape[-1]:
                raise ValueError(f"outgoing weight {wname!r} of shape {tuple(w.shape)} does not "
                                 f"take layer {name!r}'s {h.shape[-1]} units as its inputs")

    def __call__(self) -> torch.Tensor:
        if not self._handles and self.regularizer.activations:
            raise ValueError(f"penalty {self.name!r} was removed")
        hidden = [self._activation(n) for n in self.layers] if self.regularizer.activations else []
        if self.regularizer.weights == "outgoing":
            self._checked_outgoing(hidden)
        return self.strength * self.regularizer.fn(hidden, self.weights, **self.options)

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def __enter__(self) -> Penalty:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def _options(reg: Regularizer, name: str, alpha: float, options: dict) -> dict:
    unknown = sorted(set(options) - set(reg.options))
    if unknown:
        raise ValueError(f"regularizer {name!r} takes no option {unknown[0]!r}; "
                         f"its options: {list(reg.options) or 'none'}")
    return {**({"alpha": alpha} if "alpha" in reg.options else {}), **options}


def _resolve_weights(model: nn.Module, name: str, reg: Regularizer, layers: list[str],
                     outgoing: Sequence[Ref] | None) -> list[tuple[str, torch.Tensor]]:
    if reg.weights == "own":
        return [_weight(model, n) for n in layers]
    if reg.weights != "outgoing":
        return []
    refs = list(outgoing) if outgoing is not None else [next_linear(model, n) for n in layers]
    if len(refs) != len(layers):
        raise ValueError(f"outgoing must name one weight per layer: {len(layers)} layers, "
                         f"{len(refs)} weights")
    return [_weight(model, r) for r in refs]


def _check_chain(name: str, weights: list[tuple[str, torch.Tensor]]) -> None:
    if len(weights) < 2:
        raise ValueError(f"{name!r} needs at least 2 consecutive weight layers, got {len(weights)}")
    for (n_in, w_in), (n_out, w_out) in zip(weights[:-1], weights[1:]):
        if w_in.dim() != 2 or w_out.dim() != 2 or w_out.shape[1] != w_in.shape[0]:
            raise ValueError(f"{name!r}: {n_out!r} {tuple(w_out.shape)} does not follow "
                             f"{n_in!r} {tuple(w_in.shape)} (need 2-D weights, consecutive)")


def attach(model: nn.Module, regularizer: str = "wa", layers: Sequence[str] | None = None, *,
           strength: float = 1e-3, alpha: float = 2.0, outgoing: Sequence[Ref] | None = None,
           **options) -> Penalty:
    """Attach a regulariser to `model`; returns a `Penalty` to call after each forward pass.

    `layers`: see the module docstring's table (required for "wa" and "activity").
    `strength`: λ (spec 1's presets use 1e-3 for WA and activity). `alpha`: the exponent of
    Eqs. 18–19 (ignored by the others). `outgoing`: WA's outgoing weights, when they cannot be
    found automatically. Other keyword options go to the registered function.
    """
    if regularizer not in REGULARIZERS:
        raise ValueError(f"unknown regularizer {regularizer!r}; available: {', '.join(REGULARIZERS)}")
    if strength < 0:
        raise ValueError(f"strength must be >= 0, got {strength}")
    reg = REGULARIZERS[regularizer]
    if layers is None:
        if reg.activations:
            raise ValueError(f"{regularizer!r} needs layers=[...], the hidden activation modules; "
                             f"valid layer names: {', '.join(_modules(model))}")
        layers = _default_weight_layers(model, regularizer)
    layers = list(layers)
    if not layers:
        raise ValueError("layers must name at least one layer")
    if reg.activations:
        for n in layers:
            _module(model, n)           # unknown names fail here, listing the valid ones
    opts = _options(reg, regularizer, alpha, options)
    named = _resolve_weights(model, regularizer, reg, layers, outgoing)
    if regularizer in ("l12", "l21"):
        _check_chain(regularizer, named)
    penalty = Penalty(regularizer, reg, float(strength), layers, [n for n, _ in named],
                      [w for _, w in named], opts)
    if reg.activations:
        penalty._hook_layers(model)
    return penalty


def _flat_weights(fn):
    """l1/l2 of any-shaped weights (conv kernels too): each flattened to (out, rest)."""
    return lambda hidden, weights: fn([w.reshape(w.shape[0], -1) for w in weights])


register_regularizer("wa", lambda hidden, weights, alpha=2.0: weighted_activity(hidden, weights, alpha),
                     activations=True, weights="outgoing", options=("alpha",))
register_regularizer("activity", lambda hidden, weights, alpha=2.0: activity(hidden, alpha),
                     activations=True, options=("alpha",))
register_regularizer("l1", _flat_weights(weight_l1), weights="own")
register_regularizer("l2", _flat_weights(weight_l2), weights="own")
register_regularizer("l12", lambda hidden, weights: l12(weights), weights="own")
register_regularizer("l21", lambda hidden, weights: l21(weights), weights="own")


def _wiring_cost(hidden, weights, dists=None, A=2.0, l0=1.0):
    """BIMT's connection cost Σ|W|·(A·d + l₀) (spec 2) of the named layers' weights; without
    `dists`, each layer's neurons sit on a line x = (i + ½)/n (the BIMT code's MLP layout)."""
    from .bimt import connection_cost, distances, line_coords

    weights = [w.reshape(w.shape[0], -1) for w in weights]
    if dists is None:
        dists = [distances(line_coords(w.shape[0]), line_coords(w.shape[1])).to(w)
                 for w in weights]
    return connection_cost(weights, dists, A, l0)


register_regularizer("bimt", _wiring_cost, weights="own", options=("dists", "A", "l0"))


class NoiseHandle:
    """Hooks adding activity-dependent noise to named modules; `.remove()` or `with` ends it.

    Active while the hooked module is in training mode; set `test_time = True` to keep it on
    in eval mode too (Fig. 7's robustness test).
    """

    def __init__(self, model: nn.Module, layers: Sequence[str], alpha: float, sigma: float,
                 site: str, eps: float, seed: int):
        self.alpha, self.sigma, self.site, self.eps, self.seed = alpha, sigma, site, eps, seed
        self.test_time = False
        self._generators: dict[torch.device, torch.Generator] = {}
        self.layers = list(layers)
        self._handles = []
        for name in self.layers:
            module = _module(model, name)
            if site == "pre":
                self._handles.append(module.register_forward_pre_hook(self._pre(name)))
            else:
                self._handles.append(module.register_forward_hook(self._post(name)))

    def _generator(self, device: torch.device) -> torch.Generator:
        if device not in self._generators:
            self._generators[device] = torch.Generator(device=device).manual_seed(self.seed)
        return self._generators[device]

    def _noisy(self, name: str, z: object) -> torch.Tensor:
        if not isinstance(z, torch.Tensor):
            raise ValueError(f"inject_noise: layer {name!r} {'got' if self.site == 'pre' else 'returned'}"
                             f" a {type(z).__name__}, not a tensor")
        eps = torch.randn(z.shape, generator=self._generator(z.device), device=z.device, dtype=z.dtype)
        return z + activity_noise(z, self.sigma, self.alpha, eps, self.eps)

    def _on(self, module: nn.Module) -> bool:
        return (module.training or self.test_time) and self.sigma != 0

    def _pre(self, name: str):
        def hook(module, args):
            if not self._on(module):
                return None
            if not args:
                raise ValueError(f"inject_noise: layer {name!r} was called without inputs")
            return (self._noisy(name, args[0]), *args[1:])
        return hook

    def _post(self, name: str):
        def hook(module, _args, output):
            return self._noisy(name, output) if self._on(module) else None
        return hook

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def __enter__(self) -> NoiseHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def inject_noise(model: nn.Module, layers: Sequence[str], alpha: float = 2.0, sigma: float = 0.1,
                 site: str = "pre", *, eps: float = 1e-3, seed: int = 0) -> NoiseHandle:
    """Eqs. 2, 4: add ξ = σ·ε·|z|^{α/2} (ε ~ N(0, 1), seeded by `seed`) in training mode.

    `site="pre"` perturbs each named module's input (name the activation modules: h = φ(z + ξ),
    the paper); `site="post"` its output (h + σ·ε·|h|^{α/2}, the authors' code). α = 0
    additive, 1 Poisson-like, 2 multiplicative; |z|^{α/2} is smoothed by `eps` as in
    `nn.noise.noise_amplitude`. Returns a removable handle (also a context manager).
    """
    if site not in SITES:
        raise ValueError(f"site must be one of {SITES}, got {site!r}")
    if sigma < 0 or alpha < 0:
        raise ValueError(f"sigma and alpha must be >= 0, got sigma={sigma}, alpha={alpha}")
    if not layers or isinstance(layers, str):
        raise ValueError(f"layers must be a non-empty list of layer names, got {layers!r}")
    return NoiseHandle(model, layers, float(alpha), float(sigma), site, eps, seed)
