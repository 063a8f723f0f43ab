"""Architectures of the compositional-generalisation study (Figs. 8, 9, 11), as M-member ensembles.

* `ModularNet`: input i goes through its own block (1 → w … → out_i), the block outputs are
  concatenated and read by a dense head. All blocks of all members run as one `EnsembleLinear`
  with M·G members (block-diagonal computation, no Python loop over blocks).
* `DenseNet`: an unconstrained stack; the FC and bottleneck networks of Fig. 8 are DenseNets.
* `make_architecture`: the named architectures of Fig. 8 (modular, fc, bottleneck, fc_matched).

Every hidden layer, block outputs included, is followed by the activation, as in the authors'
code (`Linear(64, 1)` then PReLU before the head). PReLU slopes are learnable per member (and per
block): one slope per activation layer, initialised at 0.25 like `torch.nn.PReLU()`.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn

from .activations import ACTIVATIONS, get_activation
from .ensemble import EnsembleLinear
from .rng import make_generators


class ModularForward(NamedTuple):
    """Output (M, B, out), hidden activations (each (M, B, units)), and the block outputs
    (M, B, G·out_g) after the activation (what the head reads) and before it."""

    output: torch.Tensor
    hidden: list[torch.Tensor]
    modules: torch.Tensor | None
    modules_pre: torch.Tensor | None = None


class EnsemblePReLU(nn.Module):
    """PReLU with one learnable slope per member: input (members, B, units)."""

    def __init__(self, members: int, init: float = 0.25):
        super().__init__()
        self.slope = nn.Parameter(torch.full((members, 1, 1), float(init)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.where(z > 0, z, self.slope * z)


class FixedActivation(nn.Module):
    """A parameter-free activation from `nn.activations` as a module."""

    def __init__(self, name: str):
        super().__init__()
        self.name = name
        self.fn = get_activation(name)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.fn(z)

    def extra_repr(self) -> str:
        return self.name


def make_activation(name: str, members: int) -> nn.Module:
    """'prelu' (learnable, per member) or any name of `nn.activations.ACTIVATIONS`."""
    if name == "prelu":
        return EnsemblePReLU(members)
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {['prelu', *sorted(ACTIVATIONS)]}, "
                         f"got {name!r}")
    return FixedActivation(name)


def _check_seeds(seeds: Sequence[int] | None, members: int) -> None:
    if seeds is not None and len(seeds) != members:
        raise ValueError(f"need {members} seeds, got {len(seeds)}")


class _Stack(nn.Module):
    """Linear layers with an activation after each one except (optionally) the last."""

    def __init__(self, widths: Sequence[int], members: int, activation: str,
                 generators: Sequence[torch.Generator] | None, activate_last: bool):
        super().__init__()
        if len(widths) < 2:
            raise ValueError("widths needs at least input and output sizes")
        self.layers = nn.ModuleList(EnsembleLinear(members, a, b, generators=generators)
                                    for a, b in zip(widths[:-1], widths[1:], strict=False))
        n_act = len(self.layers) if activate_last else len(self.layers) - 1
        self.acts = nn.ModuleList(make_activation(activation, members) for _ in range(n_act))

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
        """(output, hidden activations, pre-activation of the last layer)."""
        hidden = []
        z = h
        for i, layer in enumerate(self.layers):
            z = h = layer(h)
            if i < len(self.acts):
                h = self.acts[i](z)
                hidden.append(h)
        return h, hidden, z


class DenseNet(nn.Module):
    """widths[0] → … → widths[-1], fully connected, activation on hidden layers only."""

    def __init__(self, widths: Sequence[int], *, members: int = 1, activation: str = "prelu",
                 seeds: Sequence[int] | None = None):
        super().__init__()
        _check_seeds(seeds, members)
        self.widths, self.members = list(widths), members
        gens = make_generators(seeds) if seeds is not None else None
        self.stack = _Stack(widths, members, activation, gens, activate_last=False)

    @property
    def weights(self) -> list[torch.Tensor]:
        return [layer.weight for layer in self.stack.layers]

    def forward_hidden(self, x: torch.Tensor) -> ModularForward:
        out, hidden, _ = self.stack(x)
        return ModularForward(out, hidden, None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stack(x)[0]


class ModularNet(nn.Module):
    """Each of the n_in inputs → its own block (1 → block_widths…), concatenated → dense head.

    `block_widths` lists each block's layer sizes after its scalar input, e.g. [64, 1] is the
    1→64→1 block of Fig. 8 and [16]*m + [1] a depth-m block of Fig. 9. `head_widths` are the
    head's hidden sizes. Inputs are (B, n_in) or (M, B, n_in); outputs (M, B, n_out).
    """

    def __init__(self, n_in: int, block_widths: Sequence[int], head_widths: Sequence[int],
                 n_out: int, *, members: int = 1, activation: str = "prelu",
                 seeds: Sequence[int] | None = None):
        super().__init__()
        _check_seeds(seeds, members)
        self.n_in, self.members = n_in, members
        self.block_out = block_widths[-1]
        block_gens = None
        if seeds is not None:
            # Block g of member m is virtual member m·G + g of the block stack, with its own stream.
            per_block = [make_generators(seeds, f"block{g}") for g in range(n_in)]
            block_gens = [per_block[g][m] for m in range(members) for g in range(n_in)]
        self.blocks = _Stack([1, *block_widths], members * n_in, activation, block_gens,
                             activate_last=True)
        head_gens = make_generators(seeds, "head") if seeds is not None else None
        self.head = _Stack([n_in * self.block_out, *head_widths, n_out], members, activation,
                           head_gens, activate_last=False)

    def _to_blocks(self, x: torch.Tensor) -> torch.Tensor:
        """(M, B, G) → (M·G, B, 1): each (member, block) pair becomes one virtual member."""
        m, b, g = x.shape
        return x.permute(0, 2, 1).reshape(m * g, b, 1)

    def _from_blocks(self, h: torch.Tensor, batch: int) -> torch.Tensor:
        """(M·G, B, u) → (M, B, G·u), block-major (block 0's units first)."""
        u = h.shape[-1]
        return h.reshape(self.members, self.n_in, batch, u).permute(0, 2, 1, 3).reshape(
            self.members, batch, self.n_in * u)

    def forward_hidden(self, x: torch.Tensor) -> ModularForward:
        if x.dim() == 2:
            x = x.expand(self.members, *x.shape)
        batch = x.shape[1]
        h, block_hidden, z = self.blocks(self._to_blocks(x))
        modules = self._from_blocks(h, batch)
        out, head_hidden, _ = self.head(modules)
        hidden = [self._from_blocks(a, batch) for a in block_hidden] + head_hidden
        return ModularForward(out, hidden, modules, self._from_blocks(z, batch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_hidden(x).output

    def module_outputs(self, x: torch.Tensor, pre: bool = False) -> torch.Tensor:
        """Each block's output on its own input, (M, B, G) for scalar block outputs: after the
        block's final activation (what the head reads) or, with pre=True, before it."""
        f = self.forward_hidden(x)
        return f.modules_pre if pre else f.modules

    @property
    def weights(self) -> list[torch.Tensor]:
        """Block layers as block-diagonal (M, post, pre) matrices, then the head's weights."""
        mats = [torch.block_diag(*layer.weight.reshape(self.members, self.n_in,
                                                        *layer.weight.shape[1:])[m])
                for layer in self.blocks.layers for m in range(self.members)]
        n_blocks = len(self.blocks.layers)
        stacked = [torch.stack(mats[i * self.members:(i + 1) * self.members])
                   for i in range(n_blocks)]
        return stacked + [layer.weight for layer in self.head.layers]


def parameter_count(model: nn.Module) -> int:
    """Parameters of ONE member (every parameter has the member dim first), frozen or not:
    a trained model rebuilt for analysis has requires_grad off."""
    members = getattr(model, "members", 1)
    return sum(p.numel() for p in model.parameters()) // members


def matched_width(target: int, n_in: int, n_out: int, depth: int,
                  activation: str = "prelu") -> int:
    """Hidden width w of a depth-`depth` DenseNet whose parameter count is closest to `target`."""
    def count(w: int) -> int:
        widths = [n_in, *[w] * depth, n_out]
        linear = sum(a * b + b for a, b in zip(widths[:-1], widths[1:], strict=False))
        return linear + (depth if activation == "prelu" else 0)
    return min(range(1, 4097), key=lambda w: abs(count(w) - target))


ARCHITECTURES = ("modular", "fc", "bottleneck", "fc_matched")


def make_architecture(name: str, *, n_in: int, n_out: int, block_widths: Sequence[int],
                      head_widths: Sequence[int], members: int = 1, activation: str = "prelu",
                      seeds: Sequence[int] | None = None) -> nn.Module:
    """The architectures compared in Fig. 8, all with the same number of hidden layers.

    modular: blocks then head. bottleneck: the same layer sizes, every layer dense (the
    bottleneck is the concatenated block-output layer). fc: every hidden layer as wide as the
    widest layer (the paper's 2→128→128→128→1). fc_matched: fc's depth, width chosen so its
    parameter count matches the modular network's.
    """
    kw = {"members": members, "activation": activation, "seeds": seeds}
    layer_sizes = [n_in * w for w in block_widths] + list(head_widths)
    if name == "modular":
        return ModularNet(n_in, block_widths, head_widths, n_out, **kw)
    if name == "bottleneck":
        return DenseNet([n_in, *layer_sizes, n_out], **kw)
    if name == "fc":
        return DenseNet([n_in, *[max(layer_sizes)] * len(layer_sizes), n_out], **kw)
    if name == "fc_matched":
        target = parameter_count(ModularNet(n_in, block_widths, head_widths, n_out,
                                            activation=activation))
        w = matched_width(target, n_in, n_out, len(layer_sizes), activation)
        return DenseNet([n_in, *[w] * len(layer_sizes), n_out], **kw)
    raise ValueError(f"architecture must be one of {list(ARCHITECTURES)}, got {name!r}")
