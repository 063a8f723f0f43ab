"""Bit-identity reference for refactors: train small configs of every model kind and every
regulariser term, save their final parameters, curves and measures, and compare two saves.

    # on the code before the change (a checkout of the old commit, same venv):
    PYTHONPATH=<old checkout>/src .venv/bin/python benchmarks/bit_identity.py record old.pt
    .venv/bin/python benchmarks/bit_identity.py record new.pt
    .venv/bin/python benchmarks/bit_identity.py compare old.pt new.pt   # exit 1 on any bit

Why: results trained before a refactor are shipped as data, so a refactor of the training
stack must not change a single bit of an existing config's result. Every case goes through
`train_ensemble` (hand-derived engine where one applies, and autograd), and a mixed set of
single runs also through the results store (`sweep.execute`: packing, padding, measures).
Only fields every modlab version since 0.2 has are used, so old code can record too.
Runs in ~1-2 min on one core.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile

import numpy as np
import torch

STEPS, EVAL = 120, 40
OPTIM = {"steps": STEPS, "eval_every": EVAL}
RNN_OPTIM = {"steps": STEPS, "eval_every": EVAL, "batch_size": 8}


def _mlp(regs, net=None, noise=None, **optim):
    noise = noise or [{}] * len(regs)
    return [{"seed": i, "net": {"kind": "mlp", **(net or {})}, "reg": r, "noise": noise[i],
             "optim": {**OPTIM, **optim}} for i, r in enumerate(regs)]


def _rnn(regs, net=None, **optim):
    return [{"seed": i, "task": {"name": "yang19", "params": {"rules": ["go", "dm1"],
                                                              "test_trials": 16}},
             "net": {"kind": "rnn", "hidden": 16, **(net or {})}, "reg": r,
             "optim": {**RNN_OPTIM, **optim}} for i, r in enumerate(regs)]


def _modular(arch, regs):
    return [{"seed": i, "task": {"name": "gaussian", "params": {"n_points": 400}},
             "net": {"kind": "modular", "arch": arch, "block_widths": [16, 1],
                     "head_widths": [32]}, "reg": r,
             "optim": {**OPTIM, "batch_size": 64, "optimizer": "adamw", "eval_train": True}}
            for i, r in enumerate(regs)]


def _autoencoder(form, regs, nonneg="penalty"):
    return [{"seed": i, "task": {"name": "sources", "params": {"spec": "band:1.2"}},
             "net": {"kind": "autoencoder", "form": form, "nonneg": nonneg}, "reg": r,
             "optim": {**OPTIM, "batch_size": 64, "lr": 1e-2}} for i, r in enumerate(regs)]


TERMS = [{"wa": 1e-2, "l2": 1e-3}, {"activity": 1e-2}, {"l1": 1e-3}, {"l12": 1e-2},
         {"l21": 1e-2}, {"wa": 1e-2, "wa_alpha": 1.0, "activity": 1e-2, "activity_alpha": 1.5}]
WIRING = {"wiring": 1e-3, "wiring_locality": 2.0, "swap_every": 20, "swap_top_k": 5}
SCHEDULE = {"l1": 1e-3, "schedule": [(0.25, 10.0), (0.75, 1.0)]}
NOISE = [{"sigma": 0.1, "alpha": 0.0}, {"sigma": 0.1, "alpha": 1.0}, {"sigma": 0.1},
         {"sigma": 0.0}]

# name → (member configs, engine)
CASES = {
    "mlp-terms": (_mlp(TERMS), "auto"),
    "mlp-terms-autograd": (_mlp(TERMS), "autograd"),
    "mlp-noise-pre": (_mlp([{"wa": 1e-2}] * 4, noise=NOISE), "auto"),
    "mlp-noise-pre-autograd": (_mlp([{"wa": 1e-2}] * 4, noise=NOISE), "autograd"),
    "mlp-post-dropout-tanh": (_mlp([{"l2": 1e-3}] * 2, net={"activation": "tanh", "dropout": 0.1},
                                   noise=[{"sigma": 0.2, "site": "post"}] * 2), "auto"),
    "mlp-relu": (_mlp([{"activity": 1e-2}] * 2, net={"activation": "relu"}), "auto"),
    "mlp-sigmoid": (_mlp([{"l1": 1e-3}] * 2, net={"activation": "sigmoid"}), "auto"),
    "mlp-identity-nobias": (_mlp([{"l2": 1e-3}] * 2, net={"activation": "identity",
                                                            "bias": False}), "auto"),
    "mlp-schedule": (_mlp([SCHEDULE, {**SCHEDULE, "l1": 3e-3}]), "auto"),
    "mlp-bimt": (_mlp([WIRING, {**WIRING, "wiring_locality": 0.0}, {"l1": 1e-3}]), "auto"),
    "rnn-terms": (_rnn([{}, {"l2": 1e-3}, {"l1": 1e-4}, WIRING]), "auto"),
    "rnn-terms-autograd": (_rnn([{}, {"l2": 1e-3}, {"l1": 1e-4}, WIRING]), "autograd"),
    "rnn-tanh": (_rnn([{"l2": 1e-3}, WIRING], net={"activation": "tanh"}), "auto"),
    "rnn-stop": (_rnn([{}, {}], stop_accuracy=0.05), "auto"),
    "modular": (_modular("modular", [{}, {"l2": 1e-4}]), "auto"),
    "fc": (_modular("fc", [{"l1": 1e-5}]), "auto"),
    "bottleneck": (_modular("bottleneck", [{}, {}]), "auto"),
    "ae-linear": (_autoencoder("linear", [{"activity": 0.1, "nonneg": 3.0, "l2": 0.01}] * 2),
                  "auto"),
    "ae-linear-bias": (_autoencoder("linear", [{"l2": 0.01}] * 2, nonneg="bias"), "auto"),
    "ae-mlp": (_autoencoder("mlp", [{"activity": 0.1, "nonneg": 3.0, "l2": 0.01}] * 2), "auto"),
}
# single runs through the results store: packed into ensembles there
STORE = [*_mlp(TERMS[:3]), *_rnn([{}, WIRING])[1:], *_modular("fc", [{}]),
         *_autoencoder("linear", [{"l2": 0.01}])]


def _member(state, curves, diverged, extra, metrics) -> dict:
    return {"state": {k: v.detach().cpu().clone() for k, v in state.items()},
            "curves": {k: np.asarray(v) for k, v in curves.items()},
            "diverged_at": int(diverged), "extra": json.dumps(extra, sort_keys=True, default=str),
            "metrics": json.dumps(metrics, sort_keys=True, default=str)}


def record(path: str) -> None:
    from modlab.results import Store
    from modlab.sweep import execute
    from modlab.train import RunConfig, train_ensemble
    from modlab.train.result import results_of

    out = {}
    for name, (configs, engine) in CASES.items():
        run = train_ensemble([RunConfig.model_validate(c) for c in configs], engine=engine)
        out[name] = [_member(r.state, r.curves, r.diverged_at, r.extra, r.metrics)
                     for r in results_of(run)]
        print(f"{name}: {len(configs)} members", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(tmp)
        configs = [RunConfig.model_validate(c) for c in STORE]
        report = execute(configs, store)
        assert report.ok, report.failed
        out["store"] = []
        for c in configs:
            r = store.load(c.key())
            metrics = {k: v for k, v in r.metrics.items()}
            out["store"].append(_member(r.state, r.curves, r.diverged_at, r.extra, metrics))
    print(f"store: {len(STORE)} runs", flush=True)
    torch.save(out, path)


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return a.dtype == b.dtype and a.shape == b.shape and bool(torch.equal(a, b))
    return a.shape == b.shape and np.array_equal(a, b, equal_nan=True)


def compare(path_a: str, path_b: str) -> int:
    a, b = torch.load(path_a, weights_only=False), torch.load(path_b, weights_only=False)
    bad = 0
    for name in a:
        if name not in b:
            print(f"{name}: missing in {path_b}")
            bad += 1
            continue
        for i, (ma, mb) in enumerate(zip(a[name], b[name], strict=True)):
            diffs = [f"state.{k}" for k in ma["state"] if not _same(ma["state"][k], mb["state"][k])]
            diffs += [f"curves.{k}" for k in ma["curves"] if not _same(ma["curves"][k],
                                                                       mb["curves"][k])]
            diffs += [k for k in ("diverged_at", "extra", "metrics") if ma[k] != mb[k]]
            if ma["state"].keys() != mb["state"].keys():
                diffs.append("state keys")
            if diffs:
                bad += 1
                print(f"{name}[{i}]: DIFFERS in {', '.join(diffs)}")
    total = sum(len(v) for v in a.values())
    print(f"{total - bad}/{total} members bitwise identical")
    return 1 if bad else 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("record").add_argument("out")
    c = sub.add_parser("compare")
    c.add_argument("a")
    c.add_argument("b")
    a = p.parse_args(argv)
    if a.cmd == "record":
        record(a.out)
        return 0
    return compare(a.a, a.b)


if __name__ == "__main__":
    sys.exit(main())
