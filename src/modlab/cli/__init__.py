"""Command-line interface: `modlab list | show | run | sweep | results | analyze | range-check`."""
from . import analyze, experiments, range_check, sweeps  # noqa: F401  (command registration)
from .app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
