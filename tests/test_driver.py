"""The driver API: result shapes, requests, overrides, introspection, Hamilton's rules."""

from __future__ import annotations

import pandas as pd
import polars as pl
import pytest
from polars.testing import assert_frame_equal, assert_series_equal

from hamilton_fast import base, driver
from hamilton_fast.errors import GraphError, InputError, UnknownNodeError
from hamilton_fast.plugins import h_polars, h_polars_lazyframe
from tests.helpers import load_module

MODULE = """
import polars as pl
from hamilton_fast.function_modifiers import config

def _helper(x: pl.Series) -> pl.Series:
    return x * 100

def doubled(x: pl.Series) -> pl.Series:
    return x * 2

def total(doubled: pl.Series) -> float:
    return doubled.sum()

def shifted(doubled: pl.Series, offset: float = 1.0) -> pl.Series:
    return doubled + offset

def labelled(doubled: pl.Series, label: str) -> pl.Series:
    return doubled.cast(pl.String) + label

@config.when(mode="fast")
def speed__fast(doubled: pl.Series) -> pl.Series:
    return doubled * 10

@config.when_not(mode="fast")
def speed__slow(doubled: pl.Series) -> pl.Series:
    return doubled / 10

def explode(x: pl.Series) -> pl.Series:
    raise RuntimeError("upstream must not run")

def uses_explode(explode: pl.Series) -> pl.Series:
    return explode + 1
"""

X = pl.Series([1.0, 2.0, 3.0])


@pytest.fixture
def module(tmp_path):
    return load_module(tmp_path, MODULE)


def test_helpers_and_imported_functions_are_not_nodes(module):
    dr = driver.Builder().with_modules(module).build()
    names = {v.name for v in dr.list_available_variables()}
    assert "_helper" not in names
    assert "load_module" not in names
    assert {"doubled", "total", "speed", "x", "offset", "label", "explode"} <= names


def test_result_shapes(module):
    outputs = ["doubled", "total"]
    frame = driver.Builder().with_modules(module).build().execute(outputs, inputs={"x": X})
    assert_frame_equal(frame, pl.DataFrame({"doubled": X * 2, "total": [12.0] * 3}))
    as_dict = (
        driver.Builder()
        .with_modules(module)
        .with_adapters(base.SimplePythonGraphAdapter(base.DictResult()))
        .build()
        .execute(outputs, inputs={"x": X})
    )
    assert as_dict["total"] == 12.0
    assert isinstance(as_dict["total"], float)
    assert_series_equal(as_dict["doubled"], (X * 2).alias("doubled"))
    lazy = (
        driver.Builder()
        .with_modules(module)
        .with_adapters(h_polars_lazyframe.PolarsLazyFrameResult())
        .build()
        .execute(outputs, inputs={"x": X})
    )
    assert isinstance(lazy, pl.LazyFrame)
    assert_frame_equal(lazy.collect(), frame)
    pandas = (
        driver.Builder()
        .with_modules(module)
        .with_adapters(base.PandasDataFrameResult())
        .build()
        .execute(outputs, inputs={"x": X})
    )
    pd.testing.assert_frame_equal(pandas, frame.to_pandas())
    explicit = (
        driver.Builder()
        .with_modules(module)
        .with_adapters(h_polars.PolarsDataFrameResult())
        .build()
        .execute(outputs, inputs={"x": X})
    )
    assert_frame_equal(explicit, frame)


def test_legacy_driver_and_functions_as_final_vars(module):
    dr = driver.Driver({"mode": "fast"}, module)
    result = dr.execute([module.doubled, "speed"], inputs={"x": X})
    assert result.columns == ["doubled", "speed"]
    assert result["speed"].to_list() == [20.0, 40.0, 60.0]


def test_config_selects_variant_and_is_a_node(module):
    slow = driver.Builder().with_modules(module).with_config({"mode": "slow"}).build()
    assert slow.execute(["speed"], inputs={"x": X})["speed"].to_list() == (X * 2 / 10).to_list()
    labelled = driver.Builder().with_modules(module).with_config({"label": "!"}).build()
    assert labelled.execute(["labelled"], inputs={"x": X})["labelled"].to_list() == [
        "2.0!",
        "4.0!",
        "6.0!",
    ]


