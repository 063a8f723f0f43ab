"""Command-line interface: `modlab list | run | analyze | …`."""
from . import analyze, experiments, range_check  # noqa: F401  (command registration)
from .app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
