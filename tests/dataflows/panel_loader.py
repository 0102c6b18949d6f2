"""Exposes a panel DataFrame's columns lazily, for use next to `nested_windows`.

`extract_columns` on a LazyFrame-returning function yields `pl.Expr` columns in Apache Hamilton's
typing, which matches the `pl.Expr` annotations of `nested_windows`.
"""

import polars as pl
from hamilton.function_modifiers import extract_columns


@extract_columns("series_id", "week", "demand")
def panel_rows(panel: pl.DataFrame) -> pl.LazyFrame:
    """The panel as a lazy source."""
    return panel.lazy()
