"""Loaders: the demand history and next quarter's plan, scanned lazily, on a complete calendar.

The weekly lags in `lags.py` are row shifts within a series (`demand.shift(13).over(series_id)`),
so a row shift must be a week shift: `weekly_panel` gives every series one row per week from its
first week to the end of the plan (a week missing from the feed becomes a row with a null
`demand`), sorted by `series_id`, then `week`. Every feature relies on that order.

Only the columns the requested nodes use are read: `@extract_columns` projects them, and Polars
pushes the projection through the join into both `scan_parquet` calls.
"""

from __future__ import annotations

import polars as pl

from hamilton_fast.function_modifiers import extract_columns


def demand_history(panel_path: str) -> pl.LazyFrame:
    """Weekly sales per series: one row per observed week (missing weeks are absent)."""
    return pl.scan_parquet(panel_path)


def promo_plan(plan_path: str) -> pl.LazyFrame:
    """Prices, promotions and holidays decided for the weeks after the history (no demand)."""
    return pl.scan_parquet(plan_path)


@extract_columns(
    ("series_id", "product-in-store identifier"),
    ("category", "product category"),
    ("week", "Monday of the week"),
    ("demand", "units sold; null for a missing week and for the plan weeks"),
    ("price", "shelf price paid"),
    ("regular_price", "list price outside promotions"),
    ("promo", "1 in a promotion week"),
    ("holiday", "1 if the week contains a public holiday"),
)
def weekly_panel(demand_history: pl.LazyFrame, promo_plan: pl.LazyFrame) -> pl.LazyFrame:
    """History and plan on a complete weekly calendar per series, sorted by series and week."""
    rows = pl.concat([demand_history, promo_plan], how="diagonal_relaxed")
    calendar = (
        rows.group_by("series_id")
        .agg(week=pl.date_ranges(pl.col("week").min(), pl.col("week").max(), "1w"))
        .explode("week")
    )
    return calendar.join(rows, on=["series_id", "week"], how="left").sort("series_id", "week")
