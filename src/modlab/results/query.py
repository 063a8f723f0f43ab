"""Query a results store (or several) with DuckDB or pandas.

Views: `runs` (one row per run: config columns, final losses, measures), `history` (one row
per run and logged step), `layers` (one row per run and weight layer, for kinds that measure
layers), and `rows` (the analysis rows of experiments run into the same directory).
"""
from __future__ import annotations

from pathlib import Path

CURVE_COLUMNS = ("steps", "train_loss", "test_loss", "train_eval", "eigvals")
LAYER_COLUMNS = ("k_star", "gap_at_true_k", "dropped_neurons", "dead_neurons")


def store_dirs(path: str | Path) -> list[Path]:
    """Every store under `path`: a store itself (has runs/*.parquet), or directories holding
    stores (an `--out` directory, a sweep directory)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such results directory: {path}")
    if not path.is_dir():
        raise ValueError(f"{path} is not a directory (give a run, sweep or store directory)")
    found = sorted({p.parent.parent for p in path.rglob("runs/*.parquet")})
    if not found:
        raise ValueError(f"{path} holds no finished runs (no runs/*.parquet below it)")
    return found


def _files(dirs: list[Path]) -> list[str]:
    return [str(d / "runs" / "*.parquet") for d in dirs]


def connect(path: str | Path):
    """A DuckDB connection with the views `runs`, `history`, `layers` (and `rows`)."""
    try:
        import duckdb
    except ImportError:
        raise ImportError("querying results needs DuckDB: pip install duckdb") from None
    dirs = store_dirs(path)
    con = duckdb.connect()
    files = _files(dirs)
    con.execute(f"CREATE VIEW raw AS SELECT * FROM read_parquet({files!r}, union_by_name=true)")
    columns = [r[0] for r in con.execute("DESCRIBE raw").fetchall()]
    hidden = [c for c in (*CURVE_COLUMNS, "config", "extra", "env") if c in columns]
    exclude = f" EXCLUDE ({', '.join(hidden)})" if hidden else ""
    con.execute(f"CREATE VIEW runs AS SELECT *{exclude} FROM raw")
    curves = [c for c in ("train_loss", "test_loss", "train_eval") if c in columns]
    con.execute("CREATE VIEW history AS SELECT run_id, unnest(steps) AS step, "
                + ", ".join(f"unnest({c}) AS {c}" for c in curves) + " FROM raw")
    layer_cols = [c for c in LAYER_COLUMNS if c in columns]
    if layer_cols:
        con.execute("CREATE VIEW layers AS SELECT run_id, "
                    f"generate_subscripts({layer_cols[0]}, 1) - 1 AS layer, "
                    + ", ".join(f"unnest({c}) AS {c}" for c in layer_cols)
                    + f" FROM raw WHERE {layer_cols[0]} IS NOT NULL")
    rows = sorted(str(p) for p in Path(path).rglob("results.parquet"))
    if rows:
        con.execute(f"CREATE VIEW rows AS SELECT * FROM read_parquet({rows!r}, "
                    "union_by_name=true, filename=true)")
    return con


def sql(path: str | Path, query: str):
    """Run `query` over the views; returns a pandas DataFrame."""
    con = connect(path)
    try:
        return con.execute(query).df()
    except Exception as err:   # DuckDB's parser/binder errors: one line for the CLI
        name = type(err).__name__
        if name.endswith("Exception") or name.endswith("Error"):
            raise ValueError(f"SQL error: {str(err).splitlines()[0]}") from None
        raise


def load(path: str | Path, view: str = "runs"):
    """The `runs` view (or `history`, `layers`, `rows`) of the stores under `path` as a pandas
    DataFrame."""
    if view not in ("runs", "history", "layers", "rows"):
        raise ValueError(f"view must be one of runs, history, layers, rows; got {view!r}")
    return sql(path, f"SELECT * FROM {view}")
