"""A resource estimate checked before training: absurd sizes get a one-line refusal, not a
MemoryError or a run that never ends.

Per run: parameters P (from the model kind's size formula), training-data floats D (the
task's sample count × its input and output width; per member), and compute
C = 6·P·B·steps FLOPs (forward + backward, B samples per step; sequence tasks × T steps).
Refused above: memory 4·(4P + D + activations) > half of this machine's RAM for the whole
ensemble, compute Σ C > 1e17 FLOPs (~2 weeks at 100 GFLOP/s), or more than 100,000 runs.
`force=True` (`--force`) skips the check.
"""
from __future__ import annotations

import math
import os
from collections.abc import Sequence

from ..train.config import RunConfig

MAX_FLOPS = 1e17
MAX_RUNS = 100_000
SIZE_KEYS = ("n_train", "n_test", "n_points", "samples")


def _ram_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 16 << 30


def _task_size(cfg: RunConfig) -> tuple[int, int, int, int]:
    """(n_in, n_out, samples, time steps) of a run's task, built at a tiny size."""
    from ..tasks import make_task

    params = dict(cfg.task.params)
    samples = sum(int(params[k]) for k in SIZE_KEYS if k in params and k != "n_test") or 0
    samples += int(params.get("n_test", 0))
    small = {k: min(int(v), 64) for k, v in params.items() if k in SIZE_KEYS}
    task = make_task(cfg.task.name, **{**params, **small})
    x = getattr(task, "x_train", None)
    steps = int(x.shape[1]) if x is not None and x.dim() == 3 else int(getattr(task, "n_steps", 1))
    if not samples:
        samples = int(x.shape[0]) if x is not None else 0
    return int(task.n_in), int(task.n_out), samples, steps


def model_size(cfg: RunConfig, n_in: int, n_out: int):
    """One member's `Size` (parameters, widest layer) from its kind's record, nothing
    allocated. A kind without a size formula is refused: a guess (the RNN's formula, before)
    could let an absurd plan through."""
    from ..train.kinds import get_kind

    kind = get_kind(cfg.net.kind)
    if kind.size is None:
        raise ValueError(f"net.kind {kind.name!r} has no size estimate (ModelKind.size), so a "
                         "sweep cannot check its resources: give the kind one, or pass --force")
    return kind.size(cfg.net, n_in, n_out)


def parameter_count(cfg: RunConfig, n_in: int, n_out: int) -> int:
    """Parameters of one member, from the widths alone (nothing allocated)."""
    return int(model_size(cfg, n_in, n_out).params)


def estimate(cfg: RunConfig) -> dict:
    """Memory (bytes, one member) and compute (FLOPs) of one run."""
    n_in, n_out, samples, steps_t = _task_size(cfg)
    params, widest = model_size(cfg, n_in, n_out)
    batch = min(cfg.optim.batch_size, samples or cfg.optim.batch_size)
    width = max(n_in, n_out, widest)
    memory = 4 * (4 * params + samples * (n_in + n_out) * steps_t + 8 * batch * width * steps_t)
    flops = 6.0 * params * batch * steps_t * cfg.optim.steps
    return {"memory": memory, "flops": flops, "params": params}


def check_resources(configs: Sequence[RunConfig], force: bool = False) -> dict:
    """Refuse (ValueError naming the field and the limit) a plan beyond the limits."""
    if force:
        return {}
    if len(configs) > MAX_RUNS:
        raise ValueError(f"{len(configs):,} runs planned (limit {MAX_RUNS:,}): lower 'seeds' or "
                         "the grid, or pass --force")
    seen: dict[str, dict] = {}
    flops, worst = 0.0, 0
    for cfg in configs:
        key = cfg.model_copy(update={"seed": 0}).model_dump_json()
        if key not in seen:
            seen[key] = estimate(cfg)
        est = seen[key]
        flops += est["flops"]
        worst = max(worst, est["memory"])
    limit = _ram_bytes() // 2
    if worst * min(len(configs), 64) > limit:
        raise ValueError(f"a run needs ~{_human(worst)} (model, data and activations; up to 64 "
                         f"per ensemble) against a limit of {_human(limit)} (half this machine's "
                         "RAM): lower the width ('hidden'), the data ('n_train') or pass --force")
    if not math.isfinite(flops) or flops > MAX_FLOPS:
        raise ValueError(f"the plan needs ~{flops:.1e} FLOPs of training (limit {MAX_FLOPS:.0e}, "
                         "about two weeks at 100 GFLOP/s): lower 'steps' or 'seeds', or pass --force")
    return {"flops": flops, "memory": worst}


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n < 1024:
            return f"{n:.0f} {unit}"
        n /= 1024
    return f"{n:.0f} EB"
