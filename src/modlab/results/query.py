"""Query a results store (or several) with DuckDB or pandas.

Views: `runs` (one row per run: config columns, final losses, measures), `history` (one row
per run and logged step), `layers` (one row per run and weight layer, for kinds that measure
layers), and `rows` (the analysis rows of experiments run into the same directory).

A query sees those views and nothing else, and no path ever becomes SQL text. The files are
read here with pyarrow (a file that is unreadable or not a run row is skipped with a
`SkippedFile` warning naming it) and handed to an in-memory DuckDB as Arrow tables. That
database is opened confined by DuckDB's own settings: no file system access at all
(`enable_external_access = false` and the local file system disabled, which also stops COPY,
EXPORT, ATTACH of files, INSTALL and read_csv/read_text/glob), no extension autoloading or
installing, no community extensions, no scans of Python variables, no spill directory, and
`lock_configuration` so that no SET can undo any of it. `sql` then runs one SELECT statement only, as DuckDB's own
parser classifies it (`extract_statements`).
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

CURVE_COLUMNS = ("steps", "train_loss", "test_loss", "train_eval")
LAYER_COLUMNS = ("k_star", "gap_at_true_k", "dropped_neurons", "dead_neurons")
RUN_KEYS = ("run_id", "config")        # string columns every run row has (results.store.run_row)
VIEWS = ("runs", "history", "layers", "rows")

# Set when the database opens. Even so, DuckDB lets an in-memory database touch the files
# `<cwd>/:memory:{,.wal,…}` (its `allowed_paths`), so the local file system is switched off
# as well once the database runs, and then `lock_configuration` makes every setting final.
CONFINED = {"enable_external_access": False, "autoload_known_extensions": False,
            "autoinstall_known_extensions": False, "allow_community_extensions": False,
            "allow_unsigned_extensions": False, "python_enable_replacements": False,
            "temp_directory": ""}
LOCK = ("SET disabled_filesystems = 'LocalFileSystem'", "SET lock_configuration = true")


class SkippedFile(UserWarning):
    """A file under a results directory that was left out (unreadable, or not a run row)."""


def _visible(path: Path, root: Path) -> bool:
    """Not inside a hidden directory below `root` (staging directories of unfinished runs)."""
    return not any(part.startswith(".") for part in path.relative_to(root).parent.parts)


def store_dirs(path: str | Path) -> list[Path]:
    """Every store under `path`: a store itself (has runs/*.parquet), or directories holding
    stores (an `--out` directory, a sweep directory)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such results directory: {path}")
    if not path.is_dir():
        raise ValueError(f"{path} is not a directory (give a run, sweep or store directory)")
    found = sorted({p.parent.parent for p in path.rglob("runs/*.parquet") if p.is_file()})
    if not found:
        raise ValueError(f"{path} holds no finished runs (no runs/*.parquet below it)")
    return found


def _read(file: Path):
    """The file's table, or None (with a `SkippedFile` warning) when it cannot be read."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(file).read()
    except (pa.ArrowException, OSError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        warnings.warn(f"skipped {file}: not a readable Parquet file ({reason})", SkippedFile,
                      stacklevel=3)
        return None


def _run_rows(file: Path):
    """A store's run file (one run, or packed records of many) as a table, or None (warned)
    when it holds no run rows."""
    import pyarrow as pa

    table = _read(file)
    if table is None:
        return None
    missing = [k for k in RUN_KEYS if k not in table.schema.names
               or not pa.types.is_string(table.schema.field(k).type)]
    if missing:
        warnings.warn(f"skipped {file}: not modlab run rows (no text column {missing[0]!r})",
                      SkippedFile, stacklevel=2)
        return None
    return table


def _as_text(column):
    """A column as JSON/plain text: the common type of values stored as different types."""
    import pyarrow as pa

    values = column.to_pylist()
    return pa.array([v if v is None or isinstance(v, str) else json.dumps(v) for v in values],
                    pa.string())


def _conflicts(tables) -> set[str]:
    """Columns whose types cannot be promoted to one (say int in one run, text in another)."""
    import pyarrow as pa

    types: dict[str, set] = {}
    for t in tables:
        for f in t.schema:
            types.setdefault(f.name, set()).add(f.type)
    out = set()
    for name, kinds in types.items():
        try:
            pa.unify_schemas([pa.schema([(name, k)]) for k in kinds], promote_options="permissive")
        except (pa.ArrowTypeError, pa.ArrowInvalid):
            out.add(name)
    return out


def combine(tables):
    """One Arrow table from many (columns matched by name, missing ones null)."""
    import pyarrow as pa

    clash = _conflicts(tables)
    if clash:
        tables = [t.from_arrays([_as_text(t[c]) if c in clash else t[c] for c in t.schema.names],
                                names=t.schema.names) for t in tables]
    return pa.concat_tables(tables, promote_options="permissive")


def _analysis_rows(root: Path):
    """The `results.parquet` analysis rows of finished run directories under root, with the
    file each came from (column `filename`), or None."""
    import pyarrow as pa

    tables = []
    for file in sorted(root.rglob("results.parquet")):
        if _visible(file, root) and (t := _read(file)) is not None and t.num_rows:
            tables.append(t.append_column("filename", pa.array([str(file)] * t.num_rows)))
    return combine(tables) if tables else None


def _create_views(con, schema) -> None:
    """The views over `raw`; every name in this SQL is one of ours, never a file's. Curves and
    per-layer measures are unnested only where they are lists in every run."""
    import pyarrow as pa

    columns = schema.names
    lists = [f.name for f in schema if pa.types.is_list(f.type) or pa.types.is_large_list(f.type)]
    hidden = [c for c in (*CURVE_COLUMNS, "config", "extra", "env") if c in columns]
    exclude = f" EXCLUDE ({', '.join(hidden)})" if hidden else ""
    con.execute(f"CREATE VIEW runs AS SELECT *{exclude} FROM raw")
    if "steps" in lists:
        curves = [c for c in ("train_loss", "test_loss", "train_eval") if c in lists]
        con.execute("CREATE VIEW history AS SELECT run_id, "
                    + ", ".join(["unnest(steps) AS step", *(f"unnest({c}) AS {c}" for c in curves)])
                    + " FROM raw")
    layer_cols = [c for c in LAYER_COLUMNS if c in lists]
    if layer_cols:
        con.execute("CREATE VIEW layers AS SELECT run_id, "
                    f"generate_subscripts({layer_cols[0]}, 1) - 1 AS layer, "
                    + ", ".join(f"unnest({c}) AS {c}" for c in layer_cols)
                    + f" FROM raw WHERE {layer_cols[0]} IS NOT NULL")


def connect(path: str | Path):
    """A confined, in-memory DuckDB connection holding the views `runs`, `history`, `layers`
    (and `rows`) of every store under `path`. Files that are not readable run rows are
    skipped with a `SkippedFile` warning."""
    try:
        import duckdb
    except ImportError:
        raise ImportError("querying results needs DuckDB: pip install duckdb") from None
    root = Path(path)
    files = sorted(f for d in store_dirs(root) for f in (d / "runs").glob("*.parquet"))
    runs = [t for f in files if (t := _run_rows(f)) is not None]
    if not runs:
        raise ValueError(f"{root} holds no readable runs ({len(files)} Parquet file(s) skipped)")
    raw = combine(runs)
    con = duckdb.connect(":memory:", config=CONFINED)
    for statement in LOCK:
        con.execute(statement)
    con.from_arrow(raw).create("raw")
    _create_views(con, raw.schema)
    rows = _analysis_rows(root)
    if rows is not None:
        con.from_arrow(rows).create("rows")
    return con


def _one_select(con, query: str):
    """The query's single statement, if DuckDB parses it as a SELECT; else a ValueError."""
    import duckdb

    statements = con.extract_statements(query)
    if len(statements) != 1:
        raise ValueError(f"give exactly one SQL statement (a SELECT), got {len(statements)}")
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        hint = " (a PIVOT needs an explicit IN list)" if kind == duckdb.StatementType.MULTI else ""
        raise ValueError(f"only a SELECT over the views {', '.join(VIEWS)} is allowed; got a "
                         f"{kind.name} statement{hint}")
    return statements[0]


def sql(path: str | Path, query: str):
    """Run one SELECT over the views; returns a pandas DataFrame."""
    import duckdb

    con = connect(path)
    try:
        return con.execute(_one_select(con, query)).df()
    except duckdb.PermissionException as err:
        raise ValueError(f"not allowed: a query reads only the views {', '.join(VIEWS)} "
                         f"({str(err).splitlines()[0]})") from None
    except duckdb.Error as err:     # parser, binder, …: one line for the CLI
        raise ValueError(f"SQL error: {str(err).splitlines()[0]}") from None
    finally:
        con.close()


def load(path: str | Path, view: str = "runs"):
    """The `runs` view (or `history`, `layers`, `rows`) of the stores under `path` as a pandas
    DataFrame."""
    if view not in VIEWS:
        raise ValueError(f"view must be one of {', '.join(VIEWS)}; got {view!r}")
    return sql(path, f"SELECT * FROM {view}")
