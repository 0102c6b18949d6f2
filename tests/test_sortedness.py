"""Sorted input columns are flagged for Polars, by their data alone.

The oracle for the flag is Python's own ordering of the values; the oracle for results is the
same request with the inputs flagged (or not) by hand: equal data must give equal bits,
however the user built the frame, with or without a cache.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal, assert_series_equal

from hamilton_fast import driver
from hamilton_fast.cache import fingerprint_frame
from hamilton_fast.planner import sortedness
from hamilton_fast.planner.sortedness import mark_sorted
from tests.cache_modules import DICT_RESULT, Project, run_cached, statuses

DTYPES = {
    "int": (pl.Int64, st.integers(-5, 5)),
    "float": (pl.Float64, st.floats(-5, 5, allow_nan=False) | st.just(math.nan)),
    "str": (pl.String, st.sampled_from(["a", "b", "bb", "c"])),
    "date": (pl.Date, st.dates(dt.date(2020, 1, 1), dt.date(2020, 1, 9))),
}


def flag_of(series: pl.Series) -> str | None:
    flags = series.flags
    return "asc" if flags["SORTED_ASC"] else "desc" if flags["SORTED_DESC"] else None


def python_order(values: list[Any], descending: bool) -> bool:
    """Whether ``values`` are sorted, nulls first, by Python's ordering (NaN greatest, as
    Polars orders floats)."""
    nulls = [v is None for v in values]
    if nulls != sorted(nulls, reverse=True):
        return False
    present = [(math.isnan(v), v) if isinstance(v, float) else v for v in values if v is not None]
    return present == sorted(present, reverse=descending)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(DTYPES)), st.data())
def test_flag_set_exactly_when_the_values_are_sorted(kind: str, data: st.DataObject) -> None:
    dtype, elements = DTYPES[kind]
    values = data.draw(st.lists(st.none() | elements, max_size=8))
    if data.draw(st.booleans()):  # sorted inputs are the interesting ones: draw many
        present = sorted(
            (v for v in values if v is not None),
            key=lambda v: (math.isnan(v), v) if isinstance(v, float) else (False, v),
            reverse=data.draw(st.booleans()),
        )
        values = [None] * (len(values) - len(present)) + present
    series = pl.Series("x", values, dtype=dtype)
    marked = mark_sorted(series)
    assert_series_equal(marked, series)
    told = flag_of(series)  # Polars flags empty and one-value series on its own
    if kind == "float":  # never checked: a flag would let `min` answer -0.0 for 0.0
        assert marked is series
    elif told is not None:
        assert marked is series
        assert python_order(values, descending=told == "desc")
    elif python_order(values, descending=False):
        assert flag_of(marked) == "asc"
    elif python_order(values, descending=True):
        assert flag_of(marked) == "desc"
    else:
        assert flag_of(marked) is None
        assert marked is series


def test_frames_flag_each_column_and_other_values_pass_through() -> None:
    frame = pl.DataFrame({"k": [1, 1, 2], "x": [3.0, 1.0, 2.0], "l": [[1], [2], [3]]})
    marked = mark_sorted(frame)
    assert_frame_equal(marked, frame)
    assert {name: flag_of(marked[name]) for name in marked.columns} == {
        "k": "asc",
        "x": None,
        "l": None,  # not a type whose order Polars' windows use: left alone
    }
    unsorted = pl.DataFrame({"x": [2, 1, 3]})
    assert mark_sorted(unsorted) is unsorted
    for value in (3, "text", None, pl.LazyFrame({"a": [1, 2]})):
        assert mark_sorted(value) is value
    # A flag the user set stays (Polars trusts it; so do we).
    told = pl.Series("d", [1, 1, 1]).set_sorted(descending=True)
    assert flag_of(mark_sorted(told)) == "desc"


def test_flags_count_in_fingerprints() -> None:
    series = pl.Series("k", [1, 2, 3])
    assert fingerprint_frame(series) != fingerprint_frame(series.set_sorted())
    frame = series.to_frame()
    assert fingerprint_frame(frame) != fingerprint_frame(mark_sorted(frame))
    assert fingerprint_frame(series.set_sorted()) == fingerprint_frame(mark_sorted(series))


# --------------------------------------------------------------------------------------------
# Through the driver

PANEL = """
import polars as pl


def demand_mean(demand: pl.Expr, series_id: pl.Expr) -> pl.Expr:
    return demand.mean().over(series_id)


def demand_roll(demand: pl.Expr, series_id: pl.Expr) -> pl.Expr:
    return demand.rolling_mean(4, min_samples=1).over(series_id)


def demand_share(demand: pl.Expr, demand_mean: pl.Expr) -> pl.Expr:
    return demand / demand_mean
