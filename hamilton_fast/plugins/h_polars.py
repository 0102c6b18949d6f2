"""``PolarsDataFrameResult``: ``execute`` returns a ``pl.DataFrame`` (the default)."""

from __future__ import annotations

from hamilton_fast.base import ResultBuilder

__all__ = ["PolarsDataFrameResult"]


class PolarsDataFrameResult(ResultBuilder):
    """One DataFrame of the requested nodes; scalars are broadcast to its height."""

    result_kind = "polars"
