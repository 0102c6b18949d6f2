"""The forecast workload: a seeded weekly demand panel and about 40 forecasting features.

Three implementations of one dataflow, written independently:

- `forecast_features.py`: `pl.Expr` nodes (`demand.shift(k).over(series_id)`), for hamilton_fast;
- `forecast_pandas.py`: `pd.Series` nodes (`demand.groupby(series_id).shift(k)`), for Apache
  Hamilton, written the way a competent pandas user would;
- `handwritten_forecast` here: the single Polars lazy query an expert writes, one
  `with_columns` per dependency level (`handwritten_forecast_nodes`: the same expressions for
  some of the nodes only, over a frame that already holds the others).

`make_panel` draws the panel: every series has one row per week, sorted by `series_id`, then
`week`, with a positive `price`, a 0/1 `promo` and a positive `demand` (gamma noise around a
seasonal, trending, price- and promotion-driven level). Demand and price are never zero, so
every ratio feature is finite. `normalize_forecast` brings any engine's answer to one shape
(row order, Float64 numbers, nulls for missing values) so `assert_same_frame` can compare them.

>>> panel = make_panel(3, 8, seed=1)
>>> panel.shape, panel.columns
((24, 5), ['series_id', 'week', 'price', 'promo', 'demand'])
>>> len(FORECAST_FEATURES)
39
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from benchmarks.workloads.module_files import write_module

if TYPE_CHECKING:
    import types
    from collections.abc import Collection

__all__ = [
    "EDITED_NODE",
    "EDITED_NODES",
    "FORECAST_FEATURES",
    "FORECAST_INPUTS",
    "FORECAST_OUTPUTS",
    "handwritten_forecast",
    "handwritten_forecast_nodes",
    "make_panel",
    "normalize_forecast",
    "panel_inputs",
    "write_forecast_module",
]

FORECAST_INPUTS = ("series_id", "week", "price", "promo", "demand")

FORECAST_FEATURES = (
    "demand_lag_1",
    "demand_lag_2",
    "demand_lag_4",
    "demand_lag_13",
    "demand_lag_52",
    "demand_roll_mean_4",
    "demand_roll_mean_13",
    "demand_roll_mean_52",
    "demand_roll_std_4",
    "demand_roll_std_13",
    "demand_roll_std_52",
    "demand_momentum",
    "demand_change_4",
    "log_demand_lag_1",
    "demand_cv_13",
    "demand_trend",
    "seasonal_index",
    "yoy_ratio",
    "quarter_over_quarter",
    "series_mean_demand",
    "relative_level",
    "series_mean_price",
    "price_ratio",
    "log_price",
    "price_lag_1",
    "price_change",
    "promo_lag_1",
    "promo_lead_1",
    "promo_after_promo",
    "promo_share_13",
    "promo_x_price_ratio",
    "promo_x_level",
    "week_of_year",
    "month",
    "quarter",
    "yearly_sin",
    "yearly_cos",
    "is_year_end",
    "forecast",
)
"""Every node of the dataflow, in the order of the module files."""

FORECAST_OUTPUTS = ["series_id", "week", *FORECAST_FEATURES]
"""What a forecasting user asks for: the keys, every feature and the forecast."""

FIRST_WEEK = dt.date(2019, 1, 7)  # a Monday
WEEKS_PER_YEAR = 52.1775

# The rerun benchmark's edit: one function in the middle of the graph changes its body, which
# changes its value (the first week of each series becomes null) and its descendants'.
EDITED_NODE = "demand_roll_mean_4"
EDITED_NODES = frozenset({"demand_roll_mean_4", "demand_trend", "forecast"})
_EDIT = ("rolling_mean(4, min_samples=1)", "rolling_mean(4, min_samples=2)")
_PANDAS_EDIT = ("rolling(4, min_periods=1)", "rolling(4, min_periods=2)")
_MODULE_FILES = {"expr": "forecast_features.py", "pandas": "forecast_pandas.py"}


def make_panel(n_series: int, n_weeks: int, seed: int) -> pl.DataFrame:
    """A seeded demand panel, one row per series and week, sorted by `series_id`, `week`.

    >>> make_panel(2, 3, seed=0)["week"].to_list()[:3]
    [datetime.date(2019, 1, 7), datetime.date(2019, 1, 14), datetime.date(2019, 1, 21)]
    >>> make_panel(2, 3, seed=0).equals(make_panel(2, 3, seed=0))
    True
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    n_rows = n_series * n_weeks
    series = np.repeat(np.arange(n_series, dtype=np.int64), n_weeks)
    t = np.tile(np.arange(n_weeks, dtype=np.float64), n_series)
    level = rng.lognormal(3.0, 0.7, n_series)[series]
    amplitude = rng.uniform(0.05, 0.4, n_series)[series]
    phase = rng.uniform(0.0, 2 * math.pi, n_series)[series]
    trend = rng.normal(0.0, 0.002, n_series)[series]
    base_price = rng.uniform(1.0, 20.0, n_series)[series]
    elasticity = rng.uniform(0.8, 2.5, n_series)[series]
    promo = (rng.random(n_rows) < 0.12).astype(np.int64)
    discount = np.where(promo == 1, rng.uniform(0.1, 0.4, n_rows), 0.0)
    price = base_price * (1.0 - discount) * (1.0 + rng.normal(0.0, 0.02, n_rows))
    season = 1.0 + amplitude * np.sin(2 * math.pi * t / WEEKS_PER_YEAR + phase)
    mean = level * season * np.exp(trend * t) * (price / base_price) ** (-elasticity)
    demand = rng.gamma(5.0, mean / 5.0)
    first = np.datetime64(FIRST_WEEK, "D")
    weeks = first + (t.astype(np.int64) * 7).astype("timedelta64[D]")
    return pl.DataFrame(
        {
            "series_id": pl.Series(series, dtype=pl.Int64),
            "week": pl.Series(weeks, dtype=pl.Date),
            "price": pl.Series(price, dtype=pl.Float64),
            "promo": pl.Series(promo, dtype=pl.Int64),
            "demand": pl.Series(demand, dtype=pl.Float64),
        }
    )


