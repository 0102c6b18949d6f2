"""Demand-forecasting features on a weekly panel, as `pl.Expr` nodes: every function is a node.

The panel (`forecast.make_panel`) is sorted by `series_id`, then `week`, with one row per week,
so `shift(k).over(series_id)` is the demand k weeks earlier in the same series. The module holds
nothing but nodes and their imports, because both drivers turn each function into one;
`forecast_pandas.py` is the same dataflow written for pandas, and `forecast.handwritten_forecast`
the same again as one hand-written Polars query.

Annotations are real objects (no `from __future__ import annotations`), as Hamilton modules
usually are.
"""

import math

import polars as pl

# Lags within a series ---------------------------------------------------------------------


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
    """Demand a quarter earlier."""
    return demand.shift(13).over(series_id)


def demand_lag_52(demand: pl.Expr, series_id: pl.Expr) -> pl.Expr:
    """Demand in the same week last year."""
    return demand.shift(52).over(series_id)


# Rolling statistics of lagged demand ------------------------------------------------------


def demand_roll_mean_4(demand_lag_1: pl.Expr, series_id: pl.Expr) -> pl.Expr:
    """Mean demand over the last 4 weeks (at least 1 observed)."""
    return demand_lag_1.rolling_mean(4, min_samples=1).over(series_id)


def demand_roll_mean_13(demand_lag_1: pl.Expr, series_id: pl.Expr) -> pl.Expr:
    """Mean demand over the last 13 weeks (at least 4 observed)."""
    return demand_lag_1.rolling_mean(13, min_samples=4).over(series_id)


def demand_roll_mean_52(demand_lag_1: pl.Expr, series_id: pl.Expr) -> pl.Expr:
    """Mean demand over the last 52 weeks (at least 13 observed)."""
    return demand_lag_1.rolling_mean(52, min_samples=13).over(series_id)


def demand_roll_std_4(demand_lag_1: pl.Expr, series_id: pl.Expr) -> pl.Expr:
    """Standard deviation of demand over the last 4 weeks."""
    return demand_lag_1.rolling_std(4, min_samples=2).over(series_id)


def demand_roll_std_13(demand_lag_1: pl.Expr, series_id: pl.Expr) -> pl.Expr:
    """Standard deviation of demand over the last 13 weeks."""
    return demand_lag_1.rolling_std(13, min_samples=4).over(series_id)


def demand_roll_std_52(demand_lag_1: pl.Expr, series_id: pl.Expr) -> pl.Expr:
    """Standard deviation of demand over the last 52 weeks."""
    return demand_lag_1.rolling_std(52, min_samples=13).over(series_id)


# Ratios and differences of demand ---------------------------------------------------------


def demand_momentum(demand_lag_1: pl.Expr, demand_lag_2: pl.Expr) -> pl.Expr:
    """Last week's change in demand."""
    return demand_lag_1 - demand_lag_2


def demand_change_4(demand_lag_1: pl.Expr, demand_lag_4: pl.Expr) -> pl.Expr:
    """Relative change of demand over three weeks."""
    return demand_lag_1 / demand_lag_4 - 1.0


def log_demand_lag_1(demand_lag_1: pl.Expr) -> pl.Expr:
    """Log of last week's demand."""
    return demand_lag_1.log1p()


def demand_cv_13(demand_roll_std_13: pl.Expr, demand_roll_mean_13: pl.Expr) -> pl.Expr:
    """Coefficient of variation over the last quarter: how erratic the series is."""
    return demand_roll_std_13 / demand_roll_mean_13


def demand_trend(demand_roll_mean_4: pl.Expr, demand_roll_mean_13: pl.Expr) -> pl.Expr:
    """Last month's level relative to last quarter's."""
    return demand_roll_mean_4 / demand_roll_mean_13


def seasonal_index(demand_lag_52: pl.Expr, demand_roll_mean_52: pl.Expr) -> pl.Expr:
    """Same week last year relative to the yearly level."""
    return demand_lag_52 / demand_roll_mean_52


def yoy_ratio(demand_roll_mean_13: pl.Expr, series_id: pl.Expr) -> pl.Expr:
    """Last quarter's level over the same quarter a year before."""
    return demand_roll_mean_13 / demand_roll_mean_13.shift(52).over(series_id)


def quarter_over_quarter(demand_lag_1: pl.Expr, demand_lag_13: pl.Expr) -> pl.Expr:
    """Last week's demand over demand a quarter before it."""
    return demand_lag_1 / demand_lag_13


# Per-series encodings ---------------------------------------------------------------------


def series_mean_demand(demand: pl.Expr, series_id: pl.Expr) -> pl.Expr:
    """Mean encoding of the series: its mean demand over the panel."""
    return demand.mean().over(series_id)


