"""Every user-facing error: its type, and a message naming node, function, file:line, hint."""

from __future__ import annotations

import re

import polars as pl
import pytest

from hamilton_fast import driver
from hamilton_fast.errors import (
    GraphError,
    InputError,
    ModifierError,
    NodeError,
    PlanError,
    ShapeError,
    UnknownNodeError,
)
from hamilton_fast.function_modifiers import config, extract_columns
from tests.helpers import load_module

HELLO = """
import polars as pl

def spend_per_signup(spend: pl.Series, signups: pl.Series) -> pl.Series:
    return spend / signups

def spend_mean(spend: pl.Series) -> float:
    return spend.mean()
"""


def build(tmp_path, source, **config_values):
    module = load_module(tmp_path, source)
    return driver.Builder().with_modules(module).with_config(config_values).build(), module


def test_missing_input_names_consumer_and_location(tmp_path):
    dr, module = build(tmp_path, HELLO)
    with pytest.raises(InputError) as info:
        dr.execute(["spend_per_signup"], inputs={"spend": pl.Series([1.0])})
    text = str(info.value)
    assert "`signups` is needed, but no function or input provides it" in text
    assert "spend_per_signup(spend: pl.Series, signups: pl.Series)" in text
    assert re.search(rf"{module.__name__}\.py:4", text)
    assert "Hint: pass `signups` in inputs=" in text


def test_unknown_output_suggests_close_name(tmp_path):
    dr, _ = build(tmp_path, HELLO)
    with pytest.raises(UnknownNodeError) as info:
        dr.execute(["spend_per_signups"], inputs={})
    assert "`spend_per_signups` is not a node of this dataflow" in str(info.value)
    assert "did you mean `spend_per_signup`?" in str(info.value)
    assert isinstance(info.value, KeyError)


def test_wrong_input_type(tmp_path):
    dr, module = build(tmp_path, HELLO)
    with pytest.raises(InputError) as info:
        dr.execute(["spend_mean"], inputs={"spend": "data.csv"})
    text = str(info.value)
    assert "input `spend` should be pl.Series, but got str ('data.csv')" in text
    assert f"{module.__name__}.py:7" in text
    assert "Hint:" in text
    assert isinstance(info.value, TypeError)


def test_type_mismatch_on_edge(tmp_path):
    source = """
    import polars as pl

    def count(x: pl.Series) -> int:
        return len(x)

    def ratio(count: str) -> float:
        return 1.0
    """
    with pytest.raises(GraphError) as info:
        build(tmp_path, source)
    text = str(info.value)
    assert "type mismatch on edge `count` -> `ratio`" in text
    assert "`count` returns int, but `ratio` asks for str" in text
    assert re.search(r"provider: count\(x: pl.Series\) at .*\.py:4", text)
    assert re.search(r"consumer: ratio\(count: str\) at .*\.py:7", text)


def test_missing_annotation(tmp_path):
    source = """
    import polars as pl

    def doubled(x) -> pl.Series:
        return x * 2
    """
    with pytest.raises(GraphError) as info:
        build(tmp_path, source)
    assert "`doubled` has no type annotation for `x`" in str(info.value)
    assert "Hint: annotate every parameter and the return" in str(info.value)


def test_cycle_names_the_nodes_on_it(tmp_path):
    source = """
    import polars as pl

    def a(c: pl.Series) -> pl.Series:
        return c + 1

    def b(a: pl.Series) -> pl.Series:
        return a + 1

    def c(b: pl.Series) -> pl.Series:
        return b + 1

    def outside(a: pl.Series) -> pl.Series:
        return a
    """
    with pytest.raises(GraphError) as info:
        build(tmp_path, source)
    text = str(info.value)
    assert "the functions form a cycle: `a` -> `c` -> `b` -> `a`" in text
    assert "outside" not in text.split("\n", maxsplit=1)[0]


