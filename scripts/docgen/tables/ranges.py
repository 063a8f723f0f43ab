"""Dorrell, Hsu et al. 2025: range-2d, range-3d, what-where (docs/range-independence.md)."""
from __future__ import annotations

import math

from ..data import finite, fixed, pm, table
from . import table as register


def small(values) -> str:
    """Mean ± sd with at least 3 decimals, more for means below 1e-3: 0.0004 ± 0.0002."""
    vals = finite(values)
    if not len(vals):
        return ""
    m = abs(vals.mean())
    return pm(vals, max(3, -math.floor(math.log10(m))) if m else 3)


def margin(values, digits: int = 2) -> str:
    """The range-condition margin: 0 (modular) or negative, with a real minus sign."""
    vals = finite(values)
    if not len(vals):
        return ""
    m = vals.mean()
    return "0" if abs(m) < 10 ** -(digits + 1) else f"{m:.{digits}f}".replace("-", "−")


@register("what-where/paper")
def what_where(pkg) -> str:
    rows = pkg.rows
    corner, diag = rows[rows["mode"] == "corner"], rows[rows["mode"] == "diagonal"]
    out = []
    for d in sorted(rows["drop"].unique()):
        c, g = corner[corner["drop"] == d], diag[diag["drop"] == d]
        authors = c.authors_mixing.dropna()
        out.append([int(d), small(c.mixing_index), fixed(authors.iloc[0], 3) if len(authors)
                    else "", margin(c.margin), small(g.mixing_index), margin(g.margin),
                    str(int(g.components.iloc[0])) if len(g) else ""])
    return table(["dropped", "corner (ours)", "corner (authors)", "corner margin",
                  "diagonal (ours)", "diagonal margin", "pieces (diagonal)"], out)
