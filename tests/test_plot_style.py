"""Figures a reader can read: the layout checker finds what a reviewer flags, and every
experiment's plotting function, fed small synthetic results, draws a figure it finds clean."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from modlab.experiments import plots
from modlab.experiments.plots import layout_problems, plt, thousands


@pytest.fixture
def drawn(monkeypatch):
    """Intercepts `save` in the given modules: the figures' layout problems, by file name."""
    found: dict[str, list[str]] = {}
    figures: dict[str, object] = {}

    def capture(fig, path):
        found[path.name] = layout_problems(fig)
        figures[path.name] = fig
        return path

    def patch(*modules):
        for m in modules:
            monkeypatch.setattr(m, "save", capture)
        return found, figures

    yield patch
    plt.close("all")


def test_step_labels_are_short():
    assert [thousands(x) for x in (0, 500, 5000, 12_500, 2_000_000)] == \
        ["0", "500", "5k", "12.5k", "2M"]


def test_checker_flags_what_a_reviewer_would():
    fig, (a, b) = plt.subplots(1, 2, figsize=(4, 2))
    x = np.linspace(0, 1, 50)
    a.plot(x, x, label="line")                        # no axis labels
    a.legend(loc="center")                            # a legend on the line
    b.imshow(np.random.default_rng(0).random((4, 4)))  # colour without a colourbar
    b.set_xticks(np.linspace(0, 3, 12), [f"{v:.4f}" for v in np.linspace(0, 3, 12)])
    problems = "\n".join(layout_problems(fig))
    assert "no x label" in problems and "no y label" in problems
    assert "legend covers data" in problems
    assert "no labelled colourbar" in problems
    assert "x tick labels overlap" in problems
    plt.close(fig)


def test_checker_passes_a_clean_figure():
    with plots.house_style():
        fig, ax = plt.subplots(figsize=(4, 3))
        ax.plot([1, 2, 3], [1, 4, 9], label="y = x²")
        ax.set_xlabel("x (count)")
        ax.set_ylabel("y")
        im = ax.scatter([1, 2], [1, 2], c=[0.1, 0.2])
        plots.colorbar(fig, im, ax, "value (unit)")
        plots.legend_outside(fig)
        assert layout_problems(fig) == []
    plt.close(fig)


# ------------------------------------------------------------------------- synthetic results

