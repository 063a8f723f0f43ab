"""Qian, Liang & Fiete 2025, Figs. 8, 9, 11, 12, 13 (docs/figures-composition.md)."""
from __future__ import annotations

from ..data import fixed, mean, ordered, pm, ratio, sci, sci_pm, table
from . import table as register

ARCHS = ("modular", "fc", "bottleneck", "fc_matched")
ARCH_NAMES = {"modular": "modular", "fc": "FC", "bottleneck": "bottleneck",
              "fc_matched": "fc_matched"}


def task_name(task: str) -> str:
    if task == "gaussian":
        return "Gaussian"
    if task.endswith("-authors"):
        return f"sine {task.removeprefix('sine').removesuffix('-authors')} (authors')"
    return f"sine {task.removeprefix('sine')}"


@register("fig8/ood")
def fig8_ood(pkg) -> str:
    """Mean OOD MSE (mean OOD/ID ratio) per task and architecture, and the modules' fit."""
    rows = pkg.rows
    archs = [a for a in ARCHS if a in set(rows.arch)]
    out = []
    for task in ordered(rows, "task"):
        t = rows[rows.task == task]
        cells = [f"{sci(mean(g.ood_loss))} ({ratio(mean(g.ood_over_id))})"
                 for a in archs for g in [t[t.arch == a]]]
        out.append([task_name(task), *cells, pm(t[t.arch == "modular"].module_r2_min)])
    return table(["task", *(ARCH_NAMES[a] for a in archs), "modular module R² (min)"], out)


@register("fig8/authors-sine")
def fig8_authors(pkg) -> str:
    """The authors' sinusoid task: ID and OOD MSE per architecture, OOD/ID per seed."""
    rows = pkg.rows[pkg.rows.task.str.endswith("-authors")]
    out = []
    for arch in ordered(rows, "arch"):
        g = rows[rows.arch == arch].sort_values("seed")
        out.append([ARCH_NAMES.get(arch, arch), sci_pm(g.id_loss), sci_pm(g.ood_loss),
                    ", ".join(f"{r:.1f}" for r in g.ood_over_id)])
    return table(["arch", "ID MSE", "OOD MSE", "OOD / ID per seed"], out)


LAYERS = {"modular": "2 × (1→64→1) → 2→128→1", "fc": "2→128→128→128→1",
          "bottleneck": "2→128→2→128→1", "fc_matched": "2→20→20→20→1"}


@register("fig8/params")
def fig8_params(pkg) -> str:
    """Parameters per member: Gaussian (PReLU slopes count) and sinusoid (leaky ReLU)."""
    rows = pkg.rows
    gauss = rows[rows.task == "gaussian"].groupby("arch").params.first()
    sine = rows[rows.task != "gaussian"].groupby("arch").params.first()
    out = [[ARCH_NAMES[a], LAYERS[a], f"{gauss[a]:,}", f"{sine[a]:,}",
            f"{gauss[a] / gauss['modular']:.1f}"] for a in ARCHS if a in gauss]
    return table(["architecture", "layers", "parameters (Gaussian, PReLU)",
                  "parameters (sinusoid, leaky ReLU)", "× modular"], out)


def fraction_of(flags) -> str:
    """True among the values that are set (unfitted networks have none): "8/10"."""
    vals = [bool(v) for v in flags if v is not None and v == v]
    return f"{sum(vals)}/{len(vals)}"


@register("fig9/paper")
def fig9(pkg) -> str:
    rows = pkg.rows
    out = []
    for m in sorted(rows.m.unique()):
        g = rows[rows.m == m]
        out.append([m, pm(g.deviation, 3), pm(g.deviation_max, 3), fraction_of(g.fc_nonlinear),
                    pm(g.module_r2_min), fraction_of(g.fitted), sci_pm(g.test_loss)])
    return table(["m", "deviation (mean over modules)", "max module deviation",
                  "fraction FC-nonlinear", "module R² (min)", "fitted", "test MSE"], out)


@register("fig12/grid")
def fig12(pkg) -> str:
    """Mean deviation over the fitted networks (FC-nonlinear fraction) per m and head depth."""
    rows = pkg.rows
    depths = sorted(rows.fc_depth.unique())
    out = []
    for m in sorted(rows.m.unique()):
        cells = []
        for d in depths:
            g = rows[(rows.m == m) & (rows.fc_depth == d)]
            cells.append(f"{fixed(mean(g.deviation), 3)} ({fraction_of(g.fc_nonlinear)})")
        out.append([m, *cells])
    return table(["m", *(f"FC depth {d}" if i == 0 else str(d) for i, d in enumerate(depths))],
                 out)


@register("fig12/unfitted")
def fig12_unfitted(pkg) -> str:
    rows = pkg.rows
    out = [[m, d, f"{int((~g.fitted.astype(bool)).sum())}/{len(g)}"]
           for (m, d), g in rows.groupby(["m", "fc_depth"]) if not g.fitted.astype(bool).all()]
    return table(["m", "FC depth", "unfitted (test MSE > fit threshold)"], out or [["–", "–",
                                                                                     "none"]])


@register("fig11/paper")
def fig11(pkg) -> str:
    """25–75 % trimmed mean of the OOD MSE over seeds per r (as the paper), and the modular
    seeds with a ridge solution or an odd module."""
    from modlab.metrics.functional import trimmed_mean

    rows = pkg.rows
    archs = [a for a in ARCHS if a in set(rows.arch)]
    out = []
    for r in sorted(rows.r.unique()):
        at = rows[rows.r == r]
        ood = {a: trimmed_mean(at[at.arch == a].ood_loss) for a in archs}
        mod = at[at.arch == "modular"]
        out.append([f"{r:g}", *(sci(ood[a]) for a in archs),
                    ratio(ood["fc"] / ood["modular"]), fraction_of(mod.ridge),
                    fraction_of(mod.odd_module)])
    return table(["r", *(ARCH_NAMES[a] for a in archs), "FC / modular",
                  "modular ridge seeds", "modular odd-module seeds"], out)