def relative_level(demand_roll_mean_13: pl.Expr, series_mean_demand: pl.Expr) -> pl.Expr:
    """Last quarter's level relative to the series' mean."""
    return demand_roll_mean_13 / series_mean_demand


def series_mean_price(price: pl.Expr, series_id: pl.Expr) -> pl.Expr:
    """Mean price of the series over the panel."""
    return price.mean().over(series_id)


# Price and promotion ----------------------------------------------------------------------


def price_ratio(price: pl.Expr, series_mean_price: pl.Expr) -> pl.Expr:
    """Price relative to the series' mean price."""
    return price / series_mean_price


def log_price(price: pl.Expr) -> pl.Expr:
    """Log price, for a constant-elasticity term."""
    return price.log()


def price_lag_1(price: pl.Expr, series_id: pl.Expr) -> pl.Expr:
    """Price one week earlier."""
    return price.shift(1).over(series_id)


def price_change(price: pl.Expr, price_lag_1: pl.Expr) -> pl.Expr:
    """Relative price change since last week."""
    return price / price_lag_1 - 1.0


def promo_lag_1(promo: pl.Expr, series_id: pl.Expr) -> pl.Expr:
    """A promotion last week."""
    return promo.shift(1).over(series_id)


def promo_lead_1(promo: pl.Expr, series_id: pl.Expr) -> pl.Expr:
    """A promotion next week (planned ahead, so known)."""
    return promo.shift(-1).over(series_id)


def promo_after_promo(promo: pl.Expr, promo_lag_1: pl.Expr) -> pl.Expr:
    """A promotion right after another one: customers have stocked up."""
    return promo * promo_lag_1


def promo_share_13(promo_lag_1: pl.Expr, series_id: pl.Expr) -> pl.Expr:
    """Share of promotion weeks in the last 13 weeks."""
    return promo_lag_1.rolling_mean(13, min_samples=1).over(series_id)


def promo_x_price_ratio(promo: pl.Expr, price_ratio: pl.Expr) -> pl.Expr:
    """Relative price during promotions only."""
    return promo * price_ratio


def promo_x_level(promo: pl.Expr, demand_roll_mean_13: pl.Expr) -> pl.Expr:
    """Recent level during promotions only: promotions lift in proportion to the level."""
    return promo * demand_roll_mean_13


# Calendar ---------------------------------------------------------------------------------


def week_of_year(week: pl.Expr) -> pl.Expr:
    """ISO week number, 1-53."""
    return week.dt.week()


def month(week: pl.Expr) -> pl.Expr:
    """Month of the week's Monday."""
    return week.dt.month()


def quarter(week: pl.Expr) -> pl.Expr:
    """Quarter of the week's Monday."""
    return week.dt.quarter()


def yearly_sin(week_of_year: pl.Expr) -> pl.Expr:
    """First Fourier term of the yearly cycle (sine)."""
    return (week_of_year * (2 * math.pi / 52.1775)).sin()


def yearly_cos(week_of_year: pl.Expr) -> pl.Expr:
    """First Fourier term of the yearly cycle (cosine)."""
    return (week_of_year * (2 * math.pi / 52.1775)).cos()


def is_year_end(week_of_year: pl.Expr) -> pl.Expr:
    """The last weeks of the year (holiday season)."""
    return week_of_year >= 50


# The forecast -----------------------------------------------------------------------------


def forecast(
    demand_roll_mean_4: pl.Expr,
    demand_roll_mean_13: pl.Expr,
    demand_roll_mean_52: pl.Expr,
    demand_lag_52: pl.Expr,
    seasonal_index: pl.Expr,
    yoy_ratio: pl.Expr,
    demand_trend: pl.Expr,
    demand_cv_13: pl.Expr,
    promo_x_level: pl.Expr,
    promo_after_promo: pl.Expr,
    price_ratio: pl.Expr,
    yearly_sin: pl.Expr,
    yearly_cos: pl.Expr,
) -> pl.Expr:
    """A linear forecast with fixed coefficients (missing features count as 0)."""
    return (
        4.0
        + 0.30 * demand_roll_mean_4.fill_null(0.0)
        + 0.25 * demand_roll_mean_13.fill_null(0.0)
        + 0.15 * demand_roll_mean_52.fill_null(0.0)
        + 0.10 * demand_lag_52.fill_null(0.0)
        + 2.00 * seasonal_index.fill_null(0.0)
        + 0.50 * yoy_ratio.fill_null(0.0)
        + 1.00 * demand_trend.fill_null(0.0)
        - 3.00 * demand_cv_13.fill_null(0.0)
        + 0.35 * promo_x_level.fill_null(0.0)
        - 2.00 * promo_after_promo.fill_null(0.0)
        - 6.00 * price_ratio.fill_null(0.0)
        + 1.20 * yearly_sin.fill_null(0.0)
        - 0.80 * yearly_cos.fill_null(0.0)
    )