"""
OUTPUTS = ["demand_mean", "demand_roll", "demand_share"]


def panel_inputs(*, flagged: bool) -> dict[str, pl.Series]:
    rng = np.random.default_rng(5)
    series_id = pl.Series("series_id", np.repeat(np.arange(200), 300))
    demand = pl.Series("demand", rng.gamma(5.0, 20.0, series_id.len()))
    return {"series_id": series_id.set_sorted() if flagged else series_id, "demand": demand}


@pytest.fixture
def project(tmp_path: Path):
    opened = Project(tmp_path / "flows")
    opened.write("panel", PANEL)
    yield opened
    opened.close()


def hand_written(inputs: dict[str, pl.Series]) -> pl.DataFrame:
    demand, by = pl.col("demand"), "series_id"
    return (
        pl.DataFrame(list(inputs.values()))
        .lazy()
        .with_columns(
            demand_mean=demand.mean().over(by),
            demand_roll=demand.rolling_mean(4, min_samples=1).over(by),
        )
        .with_columns(demand_share=demand / pl.col("demand_mean"))
        .select(OUTPUTS)
        .collect(engine="in-memory")
    )


def test_results_depend_on_the_data_not_on_how_the_key_was_flagged(project: Project) -> None:
    modules = project.load()
    dr = driver.Builder().with_modules(*modules).build()
    plain = dr.execute(OUTPUTS, inputs=panel_inputs(flagged=False))
    flagged = dr.execute(OUTPUTS, inputs=panel_inputs(flagged=True))
    assert_frame_equal(plain, flagged, check_exact=True)
    # Equal to a hand-written query told the key is sorted, bit for bit; to one that was not
    # told, to the last bits of a mean (summed by slices instead of gathered rows).
    assert_frame_equal(plain, hand_written(panel_inputs(flagged=True)), check_exact=True)
    unflagged = hand_written(panel_inputs(flagged=False))
    assert_frame_equal(plain, unflagged, check_exact=False, rel_tol=1e-12)
    assert not plain["demand_mean"].equals(unflagged["demand_mean"])  # the premise of the test


def test_cached_runs_flag_what_they_compute_from_and_equal_uncached_ones(
    project: Project, tmp_path: Path
) -> None:
    modules = project.load()
    cache = tmp_path / "cache"
    plain = panel_inputs(flagged=False)
    # Cold, then `demand_share` edited: computed from a hit of `demand_mean` and the inputs.
    run_cached(modules, cache, OUTPUTS, plain, adapter=DICT_RESULT)  # compares with uncached
    project.edit("panel", "demand / demand_mean", "demand_mean / demand")
    modules = project.load()
    dr, _ = run_cached(modules, cache, OUTPUTS, plain, adapter=DICT_RESULT)
    assert statuses(dr) == {
        "demand_mean": "hit",
        "demand_roll": "hit",
        "demand_share": "computed",
    }
    # The same data flagged by the user counts as another input (a flag the user sets is
    # not always the one the data gives: a constant column is sorted both ways): a miss,
    # recomputed to the same bits.
    dr, flagged = run_cached(
        modules, cache, OUTPUTS, panel_inputs(flagged=True), adapter=DICT_RESULT
    )
    assert {statuses(dr)[n] for n in OUTPUTS} == {"computed"}
    for name in OUTPUTS:
        assert_series_equal(flagged[name], dr.execute([name], inputs=plain)[name])
    # A rerun served from the cache reads no input, so checks none for sortedness (a
    # requested input is returned as given).
    reads: list[str] = []
    real = sortedness._marked

    def counting(series: pl.Series) -> pl.Series:
        reads.append(series.name)
        return real(series)

    sortedness._marked = counting
    try:
        dr, _ = run_cached(
            modules, cache, ["series_id", *OUTPUTS], plain, adapter=DICT_RESULT, check=False
        )
    finally:
        sortedness._marked = real
    assert {statuses(dr)[n] for n in OUTPUTS} == {"hit"}
    assert reads == []


def dict_driver(
    project: Project, cache: Path | None, config: dict[str, Any] | None = None
) -> driver.Driver:
    """A driver over the project's modules returning dicts, cached in ``cache`` if given."""
    builder = driver.Builder().with_modules(*project.load()).with_adapters(DICT_RESULT)
    if config:
        builder = builder.with_config(config)
    if cache is not None:
        builder = builder.with_cache(cache)
    return builder.build()


FRAME_FLOW = """
import polars as pl


def panel_mean(panel: pl.DataFrame) -> pl.DataFrame:
    return panel.with_columns(demand_mean=pl.col("demand").mean().over("series_id"))
"""