def block_weights(rng, n=4, h=8):
    """A 2-hidden-layer net with n clean modules (post, pre)."""
    blocks = np.kron(np.eye(n), np.ones((h // n, 1)))
    w0 = blocks * rng.uniform(0.5, 1, (h, n))
    w1 = np.kron(np.eye(n), np.ones((h // n, h // n))) * rng.uniform(0.5, 1, (h, h))
    w2 = blocks.T * rng.uniform(0.5, 1, (n, h))
    return [w0, w1, w2]


def fake_trained(setting, seed, diverged=False):
    rng = np.random.default_rng(seed)
    steps = np.arange(1, 21) * 1000
    curve = np.exp(-steps / 5000) + 1e-3
    return SimpleNamespace(setting=setting, seed=seed, diverged=diverged, n_modules=4,
                           weights=block_weights(rng), curve_steps=steps, test_curve=curve,
                           train_curve=curve * 1.5)


def eig_rows(settings=("WA", "L2 only"), seeds=(0, 1, 2), layers=(0, 1, 2)):
    rng = np.random.default_rng(0)
    return [{"setting": s, "seed": k, "layer": layer, "diverged": s == "L2 only" and k == 2,
             "run_id": f"{s}{k}", "eigvals": np.sort(rng.uniform(0, 2, 16)).tolist()}
            for s in settings for k in seeds for layer in layers]


def test_shared_noise_figures_are_clean(drawn, tmp_path):
    found, figs = drawn(plots)
    trained = [fake_trained(s, k, diverged=(s == "b" and k == 1)) for s in "abcde" for k in (0, 1)]
    plots.plot_reordered_weights(trained[:4], tmp_path / "w.png")   # clustering is slow
    plots.plot_loss_curves(trained, tmp_path / "loss.png")
    plots.plot_eigengaps(eig_rows(), tmp_path / "gaps.png", true_k=4)
    plots.plot_spectra(eig_rows(), tmp_path / "spectra.png")
    assert found == {"w.png": [], "loss.png": [], "gaps.png": [], "spectra.png": []}
    gaps = figs["gaps.png"]
    ticks = gaps.axes[0].get_xticks()
    assert np.allclose(ticks, np.round(ticks))                 # k is a count
    assert "1 of 6 runs diverged" in gaps._suptitle.get_text()
    assert any("seed 1 diverged" in ax.get_title() for ax in figs["loss.png"].axes)
    assert any(hasattr(ax, "_colorbar") and ax.get_ylabel() for ax in figs["w.png"].axes)


def test_experiment_figures_are_clean(drawn, tmp_path):
    from modlab.experiments import (
        bimt_mlp,
        fig2,
        fig6,
        fig7,
        fig9,
        fig11,
        growing_brains,
        range3d,
        what_where,
    )

    found, _ = drawn(fig2, fig6, fig7, fig9, fig11, what_where, range3d, bimt_mlp,
                     growing_brains)
    ctx = SimpleNamespace(out=tmp_path)
    rng = np.random.default_rng(1)
    fig2.plot_tradeoff([{"layer": 0, "sigma": s, "seed": k, "test_loss": 1e-3 * (1 + 9 * s),
                         "gap_at_true_k": s, "diverged": False}
                        for s in (0, 0.05, 0.1, 0.2, 0.4) for k in range(3)], ctx)
    sizes = [2 ** k for k in range(2, 12)]
    rows6 = [{"modules": n, "n_train": size, "seed": k, "diverged": False,
              "gap_at_true_k": float(1 / (1 + np.exp(-(np.log(size) - n))) + rng.normal(0, .02))}
             for n in (2, 3, 4) for size in sizes for k in range(3)]
    fig6.plot_gap_vs_size(rows6, fig6.fit_rows(rows6, [2, 3, 4]), ctx)
    fig7.plot_robustness([{"setting": s, "n_train": size, "seed": k, "diverged": False,
                           "noisy_test_loss": 1e-2 / size ** .2, "test_loss": 1e-3 / size ** .5,
                           "gap_at_true_k": .2 + .1 * np.log2(size) / 12}
                          for s in ("WA", "L2 only") for size in (64, 256, 1024, 4096)
                          for k in range(3)], ctx)
    rows9 = [{"m": m, "fc_depth": d, "seed": k, "fitted": k != 3, "deviation": .1 / m,
              "fc_nonlinear": bool(k % 2)} for m in (1, 3) for d in (1, 3) for k in range(4)]
    fig9.plot_deviation(rows9, "deviation", "deviation from linear", tmp_path / "dev.png")
    fig9.plot_deviation(rows9, "fc_nonlinear", "fraction nonlinear", tmp_path / "frac.png")
    fig11.plot_ood_vs_r([{"arch": a, "r": r, "seed": k, "ood_loss": 1e-3 / r + 1e-4 * k,
                          "ridge": a == "modular" and k == 0}
                         for a in ("modular", "fc") for r in (0.2, 0.5) for k in range(4)],
                        tmp_path / "ood.png")
    what_where.plot_mixing_vs_drops([{"mode": m, "drop": d, "seed": k, "mixing_index": d / 200}
                                     for m in ("corner", "diagonal") for d in (0, 6, 15, 36)
                                     for k in range(3)], tmp_path / "ww.png")
    range3d.plot_mixing_vs_nsi([{"model": "linear", "variant": v, "family": v.split(":")[0],
                                 "nsi": i / 10, "mixing_weights": i / 20, "mixing_linear": i / 30,
                                 "diverged": False}
                                for i, v in enumerate(["independent", "corner:0.5", "corner:1.0"])
                                for _ in range(2)], tmp_path / "nsi.png")
    bimt_mlp.plot_tradeoff([{"task": t, "setting": s, "seed": k, "wiring_length": 10 ** i,
                             "test_loss": 1e-3 * (i + 1)}
                            for t in ("modular", "symbolic")
                            for i, s in enumerate(bimt_mlp.SETTINGS) for k in range(2)],
                           tmp_path / "wiring.png")
    rules = ["go", "anti", "dm1", "dms"]
    gb = [{"setting": s, "seed": k, "lam": 1e-3, "diverged": False, "clusters": 3,
           "mean_accuracy": .8, "sparsity": .1 * (i + 1), **{f"acc_{r}": .7 for r in rules},
           "labels": list(rng.integers(-1, 3, 16)), "task_variance": rng.random((16, 4)).tolist()}
          for i, s in enumerate(("none", "L1", "BIMT")) for k in range(2)]
    growing_brains.plot_task_variance(gb, rules, tmp_path / "tv.png")
    growing_brains.plot_pareto(gb, tmp_path / "pareto.png")
    growing_brains.plot_accuracy(gb, rules, tmp_path / "acc.png")
    assert len(found) == 12
    assert {name: p for name, p in found.items() if p} == {}
