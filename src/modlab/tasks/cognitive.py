"""The Yang-2019 cognitive tasks as a registered streaming task: fresh trials every step.

`make_task("yang19", rules=[...])` gives a `CognitiveTask`: `sample(rng, B)` draws a mixture
batch (x, y, mask), T = the batch's longest trial; `test_set()` is a fixed evaluation set
(`test_trials` per rule from `test_seed`, padded to `max_steps`); `accuracy(y_hat)` scores
it per rule with Yang's performance measure.
"""
from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

import numpy as np

from . import yang19
from .base import register_task

MEASURES = {"strict": yang19.performance, "get_perf": yang19.get_perf}


class CognitiveTask:
    is_stream = True

    def __init__(self, rules: Sequence[str], dt: float, test_trials: int, test_seed: int,
                 weights=None):
        rules = list(yang19.RULES) if rules in ("all", ["all"]) else list(rules)
        if not rules:
            raise ValueError("rules must name at least one of the 20 Yang-2019 rules, or 'all'")
        bad = [r for r in rules if r not in yang19.RULES]
        if bad:
            raise ValueError(f"unknown rule {bad[0]!r}; allowed: {', '.join(yang19.RULES)} or all")
        if test_trials < 1:
            raise ValueError(f"test_trials must be >= 1, got {test_trials}")
        self.rules, self.dt, self.weights = rules, dt, weights
        self.test_trials, self.test_seed = test_trials, test_seed
        self.n_in, self.n_out = yang19.N_INPUT, yang19.N_OUTPUT
        self.max_steps = yang19.max_steps(rules, dt)
        self.n_modules = None
        self.info = {"rules": rules, "dt": dt, "max_steps": self.max_steps}

    def sample(self, rng: np.random.Generator, batch_size: int):
        b = yang19.generate_mixture(self.rules, batch_size, rng, weights=self.weights, dt=self.dt)
        return b.x, b.y, b.mask

    @cached_property
    def test_batches(self) -> dict[str, yang19.TrialBatch]:
        rng = np.random.default_rng(self.test_seed)
        return {r: yang19.generate(r, self.test_trials, rng, dt=self.dt, pad_to=self.max_steps)
                for r in self.rules}

    def test_set(self):
        batches = list(self.test_batches.values())
        return tuple(np.concatenate([getattr(b, f) for b in batches]) for f in ("x", "y", "mask"))

    @property
    def x_test(self):
        import torch

        return torch.from_numpy(self.test_set()[0])

    def accuracy(self, y_hat: np.ndarray, measure: str = "strict") -> dict[str, float]:
        """Per rule, the fraction of test trials performed correctly; y_hat is the network's
        output on `test_set()` (trials in rule order). measure: "strict" (`yang19.performance`:
        π/10, fixation held throughout) or "get_perf" (Yang's code: 0.2π, last step only)."""
        if measure not in MEASURES:
            raise ValueError(f"measure must be one of {list(MEASURES)}, got {measure!r}")
        out, start = {}, 0
        for rule, batch in self.test_batches.items():
            n = batch.batch_size
            out[rule] = float(MEASURES[measure](y_hat[start:start + n], batch).mean())
            start += n
        return out


@register_task("yang19")
def yang19_task(rules: Sequence[str] | str = "all", dt: float = 20.0, test_trials: int = 32,
                test_seed: int = 12345, weights=None) -> CognitiveTask:
    """The 20 Yang-2019 tasks (or a subset): a fresh mixture batch every training step."""
    return CognitiveTask(rules, dt, test_trials, test_seed, weights)
