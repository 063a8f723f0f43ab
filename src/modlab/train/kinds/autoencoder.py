"""`net.kind = "autoencoder"`: the biologically constrained autoencoders of spec 3.

The objective is reconstruction MSE + reg.activity·⟨‖z‖²⟩ (the latent's energy, Eq. 19 with
α = 2 on the latent) + reg.nonneg·⟨Σ relu(−z)⟩ + reg.l2·(‖W_in‖² + ‖W_out‖²); biases are not
penalised. Restarts are members with their own seeds; the caller keeps the best.
"""
from __future__ import annotations

import torch

from ...nn import LinearAutoencoder, MLPAutoencoder
from ..config import AutoencoderConfig
from ..data import stack_datasets
from ..objective import Objective
from ..terms import TERMS, RegInputs
from .base import ModelKind, Size, layered_params, register_model


def build(configs, task):
    net, seeds = configs[0].net, [c.seed for c in configs]
    if net.form == "linear":
        if net.latents <= task.n_in:
            raise ValueError(f"net.latents must exceed the {task.n_in} sources, got {net.latents}")
        return LinearAutoencoder(task.n_in, net.latents, members=len(configs), seeds=seeds,
                                 nonneg=net.nonneg)
    return MLPAutoencoder([task.n_in, *net.widths], members=len(configs), seeds=seeds,
                          activation=net.activation, nonneg=net.nonneg)


def objective(configs, model) -> Objective:
    return Objective([c.reg for c in configs])


@torch.no_grad()
def measure(model, configs, datasets) -> list[dict]:
    """Per member: every objective term and the total on the full sample (eval mode), so
    that the caller can keep each seed's best restart."""
    was = model.training
    model.eval()
    x = stack_datasets(datasets).x_train.to(next(model.parameters()).device)
    forward = model.forward_hidden(x)
    model.train(was)
    inputs = RegInputs(model, forward)
    out = []
    for i, config in enumerate(configs):
        reg = config.reg
        xi = x[i] if x.dim() == 3 else x
        terms = {"recon": float(((forward.output[i] - xi) ** 2).mean())}
        for name in ("activity", "nonneg", "l2"):
            terms[name] = float(TERMS[name].value(inputs, {"activity_alpha": 2.0})[i])
        terms["loss"] = terms["recon"] + sum(getattr(reg, n) * terms[n]
                                             for n in ("activity", "nonneg", "l2"))
        out.append(terms)
    return out


def size(net: AutoencoderConfig, n_in: int, n_out: int) -> Size:
    """Encoder and its mirrored decoder (the linear form's encoder has no bias under
    nonneg="bias")."""
    widths = [n_in, net.latents] if net.form == "linear" else [n_in, *net.widths]
    params = layered_params(widths) + layered_params(widths[::-1])
    if net.form == "linear" and net.nonneg == "bias":
        params -= net.latents
    return Size(params, int(params ** 0.5))


AUTOENCODER_KIND = register_model(ModelKind("autoencoder", AutoencoderConfig, build, objective,
                                            measure=measure, size=size))
