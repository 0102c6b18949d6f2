"""Model stage: a ridge regression fitted in numpy, a 13-week backtest, and the forecast.

These nodes take real values (Series, DataFrames, numpy arrays), so they run in Python after the
feature query has been collected: `dr.explain(...)` lists them as opaque, with the reason.

Strategy: **direct** multi-horizon forecasting. One global model (all series together) predicts
`log1p(demand)` of week t from features known 13 weeks before t: demand lags of at least 13
weeks, rolling statistics of those lags, and the calendar, prices and promotions, which are
planned in advance. The same model then serves every week of the horizon, with no recursion
and no forecast fed back as an input. The backtest does exactly what the forecast does: fit on
the weeks up to a cutoff, predict the 13 weeks after it.

Features named `demand_*` are in units of demand and enter the model as `log1p`; every feature
is standardized; a missing value (no history yet, a missing week, a division by zero) is
imputed with the training mean, and each feature that has missing values in training gets an
indicator column, so the model can tell "imputed" from "average".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

KEYS = ("series_id", "week", "demand")

# A row is used for training only once the recent level is known (at least 4 of the 13 weeks
# ending 13 weeks back were observed); earlier rows would be all imputation.
_HAS_HISTORY = pl.col("demand_rolling_mean_13").is_not_null()


def feature_frame(
    series_id: pl.Series,
    week: pl.Series,
    demand: pl.Series,
    yearly_sin: pl.Series,
    yearly_cos: pl.Series,
    is_holiday: pl.Series,
    holiday_last_year: pl.Series,
    demand_lag_13: pl.Series,
    demand_lag_52: pl.Series,
    demand_rolling_mean_4: pl.Series,
    demand_rolling_mean_13: pl.Series,
    demand_rolling_mean_52: pl.Series,
    seasonal_signal: pl.Series,
    price_ratio: pl.Series,
    discount_depth: pl.Series,
    promo: pl.Series,
    promo_x_discount: pl.Series,
    # Only in the "full" feature set: under features="basic" these nodes do not exist, so
    # (as in Apache Hamilton) the parameters are optional inputs left at their default.
    demand_rolling_std_4: pl.Series | None = None,
    demand_rolling_std_13: pl.Series | None = None,
    demand_rolling_std_52: pl.Series | None = None,
    yoy_ratio: pl.Series | None = None,
    category_seasonal_signal: pl.Series | None = None,
    promo_lag_1: pl.Series | None = None,
    promo_lag_52: pl.Series | None = None,
    discount_depth_lag_52: pl.Series | None = None,
) -> pl.DataFrame:
    """The model's table: keys, target and features, one row per series and week.

    Rows cover the history and the plan weeks (where `demand` is null).
    """
    # The parameters, in signature order; a Series' own name is not necessarily its node's.
    columns = {name: value for name, value in locals().items() if value is not None}
    return pl.DataFrame([series.alias(name) for name, series in columns.items()])


def feature_names(feature_frame: pl.DataFrame) -> list[str]:
    """The model's inputs: every column of the table but the keys and the target."""
    return [c for c in feature_frame.columns if c not in KEYS]


def last_observed_week(feature_frame: pl.DataFrame) -> dt.date:
    """The latest week with a recorded demand: the forecast starts the week after."""
    week = feature_frame.filter(pl.col("demand").is_not_null()).get_column("week").max()
    assert isinstance(week, dt.date)
    return week


def backtest_cutoff(last_observed_week: dt.date, backtest_weeks: int = 13) -> dt.date:
    """The last week the backtest model may learn from."""
    return last_observed_week - dt.timedelta(weeks=backtest_weeks)


def training_rows(feature_frame: pl.DataFrame, backtest_cutoff: dt.date) -> pl.DataFrame:
    """Observed weeks up to the cutoff: what the backtest model learns from."""
    return feature_frame.filter(
        pl.col("week") <= backtest_cutoff, pl.col("demand").is_not_null(), _HAS_HISTORY
    )


def backtest_rows(
    feature_frame: pl.DataFrame, backtest_cutoff: dt.date, last_observed_week: dt.date
) -> pl.DataFrame:
    """Observed weeks after the cutoff: what the backtest is scored on."""
    return feature_frame.filter(
        pl.col("week") > backtest_cutoff,
        pl.col("week") <= last_observed_week,
        pl.col("demand").is_not_null(),
    )


def history_rows(feature_frame: pl.DataFrame, last_observed_week: dt.date) -> pl.DataFrame:
    """All observed weeks: what the forecast model learns from."""
    return feature_frame.filter(
        pl.col("week") <= last_observed_week, pl.col("demand").is_not_null(), _HAS_HISTORY
    )


def future_rows(feature_frame: pl.DataFrame, last_observed_week: dt.date) -> pl.DataFrame:
    """The plan weeks, to forecast."""
    return feature_frame.filter(pl.col("week") > last_observed_week)


@dataclass(frozen=True, eq=False)  # arrays have no single truth value
class RidgeModel:
    """A fitted ridge regression on standardized features, predicting `log1p(demand)`."""

    features: tuple[str, ...]
    with_indicator: tuple[str, ...]  # features that get a "was missing" column
    center: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def predict(self, rows: pl.DataFrame) -> np.ndarray:
        """Forecast demand (units, >= 0) for each row."""
        z = _standardized(_raw_matrix(rows, self.features, self.with_indicator), self)
        return np.clip(np.expm1(z @ self.coef + self.intercept), 0.0, None)


