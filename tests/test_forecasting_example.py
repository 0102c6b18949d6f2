"""The forecasting example (examples/forecasting) end to end, on a small generated panel.

The example's modules are imported the way `run.py` imports them (its folder on `sys.path`),
and taken off `sys.modules` again afterwards so their short names (`model`, `data`, `run`) do
not leak into other tests.
"""

from __future__ import annotations

import datetime as dt
import importlib
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "forecasting"
MODULES = ("run", "data", "loaders", "calendar_features", "lags", "prices", "model")
SMALL = ["--series", "40", "--weeks", "156", "--seed", "7"]

BASIC_FEATURES = {
    "yearly_sin",
    "yearly_cos",
    "is_holiday",
    "holiday_last_year",
    "demand_lag_13",
    "demand_lag_52",
    "demand_rolling_mean_4",
    "demand_rolling_mean_13",
    "demand_rolling_mean_52",
    "seasonal_signal",
    "price_ratio",
    "discount_depth",
    "promo",
    "promo_x_discount",
}
FULL_ONLY = {
    "demand_rolling_std_4",
    "demand_rolling_std_13",
    "demand_rolling_std_52",
    "yoy_ratio",
    "category_seasonal_signal",
    "promo_lag_1",
    "promo_lag_52",
    "discount_depth_lag_52",
}


@pytest.fixture(scope="module")
def run() -> Iterator[types.ModuleType]:
    saved_path = list(sys.path)
    saved = {name: sys.modules.pop(name) for name in MODULES if name in sys.modules}
    sys.path.insert(0, str(EXAMPLE))
    try:
        yield importlib.import_module("run")
    finally:
        sys.path[:] = saved_path
        for name in MODULES:
            sys.modules.pop(name, None)
        sys.modules.update(saved)


@pytest.fixture(scope="module")
def full(run: types.ModuleType, tmp_path_factory: pytest.TempPathFactory) -> dict:
    return run.main([*SMALL, "--features", "full", "--out", str(tmp_path_factory.mktemp("full"))])


