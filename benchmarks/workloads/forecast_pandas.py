"""The dataflow of `forecast_features.py` written for pandas, as a competent pandas user would.

Every node takes and returns `pd.Series` aligned on the panel's index; work within a series goes
through `groupby(series_id)` (`.shift`, `.rolling(...)`, `.transform("mean")`), everything is
vectorised, and no function applies a Python lambda per row or per group. The panel is sorted by
`series_id`, then `week`, so a group-wise shift of k rows is k weeks; pandas aligns results on
the index anyway.
"""

import numpy as np
import pandas as pd

# Lags within a series ---------------------------------------------------------------------


def demand_lag_1(demand: pd.Series, series_id: pd.Series) -> pd.Series:
    """Demand one week earlier."""
    return demand.groupby(series_id, sort=False).shift(1)


def demand_lag_2(demand: pd.Series, series_id: pd.Series) -> pd.Series:
    """Demand two weeks earlier."""
    return demand.groupby(series_id, sort=False).shift(2)


def demand_lag_4(demand: pd.Series, series_id: pd.Series) -> pd.Series:
    """Demand four weeks earlier."""
    return demand.groupby(series_id, sort=False).shift(4)


def demand_lag_13(demand: pd.Series, series_id: pd.Series) -> pd.Series:
    """Demand a quarter earlier."""
    return demand.groupby(series_id, sort=False).shift(13)


def demand_lag_52(demand: pd.Series, series_id: pd.Series) -> pd.Series:
    """Demand in the same week last year."""
    return demand.groupby(series_id, sort=False).shift(52)


# Rolling statistics of lagged demand ------------------------------------------------------


def demand_roll_mean_4(demand_lag_1: pd.Series, series_id: pd.Series) -> pd.Series:
    """Mean demand over the last 4 weeks (at least 1 observed)."""
    return demand_lag_1.groupby(series_id).rolling(4, min_periods=1).mean().droplevel(0)


def demand_roll_mean_13(demand_lag_1: pd.Series, series_id: pd.Series) -> pd.Series:
    """Mean demand over the last 13 weeks (at least 4 observed)."""
    return demand_lag_1.groupby(series_id).rolling(13, min_periods=4).mean().droplevel(0)


def demand_roll_mean_52(demand_lag_1: pd.Series, series_id: pd.Series) -> pd.Series:
    """Mean demand over the last 52 weeks (at least 13 observed)."""
    return demand_lag_1.groupby(series_id).rolling(52, min_periods=13).mean().droplevel(0)


def demand_roll_std_4(demand_lag_1: pd.Series, series_id: pd.Series) -> pd.Series:
    """Standard deviation of demand over the last 4 weeks."""
    return demand_lag_1.groupby(series_id).rolling(4, min_periods=2).std().droplevel(0)


def demand_roll_std_13(demand_lag_1: pd.Series, series_id: pd.Series) -> pd.Series:
    """Standard deviation of demand over the last 13 weeks."""
    return demand_lag_1.groupby(series_id).rolling(13, min_periods=4).std().droplevel(0)


def demand_roll_std_52(demand_lag_1: pd.Series, series_id: pd.Series) -> pd.Series:
    """Standard deviation of demand over the last 52 weeks."""
    return demand_lag_1.groupby(series_id).rolling(52, min_periods=13).std().droplevel(0)


# Ratios and differences of demand ---------------------------------------------------------


def demand_momentum(demand_lag_1: pd.Series, demand_lag_2: pd.Series) -> pd.Series:
    """Last week's change in demand."""
    return demand_lag_1 - demand_lag_2


def demand_change_4(demand_lag_1: pd.Series, demand_lag_4: pd.Series) -> pd.Series:
    """Relative change of demand over three weeks."""
    return demand_lag_1 / demand_lag_4 - 1.0


def log_demand_lag_1(demand_lag_1: pd.Series) -> pd.Series:
    """Log of last week's demand."""
    return np.log1p(demand_lag_1)


def demand_cv_13(demand_roll_std_13: pd.Series, demand_roll_mean_13: pd.Series) -> pd.Series:
    """Coefficient of variation over the last quarter: how erratic the series is."""
    return demand_roll_std_13 / demand_roll_mean_13


def demand_trend(demand_roll_mean_4: pd.Series, demand_roll_mean_13: pd.Series) -> pd.Series:
    """Last month's level relative to last quarter's."""
    return demand_roll_mean_4 / demand_roll_mean_13


def seasonal_index(demand_lag_52: pd.Series, demand_roll_mean_52: pd.Series) -> pd.Series:
    """Same week last year relative to the yearly level."""
    return demand_lag_52 / demand_roll_mean_52


def yoy_ratio(demand_roll_mean_13: pd.Series, series_id: pd.Series) -> pd.Series:
    """Last quarter's level over the same quarter a year before."""
    return demand_roll_mean_13 / demand_roll_mean_13.groupby(series_id, sort=False).shift(52)


def quarter_over_quarter(demand_lag_1: pd.Series, demand_lag_13: pd.Series) -> pd.Series:
    """Last week's demand over demand a quarter before it."""
    return demand_lag_1 / demand_lag_13


