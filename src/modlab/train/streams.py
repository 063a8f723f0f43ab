"""Members' trial streams as one `Stream` for `fit`.

A streaming task (e.g. the Yang-2019 cognitive tasks) has `n_in`, `n_out`,
`sample(rng, batch_size) -> (x, y, mask)` (NumPy arrays whose shapes do not depend on the
draws) and `test_set() -> (x, y, mask)`. Member i samples from its own task with its own
generator, so its batches do not depend on the ensemble it trains in.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def _pad(a: np.ndarray, steps: int) -> np.ndarray:
    if a.shape[1] == steps:
        return a
    out = np.zeros((a.shape[0], steps, *a.shape[2:]), dtype=a.dtype)
    out[:, :a.shape[1]] = a
    return out


class MemberStreams:
    def __init__(self, tasks: Sequence):
        self.tasks = list(tasks)
        self._test = None

    def to(self, device) -> MemberStreams:
        return self   # batches are made on the CPU and moved by the loop

    def sample(self, generators: Sequence[np.random.Generator], batch_size: int):
        """(x, y, mask), (M, B, T, …): each member's own batch, zero-padded (mask 0) to the
        longest member's T."""
        parts = [task.sample(rng, batch_size) for task, rng in zip(self.tasks, generators,
                                                                  strict=True)]
        steps = max(p[0].shape[1] for p in parts)
        return tuple(torch.from_numpy(np.stack([_pad(p[k], steps) for p in parts]))
                     for k in range(3))

    @property
    def test(self):
        """The members' test sets: shared tensors when all members have the same task."""
        if self._test is None:
            if all(t is self.tasks[0] for t in self.tasks):
                self._test = tuple(torch.from_numpy(np.asarray(a))
                                   for a in self.tasks[0].test_set())
            else:
                sets = [t.test_set() for t in self.tasks]
                self._test = tuple(torch.from_numpy(np.stack([s[k] for s in sets]))
                                   for k in range(3))
        return self._test
