"""hamilton_fast against Apache Hamilton: the same dataflow modules, the same answers.

Every module under `tests/dataflows` is valid Apache Hamilton. Each test builds one driver per
library from the same module (decorated modules get a twin importing hamilton_fast's decorators,
see `tests.dataflows.load`), runs the same request and compares the results with
`polars.testing.assert_frame_equal`. Apache Hamilton is the oracle; where it does something
surprising the comparison normalises that one thing, and a separate hamilton_fast-only test pins the
sensible behaviour and says why:

- A Python int scalar broadcast next to columns comes back Int32 from Hamilton's
  `PolarsDataFrameResult` (Polars' dynamic int literal), but Int64 when requested alone.
  hamilton_fast should give Int64 both ways.
- `extract_columns` on a LazyFrame-returning loader gives `pl.Expr` placeholders in Hamilton, which
  Series-typed consumers reject. hamilton_fast treats the scan as a source of real columns, checked
  against Hamilton's answer from an eager loader.
- Window-over-window expressions are checked against hand-written eager Polars, since Hamilton
  cannot run `pl.Expr` modules outside `@with_columns`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hamilton import base as h_base
from hamilton import driver as h_driver
from hamilton.plugins import h_polars as h_h_polars
from hamilton.plugins import h_polars_lazyframe as h_h_polars_lazyframe
from polars.testing import assert_frame_equal, assert_series_equal

from tests.dataflows import load

if TYPE_CHECKING:
    from pathlib import Path
    from types import ModuleType

# Both libraries evaluate the same Polars kernels, but a traced query may sum in another order.
FLOAT_TOLERANCE: dict[str, Any] = {"rel_tol": 1e-9, "abs_tol": 1e-9}

HELLO_WORLD_OUTPUTS = [
    "spend",
    "signups",
    "avg_3wk_spend",
    "spend_per_signup",
    "spend_mean",
    "spend_zero_mean",
    "spend_std_dev",
    "spend_zero_mean_unit_variance",
]


# --- drivers ----------------------------------------------------------------------------------


def hamilton_driver(
    *modules: ModuleType,
    config: dict[str, Any] | None = None,
    result_builder: Any = None,
) -> Any:
    """Apache Hamilton with a Polars DataFrame result unless another builder is given."""
    if result_builder is None:
        result_builder = h_h_polars.PolarsDataFrameResult()
    return (
        h_driver.Builder()
        .with_modules(*modules)
        .with_config(config or {})
        .with_adapters(h_base.SimplePythonGraphAdapter(result_builder))
        .build()
    )


def fast_driver(
    *modules: ModuleType,
    config: dict[str, Any] | None = None,
    result_builder: Any = None,
) -> Any:
    """hamilton_fast with its default (Polars DataFrame) result unless a builder is given."""
    from hamilton_fast import driver

    builder = driver.Builder().with_modules(*modules).with_config(config or {})
    if result_builder is not None:
        from hamilton_fast import base

        builder = builder.with_adapters(base.SimplePythonGraphAdapter(result_builder))
    return builder.build()


def hamilton_modules(*names: str) -> list[ModuleType]:
    return [load(name, "hamilton") for name in names]


def fast_modules(*names: str) -> list[ModuleType]:
    return [load(name, "hamilton_fast") for name in names]


def run_both(
    module_names: list[str],
    outputs: list[str],
    *,
    inputs: dict[str, Any],
    config: dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(hamilton_fast frame, Apache Hamilton frame) for one request."""
    expected = hamilton_driver(*hamilton_modules(*module_names), config=config).execute(
        outputs, inputs=inputs, overrides=overrides or {}
    )
    actual = fast_driver(*fast_modules(*module_names), config=config).execute(
        outputs, inputs=inputs, overrides=overrides or {}
    )
    return actual, expected


def as_int64_like_hamilton_alone(frame: pl.DataFrame, int_scalars: list[str]) -> pl.DataFrame:
    """Undo Hamilton's Int32 for Python ints broadcast next to columns (see module docstring).

    Asserts the Int32 is really there, so that a change in Hamilton shows up here.
    """
    for name in int_scalars:
        assert frame.schema[name] == pl.Int32, (
            f"Hamilton now broadcasts `{name}` as {frame.schema[name]}"
        )
    return frame.with_columns(pl.col(int_scalars).cast(pl.Int64))


