"""Where and how training runs: torch thread count and device selection.

Threads. modlab trains small networks (tens of units, batches of hundreds): one ensemble step
is a few dozen kernels of ~10-100 µs each, too short for torch's intra-op thread pool to pay
off. Measured on a 2-core machine (docs/performance.md), 2 threads were never faster than 1
and often many times slower (threads spin and wait on each other, worse when the other core is
busy). So training runs on **1 thread by default**; parallelism comes from running independent
ensembles in separate single-threaded processes (`modlab.sweep.ProcessExecutor`).
Override per call (`threads=`), or for the whole process with the environment variable
`MODLAB_THREADS` (an integer; 0 = leave torch's own setting alone).

Devices. `cpu` (default), `cuda`, `cuda:N`, `mps`, or `auto` (CUDA if available, else CPU).
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

THREADS_ENV = "MODLAB_THREADS"
DEFAULT_THREADS = 1


def default_threads() -> int:
    """Torch threads used for training when none are given: $MODLAB_THREADS, else 1."""
    value = os.environ.get(THREADS_ENV, "").strip()
    if not value:
        return DEFAULT_THREADS
    try:
        n = int(value)
    except ValueError:
        raise ValueError(f"{THREADS_ENV} must be an integer, got {value!r}") from None
    if n < 0:
        raise ValueError(f"{THREADS_ENV} must be >= 0, got {n}")
    return n


def resolve_threads(threads: int | None) -> int:
    """None → the default (see `default_threads`); 0 → torch's current setting; n ≥ 1 → n."""
    n = default_threads() if threads is None else int(threads)
    if n < 0:
        raise ValueError(f"threads must be >= 0, got {n}")
    return torch.get_num_threads() if n == 0 else n


@contextmanager
def torch_threads(threads: int | None = None) -> Iterator[int]:
    """Run the block with `resolve_threads(threads)` torch intra-op threads, then restore."""
    n = resolve_threads(threads)
    before = torch.get_num_threads()
    if n != before:
        torch.set_num_threads(n)
    try:
        yield n
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def cuda_available() -> bool:
    return torch.cuda.is_available()


def mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(device: str | torch.device | None = "cpu") -> torch.device:
    """'cpu' | 'cuda[:N]' | 'mps' | 'auto' (CUDA if present, else CPU) → a torch.device.

    Asking for a device this machine lacks raises a ValueError naming what is available.
    """
    if device is None:
        return torch.device("cpu")
    if isinstance(device, torch.device):
        dev = device
    else:
        name = str(device).strip().lower()
        if name == "auto":
            return torch.device("cuda") if cuda_available() else torch.device("cpu")
        try:
            dev = torch.device(name)
        except RuntimeError:
            raise ValueError(f"unknown device {device!r}; use cpu, cuda, cuda:N, mps or auto") from None
    if dev.type == "cuda" and not cuda_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available here "
                         "(use --device cpu or auto)")
    if dev.type == "mps" and not mps_available():
        raise ValueError(f"device {device!r} requested but MPS is not available here")
    return dev


def describe_machine() -> dict[str, str | int]:
    """What a benchmark or a result record should say about where it ran."""
    import platform

    info: dict[str, str | int] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu": _cpu_name(),
        "cores": os.cpu_count() or 0,
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
    }
    if cuda_available():
        info["cuda"] = torch.cuda.get_device_name(0)
    return info


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


_CBWR_BRANCHES = {1: "OFF", 2: "AUTO", 3: "COMPATIBLE", 4: "SSE2", 6: "SSE4_1", 7: "SSE4_2",
                  8: "AVX", 9: "AVX2", 10: "AVX512_MIC", 11: "AVX512", 12: "AVX512_MIC_E1",
                  13: "AVX512_E1"}
_CBWR_STRICT = 0x10000


def mkl_cnr_mode() -> str:
    """MKL's conditional-numerical-reproducibility mode as MKL reports it ("AUTO,STRICT",
    "OFF", …), or "unknown" where MKL is not torch's BLAS. modlab sets MKL_CBWR=AUTO,STRICT
    when it is imported (see modlab/__init__.py): without it, a matmul's rounding depends on
    operand alignment and a run's bits on its position in an ensemble."""
    import ctypes

    lib_dir = os.path.join(os.path.dirname(torch.__file__), "lib")
    for name in ("libtorch_cpu.so", "libtorch_cpu.dylib", "torch_cpu.dll"):
        path = os.path.join(lib_dir, name)
        if not os.path.exists(path):
            continue
        try:
            get = ctypes.CDLL(path).mkl_serv_cbwr_get
        except (OSError, AttributeError):
            return "unknown"
        get.restype, get.argtypes = ctypes.c_int, [ctypes.c_int]
        mode = get(-1)
        branch = _CBWR_BRANCHES.get(mode & ~_CBWR_STRICT, str(mode & ~_CBWR_STRICT))
        return branch + (",STRICT" if mode & _CBWR_STRICT else "")
    return "unknown"