@pytest.mark.parametrize("cached", [False, True])
def test_requested_inputs_come_back_as_given(
    project: Project, tmp_path: Path, cached: bool
) -> None:
    project.write("frames", FRAME_FLOW)
    plain = panel_inputs(flagged=False)
    panel = pl.DataFrame(list(plain.values()))
    dr = dict_driver(project, tmp_path / "cache" if cached else None)
    flagged_mean = hand_written(panel_inputs(flagged=True))["demand_mean"]
    for _ in range(3):  # planned, then replayed (uncached) or served from the cache
        inputs = {**plain, "panel": panel}
        result = dr.execute(["series_id", "demand_mean", "panel", "panel_mean"], inputs=inputs)
        # `demand_mean` and `panel_mean` read the key flagged sorted; what was asked back is
        # what was given, flags included.
        assert_series_equal(result["demand_mean"], flagged_mean)
        assert_series_equal(result["panel_mean"]["demand_mean"], flagged_mean)
        assert_series_equal(result["series_id"], plain["series_id"])
        assert flag_of(result["series_id"]) is None
        assert result["panel"] is panel
    # A plan made for an unsorted key, replayed for a sorted one (uncached: a recipe).
    shuffled = plain["series_id"].sample(fraction=1.0, shuffle=True, seed=1)
    dr.execute(["series_id", "demand_mean"], inputs={**plain, "series_id": shuffled})
    result = dr.execute(["series_id", "demand_mean"], inputs=plain)
    assert flag_of(result["series_id"]) is None
    assert_series_equal(result["demand_mean"], flagged_mean)


# --------------------------------------------------------------------------------------------
# Found in review: config values, overrides, signed zeros

CONFIG_FLOW = """
import polars as pl


def config_mean(demand: pl.Expr, key: pl.Expr) -> pl.Expr:
    return demand.mean().over(key)


def doubled_key(series_id: pl.Expr) -> pl.Expr:
    return series_id * 2


def doubled_mean(demand: pl.Expr, doubled_key: pl.Expr) -> pl.Expr:
    return demand.mean().over(doubled_key)


def lowest(x: pl.Expr) -> pl.Expr:
    return x.min()
"""


def test_config_series_are_flagged_alike_when_planned_and_replayed(project: Project) -> None:
    project.write("config_flow", CONFIG_FLOW)
    modules = project.load()
    plain = panel_inputs(flagged=False)
    key = plain["series_id"].alias("key")
    dr = driver.Builder().with_modules(*modules).with_config({"key": key}).build()
    planned = dr.execute(["config_mean"], inputs={"demand": plain["demand"]})
    replayed = dr.execute(["config_mean"], inputs={"demand": plain["demand"]})
    assert_frame_equal(planned, replayed, check_exact=True)
    told = driver.Builder().with_modules(*modules).with_config({"key": key.set_sorted()}).build()
    assert_frame_equal(
        planned, told.execute(["config_mean"], inputs={"demand": plain["demand"]}), check_exact=True
    )


@pytest.mark.parametrize("cached", [False, True])
def test_requested_overrides_come_back_as_given(
    project: Project, tmp_path: Path, cached: bool
) -> None:
    project.write("config_flow", CONFIG_FLOW)
    plain = panel_inputs(flagged=False)
    given = (plain["series_id"] * 2).alias("doubled_key")  # sorted, not flagged
    dr = dict_driver(project, tmp_path / "cache" if cached else None, {"key": plain["series_id"]})
    for _ in range(3):  # planned, then replayed (uncached) or served from the cache
        result = dr.execute(
            ["doubled_key", "doubled_mean"], inputs=plain, overrides={"doubled_key": given}
        )
        assert flag_of(result["doubled_key"]) is None
        assert_series_equal(result["doubled_key"], given)
        assert_series_equal(
            result["doubled_mean"],
            pl.DataFrame([plain["demand"], given.set_sorted()])
            .select(pl.col("demand").mean().over("doubled_key").alias("doubled_mean"))
            .to_series(),
            check_exact=True,
        )


def test_float_inputs_keep_what_polars_answers_unflagged(project: Project) -> None:
    project.write("config_flow", CONFIG_FLOW)
    modules = project.load()
    dr = driver.Builder().with_modules(*modules).with_config({"key": 0}).build()
    x = pl.Series("x", [0.0, -0.0])  # sorted by value, but -0.0 is the smaller by its bits
    expected = pl.DataFrame([x]).select(pl.col("x").min()).item()
    got = dr.execute(["lowest"], inputs={"x": x})["lowest"][0]
    assert math.copysign(1.0, got) == math.copysign(1.0, expected) == -1.0
