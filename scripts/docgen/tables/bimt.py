"""bimt-mlp (docs/bimt.md)."""
from __future__ import annotations

from ..data import counts, ordered, pm_sig, sci, sci_pm, sig, table
from . import table as register


@register("bimt-mlp/paper")
def bimt_mlp(pkg) -> str:
    rows = pkg.rows
    out = []
    for task in ordered(rows, "task"):
        for setting in ordered(rows[rows.task == task], "setting"):
            g = rows[(rows.task == task) & (rows.setting == setting)]
            out.append([task, setting.replace("+", " + "), sci_pm(g.test_loss),
                        pm_sig(g.wiring_length), sig(g.sparsity.mean()),
                        sci(g.pruned_test_loss.mean()), counts(g.k_star_first)])
    return table(["task", "setting", "test MSE", "wiring length", "sparsity",
                  "pruned test MSE", "first-layer k\\*"], out)
