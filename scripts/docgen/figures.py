"""Figures the docs builder redraws from packaged rows, with the experiment's own plotting
function and the arguments its analysis passes. The rest (reordered weights, loss curves,
network drawings, module outputs) need trained parameters, which results/paper does not ship:
those are copied as the run drew them."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq

REDRAW: dict[tuple[str, str], Callable] = {}


def redraws(experiment: str, png: str) -> bool:
    return (experiment, png) in REDRAW


def redraw_figure(pkg, png: str, dst: Path) -> bool:
    """Draw `png` of `pkg` into `dst` from its rows; False if it cannot be redrawn."""
    fn = REDRAW.get((pkg.name, png))
    if fn is None:
        return False
    fn(pkg, dst)
    return True


def rows_of(pkg) -> list[dict]:
    """The analysis rows as the analysis returned them: Parquet fills a key that some rows
    lack with nulls, which are dropped again here."""
    return [{k: v for k, v in r.items() if v is not None}
            for r in pq.read_table(pkg.file("results.parquet")).to_pylist()]


def _ctx(dst: Path):
    from modlab.experiments.base import Context

    return Context(out=dst.parent)


def redraw(*keys: tuple[str, str]):
    def register(fn):
        for key in keys:
            REDRAW[key] = fn
        return fn
    return register


@redraw(*((e, "eigengaps.png") for e in ("fig1", "fig2", "fig3", "fig4", "fig5")))
def eigengaps(pkg, dst: Path) -> None:
    from modlab.experiments.plots import plot_eigengaps

    plot_eigengaps(rows_of(pkg), dst, true_k=pkg.config["n"])


@redraw(("fig3", "spectra.png"), ("fig5", "spectra.png"))
def spectra(pkg, dst: Path) -> None:
    from modlab.experiments.plots import plot_spectra

    plot_spectra(rows_of(pkg), dst, layers=[0] if pkg.name == "fig3" else None)


@redraw(("fig2", "tradeoff.png"), ("fig2", "spectra.png"))
def fig2(pkg, dst: Path) -> None:
    from modlab.experiments import fig2
    from modlab.experiments.plots import plot_spectra

    rows = rows_of(pkg)
    if dst.name == "tradeoff.png":
        fig2.plot_tradeoff(rows, _ctx(dst))
        return
    names = {r["setting"] for r in rows}
    shown = [fig2.setting_name(s) for s in pkg.config["spectra_at"]
             if fig2.setting_name(s) in names]
    plot_spectra(rows, dst, settings=shown or None)


@redraw(("fig6", "sample_complexity.png"))
def fig6(pkg, dst: Path) -> None:
    from modlab.experiments import fig6

    rows = rows_of(pkg)
    fits = [r for r in rows if str(r["setting"]).endswith(" fit")
            or str(r["setting"]).startswith("sigmoid fit")]
    fig6.plot_gap_vs_size([r for r in rows if r not in fits], fits, _ctx(dst))


@redraw(("fig7", "robustness.png"))
def fig7(pkg, dst: Path) -> None:
    from modlab.experiments import fig7

    fig7.plot_robustness(rows_of(pkg), _ctx(dst))


@redraw(*((e, p) for e in ("fig9", "fig12", "fig13")
          for p in ("deviation_vs_m.png", "fraction_fc_nonlinear.png")))
def fig9(pkg, dst: Path) -> None:
    from modlab.experiments.fig9 import plot_deviation

    if dst.name == "deviation_vs_m.png":
        plot_deviation(rows_of(pkg), "deviation", "deviation from linear (mean over modules)",
                       dst)
    else:
        plot_deviation(rows_of(pkg), "fc_nonlinear", "fraction with FC computing part of f "
                       f"(> {pkg.config['threshold']})", dst)


@redraw(("fig11", "fig11_ood_vs_r.png"))
def fig11(pkg, dst: Path) -> None:
    from modlab.experiments.fig11 import plot_ood_vs_r

    plot_ood_vs_r(rows_of(pkg), dst)


@redraw(("bimt-mlp", "bimt_mlp_wiring_vs_loss.png"))
def bimt_mlp(pkg, dst: Path) -> None:
    from modlab.experiments.bimt_mlp import plot_tradeoff

    plot_tradeoff(rows_of(pkg), dst)


@redraw(("range-2d", "mixing_vs_margin.png"))
def range2d(pkg, dst: Path) -> None:
    from modlab.experiments.range2d import plot_mixing_vs_margin

    plot_mixing_vs_margin(rows_of(pkg), dst)


@redraw(("range-3d", "mixing_vs_nsi.png"))
def range3d(pkg, dst: Path) -> None:
    from modlab.experiments.range3d import plot_mixing_vs_nsi

    plot_mixing_vs_nsi(rows_of(pkg), dst)


@redraw(("what-where", "mixing_vs_drops.png"))
def what_where(pkg, dst: Path) -> None:
    from modlab.experiments.what_where import plot_mixing_vs_drops

    plot_mixing_vs_drops(rows_of(pkg), dst)
