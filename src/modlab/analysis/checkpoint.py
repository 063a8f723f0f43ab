"""Load a checkpoint's tensors without ever executing code from the file.

Formats: a plain PyTorch `state_dict` saved with `torch.save` (.pt, .pth, .bin, .ckpt; read
with `torch.load(weights_only=True)`, whose unpickler only rebuilds tensors and plain
containers and refuses every other global), a `.safetensors` file, or a modlab checkpoint
(a .safetensors file plus a JSON sidecar of member configs with the same stem, whose 3-D
tensors are ensembles (M, post, pre)). Anything else is a one-line ValueError.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

TORCH_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")
SUFFIXES = (*TORCH_SUFFIXES, ".safetensors")
# Wrappers under which training scripts commonly nest the state_dict itself.
STATE_DICT_KEYS = ("state_dict", "model_state_dict", "model")


@dataclass(frozen=True)
class MemberInfo:
    """One ensemble member of a modlab checkpoint, as its sidecar describes it."""

    index: int
    seed: int | None
    setting: str | None = None
    labels: dict = field(default_factory=dict)   # the run's labels, when the sidecar has them



@dataclass
class Checkpoint:
    path: Path
    tensors: dict[str, torch.Tensor]
    members: list[MemberInfo] | None = None        # None: not an ensemble checkpoint
    notes: list[str] = field(default_factory=list)


def _check_path(path: Path) -> None:
    if not path.exists():
        raise FileNotFoundError(f"no such checkpoint: {path}")
    if path.is_dir():
        raise ValueError(f"checkpoint {str(path)!r} is a directory; pass a file "
                         f"({', '.join(SUFFIXES)})")
    if path.suffix not in SUFFIXES:
        raise ValueError(f"checkpoint must end in one of {', '.join(SUFFIXES)}, got {path.name!r}")
    if path.stat().st_size == 0:
        raise ValueError(f"checkpoint {path.name!r} is empty (0 bytes)")


def _first_line(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def _unpickler_detail(message: str) -> str:
    """The informative line of torch's weights-only error (its first lines are boilerplate
    suggesting weights_only=False, which we never do)."""
    boiler = ("Weights only load failed", "Please file an issue", "Check the documentation")
    for line in message.splitlines():
        line = line.replace("WeightsUnpickler error:", "").strip()
        if line and not line.startswith(boiler):
            return line
    return "unsupported content"


def _load_torch(path: Path) -> object:
    import pickle
    import warnings

    try:
        with warnings.catch_warnings():  # e.g. "pickle protocol 4": the error says it all
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        detail = _unpickler_detail(str(err))
        refused = re.search(r"GLOBAL (\S+)", detail)
        if refused:
            raise ValueError(f"{path.name!r} is not a plain state_dict: it pickles "
                             f"{refused[1]}, which is refused (weights_only=True; nothing "
                             f"was executed)") from None
        raise ValueError(f"cannot read {path.name!r} as a plain state_dict: the weights-only "
                         f"unpickler refused it ({detail})") from None
    except Exception as err:  # truncated zips, garbage bytes: torch raises many types
        raise ValueError(f"cannot read {path.name!r} as a PyTorch checkpoint: "
                         f"{_first_line(err)}") from None


def _flat_tensors(obj: object, name: str) -> tuple[dict[str, torch.Tensor], list[str]]:
    """The tensors of a state_dict (possibly nested under one of STATE_DICT_KEYS)."""
    if not isinstance(obj, dict):
        raise ValueError(f"{name!r} holds a {type(obj).__name__}, not a state_dict "
                         f"(a dict of name → tensor)")
    notes = []
    for key in STATE_DICT_KEYS:
        if isinstance(obj.get(key), dict):
            notes.append(f"using the state_dict under key {key!r}")
            obj = obj[key]
            break
    tensors = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    skipped = [str(k) for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if skipped:
        notes.append(f"ignored {len(skipped)} non-tensor entries: {', '.join(skipped[:5])}"
                     + (" …" if len(skipped) > 5 else ""))
    if not tensors:
        raise ValueError(f"{name!r} holds no tensors")
    return tensors, notes


def _load_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except Exception as err:  # SafetensorError, OSError on truncated or foreign files
        raise ValueError(f"cannot read {path.name!r} as safetensors: {_first_line(err)}") from None


def _member(index: int, entry: object, sidecar: str) -> MemberInfo:
    """A member from its sidecar entry: a RunConfig dump, optionally with "setting" and
    "labels" (the sweep's run labels, e.g. {"setting": "WA", "seed": 3}) or nested "config"."""
    if not isinstance(entry, dict):
        raise ValueError(f"sidecar {sidecar!r}: member {index} is a "
                         f"{type(entry).__name__}, expected an object (a member config)")
    config = entry["config"] if isinstance(entry.get("config"), dict) else entry
    labels = entry["labels"] if isinstance(entry.get("labels"), dict) else {}
    seed = next((s for s in (config.get("seed"), entry.get("seed"), labels.get("seed"))
                 if isinstance(s, int)), None)
    setting = next((s for s in (entry.get("setting"), labels.get("setting"), config.get("setting"))
                    if s is not None), None)
    return MemberInfo(index, seed, str(setting) if setting is not None else None, labels)


def read_sidecar(path: Path) -> list[MemberInfo] | None:
    """Members listed by the JSON sidecar next to a .safetensors file (None: no sidecar)."""
    sidecar = path.with_suffix(".json")
    if not sidecar.is_file():
        return None
    try:
        data = json.loads(sidecar.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"sidecar {sidecar.name!r} is not valid JSON: {_first_line(err)}") from None
    if not isinstance(data, list) or not data:
        raise ValueError(f"sidecar {sidecar.name!r} must be a non-empty JSON list of member "
                         f"configs, got {type(data).__name__}")
    return [_member(i, entry, sidecar.name) for i, entry in enumerate(data)]


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Tensors (and, for a modlab checkpoint, its members) of the file at `path`.

    Never unpickles arbitrary objects; a missing, empty, truncated, foreign or hostile file
    raises a one-line FileNotFoundError / ValueError.
    """
    path = Path(path)
    _check_path(path)
    if path.suffix == ".safetensors":
        tensors = _load_safetensors(path)
        if not tensors:
            raise ValueError(f"{path.name!r} holds no tensors")
        return Checkpoint(path, tensors, read_sidecar(path))
    tensors, notes = _flat_tensors(_load_torch(path), path.name)
    return Checkpoint(path, tensors, None, notes)
