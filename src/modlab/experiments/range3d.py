"""Three sources: mixing follows corner cuts (range), not source dependence (NSI)."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from pydantic import Field  # noqa: E402

from ..metrics.disentanglement import (  # noqa: E402
    active_latents,
    cinfom,
    infom,
    linear_cinfom,
    linear_infom,
    nsi,
    ridgeway_mozer_modularity,
    weight_mixing,
)
from ..metrics.range_condition import range_margin  # noqa: E402
from ..tasks.sources import make_sources  # noqa: E402
from ..train import RunConfig  # noqa: E402
from .base import Context, Experiment, Run, register  # noqa: E402
from .catalog import describe
from .plots import save  # noqa: E402
from .range2d import AEConfig, code_of, kept_members, restart_runs  # noqa: E402

VARIANTS = ["independent", "corner:0.5", "corner:0.75", "corner:1.0", "corner:1.25",
            "diagonal_strengthen:10", "diagonal_strengthen:40", "diagonal_remove:0.3",
            "diagonal_remove:0.6"]


class Range3DConfig(AEConfig):
    variants: list[str] = Field(default_factory=lambda: list(VARIANTS))
    points: int = Field(21, ge=3, description="values per source (odd; the spec's 21)")
    models: list[Literal["linear", "mlp"]] = Field(default_factory=lambda: ["linear", "mlp"])
    knn_infom: bool = Field(False, description="also compute the k-NN InfoM (slow on 9261 points)")
    # The ReLU MLP autoencoder (spec 3): 3→16→16→6, mirrored decoder, AdamW, batch 512.
    mlp_widths: list[int] = Field(default_factory=lambda: [3, 16, 16, 6])
    mlp_steps: int = Field(3000, ge=1)
    mlp_lr: float = Field(1e-3, gt=0)
    mlp_batch_size: int = Field(512, ge=1)
    mlp_activity: float = Field(1e-2, ge=0)
    mlp_nonneg: float = Field(1.0, ge=0)
    mlp_weight_l2: float = Field(1e-4, ge=0)
    mlp_restarts: int = Field(2, ge=1)


def family(spec: str) -> str:
    name = spec.split(":")[0]
    return "diagonal" if name.startswith("diagonal") else name


def mlp_run(cfg: Range3DConfig, spec: str) -> RunConfig:
    """The ReLU MLP autoencoder of spec 3 on the demeaned source set."""
    if cfg.mlp_widths[0] != 3:
        raise ValueError(f"invalid 'mlp_widths': must start with the 3 sources, got {cfg.mlp_widths}")
    return RunConfig(task={"name": "sources", "params": {"spec": spec, "seed": cfg.data_seed,
                                                         "points": cfg.points}},
                     net={"kind": "autoencoder", "form": "mlp", "widths": cfg.mlp_widths[1:]},
                     reg={"activity": cfg.mlp_activity, "nonneg": cfg.mlp_nonneg,
                          "l2": cfg.mlp_weight_l2},
                     optim={"steps": cfg.mlp_steps, "lr": cfg.mlp_lr, "optimizer": "adamw",
                            "batch_size": cfg.mlp_batch_size,
                            "eval_every": max(cfg.mlp_steps // 20, 1)})


def latent_metrics(s: np.ndarray, z: np.ndarray, knn: bool) -> dict:
    out = {"cinfom": cinfom(s, z), "linear_cinfom": linear_cinfom(s, z),
           "linear_infom": linear_infom(s, z), "rm_modularity": ridgeway_mozer_modularity(s, z),
           "active_latents": int(active_latents(z).sum())}
    out["mixing_cinfom"] = 1 - out["cinfom"]
    out["mixing_linear"] = 1 - out["linear_cinfom"]
    if knn:
        out["infom"] = infom(s, z)
    return out


def check_variants(cfg: Range3DConfig) -> None:
    for spec in cfg.variants:
        s = make_sources(spec, cfg.data_seed, cfg.points)
        if s.shape[1] != 3:
            raise ValueError(f"invalid 'variants' value {spec!r}: range-3d takes 3-source data "
                             f"sets, it has {s.shape[1]}")


def plan(cfg: Range3DConfig) -> list[Run]:
    check_variants(cfg)
    runs = []
    for spec in cfg.variants:
        for model in cfg.models:
            if model == "linear":
                config, restarts = cfg.linear_run(spec, cfg.forms[0], cfg.points), cfg.restarts
            else:
                config, restarts = mlp_run(cfg, spec), cfg.mlp_restarts
            runs += restart_runs(config, cfg.seed_list(), restarts, variant=spec, model=model)
    return runs


def analyze(cfg: Range3DConfig, trained, ctx: Context) -> list[dict]:
    rows, sources = [], {}
    for t in kept_members(trained):
        spec, model = t.labels["variant"], t.labels["model"]
        if spec not in sources:
            s = make_sources(spec, cfg.data_seed, cfg.points)
            sources[spec] = (s, range_margin(s, finite_sample=False))  # the sample trained on
        s, check = sources[spec]
        k = code_of(t)
        row = {"variant": spec, "family": family(spec), "samples": len(s), "nsi": nsi(s),
               "margin": check.margin, "verdict": check.verdict, "model": model,
               "seed": t.seed, "recon": k["recon"], "negativity": k["nonneg"],
               "diverged": t.diverged, **latent_metrics(s, k["z"], cfg.knn_infom)}
        if model == "linear":
            row["mixing_weights"] = weight_mixing(k["w"], active_latents(k["z"]))["max"]
        rows.append(row)
    plot_mixing_vs_nsi(rows, ctx.out / "mixing_vs_nsi.png")
    return rows


PANELS = [("linear", "mixing_weights", "weight mixing (max over latents)"),
          ("linear", "mixing_linear", "1 − linear CInfoM"),
          ("mlp", "mixing_linear", "1 − linear CInfoM")]


def plot_mixing_vs_nsi(rows, path: Path) -> Path:
    from .plots import house_style, legend_outside

    panels = [p for p in PANELS if any(r["model"] == p[0] for r in rows)]
    markers = {"independent": "o", "corner": "v", "diagonal": "s"}
    with house_style():
        fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels) + 1.8, 3.2),
                                 squeeze=False)
        variants = list(dict.fromkeys(r["variant"] for r in rows))
        for ax, (model, key, label) in zip(axes[0], panels, strict=True):
            sub = [r for r in rows if r["model"] == model and not r.get("diverged")]
            for spec in dict.fromkeys(r["variant"] for r in sub):
                pts = [r for r in sub if r["variant"] == spec]
                ax.scatter([r["nsi"] for r in pts], [r[key] for r in pts], s=22,
                           marker=markers.get(pts[0]["family"], "o"), facecolors="none",
                           edgecolors=f"C{variants.index(spec) % 10}", lw=1, label=spec)
            gone = sum(1 for r in rows if r["model"] == model and r.get("diverged"))
            ax.set_title(f"{model} autoencoder"
                         + (f"\n{gone} diverged run(s) not shown" if gone else ""))
            ax.set_xlabel("NSI (normalised source\nmulti-information)")
            ax.set_ylabel(label)
        legend_outside(fig, title="source variant\n(one marker per seed)")
        return save(fig, path)


register(Experiment(
    name="range-3d",
    **describe("range-3d"),
    config=Range3DConfig,
    plan=plan,
    analyze=analyze,
    presets={
        # The MLP autoencoder needs ≫ 2000 AdamW steps at lr 1e-3 to settle (see the docs):
        # the quick preset runs the linear autoencoder only, on an 11-value grid (1331 points):
        # with 21 values, 2000 steps left most restarts of corner:1.0 short of the mixed optimum.
        "quick": {"seeds": 3, "restarts": 4, "steps": 4000, "points": 11, "models": ["linear"],
                  "variants": ["independent", "corner:0.75", "corner:1.0", "corner:1.25",
                               "diagonal_strengthen:200", "diagonal_remove:1.0"]},
        "paper": {"seeds": 5, "restarts": 4, "steps": 10_000, "mlp_steps": 30_000,
                  "mlp_restarts": 4, "knn_infom": True,
                  "variants": [*VARIANTS, "diagonal_strengthen:200", "diagonal_remove:1.0"]},
    },
    summary_metrics=("nsi", "margin", "mixing_weights", "mixing_linear", "mixing_cinfom",
                     "rm_modularity", "recon"),
    group_by=("variant", "model"),
))
