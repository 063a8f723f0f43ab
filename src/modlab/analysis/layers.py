"""From a checkpoint's tensors to the 2-D (post, pre) matrices that Eqs. 5–6 analyse.

- 2-D weights (linear layers) are taken as they are.
- RNN/LSTM/GRU `weight_ih_l*` / `weight_hh_l*` stack their gates along the rows (PyTorch order
  LSTM i, f, g, o; GRU r, z, n); each gate is analysed as its own matrix, named.
- Conv kernels (out, in, *window) become |W| summed over the window, (out, in): Eq. 5 only
  sees |W|, so this is each (out, in) channel pair's total connection strength.
- In a modlab checkpoint (M members known from the sidecar) every tensor is member-major:
  its leading dim is M·k (k = 1, or blocks per member as in the modular nets). A (M·k, post,
  pre) weight is split into each member's k blocks; (M·k, units) vectors (biases) are skipped.
By default only tensors named like weights ("weight" in the last name component) are taken.
"""
from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .checkpoint import Checkpoint, MemberInfo

GATES = {4: ("i", "f", "g", "o"), 3: ("r", "z", "n")}
RNN_WEIGHT = re.compile(r"^(?P<prefix>.*?)weight_(?P<kind>ih|hh)_l(?P<layer>\d+)(?P<rev>_reverse)?$")


@dataclass
class WeightMatrix:
    name: str                       # the tensor's name in the state_dict
    matrix: np.ndarray              # (post, pre), float64
    shape: tuple[int, ...]          # the tensor's own shape (one member's block, for modlab)
    member: MemberInfo | None = None
    gate: str | None = None
    note: str = ""
    block: int | None = None        # block of a member-major tensor with k > 1 blocks

    @property
    def label(self) -> str:
        part = [f"gate {self.gate}"] if self.gate else []
        part += [f"block {self.block}"] if self.block is not None else []
        return f"{self.name} [{', '.join(part)}]" if part else self.name


def _weight_like(name: str) -> bool:
    return "weight" in name.rsplit(".", 1)[-1]


def _member_major(t: torch.Tensor, members: int | None) -> bool:
    return members is not None and t.dim() >= 2 and t.shape[0] % members == 0


def _per_member_shape(t: torch.Tensor, members: int | None) -> tuple[int, ...]:
    return tuple(t.shape[1:]) if _member_major(t, members) else tuple(t.shape)


def _hidden_size(name: str, tensors: dict[str, torch.Tensor], members: int | None) -> int | None:
    """H of an RNN weight's layer: from weight_hr (proj, H) if the LSTM projects, else from
    weight_hh (G·H, H). None when `name` is not an RNN weight."""
    m = RNN_WEIGHT.match(name)
    if m is None:
        return None
    suffix = f"_l{m['layer']}{m['rev'] or ''}"
    for kind in ("hr", "hh"):
        t = tensors.get(f"{m['prefix']}weight_{kind}{suffix}")
        shape = None if t is None else _per_member_shape(t, members)
        if shape is not None and len(shape) == 2:
            return int(shape[1])
    return None


def _split_gates(w: np.ndarray, hidden: int | None) -> list[tuple[str | None, np.ndarray, str]]:
    if hidden is None or hidden == 0 or w.shape[0] % hidden:
        return [(None, w, "")]
    gates = GATES.get(w.shape[0] // hidden)
    if gates is None:
        return [(None, w, "")]
    kind = "LSTM" if len(gates) == 4 else "GRU"
    note = f"{kind} weight split into gates {', '.join(gates)} (PyTorch order)"
    return [(g, w[i * hidden:(i + 1) * hidden], note) for i, g in enumerate(gates)]


def _matrices_of(name: str, t: torch.Tensor, hidden: int | None, member: MemberInfo | None = None,
                 block: int | None = None) -> list[WeightMatrix]:
    shape = tuple(t.shape)
    w = t.detach().cpu().double().numpy()
    if w.ndim > 2:
        window = "×".join(str(s) for s in shape[2:])
        note = f"conv kernel {shape}: |W| summed over the {window} kernel window"
        return [WeightMatrix(name, np.abs(w).sum(tuple(range(2, w.ndim))), shape, member, None,
                             note, block)]
    return [WeightMatrix(name, part, shape, member, gate, note, block)
            for gate, part, note in _split_gates(w, hidden)]


def _validate(name: str, t: torch.Tensor) -> None:
    if 0 in t.shape:
        raise ValueError(f"tensor {name!r} has an empty dimension, shape {tuple(t.shape)}")
    bad = int((~torch.isfinite(t)).sum())
    if bad:
        raise ValueError(f"tensor {name!r} has {bad} non-finite values (NaN/inf); "
                         f"weights must be finite")


def _selected(ckpt: Checkpoint, names: Sequence[str], layers: Sequence[str] | None) -> list[str]:
    """Tensors matching the fnmatch patterns `layers`; by default those named like weights,
    or every candidate if none is."""
    if not layers:
        weights = [n for n in names if _weight_like(n)]
        if not weights:
            ckpt.notes.append("no tensor is named like a weight: analysing every tensor with "
                              ">= 2 dims")
        return weights or list(names)
    chosen = [n for n in names if any(fnmatch.fnmatchcase(n, g) for g in layers)]
    if not chosen:
        raise ValueError(f"--layers {' '.join(layers)!r} matches no weight tensor; "
                         f"available: {', '.join(names)}")
    return chosen


def _candidates(ckpt: Checkpoint) -> list[str]:
    """Names of the floating-point tensors with >= 2 dims (per member), after dtype checks."""
    members = len(ckpt.members) if ckpt.members else None
    names = []
    for name, t in ckpt.tensors.items():
        if not torch.is_floating_point(t):
            if _weight_like(name):
                raise ValueError(f"tensor {name!r} has dtype {str(t.dtype).removeprefix('torch.')};"
                                 f" weights must be floating point")
            continue                 # integer buffers such as BatchNorm's num_batches_tracked
        if len(_per_member_shape(t, members)) >= 2:
            names.append(name)
    if not names:
        dims = sorted({t.dim() for t in ckpt.tensors.values()})
        raise ValueError(f"{ckpt.path.name!r} holds no weight matrices (tensors with >= 2 dims"
                         f"{' per member' if members else ''}); tensor dims found: {dims}")
    return names


def weight_matrices(ckpt: Checkpoint, layers: Sequence[str] | None = None) -> list[WeightMatrix]:
    """Every (post, pre) matrix of the checkpoint's weights (tensors whose name contains
    "weight"; or only tensors matching one of the fnmatch patterns `layers`, any name);
    members of a modlab checkpoint in order, each member's blocks in order."""
    members = ckpt.members
    m = len(members) if members else None
    out = []
    for name in _selected(ckpt, _candidates(ckpt), layers):
        t = ckpt.tensors[name]
        _validate(name, t)
        hidden = _hidden_size(name, ckpt.tensors, m)
        if not _member_major(t, m):
            out.extend(_matrices_of(name, t, hidden))
            continue
        blocks = t.reshape(m, t.shape[0] // m, *t.shape[1:])
        for member in members:
            for b in range(blocks.shape[1]):
                out.extend(_matrices_of(name, blocks[member.index, b], hidden, member,
                                        b if blocks.shape[1] > 1 else None))
    return out