def panel_inputs(panel: pl.DataFrame) -> dict[str, pl.Series]:
    """The panel's columns as driver inputs."""
    return {name: panel.get_column(name) for name in FORECAST_INPUTS}


def handwritten_forecast(
    panel: pl.DataFrame, outputs: list[str], *, edited: bool = False, sorted_key: bool = False
) -> pl.DataFrame:
    """The forecast dataflow as one lazy query, written by hand: one `with_columns` per level
    of dependencies, windows `.over("series_id")`, one `select`, one collect.

    `edited=True` gives the answer after the rerun benchmark's edit of `EDITED_NODE`;
    `sorted_key=True` tells Polars that `series_id` is sorted (the panel is), as hamilton_fast
    does for sorted inputs, so that its windows group by slices.
    """
    query = panel.lazy()
    if sorted_key:
        query = query.with_columns(pl.col("series_id").set_sorted())
    for level in _handwritten_levels(edited=edited):
        query = query.with_columns(**level)
    return query.select(outputs).collect(engine="in-memory")


def handwritten_forecast_nodes(
    frame: pl.DataFrame, nodes: Collection[str], outputs: list[str], *, edited: bool = False
) -> pl.DataFrame:
    """The hand-written query for `nodes` alone, over `frame`, which holds every column they
    read: the levels of `handwritten_forecast`, each restricted to `nodes` (the same
    expressions), then the same `select`. Levels without any of `nodes` are skipped.

    >>> panel = make_panel(3, 60, seed=1)
    >>> full = handwritten_forecast(panel, FORECAST_OUTPUTS, edited=True)
    >>> known = full.drop(EDITED_NODES).hstack([panel["price"], panel["promo"], panel["demand"]])
    >>> handwritten_forecast_nodes(known, EDITED_NODES, FORECAST_OUTPUTS, edited=True).equals(full)
    True
    """
    query = frame.lazy()
    for level in _handwritten_levels(edited=edited):
        chosen = {name: expr for name, expr in level.items() if name in nodes}
        if chosen:
            query = query.with_columns(**chosen)
    return query.select(outputs).collect(engine="in-memory")


