"""Tell Polars which input columns are sorted, as an expert sets ``set_sorted`` by hand.

Polars keeps a "sorted" flag per column and picks faster algorithms by it: a window
``.over(key)`` on a key it knows to be sorted groups by contiguous slices instead of hashing
(a rolling mean per series of a 2,000 x 260 panel: 9 -> 5 ms; a shift: 7 -> 3 ms). Data read
from files, NumPy or Arrow arrives without flags even when it is sorted, as panels keyed by
series and time usually are. So the planner flags each integer, temporal or string input (or
config) column that a computation reads and that is sorted (checked: the check stops at the
first pair out of order, and costs one pass only over columns that are sorted). A rerun
served from the cache reads no input and checks none; an input asked for as an output comes
back as given (``Compiled.as_given``; the driver does the same for overrides).

The flag changes no value, but it may change the last bits of float aggregations over such a
key (a sum over slices adds in another order than over gathered rows), so it is decided by
the data alone: equal inputs get equal flags, with or without the cache (whose keys see the
inputs as given, and whose loaders, called while keying, get them flagged too).
"""

from __future__ import annotations

from typing import Any

import polars as pl

__all__ = ["mark_sorted"]


def mark_sorted(value: Any) -> Any:
    """``value`` with its sorted columns flagged: a Series or a DataFrame (each column);
    anything else, and columns already flagged or of other types, unchanged (no copy)."""
    if isinstance(value, pl.Series):
        return _marked(value)
    if isinstance(value, pl.DataFrame):
        columns = value.get_columns()
        marked = [_marked(column) for column in columns]
        if all(m is c for m, c in zip(marked, columns, strict=True)):
            return value
        return pl.DataFrame(marked)
    return value


_ORDERED = frozenset(
    {
        *(pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.Int128),
        *(pl.UInt8, pl.UInt16, pl.UInt32, pl.UInt64, pl.UInt128),
        *(pl.Date, pl.Datetime, pl.Duration, pl.Time),
        pl.String,
    }
)
"""The types whose columns are checked: keys and time axes (a set of classes: one lookup per
input, as a request with many small inputs pays it for each). Not floats: their order treats
``-0.0`` and ``0.0`` as equal and puts NaN last, so a flagged float column would answer
``min``, ``max`` or ``arg_max`` from its ends with other bits than Polars computes unflagged."""


def _marked(series: pl.Series) -> pl.Series:
    if type(series.dtype) not in _ORDERED:
        return series
    flags = series.flags
    if flags["SORTED_ASC"] or flags["SORTED_DESC"]:
        return series
    if series.is_sorted():
        return series.set_sorted()
    if series.is_sorted(descending=True):
        return series.set_sorted(descending=True)
    return series
