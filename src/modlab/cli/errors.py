"""One-line errors for bad input: message to stderr, exit code 2, no traceback."""
from __future__ import annotations

import functools

import typer

USAGE_ERROR = 2


def fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(USAGE_ERROR)


def one_line_errors(fn):
    """Turn ValueError (our validation errors) and missing files into one-line exits."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (ValueError, FileNotFoundError, ImportError) as err:
            fail(str(err).splitlines()[0] if str(err) else type(err).__name__)
    return wrapper
