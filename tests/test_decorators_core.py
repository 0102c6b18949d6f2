"""The expanding and annotating decorators: same nodes, tags and values as Apache Hamilton."""

from __future__ import annotations

import os

os.environ.setdefault("HAMILTON_TELEMETRY_ENABLED", "false")

import polars as pl
import pytest
from hamilton import base as h_base
from hamilton import driver as h_driver
from polars.testing import assert_frame_equal, assert_series_equal

from hamilton_fast import base, driver
from hamilton_fast.errors import GraphError, ModifierError
from hamilton_fast.function_modifiers import (
    extract_columns,
    extract_fields,
    inject,
    parameterize,
    source,
    tag,
    unpack_fields,
    value,
)
from tests.dataflows import load
from tests.helpers import load_module

RAW = pl.DataFrame({"spend": [10.0, 20.0, 40.0, 80.0], "signups": [1, 2, 4, 5]})
TRAFFIC = pl.DataFrame({"clicks": [1, 2, 3, 4], "views": [5, 6, 7, 8]})
INPUTS = {"raw": RAW, "raw_traffic": TRAFFIC}
SERIES_OUTPUTS = [
    "spend",
    "signups",
    "spend_x2",
    "signups_x3",
    "spend_plus_signups",
    "lag_1",
    "lag_2",
    "total",
    "ratio",
    "a_x",
    "a_y",
    "b_x",
    "b_y",
    "summed",
    "clicks",
    "views",
    "variant",
]
VALUE_OUTPUTS = ["mean_spend", "max_signups", "first_spend", "label", "low", "high", "cached_mean"]


def drivers(mode: str = "a"):
    hamilton = (
        h_driver.Builder()
        .with_modules(load("decorated_core", "hamilton"))
        .with_config({"mode": mode})
        .with_adapters(h_base.SimplePythonGraphAdapter(h_base.DictResult()))
        .build()
    )
    fast = (
        driver.Builder()
        .with_modules(load("decorated_core", "hamilton_fast"))
        .with_config({"mode": mode})
        .with_adapters(base.DictResult())
        .build()
    )
    return hamilton, fast


def variables(dr):
    return {
        v.name: (v.type, dict(v.tags), v.is_external_input, v.documentation or "")
        for v in dr.list_available_variables()
    }


def test_same_nodes_types_tags_and_docs():
    hamilton, fast = drivers()
    theirs, ours = variables(hamilton), variables(fast)
    assert set(ours) == set(theirs)
    for name, (kind, tags, external, doc) in theirs.items():
        o_kind, o_tags, o_external, o_doc = ours[name]
        assert o_external == external, name
        assert {k: v for k, v in o_tags.items() if k != "module"} == {
            k: v for k, v in tags.items() if k != "module"
        }, name
        assert o_doc == doc, name
        if kind is not dict and getattr(kind, "__module__", "") != "tests.dataflows.decorated_core":
            assert o_kind == kind, name


@pytest.mark.parametrize("mode", ["a", "b"])
def test_same_values(mode):
    hamilton, fast = drivers(mode)
    outputs = SERIES_OUTPUTS + VALUE_OUTPUTS
    theirs = hamilton.execute(outputs, inputs=INPUTS)
    ours = fast.execute(outputs, inputs=INPUTS)
    for name in SERIES_OUTPUTS:
        assert_series_equal(ours[name], theirs[name], check_names=False, check_dtypes=True)
    for name in VALUE_OUTPUTS:
        assert ours[name] == theirs[name], name


def test_generated_nodes_are_traced_into_one_query():
    _, fast = drivers()
    plan = fast.explain(["spend_x2", "signups_x3", "lag_1", "total", "ratio"], inputs=INPUTS)
    assert "python_udf" not in plan
    assert "Opaque nodes: none" in plan
    assert "1 final query" in plan


