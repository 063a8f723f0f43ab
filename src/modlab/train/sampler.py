"""Mini-batch indices: each member reshuffles its own data every epoch from its own stream."""
from __future__ import annotations

from collections.abc import Sequence

import torch


class EpochSampler:
    """Yields (M, B) index tensors; the last batch of an epoch may be shorter (drop_last=False)."""

    def __init__(self, n: int, batch_size: int, generators: Sequence[torch.Generator]):
        self.n, self.batch_size, self.generators = n, min(batch_size, n), list(generators)
        self._perm: torch.Tensor | None = None
        self._pos = n

    def _new_epoch(self) -> None:
        perm = torch.empty(len(self.generators), self.n, dtype=torch.int64)
        for row, g in zip(perm, self.generators, strict=True):
            torch.randperm(self.n, generator=g, out=row)
        self._perm = perm
        self._pos = 0

    def next(self) -> torch.Tensor:
        perm, start, stop = self.next_span()
        return perm[:, start:stop]

    def next_span(self) -> tuple[torch.Tensor, int, int]:
        """(epoch permutation (M, n), start, stop): the next batch is perm[:, start:stop].

        start == 0 marks a new epoch (a new permutation), so a caller can gather the whole
        epoch's data once and slice it per step; `next()` is the same stream as indices.
        """
        if self._pos >= self.n:
            self._new_epoch()
        start = self._pos
        self._pos = min(start + self.batch_size, self.n)
        return self._perm, start, self._pos
