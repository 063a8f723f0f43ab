"""The regulariser terms, each described once.

A term is one record holding (i) its definition, a pure function of the model's weights and
activations that the autograd path differentiates (it calls `modlab.regularizers`), and
(ii) the pieces the hand-derived MLP engine (`engine_mlp.py`) needs: which weight statistics
it reads, its value from them, and its gradient as coefficients
∂R/∂W^l = W ⊙ lin + sign(W) ⊙ sgn and ∂R/∂h^k = hidden_coef · ∂(Σ_b|h|^α)/∂h / α.
Adding a term = one record here + its coefficient field in `RegConfig`
(tests/test_performance.py checks every term's hand-derived gradient against autograd).

Layer conventions: W^l (l = 0..L) maps layer l to l+1; hidden layer k (k = 0..L−1) is the
output of W^k and the input of W^{k+1}, so W^{k+1}'s columns are its neurons' outgoing weights.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from ..regularizers import activity, l12, l21, weight_l1, weight_l2, weighted_activity

# Which layers a weight statistic is needed on.
EVERY, OUTGOING, INCOMING = "every", "outgoing", "incoming"
STATISTICS = ("colsq", "rowsq", "colabs", "rowabs")   # Σ_post W², Σ_pre W², Σ_post |W|, Σ_pre |W|


class RegInputs:
    """What term definitions read, computed on demand from a model and its forward pass."""

    def __init__(self, model, forward):
        self.model, self.forward = model, forward

    @property
    def weights(self) -> list[torch.Tensor]:
        return self.model.weights

    @property
    def hidden(self) -> list[torch.Tensor]:
        return self.forward.hidden

    @property
    def outgoing(self) -> list[torch.Tensor]:
        """The weight leaving each hidden layer (layered models only)."""
        out = getattr(self.model, "outgoing_weights", None)
        return out() if callable(out) else self.weights[1:]

    @property
    def latent(self) -> torch.Tensor:
        latent = getattr(self.forward, "latent", None)
        if latent is None:
            raise ValueError(f"{type(self.model).__name__} has no latent layer for this term")
        return latent

    @property
    def distances(self) -> list[torch.Tensor]:
        """Distance between the neurons each weight connects, (post, pre) per weight (spec 2)."""
        return wiring_distances(self.model)


class Stats:
    """Per-step quantities the manual engine shares between terms."""

    colsq: list[torch.Tensor | None]
    rowsq: list[torch.Tensor | None]
    colabs: list[torch.Tensor | None]
    rowabs: list[torch.Tensor | None]
    moments: dict[str, list[torch.Tensor]]   # term name → Σ_b |h^k|^α per hidden layer (M, 1, u)
    weights: list[torch.Tensor]
    inv_b: torch.Tensor                      # 1 / batch, 0-dim
    last: int                                # index of the output layer's weight


@dataclass(frozen=True)
class Term:
    """One regulariser. `coef` below is the member's coefficient, (M, 1, 1); `k(c, f)` returns
    the cached tensor f·c (constants are built once per engine, not once per step)."""

    name: str                                            # its RegConfig coefficient field
    value: Callable[[RegInputs, dict], torch.Tensor]     # definition: (M,) per member
    params: tuple[str, ...] = ()                         # further RegConfig fields it reads
    needs: tuple[tuple[str, str], ...] = ()              # (statistic, layers) for the engine
    manual: bool = True                                  # the MLP engine implements it
    manual_value: Callable[[Stats], torch.Tensor] | None = None
    weight_grad: Callable[[Stats, int, torch.Tensor, Callable], tuple] | None = None
    hidden_coef: Callable[[Stats, int, torch.Tensor, Any, Callable], torch.Tensor] | None = None

    @property
    def uses_moments(self) -> bool:
        return self.hidden_coef is not None

    @property
    def alpha(self) -> str | None:
        """The exponent field of an activity-moment term (its first parameter)."""
        return self.params[0] if self.uses_moments else None


def _cat(parts) -> torch.Tensor:
    return torch.cat(list(parts), 1)


def _vecdot(a, b) -> torch.Tensor:
    return torch.linalg.vecdot(a, b)


# -- weighted activity (Eq. 18) and activity (Eq. 19): gradients through the hidden layers --

def _wa_value(st: Stats) -> torch.Tensor:
    sums = st.moments["wa"]
    return _vecdot(_cat(st.colsq[1:]), torch.cat(sums, 2).view(sums[0].shape[0], -1)) * st.inv_b


def _wa_weight(st: Stats, li: int, coef, k) -> tuple:
    if li == 0:   # W^0 leaves the input, which WA does not cover
        return None, None
    return k(coef, 2.0, per_batch=True) * st.moments["wa"][li - 1], None


def _wa_hidden(st: Stats, k_layer: int, coef, alpha, k) -> torch.Tensor:
    return st.colsq[k_layer + 1].unsqueeze(1) * k(coef, alpha, per_batch=True)


def _activity_value(st: Stats) -> torch.Tensor:
    return torch.cat(st.moments["activity"], 2).sum((1, 2)) * st.inv_b


def _activity_hidden(st: Stats, k_layer: int, coef, alpha, k) -> torch.Tensor:
    return k(coef, alpha, per_batch=True)


# -- weight penalties ---------------------------------------------------------------------

def _l1_weight(st, li, coef, k):
    return None, coef


def _l2_weight(st, li, coef, k):
    return k(coef, 2.0), None


def _l12_value(st: Stats) -> torch.Tensor:
    return _vecdot(_cat(st.colsq[1:]), _cat(st.rowabs[:-1]))


def _l12_weight(st: Stats, li: int, coef, k) -> tuple:
    lin = sgn = None
    if li >= 1:     # W^l's columns are hidden layer l−1's outgoing weights: ∂‖·‖² term
        lin = k(coef, 2.0) * st.rowabs[li - 1].unsqueeze(1)
    if li < st.last:   # W^l's rows are hidden layer l's incoming weights: ∂‖·‖₁ term
        sgn = coef * st.colsq[li + 1].unsqueeze(2)
    return lin, sgn


def _l21_value(st: Stats) -> torch.Tensor:
    return _vecdot(_cat(st.colabs[1:]), _cat(st.rowsq[:-1]))


def _l21_weight(st: Stats, li: int, coef, k) -> tuple:
    lin = sgn = None
    if li >= 1:
        sgn = coef * st.rowsq[li - 1].unsqueeze(1)
    if li < st.last:
        lin = k(coef, 2.0) * st.colabs[li + 1].unsqueeze(2)
    return lin, sgn


def _nonneg_value(inputs: RegInputs, _p) -> torch.Tensor:
    """Nonnegativity penalty ⟨Σ_j relu(−z_j)⟩ of the latent code (spec 3)."""
    return torch.relu(-inputs.latent).mean(-2).sum(-1)


def _wiring_value(inputs: RegInputs, p: dict) -> torch.Tensor:
    """BIMT's connection cost Σ_l Σ_ij |W_ij|·(A·d_ij + l₀) (spec 2), d from the model's
    neuron coordinates."""
    from ..regularizers.bimt import connection_cost

    return connection_cost(inputs.weights, inputs.distances, p["wiring_locality"],
                           p["wiring_l0"])


TERMS: dict[str, Term] = {t.name: t for t in (
    Term("wa", lambda r, p: weighted_activity(r.hidden, r.outgoing, p["wa_alpha"]),
         params=("wa_alpha",),
         needs=(("colsq", OUTGOING),), manual_value=_wa_value, weight_grad=_wa_weight,
         hidden_coef=_wa_hidden),
    Term("activity", lambda r, p: activity(r.hidden, p["activity_alpha"]),
         params=("activity_alpha",),
         manual_value=_activity_value, hidden_coef=_activity_hidden),
    Term("l1", lambda r, _p: weight_l1(r.weights), needs=(("rowabs", EVERY),),
         manual_value=lambda st: _cat(st.rowabs).sum(1), weight_grad=_l1_weight),
    Term("l2", lambda r, _p: weight_l2(r.weights), needs=(("colsq", EVERY),),
         manual_value=lambda st: _cat(st.colsq).sum(1), weight_grad=_l2_weight),
    Term("l12", lambda r, _p: l12(r.weights), needs=(("colsq", OUTGOING), ("rowabs", INCOMING)),
         manual_value=_l12_value, weight_grad=_l12_weight),
    Term("l21", lambda r, _p: l21(r.weights), needs=(("colabs", OUTGOING), ("rowsq", INCOMING)),
         manual_value=_l21_value, weight_grad=_l21_weight),
    Term("nonneg", _nonneg_value, manual=False),
    Term("wiring", _wiring_value, params=("wiring_locality", "wiring_l0"), manual=False),
)}


def _coords(placement: tuple) -> torch.Tensor:
    from ..regularizers.bimt import grid_coords, line_coords, side_line

    kind, n, *where = placement
    if kind == "grid":
        return grid_coords(n)
    if kind == "line" and where:
        return side_line(n, where[0])
    return line_coords(n)


def wiring_distances(model) -> list[torch.Tensor]:
    """(post, pre) distances for each of `model.weights`, from its `wiring_layout()`
    placements; Manhattan (BIMT code: |Δx| on lines; spec 2: Manhattan on grids). Cached on
    the model: neurons keep their positions (swaps move weights, not places)."""
    cached = getattr(model, "_wiring_distances", None)
    device = model.weights[0].device
    if cached is None:
        from ..regularizers.bimt import distances

        cached = [distances(_coords(post), _coords(pre)).float()
                  for post, pre in model.wiring_layout()]
        object.__setattr__(model, "_wiring_distances", cached)
    return [d.to(device) for d in cached]


def needed_statistics(terms, n_layers: int) -> dict[str, set[int]]:
    """Layer indices on which each weight statistic is needed by the given terms."""
    layers = {EVERY: set(range(n_layers)), OUTGOING: set(range(1, n_layers)),
              INCOMING: set(range(n_layers - 1))}
    need = {s: set() for s in STATISTICS}
    for term in terms:
        for stat, which in term.needs:
            need[stat] |= layers[which]
    return need