def test_frame_result_matches_hamilton_polars_builder():
    from hamilton.plugins import h_polars

    hamilton = (
        h_driver.Builder()
        .with_modules(load("decorated_core", "hamilton"))
        .with_config({"mode": "a"})
        .with_adapters(h_base.SimplePythonGraphAdapter(h_polars.PolarsDataFrameResult()))
        .build()
    )
    fast = (
        driver.Builder()
        .with_modules(load("decorated_core", "hamilton_fast"))
        .with_config({"mode": "a"})
        .build()
    )
    outputs = ["spend", "spend_x2", "lag_1", "total", "a_x", "summed", "variant"]
    assert_frame_equal(
        fast.execute(outputs, inputs=INPUTS), hamilton.execute(outputs, inputs=INPUTS)
    )


def test_tag_filter_uses_hamiltons_matching():
    hamilton, fast = drivers()
    for query in ({"team": "growth"}, {"owners": "bo"}, {"owners": ["x", "ana"]}, {"source": None}):
        theirs = {v.name for v in hamilton.list_available_variables(tag_filter=query)}
        ours = {v.name for v in fast.list_available_variables(tag_filter=query)}
        assert ours == theirs, query


# -- build-time errors -------------------------------------------------------------------------


def test_parameterize_needs_source_or_value():
    with pytest.raises(
        ModifierError, match=r"maps `k` to 2, which is neither source\(\) nor value"
    ):

        @parameterize(out={"k": 2})
        def f(k: int) -> int:
            return k


def test_parameterize_unknown_parameter_names_function_and_line(tmp_path):
    module = load_module(
        tmp_path,
        """
        import polars as pl
        from hamilton_fast.function_modifiers import parameterize, source

        @parameterize(out={"colum": source("x")})
        def scaled(col: pl.Series) -> pl.Series:
            return col
        """,
    )
    with pytest.raises(GraphError) as info:
        driver.Builder().with_modules(module).build()
    text = str(info.value)
    assert "@parameterize on `scaled`: it maps `colum`, which is not a parameter" in text
    assert f"{module.__name__}.py:5" in text
    assert "the parameters are `col`" in text


def test_two_expanders_are_refused(tmp_path):
    module = load_module(
        tmp_path,
        """
        import polars as pl
        from hamilton_fast.function_modifiers import extract_columns, parameterize, source

        @extract_columns("a")
        @parameterize(df2={"df": source("raw")})
        def frame(df: pl.DataFrame) -> pl.DataFrame:
            return df
        """,
    )
    with pytest.raises(GraphError, match="a function takes one expanding decorator"):
        driver.Builder().with_modules(module).build()


def test_group_needs_list_annotation(tmp_path):
    module = load_module(
        tmp_path,
        """
        import polars as pl
        from hamilton_fast.function_modifiers import group, inject, source

        @inject(parts=group(source("a"), source("b")))
        def total(parts: pl.Series) -> pl.Series:
            return parts
        """,
    )
    with pytest.raises(GraphError, match=r"group\(\) fills `parts`, which is annotated"):
        driver.Builder().with_modules(module).build()


def test_field_decorators_check_annotations(tmp_path):
    module = load_module(
        tmp_path,
        """
        import polars as pl
        from hamilton_fast.function_modifiers import extract_fields, unpack_fields

        @extract_fields()
        def plain(x: int) -> dict:
            return {}

        @unpack_fields("a", "b", "c")
        def pair(x: int) -> tuple[int, int]:
            return (x, x)
        """,
    )
    with pytest.raises(GraphError) as info:
        driver.Builder().with_modules(module).build()
    text = str(info.value)
    assert "@extract_fields on `plain`: it has no field types" in text
    assert "@unpack_fields on `pair`: it names 3 fields, but the return annotation has 2" in text


def test_tag_values_and_reserved_keys():
    with pytest.raises(ModifierError, match="tag values are strings"):
        tag(team=3)
    with pytest.raises(ModifierError, match="reserved for the library"):
        tag(**{"hamilton.x": "y"})
    with pytest.raises(ModifierError, match="needs the field names"):
        unpack_fields()
    with pytest.raises(ModifierError, match="empty mapping"):
        extract_fields({})


def test_decorators_leave_the_function_callable():
    @inject(b=value(2))
    @extract_columns("x")
    def frame(a: pl.DataFrame, b: int) -> pl.DataFrame:
        return a

    @parameterize(out={"x": source("y")})
    def g(x: int) -> int:
        return x + 1

    assert g(1) == 2
    assert frame(RAW, 1) is RAW
