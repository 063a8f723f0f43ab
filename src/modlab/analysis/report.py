"""The per-layer summary table (shared by the CLI and the HTML report) and the
self-contained HTML report: embedded base64 PNGs and inline CSS, no network needed."""
from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..metrics.clustering import reorder_neurons
from .layers import WeightMatrix


def _fmt(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def summary_columns(k: int | None) -> list[str]:
    return ["layer", "member", "matrix", "k*", f"g_{k}" if k else "max gap", "Q spectral",
            "Q Louvain", "n-cut z", "dropped"]


def summary_cells(row: dict, k: int | None) -> list[str]:
    """One table row of plain strings (no markup) for `row` (an `analyse_matrix` result)."""
    part = [f"gate {row['gate']}"] if row.get("gate") else []
    part += [f"block {row['block']}"] if row.get("block") is not None else []
    label = f"{row['name']} [{', '.join(part)}]" if part else row["name"]
    member = ""
    if row.get("member") is not None:   # index first: seeds repeat across settings
        seed = f"seed {row['seed']}" if row.get("seed") is not None else "seed ?"
        member = f"{row['member']}: " + (f"{row['setting']} / {seed}" if row.get("setting") else seed)
    shape = "×".join(str(s) for s in row["matrix_shape"])
    if row.get("skipped"):
        return [label, member, shape, *(["–"] * 5), "–"]
    gap = row["gap_at_k"] if k else row["max_gap"]
    return [label, member, shape, str(row["k_star"]), _fmt(gap), _fmt(row.get("q_spectral")),
            _fmt(row.get("q")), _fmt(row.get("ncut_z"), 2), str(row["dropped_neurons"])]


def reordered(w: np.ndarray, labels: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """|W| with rows grouped by cluster (`reorder_neurons`) and columns sorted by their
    |W|-weighted mean row position, so that modules show as diagonal blocks; and the labels
    in the new row order."""
    order = reorder_neurons(w, labels)
    a = np.abs(w)[order]
    total = a.sum(0)
    centre = (np.arange(a.shape[0]) @ a) / np.where(total > 0, total, 1.0)
    return a[:, np.argsort(centre, kind="stable")], np.asarray(labels)[order]


def layer_png(wm: WeightMatrix, row: dict) -> bytes:
    """Reordered |W| beside its L_rw spectrum, as PNG bytes."""
    from matplotlib.figure import Figure  # lazy; no pyplot, so no global backend state

    fig = Figure(figsize=(8, 3.4))
    ax_w, ax_s = fig.subplots(1, 2)
    a, labels = reordered(wm.matrix, row["clusters"])
    ax_w.imshow(a, aspect="auto", cmap="Greys", interpolation="nearest")
    for boundary in np.flatnonzero(np.diff(labels)):
        ax_w.axhline(boundary + 0.5, color="C3", lw=0.6)
    ax_w.set(title="|W| reordered by cluster", xlabel="pre", ylabel="post")
    vals = np.asarray(row["eigvals"])
    ax_s.plot(np.arange(1, len(vals) + 1), vals, "o", ms=3)
    ax_s.axvline(row["k_star"] + 0.5, color="C3", lw=1, label=f"k* = {row['k_star']}")
    ax_s.set(title="eigenvalues of L_rw", xlabel="k", ylabel="λ_k", ylim=(-0.05, 2.05))
    ax_s.legend(loc="lower right")
    fig.suptitle(wm.label + (f" — {row['setting'] or ''} seed {row['seed']}"
                             if row.get("member") is not None else ""), fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    return buf.getvalue()


CSS = """body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:right}
td:first-child,th:first-child{text-align:left}section{margin-top:2em}
.note{color:#666;font-size:13px}"""


def _table(rows: Sequence[dict], k: int | None) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in summary_columns(k))
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in summary_cells(r, k))
                   + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def write_report(matrices: Sequence[WeightMatrix], rows: Sequence[dict], out_dir: str | Path,
                 title: str, k: int | None = None) -> Path:
    """Write `out_dir/report.html`: the summary table, then per layer its notes and one image
    (reordered |W|, spectrum). Everything is inline, so the file opens offline."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--report must be a directory, got the file {str(out)!r}")
    out.mkdir(parents=True, exist_ok=True)
    sections = []
    for wm, row in zip(matrices, rows, strict=True):
        notes = "".join(f"<p class='note'>{html.escape(n)}</p>" for n in row["notes"])
        image = ""
        if not row.get("skipped"):
            data = base64.b64encode(layer_png(wm, row)).decode("ascii")
            image = f"<img alt='{html.escape(wm.label)}' src='data:image/png;base64,{data}'>"
        cells = summary_cells(row, k)
        sections.append(f"<section><h3>{html.escape(cells[0])} {html.escape(cells[1])}</h3>"
                        f"{notes}{image}</section>")
    doc = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
           f"</title><style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>"
           f"<p class='note'>Laplacian spectrum of S = W̄W̄ᵀ (Eqs. 5–6), k* = argmax eigengap, "
           f"Newman Q (no self-loops), n-cut z-score against a weight-shuffle null.</p>"
           f"{_table(rows, k)}{''.join(sections)}</body></html>")
    path = out / "report.html"
    path.write_text(doc, encoding="utf-8")
    return path