def test_duplicate_node_across_modules(tmp_path):
    first = load_module(tmp_path, "import polars as pl\ndef x(a: int) -> int:\n    return a\n")
    second = load_module(tmp_path, "import polars as pl\ndef x(a: int) -> int:\n    return 2\n")
    with pytest.raises(GraphError) as info:
        driver.Builder().with_modules(first, second).build()
    assert "`x` is defined twice" in str(info.value)
    assert "allow_module_overrides()" in str(info.value)
    dr = driver.Builder().with_modules(first, second).allow_module_overrides().build()
    assert dr.execute(["x"], inputs={"a": 1})["x"].to_list() == [2]


def test_every_graph_problem_reported_at_once(tmp_path):
    source = """
    import polars as pl

    def no_return(x: pl.Series):
        return x

    def no_param(y) -> pl.Series:
        return y

    def bad_edge(no_return: int) -> int:
        return 1
    """
    with pytest.raises(GraphError) as info:
        build(tmp_path, source)
    text = str(info.value)
    assert text.startswith("2 problems found")
    assert "`no_return` has no type annotation for the return value" in text
    assert "`no_param` has no type annotation for `y`" in text


def test_columns_of_different_lengths(tmp_path):
    dr, module = build(tmp_path, HELLO)
    with pytest.raises(ShapeError) as info:
        dr.execute(
            ["spend_per_signup"],
            inputs={"spend": pl.Series([1.0, 2.0]), "signups": pl.Series([1, 2, 3])},
        )
    text = str(info.value)
    assert "`spend_per_signup` combines columns of different lengths" in text
    assert "2 rows" in text
    assert "3 rows" in text
    assert f"{module.__name__}.py:4" in text


def test_user_function_raising_is_chained(tmp_path):
    source = """
    import polars as pl

    def broken(x: pl.Series) -> float:
        values = x.to_list()
        return values[10]
    """
    dr, module = build(tmp_path, source)
    with pytest.raises(NodeError) as info:
        dr.execute(["broken"], inputs={"x": pl.Series([1.0])})
    assert "`broken` failed: IndexError: list index out of range" in str(info.value)
    assert f"{module.__name__}.py:4" in str(info.value)
    assert isinstance(info.value.__cause__, IndexError)
    assert info.value.node == "broken"


def test_traced_expression_reading_undeclared_column(tmp_path):
    source = """
    import polars as pl

    def sneaky(spend: pl.Expr) -> pl.Expr:
        return spend * pl.col("signups")
    """
    dr, module = build(tmp_path, source)
    with pytest.raises(PlanError) as info:
        dr.execute(["sneaky"], inputs={"spend": pl.Series([1.0])})
    text = str(info.value)
    assert "`sneaky` reads column `signups`, which is not one of its parameters" in text
    assert f"{module.__name__}.py:4" in text
    assert "Hint: add `signups` as a parameter" in text


def test_extracted_column_missing_from_frame(tmp_path):
    source = """
    import polars as pl
    from hamilton_fast.function_modifiers import extract_columns

    @extract_columns("spend", "signup")
    def base_df(raw: pl.DataFrame) -> pl.DataFrame:
        return raw
    """
    dr, _ = build(tmp_path, source)
    with pytest.raises(PlanError) as info:
        dr.execute(["signup"], inputs={"raw": pl.DataFrame({"spend": [1.0], "signups": [1]})})
    assert "`signup` is extracted from `base_df`, but the frame it returned has no column" in str(
        info.value
    )
    assert "fill_with=" in str(info.value)


def test_decorator_argument_errors():
    with pytest.raises(ModifierError, match="needs at least one column name"):
        extract_columns()
    with pytest.raises(ModifierError, match="lists `a` more than once"):
        extract_columns("a", "a")
    with pytest.raises(ModifierError, match="may not end with `__`"):

        @config.when(x=1)
        def bad__(a: int) -> int:
            return a


def test_gpu_engine_without_cudf_polars():
    pytest.importorskip("polars")
    try:
        import cudf_polars  # noqa: F401
    except ImportError:
        with pytest.raises(GraphError, match="needs the `cudf_polars` package"):
            driver.Builder().with_engine("gpu")
    else:  # pragma: no cover - only on GPU machines
        pytest.skip("cudf_polars is installed")


def test_unknown_engine():
    with pytest.raises(GraphError, match="unknown engine 'fast'"):
        driver.Builder().with_engine("fast")
