"""Training checkpoints: everything `fit` needs to resume a run bit for bit.

A checkpoint is two files written atomically (temp file + rename), tensors first:
`<path>.safetensors` (parameters, optimiser moments, random-generator states, …) and
`<path>.json` (step, history so far, NumPy generator states, callback states). The JSON is
the commit point: it is written last, so a checkpoint whose JSON exists is complete.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..atomic import atomic_write_bytes


def module_generators(model: nn.Module) -> dict[str, list[torch.Generator]]:
    """Every per-member random stream a model holds (modules' `generators` lists), by name."""
    out = {}
    for name, module in model.named_modules():
        gens = getattr(module, "generators", None)
        if gens and all(isinstance(g, torch.Generator) for g in gens):
            out[name or "model"] = list(gens)
    return out


@dataclass
class Checkpoint:
    """Where `fit` saves its state every `every` steps, and what must match to resume.

    `tag` (e.g. the run's config hash) is stored and checked on load, so a checkpoint is
    never resumed by a different run.
    """

    path: Path
    every: int = 1000
    tag: str = ""

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if self.every < 1:
            raise ValueError(f"checkpoint every must be >= 1, got {self.every}")

    @property
    def files(self) -> tuple[Path, Path]:
        return self.path.with_suffix(".safetensors"), self.path.with_suffix(".json")

    def exists(self) -> bool:
        return self.files[1].exists()

    def save(self, tensors: dict[str, torch.Tensor], meta: dict) -> None:
        from safetensors.torch import save as to_bytes

        blob = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
        tensor_file, json_file = self.files
        atomic_write_bytes(tensor_file, to_bytes(blob))
        atomic_write_bytes(json_file, json.dumps({"tag": self.tag, **meta}).encode())

    def load(self) -> tuple[dict[str, torch.Tensor], dict]:
        from safetensors.torch import load as from_bytes

        tensor_file, json_file = self.files
        meta = json.loads(json_file.read_text())
        if meta.pop("tag", "") != self.tag:
            raise ValueError(f"checkpoint {json_file} belongs to another run "
                             f"(tag {meta.get('tag')!r}, expected {self.tag!r})")
        return from_bytes(tensor_file.read_bytes()), meta

    def remove(self) -> None:
        for f in self.files:
            f.unlink(missing_ok=True)