def assert_dict_results_match(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    """DictResult comparison: same keys in order, Series by value, scalars by type and value.

    Series names are not compared: in Hamilton a node's Series keeps whatever name its function
    produced (often the first input's), which is incidental.
    """
    assert list(actual) == list(expected)
    for name, value in expected.items():
        got = actual[name]
        if isinstance(value, pl.Series):
            assert isinstance(got, pl.Series), f"`{name}` is {type(got).__name__}, not a Series"
            assert_series_equal(got, value, check_names=False, **FLOAT_TOLERANCE)
        else:
            assert type(got) is type(value), f"`{name}`: {type(got)} != {type(value)}"
            if isinstance(value, float):
                assert math.isclose(got, value, rel_tol=1e-9, abs_tol=1e-9), name
            else:
                assert got == value, name


def raised_in_chain(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether `kind` was raised anywhere in `exc`'s cause/context chain."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


# --- data -------------------------------------------------------------------------------------


@pytest.fixture
def marketing() -> dict[str, pl.Series]:
    """52 weeks of spend (Float64) and signups (Int64, never 0)."""
    rng = np.random.default_rng(20240601)
    return {
        "spend": pl.Series("spend", rng.uniform(5.0, 120.0, 52).round(2)),
        "signups": pl.Series("signups", rng.integers(1, 400, 52)),
    }


@pytest.fixture
def marketing_parquet(tmp_path: Path, marketing: dict[str, pl.Series]) -> str:
    path = tmp_path / "marketing.parquet"
    pl.DataFrame(marketing).write_parquet(path)
    return str(path)


# --- 1. hello world ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "outputs",
    [
        pytest.param(HELLO_WORLD_OUTPUTS, id="all"),
        pytest.param(["avg_3wk_spend", "spend_per_signup", "spend_zero_mean"], id="columns"),
        pytest.param(["spend_zero_mean_unit_variance", "spend_mean"], id="column-then-scalar"),
        pytest.param(["spend_std_dev", "spend_zero_mean"], id="scalar-first"),
    ],
)
def test_hello_world_frame_matches_hamilton(
    outputs: list[str], marketing: dict[str, pl.Series]
) -> None:
    actual, expected = run_both(["hello_world"], outputs, inputs=marketing)
    assert_frame_equal(actual, expected, **FLOAT_TOLERANCE)


def test_hello_world_explicit_polars_result_builder(marketing: dict[str, pl.Series]) -> None:
    from hamilton_fast.plugins import h_polars

    module = load("hello_world", "hamilton_fast")
    actual = fast_driver(module, result_builder=h_polars.PolarsDataFrameResult()).execute(
        HELLO_WORLD_OUTPUTS, inputs=marketing
    )
    expected = hamilton_driver(module).execute(HELLO_WORLD_OUTPUTS, inputs=marketing)
    assert isinstance(actual, pl.DataFrame)
    assert_frame_equal(actual, expected, **FLOAT_TOLERANCE)


def test_hello_world_dict_result_matches_hamilton(marketing: dict[str, pl.Series]) -> None:
    from hamilton_fast import base

    module = load("hello_world", "hamilton")
    expected = hamilton_driver(module, result_builder=h_base.DictResult()).execute(
        HELLO_WORLD_OUTPUTS, inputs=marketing
    )
    actual = fast_driver(module, result_builder=base.DictResult()).execute(
        HELLO_WORLD_OUTPUTS, inputs=marketing
    )
    assert_dict_results_match(actual, expected)
    assert type(actual["spend_mean"]) is float
    assert type(actual["spend_std_dev"]) is float


def test_hello_world_from_eager_parquet_loader_matches_hamilton(marketing_parquet: str) -> None:
    actual, expected = run_both(
        ["parquet_loader", "hello_world"],
        HELLO_WORLD_OUTPUTS,
        inputs={"data_path": marketing_parquet},
    )
    assert_frame_equal(actual, expected, **FLOAT_TOLERANCE)


def test_hamilton_rejects_series_consumers_of_lazy_extract_columns() -> None:
    # Pins the oracle's behaviour that the next test works around: Hamilton types the columns of
    # a LazyFrame as `pl.Expr`, so Series-typed consumers fail its edge type check.
    with pytest.raises(ValueError, match="Hamilton does not consider these types to be equivalent"):
        hamilton_driver(*hamilton_modules("lazy_parquet_loader", "hello_world"))


@pytest.mark.parametrize(
    "outputs",
    [
        pytest.param(HELLO_WORLD_OUTPUTS, id="all"),
        pytest.param(["spend_zero_mean_unit_variance"], id="one-column"),
    ],
)
def test_hello_world_from_lazy_parquet_loader_matches_hamilton_eager(
    outputs: list[str], marketing_parquet: str
) -> None:
    # hamilton_fast only: a `pl.scan_parquet` loader is a lazy source of real columns, so the
    # answer must be Hamilton's answer from the eager loader.
    inputs = {"data_path": marketing_parquet}
    expected = hamilton_driver(*hamilton_modules("parquet_loader", "hello_world")).execute(
        outputs, inputs=inputs
    )
    actual = fast_driver(*fast_modules("lazy_parquet_loader", "hello_world")).execute(
        outputs, inputs=inputs
    )
    assert_frame_equal(actual, expected, **FLOAT_TOLERANCE)


# --- 2. configuration -------------------------------------------------------------------------

CONFIGS = [
    pytest.param({"scale": "thousands", "region": "eu", "discount": 0.1}, id="thousands-eu"),
    pytest.param({"scale": "units", "region": "us", "discount": 0.0}, id="units-us"),
    pytest.param({"scale": "millions", "region": "uk", "discount": 0.25}, id="millions-uk"),
]

CONFIG_OUTPUTS = [
    "revenue",
    "scale_label",
    "tax_rate",
    "revenue_after_tax",
    "discounted_price",
    "discount_pct",
    "discount",
    "scale",
]


@pytest.fixture
def sales() -> dict[str, pl.Series]:
    return {
        "units_sold": pl.Series("units_sold", [3, 0, 12, 7, 1, 40]),
        "unit_price": pl.Series("unit_price", [9.99, 5.0, 1.25, 20.0, 199.0, 0.5]),
    }


@pytest.mark.parametrize("config", CONFIGS)
def test_config_switched_module_matches_hamilton(
    config: dict[str, Any], sales: dict[str, pl.Series]
) -> None:
    actual, expected = run_both(["config_switch"], CONFIG_OUTPUTS, inputs=sales, config=config)
    assert_frame_equal(actual, expected, **FLOAT_TOLERANCE)


@pytest.mark.parametrize("config", CONFIGS)
def test_config_switched_module_lists_same_variables(config: dict[str, Any]) -> None:
    expected = hamilton_driver(*hamilton_modules("config_switch"), config=config)
    actual = fast_driver(*fast_modules("config_switch"), config=config)
    assert {(v.name, v.is_external_input) for v in actual.list_available_variables()} == {
        (v.name, v.is_external_input) for v in expected.list_available_variables()
    }


# --- 3. opaque nodes --------------------------------------------------------------------------

OPAQUE_OUTPUTS = [
    "log_spend",
    "spend_rank",
    "n_weeks",
    "spend_adjusted",
    "signup_bucket",
    "smoothing_window",
    "spend_smoothed",
    "total_spend",
    "spend_share",
    "weekly_budget",
]
OPAQUE_INT_SCALARS = ["n_weeks", "smoothing_window"]


def opaque_inputs(mean_sign: int) -> dict[str, pl.Series]:
    """Inputs whose spend has a mean of the given sign, to take each branch of `spend_adjusted`."""
    rng = np.random.default_rng(7 + mean_sign)
    spend = rng.normal(3.0 * mean_sign, 4.0, 40).round(3)
    return {
        "spend": pl.Series("spend", spend),
        "signups": pl.Series("signups", rng.integers(0, 80, 40)),
    }


@pytest.mark.parametrize("mean_sign", [1, -1], ids=["positive-mean", "negative-mean"])
def test_opaque_nodes_match_hamilton(mean_sign: int) -> None:
    inputs = opaque_inputs(mean_sign)
    assert (inputs["spend"].mean() > 0) == (mean_sign > 0)
    actual, expected = run_both(["opaque"], OPAQUE_OUTPUTS, inputs=inputs)
    expected = as_int64_like_hamilton_alone(expected, OPAQUE_INT_SCALARS)
    assert_frame_equal(actual, expected, **FLOAT_TOLERANCE)


@pytest.mark.parametrize("mean_sign", [1, -1], ids=["positive-mean", "negative-mean"])
def test_opaque_nodes_dict_result_matches_hamilton(mean_sign: int) -> None:
    from hamilton_fast import base

    inputs = opaque_inputs(mean_sign)
    module = load("opaque", "hamilton")
    expected = hamilton_driver(module, result_builder=h_base.DictResult()).execute(
        OPAQUE_OUTPUTS, inputs=inputs
    )
    actual = fast_driver(module, result_builder=base.DictResult()).execute(
        OPAQUE_OUTPUTS, inputs=inputs
    )
    assert_dict_results_match(actual, expected)


def test_data_dependent_window_is_used() -> None:
    # Guards the data: the window must differ from any constant a planner might assume.
    inputs = opaque_inputs(1)
    frame, _ = run_both(["opaque"], ["smoothing_window", "spend_smoothed"], inputs=inputs)
    window = frame["smoothing_window"][0]
    assert window > 2
    assert frame["spend_smoothed"].null_count() == window - 1


def test_reused_driver_recomputes_data_dependent_values() -> None:
    # Plans may be cached per request shape; values computed from the data (the window size, the
    # row count, the branch taken) must still follow each call's inputs.
    first = opaque_inputs(1)
    runs = [first, opaque_inputs(-1), {name: values.head(25) for name, values in first.items()}]
    expected_dr = hamilton_driver(load("opaque", "hamilton"))
    actual_dr = fast_driver(load("opaque", "hamilton_fast"))
    windows = set()
    for inputs in runs:
        expected = expected_dr.execute(OPAQUE_OUTPUTS, inputs=inputs)
        expected = as_int64_like_hamilton_alone(expected, OPAQUE_INT_SCALARS)
        windows.add((expected["smoothing_window"][0], expected["n_weeks"][0]))
        actual = actual_dr.execute(OPAQUE_OUTPUTS, inputs=inputs)
        assert_frame_equal(actual, expected, **FLOAT_TOLERANCE)
    assert len(windows) == len(runs)


# --- 4. scalar nodes --------------------------------------------------------------------------


@pytest.fixture
def store_demand() -> dict[str, pl.Series]:
    rng = np.random.default_rng(11)
    return {
        "demand": pl.Series("demand", rng.integers(0, 500, 300)),
        "store": pl.Series("store", rng.choice(["north", "south", "east", "west", "hub"], 300)),
    }


@pytest.mark.parametrize(
    ("outputs", "int_scalars"),
    [
        pytest.param(
            [
                "demand_z",
                "demand_mean",
                "demand_std",
                "demand_max",
                "demand_pct_of_max",
                "store_count",
                "demand_per_store",
                "demand_range",
            ],
            ["demand_max", "store_count", "demand_range"],
            id="columns-and-scalars",
        ),
        pytest.param(["demand_mean", "demand_z"], [], id="scalar-then-column"),
        pytest.param(["demand", "store_count"], ["store_count"], id="input-and-scalar"),
    ],
)
def test_scalars_broadcast_next_to_columns_match_hamilton(
    outputs: list[str], int_scalars: list[str], store_demand: dict[str, pl.Series]
) -> None:
    actual, expected = run_both(["scalars"], outputs, inputs=store_demand)
    expected = as_int64_like_hamilton_alone(expected, int_scalars)
    assert_frame_equal(actual, expected, **FLOAT_TOLERANCE)


@pytest.mark.parametrize(
    "outputs",
    [
        pytest.param(["demand_mean", "demand_std", "demand_max", "store_count"], id="four"),
        pytest.param(["demand_range", "demand_mean"], id="two"),
        pytest.param(["demand_std"], id="float"),
        pytest.param(["store_count"], id="int"),
    ],
)
def test_scalars_alone_match_hamilton(
    outputs: list[str], store_demand: dict[str, pl.Series]
) -> None:
    actual, expected = run_both(["scalars"], outputs, inputs=store_demand)
    assert actual.height == 1
    assert_frame_equal(actual, expected, **FLOAT_TOLERANCE)


def test_scalars_dict_result_matches_hamilton(store_demand: dict[str, pl.Series]) -> None:
    from hamilton_fast import base

    outputs = ["demand_mean", "demand_max", "store_count", "demand_range", "demand_z"]
    module = load("scalars", "hamilton")
    expected = hamilton_driver(module, result_builder=h_base.DictResult()).execute(
        outputs, inputs=store_demand
    )
    actual = fast_driver(module, result_builder=base.DictResult()).execute(
        outputs, inputs=store_demand
    )
    assert_dict_results_match(actual, expected)
    assert type(actual["demand_max"]) is int


def test_broadcast_int_scalar_is_int64(store_demand: dict[str, pl.Series]) -> None:
    # hamilton_fast only. Hamilton's PolarsDataFrameResult gives Int32 for a Python int broadcast
    # next to a column (Polars' dynamic int literal) but Int64 for the same value requested alone;
    # the dtype of a value should not depend on what else was requested.
    module = load("scalars", "hamilton_fast")
    dr = fast_driver(module)
    together = dr.execute(["demand", "demand_max", "store_count"], inputs=store_demand)
    alone = dr.execute(["demand_max", "store_count"], inputs=store_demand)
    assert together.schema["demand_max"] == pl.Int64
    assert together.schema["store_count"] == pl.Int64
    assert alone.schema["demand_max"] == pl.Int64
    assert alone.schema["store_count"] == pl.Int64


# --- 5. overrides -----------------------------------------------------------------------------


@pytest.fixture
def base_signal() -> dict[str, pl.Series]:
    return {"base": pl.Series("base", [1.5, -2.0, 3.25, 0.0, -7.5, 4.0])}


@pytest.mark.parametrize("library", ["hamilton", "hamilton_fast"])
def test_override_guards_really_raise(library: str, base_signal: dict[str, pl.Series]) -> None:
    # Without overrides the upstream nodes run and raise: the override tests below mean something.
    from tests.dataflows.overrides import UpstreamRanError

    make = hamilton_driver if library == "hamilton" else fast_driver
    dr = make(load("overrides", library))
    with pytest.raises(Exception) as excinfo:  # either library may wrap it
        dr.execute(["signal_doubled"], inputs=base_signal)
    assert raised_in_chain(excinfo.value, UpstreamRanError)


@pytest.mark.parametrize(
    ("outputs", "overrides"),
    [
        pytest.param(
            ["signal", "signal_doubled", "signal_plus_base", "signal_total"],
            {"signal": pl.Series("signal", [-1.0, 5.0, 6.0, 0.5, 2.0, -3.0])},
            id="series",
        ),
        pytest.param(["amplified", "base"], {"gain": 2.5}, id="scalar"),
        pytest.param(
            ["signal_plus_base", "amplified", "signal_total", "gain"],
            {"signal": pl.Series("signal", [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]), "gain": -1.0},
            id="both",
        ),
        pytest.param(
            ["signal_doubled"],
            {"signal": pl.Series("signal", [1.0, 2.0, 3.0, 4.0, 5.0, 6.0])},
            id="downstream-only",
        ),
    ],
)
def test_overrides_match_hamilton_without_running_upstream(
    outputs: list[str], overrides: dict[str, Any], base_signal: dict[str, pl.Series]
) -> None:
    actual, expected = run_both(["overrides"], outputs, inputs=base_signal, overrides=overrides)
    assert_frame_equal(actual, expected, **FLOAT_TOLERANCE)


def test_reused_driver_follows_new_overrides(base_signal: dict[str, pl.Series]) -> None:
    outputs = ["signal_plus_base", "signal_total", "amplified"]
    expected_dr = hamilton_driver(load("overrides", "hamilton"))
    actual_dr = fast_driver(load("overrides", "hamilton_fast"))
    for offset, gain in [(0.0, 2.0), (10.0, -0.5), (-3.0, 7)]:
        overrides = {"signal": base_signal["base"] * 3 + offset, "gain": gain}
        expected = expected_dr.execute(outputs, inputs=base_signal, overrides=overrides)
        actual = actual_dr.execute(outputs, inputs=base_signal, overrides=overrides)
        assert_frame_equal(actual, expected, **FLOAT_TOLERANCE)


# --- 6. nested windows (hamilton_fast against hand-written Polars) ------------------------------


@pytest.fixture
def panel() -> pl.DataFrame:
    """Four series over six weeks, rows ordered by series then week."""
    rng = np.random.default_rng(5)
    series_ids = ["s1", "s2", "s3", "s4"]
    weeks = list(range(1, 7))
    return pl.DataFrame(
        {
            "series_id": [s for s in series_ids for _ in weeks],
            "week": [w for _ in series_ids for w in weeks],
            "demand": rng.integers(1, 100, len(series_ids) * len(weeks)),
        }
    )


def nested_windows_by_hand(panel: pl.DataFrame) -> pl.DataFrame:
    return (
        panel.with_columns(lag1=pl.col("demand").shift(1).over("series_id"))
        .with_columns(weekly_lag_total=pl.col("lag1").sum().over("week"))
        .select("lag1", "weekly_lag_total")
    )


@pytest.mark.parametrize("source", ["lazy-extract-columns", "series-inputs"])
def test_nested_windows_are_not_inlined(source: str, panel: pl.DataFrame) -> None:
    expected = nested_windows_by_hand(panel)
    # The oracle itself must show the property the test guards: nonzero totals after week 1.
    assert (expected.filter(panel["week"] > 1)["weekly_lag_total"] != 0).all()

    if source == "lazy-extract-columns":
        modules = fast_modules("panel_loader", "nested_windows")
        inputs: dict[str, Any] = {"panel": panel}
    else:
        # Series inputs for pl.Expr parameters: hamilton_fast's column nodes accept either.
        modules = fast_modules("nested_windows")
        inputs = {name: panel[name] for name in panel.columns}
    actual = fast_driver(*modules).execute(["lag1", "weekly_lag_total"], inputs=inputs)

    assert_frame_equal(actual, expected)


# --- 7. a 200-node generated module -----------------------------------------------------------


@pytest.mark.parametrize("fast_flavor", ["series", "expr"])
def test_wide_generated_module_matches_hamilton(fast_flavor: str, tmp_path: Path) -> None:
    from benchmarks.workloads.wide import (
        make_wide_inputs,
        make_wide_spec,
        wide_outputs,
        write_wide_module,
    )

    spec = make_wide_spec(200, seed=3)
    inputs = make_wide_inputs(spec, n_rows=2_000, seed=4)
    outputs = wide_outputs(spec)
    assert len(outputs) == 200

    series_module = write_wide_module(spec, tmp_path, "wide_200_series_vs_hamilton")
    expected = hamilton_driver(series_module).execute(outputs, inputs=inputs)
    if fast_flavor == "series":
        fast_module = series_module
    else:
        # hamilton_fast only: the same nodes written as `pl.Expr` functions, fed Series inputs,
        # must give Hamilton's answer for the `pl.Series` module.
        fast_module = write_wide_module(spec, tmp_path, "wide_200_expr_vs_hamilton", "expr")
    actual = fast_driver(fast_module).execute(outputs, inputs=inputs)
    # Long chains of float arithmetic: allow Polars' default tolerance for reordered sums.
    assert_frame_equal(actual, expected)


# --- 8. other result shapes -------------------------------------------------------------------


def test_lazyframe_result_collects_to_hamilton_frame(marketing: dict[str, pl.Series]) -> None:
    from hamilton_fast.plugins import h_polars_lazyframe

    module = load("hello_world", "hamilton")
    actual = fast_driver(module, result_builder=h_polars_lazyframe.PolarsLazyFrameResult()).execute(
        HELLO_WORLD_OUTPUTS, inputs=marketing
    )
    assert isinstance(actual, pl.LazyFrame)
    collected = actual.collect()

    expected = hamilton_driver(module).execute(HELLO_WORLD_OUTPUTS, inputs=marketing)
    assert_frame_equal(collected, expected, **FLOAT_TOLERANCE)
    expected_lazy = hamilton_driver(
        module, result_builder=h_h_polars_lazyframe.PolarsLazyFrameResult()
    ).execute(HELLO_WORLD_OUTPUTS, inputs=marketing)
    assert_frame_equal(collected, expected_lazy.collect(), **FLOAT_TOLERANCE)


@pytest.mark.parametrize(
    ("module_name", "outputs", "inputs_fixture"),
    [
        pytest.param("hello_world", HELLO_WORLD_OUTPUTS, "marketing", id="hello-world"),
        pytest.param(
            "scalars", ["demand_mean", "demand_max", "store_count"], "store_demand", id="scalars"
        ),
        pytest.param(
            "scalars", ["demand", "demand_z", "demand_max"], "store_demand", id="int-broadcast"
        ),
    ],
)
def test_pandas_result_matches_hamilton(
    module_name: str, outputs: list[str], inputs_fixture: str, request: pytest.FixtureRequest
) -> None:
    from hamilton_fast import base

    inputs = request.getfixturevalue(inputs_fixture)
    module = load(module_name, "hamilton")
    expected = hamilton_driver(module, result_builder=h_base.PandasDataFrameResult()).execute(
        outputs, inputs=inputs
    )
    actual = fast_driver(module, result_builder=base.PandasDataFrameResult()).execute(
        outputs, inputs=inputs
    )
    assert isinstance(actual, pd.DataFrame)
    pd.testing.assert_frame_equal(actual, expected, rtol=1e-9, atol=1e-9)


# --- 9. introspection -------------------------------------------------------------------------


@pytest.fixture
def hello_world_drivers() -> tuple[Any, Any]:
    """(hamilton_fast driver, Apache Hamilton driver) over the hello-world module."""
    module = load("hello_world", "hamilton")
    return fast_driver(module), hamilton_driver(module)


def test_list_available_variables_matches_hamilton(hello_world_drivers: tuple[Any, Any]) -> None:
    actual, expected = hello_world_drivers

    def described(dr: Any) -> set[tuple[str, Any, bool]]:
        return {(v.name, v.type, v.is_external_input) for v in dr.list_available_variables()}

    assert described(actual) == described(expected)


@pytest.mark.parametrize(
    "names",
    [
        ("spend_zero_mean_unit_variance",),
        ("spend_per_signup",),
        ("avg_3wk_spend", "spend_std_dev"),
        ("spend",),
    ],
)
def test_what_is_upstream_of_matches_hamilton(
    names: tuple[str, ...], hello_world_drivers: tuple[Any, Any]
) -> None:
    actual, expected = hello_world_drivers
    assert {v.name for v in actual.what_is_upstream_of(*names)} == {
        v.name for v in expected.what_is_upstream_of(*names)
    }


@pytest.mark.parametrize(
    "names",
    [("spend",), ("signups",), ("spend_mean",), ("spend_std_dev", "spend_per_signup")],
)
def test_what_is_downstream_of_matches_hamilton(
    names: tuple[str, ...], hello_world_drivers: tuple[Any, Any]
) -> None:
    actual, expected = hello_world_drivers
    assert {v.name for v in actual.what_is_downstream_of(*names)} == {
        v.name for v in expected.what_is_downstream_of(*names)
    }


def test_validate_execution_matches_hamilton(
    hello_world_drivers: tuple[Any, Any], marketing: dict[str, pl.Series]
) -> None:
    for dr in hello_world_drivers:
        assert dr.validate_execution(HELLO_WORLD_OUTPUTS, inputs=marketing) is None
        # A missing input is a ValueError in Hamilton; code written against it catches that.
        with pytest.raises(ValueError, match="signups"):
            dr.validate_execution(HELLO_WORLD_OUTPUTS, inputs={"spend": marketing["spend"]})
