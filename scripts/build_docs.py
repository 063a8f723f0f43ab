"""Render every generated table and figure of the docs from results/paper.

    python scripts/build_docs.py            # rewrite the blocks, redraw/copy docs/figures/
    python scripts/build_docs.py --check    # exit 1 if a block or a figure file is stale
    python scripts/build_docs.py --no-redraw   # copy the packaged figures, redraw nothing

Blocks are marked in README.md and docs/*.md (`<!-- table: NAME -->` … `<!-- end table -->`,
`<!-- figure: EXPERIMENT/FILE.png -->` … `<!-- end figure -->`); scripts/docgen/build.py
explains them, scripts/docgen/tables/ holds one function per table, and
`<!-- table: EXPERIMENT/summary -->` shows any experiment's own summary table. A block whose
experiment is not in results/paper yet is left as it is and listed as pending.
"""
from __future__ import annotations

import argparse
import sys

from docgen.build import ROOT, build, problems, write_figures
from docgen.data import packages


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 if stale")
    p.add_argument("--no-redraw", action="store_true",
                   help="copy the packaged figures instead of redrawing them from rows")
    args = p.parse_args(argv)
    try:
        out = build()
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for line in out.pending:
        print(f"pending: {line}")
    if args.check:
        found = problems(out)
        for line in found:
            print(f"stale: {line}")
        if found:
            print("run: python scripts/build_docs.py", file=sys.stderr)
        return 1 if found else 0
    for doc, text in out.changed.items():
        doc.write_text(text)
        print(f"wrote {doc.relative_to(ROOT)}")
    for line in write_figures(out, packages(), redraw=not args.no_redraw):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
