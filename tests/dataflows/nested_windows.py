"""Window over a window, written with Polars expressions (hamilton_fast only).

`weekly_lag_total` sums, per week, each series' previous-week demand. If `lag1` were inlined into
`weekly_lag_total` the shift would be evaluated inside each week group, where every lag is null,
and every total would silently become 0.
"""

import polars as pl


def lag1(demand: pl.Expr, series_id: pl.Expr) -> pl.Expr:
    """Previous week's demand within each series."""
    return demand.shift(1).over(series_id)


def weekly_lag_total(lag1: pl.Expr, week: pl.Expr) -> pl.Expr:
    """Sum over all series of the lagged demand, per week."""
    return lag1.sum().over(week)
