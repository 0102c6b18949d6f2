"""Demand history features, computed within each series.

Every expression here is a window `.over(series_id)` on the weekly panel, which `loaders.py`
completes and sorts by `series_id`, then `week`: a shift of k rows is exactly k weeks.

The model forecasts up to 13 weeks ahead *directly* (one model for the whole horizon, no
recursion), so a feature it uses may only read demand at least 13 weeks old: at forecast time
the last 12 weeks are not known yet for the later horizons. The short lags (1, 2 and 4 weeks)
are in the DAG for short-horizon uses and analysis, and the model does not take them; the rolling
statistics are computed over `demand_lag_13`, the most recent demand the model may see.

`features="basic"` and `features="full"` (the driver's config) choose the feature set: the
`@config.when(features="full")` functions exist only in the full one, and `seasonal_signal` has
a variant for each.
"""

from __future__ import annotations

import polars as pl

from hamilton_fast.function_modifiers import config


def demand_lag_1(demand: pl.Expr, series_id: pl.Expr) -> pl.Expr:
    """Demand one week earlier."""
    return demand.shift(1).over(series_id)


def demand_lag_2(demand: pl.Expr, series_id: pl.Expr) -> pl.Expr:
    """Demand two weeks earlier."""
    return demand.shift(2).over(series_id)


def demand_lag_4(demand: pl.Expr, series_id: pl.Expr) -> pl.Expr:
    """Demand four weeks earlier."""
    return demand.shift(4).over(series_id)


def demand_lag_13(demand: pl.Expr, series_id: pl.Expr) -> pl.Expr:
    """Demand 13 weeks earlier: the most recent value known for every week of the horizon."""
    return demand.shift(13).over(series_id)


def demand_lag_52(demand: pl.Expr, series_id: pl.Expr) -> pl.Expr:
    """Demand in the same week last year (the seasonal-naive forecast)."""
    return demand.shift(52).over(series_id)


def demand_rolling_mean_4(demand_lag_13: pl.Expr, series_id: pl.Expr) -> pl.Expr:
    """Mean demand over weeks t-16..t-13 (at least 2 observed)."""
    return demand_lag_13.rolling_mean(4, min_samples=2).over(series_id)


def demand_rolling_mean_13(demand_lag_13: pl.Expr, series_id: pl.Expr) -> pl.Expr:
    """Mean demand over weeks t-25..t-13: the recent level (at least 4 observed)."""
    return demand_lag_13.rolling_mean(13, min_samples=4).over(series_id)


def demand_rolling_mean_52(demand_lag_13: pl.Expr, series_id: pl.Expr) -> pl.Expr:
    """Mean demand over weeks t-64..t-13: the yearly level (at least 13 observed)."""
    return demand_lag_13.rolling_mean(52, min_samples=13).over(series_id)


@config.when(features="full")
def demand_rolling_std_4(demand_lag_13: pl.Expr, series_id: pl.Expr) -> pl.Expr:
    """Standard deviation of demand over weeks t-16..t-13."""
    return demand_lag_13.rolling_std(4, min_samples=2).over(series_id)


@config.when(features="full")
def demand_rolling_std_13(demand_lag_13: pl.Expr, series_id: pl.Expr) -> pl.Expr:
    """Standard deviation of demand over weeks t-25..t-13."""
    return demand_lag_13.rolling_std(13, min_samples=4).over(series_id)


@config.when(features="full")
def demand_rolling_std_52(demand_lag_13: pl.Expr, series_id: pl.Expr) -> pl.Expr:
    """Standard deviation of demand over weeks t-64..t-13."""
    return demand_lag_13.rolling_std(52, min_samples=13).over(series_id)


@config.when(features="full")
def yoy_ratio(demand_rolling_mean_13: pl.Expr, series_id: pl.Expr) -> pl.Expr:
    """Recent level over the level a year before: the growth trend (null without a year)."""
    return demand_rolling_mean_13 / demand_rolling_mean_13.shift(52).over(series_id)


@config.when(features="basic")
def seasonal_signal__basic(demand_lag_52: pl.Expr, demand_rolling_mean_52: pl.Expr) -> pl.Expr:
    """Seasonal index: the same week last year relative to the yearly level."""
    return demand_lag_52 / demand_rolling_mean_52


@config.when(features="full")
def seasonal_signal__full(
    demand: pl.Expr, series_id: pl.Expr, demand_rolling_mean_52: pl.Expr
) -> pl.Expr:
    """Seasonal index from weeks t-53..t-51, smoothing the noise of a single week.

    Holidays that move between years (Easter, Thanksgiving) land in the window either way.
    """
    last_year = demand.shift(51).rolling_mean(3, min_samples=1).over(series_id)
    return last_year / demand_rolling_mean_52


@config.when(features="full")
def category_seasonal_signal(seasonal_signal: pl.Expr, category: pl.Expr, week: pl.Expr) -> pl.Expr:
    """Geometric mean of the seasonal index over the category's series in the same week.

    Pooling across series removes most of the noise of one series' single year of history.
    The floor keeps a zero-demand week from sending the logarithm to minus infinity.
    """
    return seasonal_signal.clip(lower_bound=0.05).log().mean().over(category, week).exp()
