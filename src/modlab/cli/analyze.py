"""`modlab analyze CHECKPOINT`: spectrum and k* of every linear layer of a saved model."""
from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from safetensors.torch import load_file

from ..metrics import layer_report
from .app import app
from .errors import one_line_errors

console = Console()


def weight_tensors(path: Path) -> dict[str, list]:
    """Every 2-D (post, pre) or 3-D ensemble (M, post, pre) tensor whose name ends in 'weight'."""
    if not path.exists():
        raise FileNotFoundError(f"no such checkpoint: {path}")
    if path.suffix != ".safetensors":
        raise ValueError(f"checkpoint must be a .safetensors file, got {path.name!r}")
    tensors = load_file(str(path))
    out = {k: v for k, v in tensors.items() if k.endswith("weight") and v.dim() in (2, 3)}
    if not out:
        raise ValueError(f"{path.name} holds no weight matrices")
    return out


@app.command("analyze")
@one_line_errors
def analyze(checkpoint: Path = typer.Argument(..., help="a .safetensors file"),
            k: int = typer.Option(None, help="report the eigengap at this k too"),
            max_eigs: int = typer.Option(8, help="eigenvalues to print per layer")) -> None:
    """Print the Laplacian spectrum (Eqs. 5–6) and k* of every linear layer."""
    table = Table("tensor", "member", "shape", "k*", f"g_{k}" if k else "max gap", "smallest eigenvalues")
    for name, w in weight_tensors(checkpoint).items():
        for row in layer_report([w], true_k=k):
            gaps = [b - a for a, b in zip(row["eigvals"], row["eigvals"][1:])]
            gap = row["gap_at_true_k"] if k else (max(gaps) if gaps else float("nan"))
            shape = "×".join(str(s) for s in w.shape[-2:])
            eigs = " ".join(f"{e:.3f}" for e in row["eigvals"][:max_eigs])
            table.add_row(name, str(row["member"]), shape, str(row["k_star"]), f"{gap:.3f}", eigs)
    console.print(table)
