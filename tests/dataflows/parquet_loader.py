"""Loads `spend` and `signups` eagerly from a parquet file, for use next to `hello_world`."""

import polars as pl
from hamilton.function_modifiers import extract_columns


@extract_columns("spend", "signups")
def marketing_data(data_path: str) -> pl.DataFrame:
    """The marketing table read from `data_path`."""
    return pl.read_parquet(data_path)
