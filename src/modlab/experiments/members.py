"""Planned runs and trained runs as the analyses see them, and the per-layer result rows."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import torch

from ..metrics import dead_neurons, gap_at, laplacian_spectrum, layer_report, module_count
from ..train import RunConfig, with_overrides
from ..train.ensemble import build_datasets
from ..train.result import RunResult
from .base import Run

__all__ = ["Trained", "make_members", "make_runs", "modularity_rows", "with_overrides"]


def make_runs(base: RunConfig, settings: dict[str, dict], seeds: Sequence[int],
              **labels) -> list[Run]:
    """settings × seeds: each setting's dotted-path overrides of `base`, one run per seed."""
    return [Run(with_overrides(base, {**ov, "seed": s}), {"setting": name, "seed": s, **labels})
            for name, ov in settings.items() for s in seeds]


make_members = make_runs   # the 0.1 name


@dataclass
class Trained:
    """A planned run and its stored result: labels, config, curves, and (lazily) the rebuilt
    network, its task and its hidden activations on the test set."""

    run: Run
    result: RunResult
    _cache: dict = field(default_factory=dict, repr=False)

    # -- labels and config ---------------------------------------------------------------
    @property
    def labels(self) -> dict:
        return self.run.labels

    @property
    def config(self) -> RunConfig:
        return self.run.config

    @property
    def setting(self) -> str:
        return self.labels.get("setting", "")

    @property
    def seed(self) -> int:
        return self.labels.get("seed", self.config.seed)

    # -- curves --------------------------------------------------------------------------
    @property
    def curve_steps(self) -> np.ndarray:
        return self.result.curves["steps"]

    @property
    def train_curve(self) -> np.ndarray:
        return self.result.curves["train_loss"]

    @property
    def test_curve(self) -> np.ndarray:
        return self.result.curves["test_loss"]

    @property
    def test_loss(self) -> float:
        return self.result.final_test_loss

    @property
    def diverged_at(self) -> int:
        return self.result.diverged_at

    @property
    def diverged(self) -> bool:
        return self.result.diverged

    # -- the network ---------------------------------------------------------------------
    @cached_property
    def dataset(self):
        return build_datasets([self.config])[0]

    @property
    def n_modules(self) -> int | None:
        return getattr(self.dataset, "n_modules", None)

    @cached_property
    def model(self) -> torch.nn.Module:
        model = self.result.model()
        model.eval()
        return model

    @cached_property
    def weights(self) -> list[np.ndarray]:
        """W^0 … W^L of the network, (post, pre)."""
        return [w[0].detach().numpy() for w in self.model.weights]

    @cached_property
    def hidden_test(self) -> list[np.ndarray]:
        """Hidden activations on the test set, (N, units) per hidden layer."""
        with torch.no_grad():
            hidden = self.model.forward_hidden(self.dataset.x_test).hidden
        return [h[0].numpy() for h in hidden]


def _layer_measures(t: Trained, collapsed: bool) -> list[dict]:
    """Per weight layer: k*, gap at the true k, dropped and dead neurons, eigenvalues; from
    the measures stored with the run (computed where it trained) unless `collapsed`."""
    m = t.result.metrics
    if not collapsed and "k_star" in m and "dead_neurons" in m:
        return [{"layer": i, "k_star": m["k_star"][i], "gap_at_true_k": m["gap_at_true_k"][i],
                 "dead_neurons": m["dead_neurons"][i], "dropped_neurons": m["dropped_neurons"][i],
                 "eigvals": list(m["eigvals"][i])} for i in range(len(m["k_star"]))]
    act = t.config.net.activation
    out = []
    for r in layer_report(t.weights, true_k=t.n_modules, collapsed=collapsed):
        layer = r["layer"]
        hidden = t.hidden_test[layer] if layer < len(t.hidden_test) else None
        dead = int(dead_neurons(torch.from_numpy(hidden), act)) if hidden is not None else 0
        out.append({"layer": layer, "k_star": r["k_star"], "gap_at_true_k": r["gap_at_true_k"],
                    "dead_neurons": dead, "dropped_neurons": r["dropped_neurons"],
                    "eigvals": r["eigvals"]})
    return out


def reference_measures(t: Trained) -> list[dict]:
    """Per weight layer, k* and the gap at the true k from the authors' spectrum (`eigh` on
    the non-symmetric L_rw: wrong by ~0.01–0.06, spec 1), for comparison with the exact one."""
    out = []
    for w in t.weights:
        vals = laplacian_spectrum(w, method="reference")
        vals = vals[~np.isnan(vals)]
        out.append({"k_star_reference": int(module_count(vals)),
                    "gap_reference": float(gap_at(vals, t.n_modules)) if t.n_modules else
                    float("nan")})
    return out


def modularity_rows(trained: Sequence[Trained], collapsed: bool = False,
                    reference: bool = False) -> list[dict]:
    """One row per (run, weight layer): k*, the gap at the true k, losses, dead neurons (and,
    with `reference`, the same from the authors' spectrum).

    Metrics of a diverged run are not applicable (NaN / None): its frozen weights say
    nothing about what training makes.
    """
    rows = []
    for t in trained:
        refs = reference_measures(t) if reference and not t.diverged else None
        for i, r in enumerate(_layer_measures(t, collapsed)):
            row = {**t.labels, **r, "test_loss": t.test_loss, "diverged": t.diverged,
                   "diverged_at": t.diverged_at, "run_id": t.result.key,
                   **(refs[i] if refs else {})}
            if t.diverged:
                row.update(k_star=None, gap_at_true_k=float("nan"), dead_neurons=None,
                           dropped_neurons=None, eigvals=[])
            rows.append(row)
    return rows
