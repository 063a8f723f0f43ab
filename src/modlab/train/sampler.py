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

    @property
    def has_epoch(self) -> bool:
        return self._perm is not None

    @property
    def permutation(self) -> torch.Tensor:
        return self._perm

    def state(self) -> dict:
        """Generator states, the position and the current epoch's permutation (JSON-able)."""
        return {"pos": self._pos, "generators": [g.get_state().tolist() for g in self.generators],
                "perm": None if self._perm is None else self._perm.tolist()}

    def load_state(self, state: dict) -> None:
        for g, s in zip(self.generators, state["generators"], strict=True):
            g.set_state(torch.tensor(s, dtype=torch.uint8))
        self._pos = state["pos"]
        self._perm = None if state["perm"] is None else torch.tensor(state["perm"],
                                                                      dtype=torch.int64)

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
