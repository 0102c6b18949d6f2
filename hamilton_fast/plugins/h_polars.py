"""``PolarsDataFrameResult`` (``execute`` returns a ``pl.DataFrame``, the default) and the eager
``@with_columns``, under their Hamilton names."""

from __future__ import annotations

import polars as pl

from hamilton_fast.base import ResultBuilder
from hamilton_fast.function_modifiers.recursive import with_columns_base

__all__ = ["PolarsDataFrameResult", "with_columns"]


class PolarsDataFrameResult(ResultBuilder):
    """One DataFrame of the requested nodes; scalars are broadcast to its height."""

    result_kind = "polars"


class with_columns(with_columns_base):
    """Run ``pl.Series`` column functions on a DataFrame parameter and append the results.

    Arguments as Apache Hamilton's ``hamilton.plugins.h_polars.with_columns``: the modules or
    functions to run, then ``columns_to_pass`` (columns of the frame handed to the functions)
    or ``on_input`` (the frame parameter the functions read), ``select`` (the columns to append;
    default every ``pl.Series`` function), ``namespace`` (default the function name) and
    ``config_required``. ``pass_dataframe_as`` is refused, as Hamilton does for Polars.

    Example:
        >>> def a_plus_b(a: pl.Series, b: pl.Series) -> pl.Series:
        ...     return a + b
        >>> @with_columns(a_plus_b, columns_to_pass=["a", "b"], select=["a_plus_b"])
        ... def final_df(initial_df: pl.DataFrame) -> pl.DataFrame:
        ...     return initial_df
    """

    frame_type = pl.DataFrame
    column_type = pl.Series
    plugin = "h_polars"
