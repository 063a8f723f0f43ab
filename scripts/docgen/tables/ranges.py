"""Dorrell, Hsu et al. 2025: range-2d, range-3d, what-where (docs/range-independence.md)."""
from __future__ import annotations
