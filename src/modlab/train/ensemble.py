"""Build and train an ensemble from member configs: the entry point experiments use."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from ..nn import MLP
from ..tasks import Dataset, make_task
from .config import RunConfig, check_batchable
from .loop import Data, History, fit
from .objective import RegressionObjective
from .runtime import resolve_device


@dataclass
class EnsembleRun:
    configs: list[RunConfig]
    model: MLP
    history: History
    datasets: list[Dataset]          # one per member (shared objects where the task is the same)

    @property
    def members(self) -> int:
        return len(self.configs)


def build_datasets(configs: Sequence[RunConfig]) -> list[Dataset]:
    cache: dict[str, Dataset] = {}
    out = []
    for cfg in configs:
        key = cfg.task.model_dump_json()
        if key not in cache:
            cache[key] = make_task(cfg.task.name, **cfg.task.params)
        out.append(cache[key])
    return out


def stack_data(datasets: Sequence[Dataset]) -> Data:
    """Shared tensors when every member has the same data set, else (M, N, d) stacks."""
    if all(d is datasets[0] for d in datasets):
        d = datasets[0]
        return Data(d.x_train, d.y_train, d.x_test, d.y_test)
    shapes = {(d.x_train.shape, d.x_test.shape) for d in datasets}
    if len(shapes) > 1:
        raise ValueError(f"members' data sets differ in shape {sorted(shapes)}; "
                         "train them in separate ensembles")
    return Data(*(torch.stack([getattr(d, f) for d in datasets])
                  for f in ("x_train", "y_train", "x_test", "y_test")))


def build_model(configs: Sequence[RunConfig], n_in: int, n_out: int) -> MLP:
    net, noise = configs[0].net, configs[0].noise
    return MLP([n_in, *net.hidden, n_out], members=len(configs), activation=net.activation,
               bias=net.bias, dropout=net.dropout, seeds=[c.seed for c in configs],
               noise_sigma=[c.noise.sigma for c in configs],
               noise_alpha=[c.noise.alpha for c in configs], noise_site=noise.site,
               noise_eps=noise.eps)


def train_ensemble(configs: Sequence[RunConfig], *, device: str | torch.device = "cpu",
                   on_eval: Callable[[int, History], None] | None = None,
                   engine: str = "auto", threads: int | None = None) -> EnsembleRun:
    """Train one member per config in a single batched computation.

    Members may differ in seed, task data, noise σ/α and regulariser coefficients; every other
    field must agree (a ValueError names the first that does not). `device`: cpu, cuda[:N],
    mps or auto; `engine` and `threads`: see `fit` (default: hand-derived gradients, 1 thread).
    """
    configs = list(configs)
    check_batchable(configs)
    device = resolve_device(device)
    datasets = build_datasets(configs)
    data = stack_data(datasets).to(device)
    model = build_model(configs, datasets[0].n_in, datasets[0].n_out).to(device)
    objective = RegressionObjective([c.reg for c in configs]).to(device)
    o = configs[0].optim
    history = fit(model, objective, data, seeds=[c.seed for c in configs], steps=o.steps,
                  batch_size=o.batch_size, lr=o.lr, optimizer=o.optimizer,
                  weight_decay=o.weight_decay, eval_every=o.eval_every, on_eval=on_eval,
                  engine=engine, threads=threads)
    return EnsembleRun(configs, model, history, datasets)
