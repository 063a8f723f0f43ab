"""The results store (one Parquet file per run, keyed by config hash) and its queries."""
from .query import connect, load, sql, store_dirs
from .store import Store, run_row

__all__ = ["Store", "connect", "load", "run_row", "sql", "store_dirs"]