def _feature_matrix(rows: pl.DataFrame, features: tuple[str, ...]) -> np.ndarray:
    """Features as float columns, `demand_*` ones as log1p; NaN where missing or not finite."""
    exprs = [
        pl.col(f).cast(pl.Float64).log1p()
        if f.startswith("demand_")
        else pl.col(f).cast(pl.Float64)
        for f in features
    ]
    x = rows.select(exprs).to_numpy().astype(np.float64)
    x[~np.isfinite(x)] = np.nan
    return x


def _raw_matrix(
    rows: pl.DataFrame, features: tuple[str, ...], with_indicator: tuple[str, ...]
) -> np.ndarray:
    x = _feature_matrix(rows, features)
    missing = np.isnan(x[:, [features.index(f) for f in with_indicator]]).astype(np.float64)
    return np.hstack([x, missing])


def _standardized(raw: np.ndarray, model: RidgeModel) -> np.ndarray:
    z = (raw - model.center) / model.scale
    z[np.isnan(z)] = 0.0  # the training mean
    return z


def _fit_ridge(rows: pl.DataFrame, features: list[str], alpha: float) -> RidgeModel:
    """Closed-form ridge: (Z'Z + alpha I) b = Z'(y - mean y); the intercept is not penalized."""
    names = tuple(features)
    has_missing = np.isnan(_feature_matrix(rows, names)).any(axis=0)
    with_indicator = tuple(f for f, m in zip(names, has_missing, strict=True) if m)
    raw = _raw_matrix(rows, names, with_indicator)
    # nanmean/nanstd, written out so an all-missing column (a short history) is not a warning.
    count = np.maximum((~np.isnan(raw)).sum(axis=0), 1)
    center = np.nansum(raw, axis=0) / count
    scale = np.sqrt(np.nansum((raw - center) ** 2, axis=0) / count)
    scale[~(scale > 0)] = 1.0  # constant or all-missing columns
    unfitted = RidgeModel(names, with_indicator, center, scale, np.zeros(raw.shape[1]), 0.0)
    z = _standardized(raw, unfitted)
    y = np.log1p(rows.get_column("demand").cast(pl.Float64).to_numpy())
    intercept = float(y.mean())
    coef = np.linalg.solve(z.T @ z + alpha * np.eye(z.shape[1]), z.T @ (y - intercept))
    return RidgeModel(names, with_indicator, center, scale, coef, intercept)


def backtest_model(
    training_rows: pl.DataFrame, feature_names: list[str], ridge_alpha: float = 10.0
) -> RidgeModel:
    """The model fitted on the weeks up to the backtest cutoff."""
    return _fit_ridge(training_rows, feature_names, ridge_alpha)


def forecast_model(
    history_rows: pl.DataFrame, feature_names: list[str], ridge_alpha: float = 10.0
) -> RidgeModel:
    """The model refitted on all observed weeks, for the forecast."""
    return _fit_ridge(history_rows, feature_names, ridge_alpha)


def backtest_forecast(
    backtest_model: RidgeModel,
    backtest_rows: pl.DataFrame,
    feature_frame: pl.DataFrame,
    backtest_cutoff: dt.date,
) -> pl.DataFrame:
    """Actual demand, the model's forecast and the seasonal-naive forecast per backtest week.

    Seasonal naive: demand in the same week last year, or, where that week is missing or
    before the series started, the series' last demand up to the cutoff.
    """
    last_value = (
        feature_frame.filter(pl.col("week") <= backtest_cutoff, pl.col("demand").is_not_null())
        .group_by("series_id")
        .agg(last_value=pl.col("demand").sort_by("week").last())
    )
    return (
        backtest_rows.with_columns(forecast=pl.Series(backtest_model.predict(backtest_rows)))
        .join(last_value, on="series_id", how="left")
        .select(
            "series_id",
            "week",
            "demand",
            "forecast",
            seasonal_naive=pl.coalesce("demand_lag_52", "last_value").cast(pl.Float64),
        )
    )


def _wape(actual: pl.Series, forecast: pl.Series) -> float:
    """Weighted absolute percentage error: sum |actual - forecast| / sum actual."""
    return float((actual - forecast).abs().sum() / actual.sum())


def backtest_wape(backtest_forecast: pl.DataFrame) -> float:
    """WAPE of the model over the backtest weeks."""
    return _wape(backtest_forecast["demand"], backtest_forecast["forecast"])


def seasonal_naive_wape(backtest_forecast: pl.DataFrame) -> float:
    """WAPE of the seasonal-naive baseline over the same weeks."""
    return _wape(backtest_forecast["demand"], backtest_forecast["seasonal_naive"])


def forecast(forecast_model: RidgeModel, future_rows: pl.DataFrame) -> pl.DataFrame:
    """Demand forecast for every series and plan week."""
    return future_rows.select(
        "series_id", "week", forecast=pl.Series(forecast_model.predict(future_rows))
    )
