"""The `modlab` command line (typer). Every command imports what it needs inside its body,
so that `modlab --help` and `modlab list` start at once (no torch, matplotlib, sklearn)."""
from __future__ import annotations

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Induce, measure and use modularity in neural networks.")
