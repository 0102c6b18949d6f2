"""``PolarsLazyFrameResult``: ``execute`` returns a ``pl.LazyFrame``."""

from __future__ import annotations

from hamilton_fast.base import ResultBuilder

__all__ = ["PolarsLazyFrameResult"]


class PolarsLazyFrameResult(ResultBuilder):
    """The requested nodes as a LazyFrame over the computed result."""

    result_kind = "lazy"