# Per-series encodings ---------------------------------------------------------------------


def series_mean_demand(demand: pd.Series, series_id: pd.Series) -> pd.Series:
    """Mean encoding of the series: its mean demand over the panel."""
    return demand.groupby(series_id, sort=False).transform("mean")


def relative_level(demand_roll_mean_13: pd.Series, series_mean_demand: pd.Series) -> pd.Series:
    """Last quarter's level relative to the series' mean."""
    return demand_roll_mean_13 / series_mean_demand


def series_mean_price(price: pd.Series, series_id: pd.Series) -> pd.Series:
    """Mean price of the series over the panel."""
    return price.groupby(series_id, sort=False).transform("mean")


# Price and promotion ----------------------------------------------------------------------


def price_ratio(price: pd.Series, series_mean_price: pd.Series) -> pd.Series:
    """Price relative to the series' mean price."""
    return price / series_mean_price


def log_price(price: pd.Series) -> pd.Series:
    """Log price, for a constant-elasticity term."""
    return np.log(price)


def price_lag_1(price: pd.Series, series_id: pd.Series) -> pd.Series:
    """Price one week earlier."""
    return price.groupby(series_id, sort=False).shift(1)


def price_change(price: pd.Series, price_lag_1: pd.Series) -> pd.Series:
    """Relative price change since last week."""
    return price / price_lag_1 - 1.0


def promo_lag_1(promo: pd.Series, series_id: pd.Series) -> pd.Series:
    """A promotion last week."""
    return promo.groupby(series_id, sort=False).shift(1)


def promo_lead_1(promo: pd.Series, series_id: pd.Series) -> pd.Series:
    """A promotion next week (planned ahead, so known)."""
    return promo.groupby(series_id, sort=False).shift(-1)


def promo_after_promo(promo: pd.Series, promo_lag_1: pd.Series) -> pd.Series:
    """A promotion right after another one: customers have stocked up."""
    return promo * promo_lag_1


def promo_share_13(promo_lag_1: pd.Series, series_id: pd.Series) -> pd.Series:
    """Share of promotion weeks in the last 13 weeks."""
    return promo_lag_1.groupby(series_id).rolling(13, min_periods=1).mean().droplevel(0)


def promo_x_price_ratio(promo: pd.Series, price_ratio: pd.Series) -> pd.Series:
    """Relative price during promotions only."""
    return promo * price_ratio


def promo_x_level(promo: pd.Series, demand_roll_mean_13: pd.Series) -> pd.Series:
    """Recent level during promotions only: promotions lift in proportion to the level."""
    return promo * demand_roll_mean_13


# Calendar ---------------------------------------------------------------------------------


def week_of_year(week: pd.Series) -> pd.Series:
    """ISO week number, 1-53."""
    return week.dt.isocalendar().week.astype("int64")


def month(week: pd.Series) -> pd.Series:
    """Month of the week's Monday."""
    return week.dt.month


def quarter(week: pd.Series) -> pd.Series:
    """Quarter of the week's Monday."""
    return week.dt.quarter


def yearly_sin(week_of_year: pd.Series) -> pd.Series:
    """First Fourier term of the yearly cycle (sine)."""
    return np.sin(week_of_year * (2 * np.pi / 52.1775))


def yearly_cos(week_of_year: pd.Series) -> pd.Series:
    """First Fourier term of the yearly cycle (cosine)."""
    return np.cos(week_of_year * (2 * np.pi / 52.1775))


def is_year_end(week_of_year: pd.Series) -> pd.Series:
    """The last weeks of the year (holiday season)."""
    return week_of_year >= 50


# The forecast -----------------------------------------------------------------------------


def forecast(
    demand_roll_mean_4: pd.Series,
    demand_roll_mean_13: pd.Series,
    demand_roll_mean_52: pd.Series,
    demand_lag_52: pd.Series,
    seasonal_index: pd.Series,
    yoy_ratio: pd.Series,
    demand_trend: pd.Series,
    demand_cv_13: pd.Series,
    promo_x_level: pd.Series,
    promo_after_promo: pd.Series,
    price_ratio: pd.Series,
    yearly_sin: pd.Series,
    yearly_cos: pd.Series,
) -> pd.Series:
    """A linear forecast with fixed coefficients (missing features count as 0)."""
    return (
        4.0
        + 0.30 * demand_roll_mean_4.fillna(0.0)
        + 0.25 * demand_roll_mean_13.fillna(0.0)
        + 0.15 * demand_roll_mean_52.fillna(0.0)
        + 0.10 * demand_lag_52.fillna(0.0)
        + 2.00 * seasonal_index.fillna(0.0)
        + 0.50 * yoy_ratio.fillna(0.0)
        + 1.00 * demand_trend.fillna(0.0)
        - 3.00 * demand_cv_13.fillna(0.0)
        + 0.35 * promo_x_level.fillna(0.0)
        - 2.00 * promo_after_promo.fillna(0.0)
        - 6.00 * price_ratio.fillna(0.0)
        + 1.20 * yearly_sin.fillna(0.0)
        - 0.80 * yearly_cos.fillna(0.0)
    )
