"""Per-member random streams.

Every member of an ensemble owns its own generators, so member i draws exactly the numbers
it would draw when trained alone: that is what makes "ensemble member == stand-alone run" hold.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence

import torch


def derive_seed(seed: int, stream: str) -> int:
    """A 63-bit seed for a named stream, stable across Python sessions (unlike hash())."""
    digest = hashlib.blake2b(f"{seed}:{stream}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & ((1 << 63) - 1)


def make_generators(seeds: Sequence[int], stream: str | None = None, device="cpu") -> list[torch.Generator]:
    """One generator per member; stream=None uses the raw seed (so init matches torch.manual_seed)."""
    gens = []
    for s in seeds:
        g = torch.Generator(device=device)
        g.manual_seed(int(s) if stream is None else derive_seed(int(s), stream))
        gens.append(g)
    return gens


def member_randn(shape: Sequence[int], generators: Sequence[torch.Generator] | None,
                 *, device="cpu", dtype=torch.float32) -> torch.Tensor:
    """Standard normals of `shape` whose leading dim is the member dim, member i from generator i."""
    if generators is None:
        return torch.randn(tuple(shape), device=device, dtype=dtype)
    return fill_member_randn_(torch.empty(tuple(shape), device=device, dtype=dtype), generators)


def member_rand(shape: Sequence[int], generators: Sequence[torch.Generator] | None,
                *, device="cpu", dtype=torch.float32) -> torch.Tensor:
    """Uniform [0, 1) numbers, member i from generator i (see member_randn)."""
    if generators is None:
        return torch.rand(tuple(shape), device=device, dtype=dtype)
    return fill_member_rand_(torch.empty(tuple(shape), device=device, dtype=dtype), generators)


def fill_member_randn_(out: torch.Tensor, generators: Sequence[torch.Generator] | None) -> torch.Tensor:
    """In-place `member_randn`: fills a preallocated (members, ...) tensor, same streams."""
    if generators is None:
        return out.normal_()
    for o, g in zip(out, generators, strict=True):
        if g.device == o.device:
            o.normal_(generator=g)
        else:  # e.g. CPU streams feeding a CUDA model: same numbers as on the CPU
            o.copy_(torch.empty(o.shape, dtype=o.dtype).normal_(generator=g))
    return out


def fill_member_rand_(out: torch.Tensor, generators: Sequence[torch.Generator] | None) -> torch.Tensor:
    """In-place `member_rand`: fills a preallocated (members, ...) tensor, same streams."""
    if generators is None:
        return out.uniform_()
    for o, g in zip(out, generators, strict=True):
        if g.device == o.device:
            o.uniform_(generator=g)
        else:  # e.g. CPU streams feeding a CUDA model: same numbers as on the CPU
            o.copy_(torch.empty(o.shape, dtype=o.dtype).uniform_(generator=g))
    return out
