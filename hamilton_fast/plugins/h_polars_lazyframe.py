"""``PolarsLazyFrameResult`` (``execute`` returns a ``pl.LazyFrame``) and the lazy
``@with_columns``, under their Hamilton names."""

from __future__ import annotations

import polars as pl

from hamilton_fast.base import ResultBuilder
from hamilton_fast.function_modifiers.recursive import with_columns_base

__all__ = ["PolarsLazyFrameResult", "with_columns"]


class PolarsLazyFrameResult(ResultBuilder):
    """The requested nodes as a LazyFrame over the computed result."""

    result_kind = "lazy"


class with_columns(with_columns_base):
    """Run ``pl.Expr`` column functions on a LazyFrame parameter and append the results.

    Arguments as Apache Hamilton's ``hamilton.plugins.h_polars_lazyframe.with_columns``: the
    modules or functions to run, then ``columns_to_pass`` (columns of the frame handed to the
    functions) or ``on_input`` (the frame parameter; functions may then read its columns with
    ``pl.col``), ``select`` (the columns to append; default every ``pl.Expr`` function),
    ``namespace`` (default the function name) and ``config_required``. ``pass_dataframe_as`` is
    refused, as Hamilton does for Polars.

    Example:
        >>> def a_plus_b(a: pl.Expr, b: pl.Expr) -> pl.Expr:
        ...     return a + b
        >>> @with_columns(a_plus_b, columns_to_pass=["a", "b"], select=["a_plus_b"])
        ... def final_df(initial_df: pl.LazyFrame) -> pl.LazyFrame:
        ...     return initial_df
    """

    frame_type = pl.LazyFrame
    column_type = pl.Expr
    plugin = "h_polars_lazyframe"