def test_optional_input_uses_default_unless_given(module):
    dr = driver.Builder().with_modules(module).build()
    assert dr.execute(["shifted"], inputs={"x": X})["shifted"].to_list() == [3.0, 5.0, 7.0]
    given = dr.execute(["shifted"], inputs={"x": X, "offset": 0.5})
    assert given["shifted"].to_list() == [2.5, 4.5, 6.5]


def test_override_cuts_off_upstream(module):
    dr = driver.Builder().with_modules(module).build()
    result = dr.execute(["uses_explode"], overrides={"explode": pl.Series([1, 2])})
    assert result["uses_explode"].to_list() == [2, 3]
    scalar = dr.execute(["total"], inputs={"x": X}, overrides={"doubled": pl.Series([5.0])})
    assert scalar["total"].to_list() == [5.0]
    with pytest.raises(UnknownNodeError, match="did you mean `doubled`"):
        dr.execute(["total"], overrides={"doubld": X})


def test_requested_twice_and_requested_input(module):
    dr = driver.Builder().with_modules(module).build()
    result = dr.execute(["doubled", "x", "doubled"], inputs={"x": X})
    assert result.columns == ["doubled", "x"]


def test_validate_execution(module):
    dr = driver.Builder().with_modules(module).build()
    dr.validate_execution(["doubled"], inputs={"x": X})
    with pytest.raises(InputError, match="`x` is needed"):
        dr.validate_execution(["doubled"])


def test_upstream_downstream_and_tags(module):
    dr = driver.Builder().with_modules(module).build()
    assert {v.name for v in dr.what_is_upstream_of("total")} == {"total", "doubled", "x"}
    assert {v.name for v in dr.what_is_downstream_of("total")} == {"total"}
    downstream = {v.name for v in dr.what_is_downstream_of("doubled")}
    assert downstream == {"doubled", "total", "shifted", "labelled", "speed"}
    variable = next(v for v in dr.list_available_variables() if v.name == "x")
    assert variable.is_external_input
    assert variable.type is pl.Series
    assert dr.list_available_variables(tag_filter={"team": "x"}) == []
    with pytest.raises(GraphError, match="tag_filter values"):
        dr.list_available_variables(tag_filter={"team": []})
    with pytest.raises(UnknownNodeError):
        dr.what_is_upstream_of("nope")


def test_final_vars_must_be_a_list(module):
    dr = driver.Builder().with_modules(module).build()
    with pytest.raises(GraphError, match='Hint: dr.execute\\(\\["doubled"\\]\\)'):
        dr.execute("doubled", inputs={"x": X})


def test_frame_output_alone_is_returned_whole(tmp_path):
    source = """
    import polars as pl

    def joined(left: pl.LazyFrame, right: pl.LazyFrame) -> pl.LazyFrame:
        return left.join(right, on="k", how="left").sort("k")
    """
    module = load_module(tmp_path, source)
    dr = driver.Builder().with_modules(module).build()
    left = pl.LazyFrame({"k": [1, 2], "a": [1.0, 2.0]})
    right = pl.LazyFrame({"k": [2, 1], "b": ["x", "y"]})
    result = dr.execute(["joined"], inputs={"left": left, "right": right})
    expected = pl.DataFrame({"k": [1, 2], "a": [1.0, 2.0], "b": ["y", "x"]})
    assert_frame_equal(result, expected)


def test_scalars_alone_make_one_row(tmp_path):
    module = load_module(
        tmp_path,
        """
        import polars as pl

        def doubled(y: pl.Expr) -> pl.Expr:
            return y + y

        def mean(doubled: pl.Expr) -> pl.Expr:
            return doubled.mean()
        """,
    )
    dr = driver.Builder().with_modules(module).build()
    y = pl.Series([1.0, 3.0])
    for _ in range(2):  # the second call replays the cached plan
        assert dr.execute(["mean"], inputs={"y": y}).to_dict(as_series=False) == {"mean": [4.0]}
    both = dr.execute(["mean", "doubled"], inputs={"y": y})
    assert both.to_dict(as_series=False) == {"mean": [4.0, 4.0], "doubled": [2.0, 6.0]}