@pytest.fixture(scope="module")
def basic(run: types.ModuleType, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("basic")
    return run.main([*SMALL, "--features", "basic", "--out", str(out)])


# -- the headline ----------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["full", "basic"])
def test_backtest_beats_seasonal_naive(variant: str, request: pytest.FixtureRequest) -> None:
    result = request.getfixturevalue(variant)
    assert result["backtest_wape"] < result["seasonal_naive_wape"], result
    assert 0 < result["backtest_wape"] < 1


def test_full_features_beat_basic(full: dict, basic: dict) -> None:
    assert full["backtest_wape"] < basic["backtest_wape"]
    assert full["seasonal_naive_wape"] == pytest.approx(basic["seasonal_naive_wape"])


def test_report_figures(full: dict) -> None:
    assert full["history_rows"] < 40 * 156  # missing weeks and late starts
    assert full["plan_rows"] == 40 * 13
    assert full["n_features"] == len(BASIC_FEATURES | FULL_ONLY)
    assert set(full["timings"]) == {"generate", "build", "features query", "model"}
    forecast: pl.DataFrame = full["forecast"]
    assert forecast.height == 40 * 13
    assert forecast["week"].n_unique() == 13
    assert forecast["forecast"].is_finite().all()
    assert (forecast["forecast"] >= 0).all()


# -- features ------------------------------------------------------------------------------


def test_feature_frame_has_the_expected_columns(full: dict) -> None:
    frame: pl.DataFrame = full["feature_frame"]
    assert frame.columns[:3] == ["series_id", "week", "demand"]
    assert set(frame.columns[3:]) == BASIC_FEATURES | FULL_ONLY
    assert set(full["feature_names"]) == BASIC_FEATURES | FULL_ONLY
    # One row per series and week, on a complete calendar, sorted.
    assert frame.select(pl.struct("series_id", "week").is_unique().all()).item()
    assert frame.equals(frame.sort("series_id", "week"))
    gaps = frame.group_by("series_id").agg(step=pl.col("week").diff().drop_nulls().unique())
    assert gaps["step"].explode().unique().to_list() == [dt.timedelta(weeks=1)]


def test_config_switch_changes_the_feature_set(run: types.ModuleType, full: dict, basic: dict):
    assert set(basic["feature_names"]) == BASIC_FEATURES
    assert set(full["feature_names"]) - set(basic["feature_names"]) == FULL_ONLY

    def origins(features: str) -> dict[str, str | None]:
        """Node -> the function that computes it (None for an input)."""
        variables = run.build_driver(features).list_available_variables()
        return {
            v.name: None if v.is_external_input else v.originating_functions[0].__name__
            for v in variables
        }

    basic_nodes, full_nodes = origins("basic"), origins("full")
    # Under "basic" the full-only features are not computed: `feature_frame`'s optional
    # parameters of those names become inputs left at their default, as in Apache Hamilton.
    for name in FULL_ONLY:
        assert full_nodes[name] == name
        assert basic_nodes[name] is None
    assert basic_nodes["seasonal_signal"] == "seasonal_signal__basic"
    assert full_nodes["seasonal_signal"] == "seasonal_signal__full"


def test_lags_are_weeks_back_in_the_same_series(run: types.ModuleType, full: dict) -> None:
    """Hand computation: demand of the same series k calendar weeks earlier, found by a join
    on dates (so a missing week gives null), not by shifting rows."""
    lags = [1, 2, 4, 13, 52]
    dr = run.build_driver("full")
    got = dr.execute(
        ["series_id", "week", *[f"demand_lag_{k}" for k in lags]], inputs=full["inputs"]
    )
    got_frame = pl.DataFrame(got)
    history = pl.read_parquet(full["inputs"]["panel_path"]).select("series_id", "week", "demand")
    expected = got_frame.select("series_id", "week")
    for k in lags:
        earlier = history.select(
            "series_id",
            week=pl.col("week") + pl.duration(weeks=k),
            **{f"demand_lag_{k}": pl.col("demand")},
        )
        expected = expected.join(earlier, on=["series_id", "week"], how="left")
    assert_frame_equal(got_frame, expected, check_row_order=True)
    assert got_frame["demand_lag_13"].null_count() < got_frame.height


def test_rolling_statistics_match_a_hand_computation(full: dict) -> None:
    frame: pl.DataFrame = full["feature_frame"]
    history = pl.read_parquet(full["inputs"]["panel_path"])
    rows = frame.filter(pl.col("demand_rolling_mean_52").is_not_null()).gather_every(997)
    assert rows.height >= 5
    for series_id, week, mean_13, mean_52, std_13 in rows.select(
        "series_id",
        "week",
        "demand_rolling_mean_13",
        "demand_rolling_mean_52",
        "demand_rolling_std_13",
    ).iter_rows():
        past = history.filter(pl.col("series_id") == series_id)

        def window(first: int, last: int, s: pl.DataFrame = past, w: dt.date = week) -> pl.Series:
            lo, hi = w - dt.timedelta(weeks=last), w - dt.timedelta(weeks=first)
            return s.filter(pl.col("week").is_between(lo, hi))["demand"].cast(pl.Float64)

        assert mean_13 == pytest.approx(window(13, 25).mean())
        assert mean_52 == pytest.approx(window(13, 64).mean())
        assert std_13 == pytest.approx(window(13, 25).std())


def test_no_feature_reads_demand_from_the_forecast_horizon(
    run: types.ModuleType, full: dict, tmp_path: Path
) -> None:
    """Hide the demand after the backtest cutoff: the features of the 13 weeks after it must
    not change. This is what makes the backtest an honest 13-week-ahead forecast."""
    cutoff = full["backtest_cutoff"]
    history = pl.read_parquet(full["inputs"]["panel_path"])
    plan = pl.read_parquet(full["inputs"]["plan_path"])
    hidden = history.filter(pl.col("week") > cutoff).drop("demand")
    history.filter(pl.col("week") <= cutoff).write_parquet(tmp_path / "history.parquet")
    pl.concat([hidden, plan]).sort("series_id", "week").write_parquet(tmp_path / "plan.parquet")

    dr = run.build_driver("full")
    inputs = {
        "panel_path": str(tmp_path / "history.parquet"),
        "plan_path": str(tmp_path / "plan.parquet"),
    }
    blind = dr.execute(["feature_frame"], inputs=inputs)["feature_frame"]
    horizon = (pl.col("week") > cutoff) & (pl.col("week") <= cutoff + dt.timedelta(weeks=13))
    seen = full["feature_frame"].filter(horizon).drop("demand")
    assert seen.height > 0
    assert_frame_equal(blind.filter(horizon).drop("demand"), seen)


# -- data and outputs ------------------------------------------------------------------------


def test_generated_panel_is_realistic(full: dict) -> None:
    history = pl.read_parquet(full["inputs"]["panel_path"])
    assert history.equals(history.sort("series_id", "week"))
    assert (history["week"].dt.weekday() == 1).all()  # Mondays
    starts = history.group_by("series_id").agg(pl.col("week").min())["week"]
    assert starts.n_unique() > 1  # some series start late
    lift = (
        history.group_by("series_id", "promo")
        .agg(pl.col("demand").mean())
        .pivot("promo", index="series_id", values="demand")
        .drop_nulls()
        .select((pl.col("1") / pl.col("0")).median())
        .item()
    )
    assert lift > 1.2  # promotions lift demand


def test_forecast_plot_is_written(full: dict) -> None:
    pytest.importorskip("matplotlib")
    plot = full["plot"]
    assert plot is not None
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot.stat().st_size > 10_000


def test_target_checks_run_inside_the_feature_query(tmp_path):
    import run as forecasting_run

    figures = forecasting_run.main(["--series", "20", "--weeks", "100", "--out", str(tmp_path)])
    assert figures["checks"] == [
        "target data_type_validator ok",
        "target max_fraction_nans_validator ok",
        "target mean_in_range_validator ok",
    ]