def _handwritten_levels(*, edited: bool) -> list[dict[str, pl.Expr]]:
    """Every feature's hand-written expression, by level of dependencies (a feature reads only
    the inputs and features of earlier levels), in the order of the query."""
    by = "series_id"
    mean_4_min_samples = 2 if edited else 1
    demand, price, promo, week = pl.col("demand"), pl.col("price"), pl.col("promo"), pl.col("week")
    lag_1 = pl.col("demand_lag_1")
    roll_mean_13 = pl.col("demand_roll_mean_13")
    woy = pl.col("week_of_year")
    terms = (
        (0.30, "demand_roll_mean_4"),
        (0.25, "demand_roll_mean_13"),
        (0.15, "demand_roll_mean_52"),
        (0.10, "demand_lag_52"),
        (2.00, "seasonal_index"),
        (0.50, "yoy_ratio"),
        (1.00, "demand_trend"),
        (-3.00, "demand_cv_13"),
        (0.35, "promo_x_level"),
        (-2.00, "promo_after_promo"),
        (-6.00, "price_ratio"),
        (1.20, "yearly_sin"),
        (-0.80, "yearly_cos"),
    )
    forecast = pl.lit(4.0)
    for coefficient, name in terms:
        term = abs(coefficient) * pl.col(name).fill_null(0.0)
        forecast = forecast + term if coefficient > 0 else forecast - term
    return [
        {
            "demand_lag_1": demand.shift(1).over(by),
            "demand_lag_2": demand.shift(2).over(by),
            "demand_lag_4": demand.shift(4).over(by),
            "demand_lag_13": demand.shift(13).over(by),
            "demand_lag_52": demand.shift(52).over(by),
            "series_mean_demand": demand.mean().over(by),
            "series_mean_price": price.mean().over(by),
            "log_price": price.log(),
            "price_lag_1": price.shift(1).over(by),
            "promo_lag_1": promo.shift(1).over(by),
            "promo_lead_1": promo.shift(-1).over(by),
            "week_of_year": week.dt.week(),
            "month": week.dt.month(),
            "quarter": week.dt.quarter(),
        },
        {
            "demand_roll_mean_4": lag_1.rolling_mean(4, min_samples=mean_4_min_samples).over(by),
            "demand_roll_mean_13": lag_1.rolling_mean(13, min_samples=4).over(by),
            "demand_roll_mean_52": lag_1.rolling_mean(52, min_samples=13).over(by),
            "demand_roll_std_4": lag_1.rolling_std(4, min_samples=2).over(by),
            "demand_roll_std_13": lag_1.rolling_std(13, min_samples=4).over(by),
            "demand_roll_std_52": lag_1.rolling_std(52, min_samples=13).over(by),
            "demand_momentum": lag_1 - pl.col("demand_lag_2"),
            "demand_change_4": lag_1 / pl.col("demand_lag_4") - 1.0,
            "log_demand_lag_1": lag_1.log1p(),
            "quarter_over_quarter": lag_1 / pl.col("demand_lag_13"),
            "price_ratio": price / pl.col("series_mean_price"),
            "price_change": price / pl.col("price_lag_1") - 1.0,
            "promo_after_promo": promo * pl.col("promo_lag_1"),
            "promo_share_13": pl.col("promo_lag_1").rolling_mean(13, min_samples=1).over(by),
            "yearly_sin": (woy * (2 * math.pi / WEEKS_PER_YEAR)).sin(),
            "yearly_cos": (woy * (2 * math.pi / WEEKS_PER_YEAR)).cos(),
            "is_year_end": woy >= 50,
        },
        {
            "demand_cv_13": pl.col("demand_roll_std_13") / roll_mean_13,
            "demand_trend": pl.col("demand_roll_mean_4") / roll_mean_13,
            "seasonal_index": pl.col("demand_lag_52") / pl.col("demand_roll_mean_52"),
            "yoy_ratio": roll_mean_13 / roll_mean_13.shift(52).over(by),
            "relative_level": roll_mean_13 / pl.col("series_mean_demand"),
            "promo_x_price_ratio": promo * pl.col("price_ratio"),
            "promo_x_level": promo * roll_mean_13,
        },
        {"forecast": forecast},
    ]


def normalize_forecast(frame: pl.DataFrame) -> pl.DataFrame:
    """One shape for every engine's answer: rows by (`series_id`, `week`), `week` a Date, every
    other column Float64 with NaN as null (pandas has no null, and no 8-bit ISO week)."""
    others = [name for name in frame.columns if name not in ("series_id", "week")]
    return frame.with_columns(
        pl.col("series_id").cast(pl.Int64),
        pl.col("week").cast(pl.Date),
        *(pl.col(name).cast(pl.Float64).fill_nan(None) for name in others),
    ).sort("series_id", "week", maintain_order=True)


def write_forecast_module(
    directory: Path, module_name: str, flavor: str = "expr", *, edited: bool = False
) -> types.ModuleType:
    """Copy the `flavor` module (`expr` or `pandas`) to `directory/module_name.py`, with the
    rerun benchmark's edit applied if `edited`, import it and register it in `sys.modules`.

    Writing the edited text over the same file under the same name is what a user's edit is.
    """
    if flavor not in _MODULE_FILES:
        msg = f"unknown flavor `{flavor}`.\nHint: use one of {', '.join(_MODULE_FILES)}."
        raise ValueError(msg)
    source = (Path(__file__).parent / _MODULE_FILES[flavor]).read_text(encoding="utf-8")
    if edited:
        old, new = _EDIT if flavor == "expr" else _PANDAS_EDIT
        if source.count(old) != 1:
            msg = f"the edit of `{EDITED_NODE}` expects `{old}` exactly once in {flavor} source"
            raise ValueError(msg)
        source = source.replace(old, new)
    return write_module(directory, module_name, source)
