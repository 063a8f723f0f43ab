"""The results store: one Parquet file per finished run, keyed by its config's content hash.

Layout under a store directory:
    runs/<key>.safetensors   the run's parameters (written first)
    runs/<key>.parquet       one row: config, curves, measures, where it ran (the commit point)
Both are written atomically (temporary file + rename); a run whose Parquet file exists is
finished and is never recomputed or overwritten. Runs are independent of the ensemble they
trained in (tests/test_reproducibility.py), so a key determines the bits.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from ..atomic import atomic_write_bytes
from ..train.config import RunConfig, flat_config
from ..train.result import RunResult

CURVES = ("steps", "train_loss", "test_loss", "train_eval")


def column_name(path: str) -> str:
    """Config path → SQL-friendly column name: 'reg.wa' → 'reg_wa'."""
    return path.replace(".", "_")


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def run_row(result: RunResult) -> dict:
    """The Parquet row of a result: scalar config columns (task params flattened too), the
    curves as lists, the kind's measures, and the environment."""
    cfg = result.config
    row = {"run_id": result.key, "config": json.dumps(cfg.model_dump(mode="json"), sort_keys=True)}
    for path, value in flat_config(cfg).items():
        if path == "task.params":
            for k, v in value.items():
                row[f"task_{k}"] = json.dumps(v) if isinstance(v, (list, dict)) else v
        elif isinstance(value, (list, dict)):
            row[column_name(path)] = json.dumps(value)
        else:
            row[column_name(path)] = value
    curves = result.curves
    for name in CURVES:
        if name in curves:
            kind = int if name == "steps" else float
            row[name] = np.asarray(curves[name]).astype(kind).tolist()
    row["final_train_loss"] = float(curves["train_loss"][-1]) if len(curves["train_loss"]) else None
    row["final_test_loss"] = result.final_test_loss
    row["diverged_at"] = result.diverged_at
    row["diverged"] = result.diverged
    row["wall_s"], row["cpu_s"], row["ensemble_members"] = result.wall_s, result.cpu_s, result.members
    for k, v in result.metrics.items():
        row[k if k not in row else f"metric_{k}"] = _jsonable(v)
    row["extra"] = json.dumps({k: _jsonable(v) for k, v in result.extra.items()})
    row["env"] = json.dumps(result.env, sort_keys=True)
    return row


class Store:
    """A directory of finished runs (created on first write)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.runs = self.root / "runs"

    def _files(self, key: str) -> tuple[Path, Path]:
        return self.runs / f"{key}.safetensors", self.runs / f"{key}.parquet"

    def has(self, key: str) -> bool:
        return self._files(key)[1].exists()

    def keys(self) -> list[str]:
        return sorted(p.stem for p in self.runs.glob("*.parquet")) if self.runs.exists() else []

    def write(self, result: RunResult) -> bool:
        """Store a finished run; False (and nothing written) if it is already there."""
        from safetensors.torch import save as to_bytes

        key = result.key
        tensors, table = self._files(key)
        if table.exists():
            return False
        self.runs.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(tensors, to_bytes({k: v.contiguous() for k, v in result.state.items()}))
        sink = pa.BufferOutputStream()
        pq.write_table(pa.Table.from_pylist([run_row(result)]), sink)
        atomic_write_bytes(table, sink.getvalue().to_pybytes())
        return True

    def row(self, key: str) -> dict:
        return pq.read_table(self._files(key)[1]).to_pylist()[0]

    def load(self, key: str) -> RunResult:
        """The stored run, as a `RunResult` (parameters on the CPU)."""
        from safetensors.torch import load as from_bytes

        tensors, _ = self._files(key)
        if not self.has(key):
            raise ValueError(f"run {key} is not in the store at {self.root}")
        row = self.row(key)
        config = RunConfig.model_validate_json(row["config"])
        state = {k: v.clone() for k, v in from_bytes(tensors.read_bytes()).items()}
        curves = {n: np.asarray(row[n], dtype=np.float32 if n != "steps" else np.int64)
                  for n in CURVES if row.get(n) is not None}
        reserved = set(run_row_columns(row))
        metrics = {k: v for k, v in row.items() if k not in reserved}
        return RunResult(config=config, state=state, curves=curves,
                         diverged_at=int(row["diverged_at"]), metrics=metrics,
                         extra=json.loads(row["extra"]), wall_s=row["wall_s"],
                         cpu_s=row["cpu_s"], members=row["ensemble_members"],
                         env=json.loads(row["env"]))

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())


def run_row_columns(row: dict) -> list[str]:
    """The columns of a run row that are not the kind's measures."""
    fixed = {"run_id", "config", *CURVES, "final_train_loss", "final_test_loss", "diverged_at",
             "diverged", "wall_s", "cpu_s", "ensemble_members", "extra", "env"}
    config_cols = {column_name(p) for p in flat_config(RunConfig.model_validate_json(row["config"]))}
    return [k for k in row if k in fixed or k in config_cols or k.startswith("task_")]


def state_to_cpu(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu() for k, v in state.items()}
