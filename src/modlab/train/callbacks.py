"""Training callbacks that change parameters: BIMT's neuron swaps (spec 2)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from .config import RunConfig
from .loop import Callback
from .terms import _coords


class BIMTSwaps(Callback):
    """Every `reg.swap_every` steps (each member its own), the `reg.swap_top_k` neurons with
    the largest Σ|in| + Σ|out| of each swappable layer each move to the position that lowers
    the wiring length Σ|W|·d most (`regularizers.bimt.plan_swaps`). The swap permutes the
    neuron's rows, columns and bias, and the Adam moments of the same entries, so the network
    function is unchanged (tests/test_bimt.py, tests/test_rnn.py). Decisions use the distance term only
    (A = 1): l₀ does not depend on positions, and a run with locality A = 0 in its penalty
    ("L1 + swap") still places neurons by wiring length.

    `layers` lists, per swappable layer, (neuron coordinates, owners) where owners are
    (parameter name, dim) pairs with the member dim counted as 0, plus how to read
    (w_in, w_out, recurrent, pre_coords, post_coords) from the model.
    """

    def __init__(self, every: Sequence[int], top_k: Sequence[int], layers):
        self.every, self.top_k, self.layers = list(every), list(top_k), layers
        self.swaps = [0] * len(self.every)

    @classmethod
    def for_rnn(cls, configs: Sequence[RunConfig]) -> BIMTSwaps:
        return cls([c.reg.swap_every for c in configs], [c.reg.swap_top_k for c in configs],
                   "rnn")

    @classmethod
    def for_mlp(cls, configs: Sequence[RunConfig]) -> BIMTSwaps:
        return cls([c.reg.swap_every for c in configs], [c.reg.swap_top_k for c in configs],
                   "mlp")

    def state(self) -> dict:
        return {"swaps": self.swaps}

    def load_state(self, state: dict) -> None:
        self.swaps = list(state["swaps"])

    @torch.no_grad()
    def on_step(self, step: int, model, optimizer) -> None:
        members = [m for m, k in enumerate(self.every) if k and step % k == 0]
        if not members:
            return
        for layer in (_rnn_layers(model) if self.layers == "rnn" else _mlp_layers(model)):
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


def _rnn_layers(model) -> list[dict]:
    grid = _coords(("grid", model.hidden_size))
    return [{"w_in": model.w_in, "w_out": model.w_out, "recurrent": model.w_rec,
             "coords": grid, "pre": _coords(("line", model.n_in, "left")),
             "post": _coords(("line", model.n_out, "right")),
             "owners": [(model.w_in, 1), (model.w_rec, 1), (model.w_rec, 2), (model.b, 1),
                        (model.w_out, 2)]}]


def _mlp_layers(model) -> list[dict]:
    """Every hidden layer of an `MLP` (neurons on lines, as `MLP.wiring_layout`)."""
    layers, widths = [], model.widths
    for k in range(len(model.layers) - 1):
        w, w_next = model.layers[k], model.layers[k + 1]
        owners = [(w.weight, 1), (w_next.weight, 2)]
        if w.bias is not None:
            owners.append((w.bias, 1))
        layers.append({"w_in": w.weight, "w_out": w_next.weight, "recurrent": None,
                       "coords": _coords(("line", widths[k + 1])),
                       "pre": _coords(("line", widths[k])),
                       "post": _coords(("line", widths[k + 2])), "owners": owners})
    return layers
