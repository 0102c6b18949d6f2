"""Loads `spend` and `signups` lazily (`pl.scan_parquet`), for use next to `hello_world`.

Apache Hamilton turns `extract_columns` on a LazyFrame into `pl.col(name)` expressions, which do not
fit the Series-typed `hello_world` functions; hamilton_fast treats the scan as the source of real
columns. The tests compare the latter against the eager loader's results.
"""

import polars as pl
from hamilton.function_modifiers import extract_columns


@extract_columns("spend", "signups")
def marketing_data(data_path: str) -> pl.LazyFrame:
    """The marketing table scanned from `data_path`."""
    return pl.scan_parquet(data_path)
