"""Training callbacks that change parameters: BIMT's neuron swaps (spec 2)."""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from .config import RunConfig
from .loop import Callback


class BIMTSwaps(Callback):
    """Every `reg.swap_every` steps (each member its own), the `reg.swap_top_k` neurons with
    the largest Σ|in| + Σ|out| of each swappable layer each move to the position that lowers
    the wiring length Σ|W|·d most (`regularizers.bimt.plan_swaps`). The swap permutes the
    neuron's rows, columns and bias, and the Adam moments of the same entries, so the network
    function is unchanged (tests/test_bimt.py, tests/test_rnn.py). Decisions use the distance term only
    (A = 1): l₀ does not depend on positions, and a run with locality A = 0 in its penalty
    ("L1 + swap") still places neurons by wiring length.

    `layout(model)` (the kind's `swap_layout`) lists the swappable layers: per layer a dict
    with the weights the search reads ("w_in", "w_out", "recurrent" or None), the neurons'
    "coords" and their neighbours' ("pre", "post"), and the "owners": (parameter, dim) pairs,
    member dim counted as 0, whose entries move with a neuron.
    """

    def __init__(self, configs: Sequence[RunConfig], layout: Callable[[object], list[dict]]):
        self.every = [c.reg.swap_every for c in configs]
        self.top_k = [c.reg.swap_top_k for c in configs]
        self.layout = layout
        self.swaps = [0] * len(self.every)

    def state(self) -> dict:
        return {"swaps": self.swaps}

    def load_state(self, state: dict) -> None:
        self.swaps = list(state["swaps"])

    @torch.no_grad()
    def on_step(self, step: int, model, optimizer) -> None:
        members = [m for m, k in enumerate(self.every) if k and step % k == 0]
        if not members:
            return
        for layer in self.layout(model):
            self._swap_layer(layer, members, optimizer)

    def _swap_layer(self, layer: dict, members: list[int], optimizer) -> None:
        from ..regularizers.bimt import plan_swaps

        for m in members:
            w_in, w_out, rec = (None if layer[k] is None else layer[k][m]
                                for k in ("w_in", "w_out", "recurrent"))
            plan = plan_swaps(w_in, w_out, layer["coords"], layer["pre"], layer["post"], A=1.0,
                              top_k=self.top_k[m], recurrent=rec)
            if not plan.swaps:
                continue
            self.swaps[m] += len(plan.swaps)
            perm = torch.as_tensor(np.asarray(plan.permutation))
            for param, dim in layer["owners"]:
                view = param.data[m]
                view.copy_(view.index_select(dim - 1, perm.to(view.device)))
                optimizer.permute_(param, dim - 1, perm, member=m)

