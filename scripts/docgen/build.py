"""Generated blocks in the docs: tables and figures rendered from results/paper.

A block sits between markers that name what fills it:

    <!-- table: fig3/w_in -->            (a table registered in docgen.tables)
    <!-- figure: fig3/spectra.png -->    (a figure of results/paper/fig3, kept in docs/figures/)
    ...generated text...
    <!-- end table -->  /  <!-- end figure -->

A block whose experiment has no data yet is left as it is and reported as pending.
"""
from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from .data import ROOT, Package, packages
from .tables import lookup

BLOCK = re.compile(r"<!-- (table|figure): (\S+) -->\n(.*?)<!-- end \1 -->", re.S)
FIGURES = ROOT / "docs" / "figures"


def doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@dataclass
class Outcome:
    changed: dict[Path, str] = field(default_factory=dict)     # doc → its new text
    pending: list[str] = field(default_factory=list)           # blocks without data
    figures: list[tuple[str, str]] = field(default_factory=list)   # (experiment, png)


def _rel(doc: Path, target: Path) -> str:
    return Path(os.path.relpath(target, doc.parent)).as_posix()


def figure_block(doc: Path, pkg: Package, png: str) -> str:
    from .figures import redraws

    if not pkg.file(png).exists():
        raise ValueError(f"{doc.name}: results/paper/{pkg.name} has no {png}")
    how = ("redrawn from the packaged rows by `scripts/build_docs.py`" if redraws(pkg.name, png)
           else "as drawn by the run (it needs the trained parameters, which are not shipped)")
    src = _rel(doc, FIGURES / pkg.name / png)
    return (f"![{pkg.name}: {png}, {pkg.manifest['label']} preset]({src})\n\n"
            f"*{pkg.name} `{png}`, {pkg.manifest['label']} preset, {how}; data: "
            f"[`results/paper/{pkg.name}`]({_rel(doc, pkg.path)}).*\n")


def table_block(doc: Path, name: str, pkgs: dict[str, Package]) -> str:
    spec = lookup(name)
    body = spec.render(*(pkgs[n] for n in spec.needs))
    sources = " ".join(pkgs[n].source(_rel(doc, pkgs[n].path)) for n in spec.needs)
    return f"{body}\n\n{sources}\n"


def render(doc: Path, text: str, pkgs: dict[str, Package], out: Outcome) -> str:
    def fill(match: re.Match) -> str:
        kind, name, old = match.groups()
        if kind == "table":
            if lookup(name) is None:
                raise ValueError(f"{doc.name}: unknown table {name!r} (docgen.tables)")
            missing = [n for n in lookup(name).needs if n not in pkgs]
            new = None if missing else table_block(doc, name, pkgs)
        else:
            exp, _, png = name.partition("/")
            missing = [] if exp in pkgs else [exp]
            new = None if missing else figure_block(doc, pkgs[exp], png)
            if not missing:
                out.figures.append((exp, png))
        if missing:
            out.pending.append(f"{doc.relative_to(ROOT)}: {kind} {name} (no results/paper/"
                               f"{missing[0]})")
            return match.group(0)
        return f"<!-- {kind}: {name} -->\n{new}<!-- end {kind} -->"

    return BLOCK.sub(fill, text)


def build(root: Path | None = None) -> Outcome:
    """Render every doc; the changed texts are in `changed` (nothing is written)."""
    pkgs = packages(root) if root else packages()
    out = Outcome()
    for doc in doc_files():
        text = doc.read_text()
        new = render(doc, text, pkgs, out)
        if new != text:
            out.changed[doc] = new
    return out


def write_figures(out: Outcome, pkgs: dict[str, Package], redraw: bool = True) -> list[str]:
    """docs/figures/<experiment>/<png> for every figure block, redrawn from rows where the
    plotting needs only rows, else the packaged PNG; removes figures no block names."""
    from .figures import redraw_figure
    from .pngs import compress_png

    wanted = {FIGURES / exp / png for exp, png in out.figures}
    log = []
    for exp, png in sorted(set(out.figures)):
        dst = FIGURES / exp / png
        dst.parent.mkdir(parents=True, exist_ok=True)
        if redraw and redraw_figure(pkgs[exp], png, dst):
            compress_png(dst, dst)
            log.append(f"redrew {dst.relative_to(ROOT)}")
        elif not redraw and dst.exists():
            continue
        else:
            shutil.copyfile(pkgs[exp].file(png), dst)
            log.append(f"copied {dst.relative_to(ROOT)}")
    for stale in sorted(FIGURES.rglob("*.png")) if FIGURES.exists() else []:
        if stale not in wanted:
            stale.unlink()
            log.append(f"removed {stale.relative_to(ROOT)} (no block names it)")
    return log


def problems(out: Outcome) -> list[str]:
    """What `--check` fails on: stale blocks, figure files missing or unreferenced."""
    found = [f"{doc.relative_to(ROOT)}: a generated block differs from results/paper"
             for doc in out.changed]
    wanted = {FIGURES / exp / png for exp, png in out.figures}
    found += [f"missing {p.relative_to(ROOT)}" for p in sorted(wanted) if not p.exists()]
    present = set(FIGURES.rglob("*.png")) if FIGURES.exists() else set()
    found += [f"{p.relative_to(ROOT)} is named by no figure block" for p in sorted(present - wanted)]
    return found
