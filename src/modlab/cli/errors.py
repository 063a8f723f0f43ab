"""One-line errors for bad input: message to stderr, exit code 2, no traceback."""
from __future__ import annotations

import contextlib
import errno
import functools
import warnings

import typer

USAGE_ERROR = 2
RUN_FAILED = 1


def fail(message: str, code: int = USAGE_ERROR) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _os_message(err: OSError) -> str:
    where = f": {err.filename}" if getattr(err, "filename", None) else ""
    reason = {errno.EACCES: "permission denied", errno.EPERM: "not permitted",
              errno.ENOTDIR: "not a directory", errno.EISDIR: "is a directory",
              errno.ENOSPC: "no space left on the device", errno.EROFS: "read-only file system",
              errno.ENOENT: "no such file or directory"}.get(err.errno, err.strerror or str(err))
    return f"cannot write or read{where} ({reason})"


def one_line_errors(fn):
    """Turn our validation errors, bad paths and impossible sizes into one-line exits."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (ValueError, ImportError) as err:
            fail(str(err).splitlines()[0] if str(err) else type(err).__name__)
        except FileNotFoundError as err:
            fail(str(err).splitlines()[0] if err.filename is None else
                 f"no such file or directory: {err.filename}")
        except OSError as err:
            fail(_os_message(err))
        except MemoryError:
            fail("not enough memory for this configuration (see the resource estimate in "
                 "`modlab show EXPERIMENT`; lower the sizes)")
    return wrapper


@contextlib.contextmanager
def warnings_as_lines(*categories: type[Warning]):
    """Print warnings of these categories as one `warning: …` line each on stderr, as they
    happen (others are shown as usual)."""
    with warnings.catch_warnings():
        shown = warnings.showwarning
        for category in categories:
            warnings.simplefilter("always", category)

        def show(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, categories):
                typer.echo(f"warning: {message}", err=True)
            else:
                shown(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        yield
