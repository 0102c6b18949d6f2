"""Polars ``@with_columns`` (eager and lazy): same nodes, tags and values as Apache Hamilton.

Each dataflow is written once against ``hamilton.function_modifiers`` and
``hamilton.plugins.h_polars`` / ``h_polars_lazyframe``; the hamilton_fast twin swaps those import
lines (and the names of the modules it imports). Apache Hamilton's lazy ``with_columns`` returns
``pl.Expr`` for its column nodes; those are evaluated on the input frame before comparing with
hamilton_fast's computed columns.
"""

from __future__ import annotations

import itertools
from typing import Any

import polars as pl
import pytest
from hamilton import base as h_base
from hamilton import driver as h_driver
from polars.testing import assert_frame_equal, assert_series_equal

from hamilton_fast import base, driver
from hamilton_fast.errors import GraphError, ModifierError
from tests.helpers import load_module

INITIAL = pl.DataFrame(
    {"a": [1.0, 2.0, 3.0, 4.0], "b": [10.0, 20.0, 30.0, 40.0], "c": [0, 1, 0, 1]}
)

EAGER_COLUMNS = """
import polars as pl
from hamilton.function_modifiers import config


def a_plus_b(a: pl.Series, b: pl.Series) -> pl.Series:
    return a + b


def scaled(a_plus_b: pl.Series, factor: float) -> pl.Series:
    return a_plus_b * factor


@config.when(sign="negative")
def signed__negative(a_plus_b: pl.Series) -> pl.Series:
    return -a_plus_b


@config.when(sign="positive")
def signed__positive(a_plus_b: pl.Series) -> pl.Series:
    return a_plus_b


def total(a_plus_b: pl.Series) -> float:
    return float(a_plus_b.sum())
"""

# Functions for on_input: they take the frame itself and may replace its columns.
EAGER_FRAME_COLUMNS = """
import polars as pl


def a(initial_df: pl.DataFrame) -> pl.Series:
    return initial_df["a"] * 100


def c_flag(initial_df: pl.DataFrame) -> pl.Series:
    return initial_df["c"] == 1
"""

EAGER_MAIN = """
import polars as pl
import COLUMNS as columns
import FRAME_COLUMNS as frame_columns
from hamilton.function_modifiers import tag
from hamilton.plugins.h_polars import with_columns


def initial_df(raw: pl.DataFrame) -> pl.DataFrame:
    return raw.with_columns(pl.col("b") / 10)


@tag(team="growth")
@with_columns(columns, columns_to_pass=["a", "b"], select=["scaled", "a_plus_b"])
def final_df(initial_df: pl.DataFrame) -> pl.DataFrame:
    return initial_df


@with_columns(columns, columns_to_pass=["a", "b"], namespace="all_of_them")
def everything_df(initial_df: pl.DataFrame, k: int) -> pl.DataFrame:
    return initial_df.with_columns(pl.lit(k).alias("k"))


@with_columns(
    columns.a_plus_b,
    columns.signed__negative,
    columns.signed__positive,
    columns_to_pass=["a", "b"],
    select=["signed"],
    config_required=["sign"],
)
def signed_df(initial_df: pl.DataFrame) -> pl.DataFrame:
    return initial_df


@with_columns(frame_columns, on_input="initial_df", select=["a", "c_flag"])
def replaced_df(k: int, initial_df: pl.DataFrame) -> pl.DataFrame:
    return initial_df.head(k)
"""

EAGER_NODES = {
    "raw",
    "sign",
    "initial_df",
    "factor",
    "k",
    *(f"final_df.{n}" for n in ("a", "b", "a_plus_b", "scaled", "_append")),
    "final_df",
    *(f"all_of_them.{n}" for n in ("a", "b", "a_plus_b", "scaled", "signed", "total", "_append")),
    "everything_df",
    *(f"signed_df.{n}" for n in ("a", "b", "a_plus_b", "signed", "_append")),
    "signed_df",
    *(f"replaced_df.{n}" for n in ("a", "c_flag", "_append")),
    "replaced_df",
}

LAZY_COLUMNS = """
import polars as pl


def a_plus_b(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    return a + b


def a_share(a: pl.Expr, a_plus_b: pl.Expr) -> pl.Expr:
    return a / a_plus_b


def a_mean(a: pl.Expr) -> pl.Expr:
    return a.mean()


def b_lag(b: pl.Expr, lag: int) -> pl.Expr:
    return b.shift(lag)
"""

# Hamilton's documented on_input style: the functions read the frame's columns with pl.col.
LAZY_FRAME_COLUMNS = """
import polars as pl


def a() -> pl.Expr:
    return pl.col("a") / 100


def ab_ratio() -> pl.Expr:
    return pl.col("a") / pl.col("b")


def doubled_ratio(ab_ratio: pl.Expr) -> pl.Expr:
    return ab_ratio * 2


def c_total() -> pl.Expr:
    return pl.col("c").sum()
"""

LAZY_MAIN = """
import polars as pl
import COLUMNS as columns
import FRAME_COLUMNS as frame_columns
from hamilton.function_modifiers import tag
from hamilton.plugins.h_polars_lazyframe import with_columns


@tag(kind="lazy")
@with_columns(columns, columns_to_pass=["a", "b"], select=["a_plus_b", "a_share", "a_mean"])
def final_lf(initial_lf: pl.LazyFrame) -> pl.LazyFrame:
    return initial_lf


@with_columns(columns, columns_to_pass=["a", "b"], namespace="lagged")
def lagged_lf(initial_lf: pl.LazyFrame) -> pl.LazyFrame:
    return initial_lf.filter(pl.col("c") == 0)


@with_columns(
    frame_columns, on_input="initial_lf", select=["a", "ab_ratio", "doubled_ratio", "c_total"]
)
def replaced_lf(initial_lf: pl.LazyFrame) -> pl.LazyFrame:
    return initial_lf
"""

LAZY_NODES = {
    "initial_lf",
    "lag",
    *(f"final_lf.{n}" for n in ("a", "b", "a_plus_b", "a_share", "a_mean", "_append")),
    "final_lf",
    *(f"lagged.{n}" for n in ("a", "b", "a_plus_b", "a_share", "a_mean", "b_lag", "_append")),
    "lagged_lf",
    *(f"replaced_lf.{n}" for n in ("a", "ab_ratio", "doubled_ratio", "c_total", "_append")),
    "replaced_lf",
}

_IMPORTS = {
    "from hamilton.function_modifiers import": "from hamilton_fast.function_modifiers import",
    "from hamilton.plugins.h_polars import": "from hamilton_fast.plugins.h_polars import",
    "from hamilton.plugins.h_polars_lazyframe import": (
        "from hamilton_fast.plugins.h_polars_lazyframe import"
    ),
}

_counter = itertools.count()


def write_modules(directory, sources: dict[str, str], library: str) -> dict[str, Any]:
    """Import ``sources`` (in order) for ``library``, imports and module names swapped."""
    run = next(_counter)
    names = {key: f"with_columns_{library}_{key.lower()}_{run}" for key in sources}
    modules = {}
    for key, source in sources.items():
        text = source
        if library == "hamilton_fast":
            for theirs, ours in _IMPORTS.items():
                text = text.replace(theirs, ours)
        for other, name in names.items():
            text = text.replace(f"import {other} ", f"import {name} ")
        modules[key] = load_module(directory, text, names[key])
    return {"modules": modules, "names": names}


def build_both(tmp_path, sources: dict[str, str], config=None):
    """(Apache Hamilton driver, hamilton_fast driver, module-name -> placeholder map)."""
    theirs = write_modules(tmp_path, sources, "hamilton")
    ours = write_modules(tmp_path, sources, "hamilton_fast")
    hamilton = (
        h_driver.Builder()
        .with_modules(theirs["modules"]["MAIN"])
        .with_config(config or {})
        .with_adapters(h_base.SimplePythonGraphAdapter(h_base.DictResult()))
        .build()
    )
    fast = (
        driver.Builder()
        .with_modules(ours["modules"]["MAIN"])
        .with_config(config or {})
        .with_adapters(base.DictResult())
        .build()
    )
    placeholders = {name: key for key, name in theirs["names"].items()}
    placeholders.update({name: key for key, name in ours["names"].items()})
    return hamilton, fast, placeholders


def variables(dr, placeholders: dict[str, str]) -> dict[str, tuple[Any, dict, bool]]:
    """name -> (type, tags, is external input), with module tags named by their placeholder."""
    out = {}
    for v in dr.list_available_variables():
        tags = dict(v.tags)
        if "module" in tags:
            tags["module"] = placeholders.get(tags["module"], tags["module"])
        out[v.name] = (v.type, tags, v.is_external_input)
    return out


def assert_same_values(ours: dict[str, Any], theirs: dict[str, Any], frame: Any = None) -> None:
    """Equal results; Hamilton's ``pl.Expr`` values are evaluated on ``frame`` first."""
    assert set(ours) == set(theirs)
    for name, value in theirs.items():
        got, expected = ours[name], value
        if isinstance(expected, pl.Expr):
            expected = frame.lazy().select(expected).collect().to_series()
            if expected.len() == 1 and not isinstance(got, pl.Series):
                # An aggregate expression: hamilton_fast computes it as a scalar node.
                expected = expected.item()
        if isinstance(expected, pl.LazyFrame):
            expected = expected.collect()
        if isinstance(got, pl.LazyFrame):
            got = got.collect()
        if isinstance(expected, pl.Series):
            assert isinstance(got, pl.Series), name
            assert_series_equal(got, expected, check_names=False)
        elif isinstance(expected, pl.DataFrame):
            assert isinstance(got, pl.DataFrame), name
            assert_frame_equal(got, expected)
        else:
            assert type(got) is type(expected), name
            assert got == expected, name


EAGER = {"COLUMNS": EAGER_COLUMNS, "FRAME_COLUMNS": EAGER_FRAME_COLUMNS, "MAIN": EAGER_MAIN}
LAZY = {"COLUMNS": LAZY_COLUMNS, "FRAME_COLUMNS": LAZY_FRAME_COLUMNS, "MAIN": LAZY_MAIN}


# -- pl.DataFrame / pl.Series (hamilton.plugins.h_polars) ---------------------------------------


def test_eager_same_nodes_types_and_tags_as_hamilton(tmp_path):
    hamilton, fast, placeholders = build_both(tmp_path, EAGER, config={"sign": "negative"})
    theirs = variables(hamilton, placeholders)
    assert set(theirs) == EAGER_NODES
    assert variables(fast, placeholders) == theirs


@pytest.mark.parametrize("sign", ["negative", "positive"])
def test_eager_same_values_as_hamilton(tmp_path, sign):
    hamilton, fast, _ = build_both(tmp_path, EAGER, config={"sign": sign})
    outputs = sorted(EAGER_NODES - {"raw", "factor", "k"})
    inputs = {"raw": INITIAL, "factor": 0.5, "k": 3}
    ours = fast.execute(outputs, inputs=inputs)
    assert_same_values(ours, hamilton.execute(outputs, inputs=inputs))
    assert ours["final_df"].columns == ["a", "b", "c", "scaled", "a_plus_b"]
    assert ours["replaced_df"]["a"].to_list() == [100.0, 200.0, 300.0]


# -- pl.LazyFrame / pl.Expr (hamilton.plugins.h_polars_lazyframe) --------------------------------


def test_lazy_same_nodes_types_and_tags_as_hamilton(tmp_path):
    hamilton, fast, placeholders = build_both(tmp_path, LAZY)
    theirs = variables(hamilton, placeholders)
    assert set(theirs) == LAZY_NODES
    assert variables(fast, placeholders) == theirs


# Apache Hamilton's extract_columns tests `column in lazy_frame`, which Polars warns about.
@pytest.mark.filterwarnings(
    "ignore:checking membership of a LazyFrame:polars.exceptions.PerformanceWarning"
)
def test_lazy_same_values_as_hamilton(tmp_path):
    hamilton, fast, _ = build_both(tmp_path, LAZY)
    outputs = sorted(LAZY_NODES - {"initial_lf", "lag"})
    inputs = {"initial_lf": INITIAL.lazy(), "lag": 1}
    ours = fast.execute(outputs, inputs=inputs)
    assert_same_values(ours, hamilton.execute(outputs, inputs=inputs), frame=INITIAL)
    replaced = ours["replaced_lf"].collect()
    assert replaced.columns == ["a", "b", "c", "ab_ratio", "doubled_ratio", "c_total"]
    assert replaced.schema["c_total"] == pl.Int64
    assert ours["final_lf"].collect()["a_mean"].to_list() == [2.5] * 4


def test_lazy_column_nodes_compile_into_one_query(tmp_path):
    ours = write_modules(tmp_path, LAZY, "hamilton_fast")
    fast = driver.Builder().with_modules(ours["modules"]["MAIN"]).build()
    inputs = {"initial_lf": INITIAL.lazy(), "lag": 1}
    outputs = ["final_lf.a_share", "final_lf.a_mean", "lagged.b_lag"]
    plan = fast.explain(outputs, inputs=inputs)
    assert "python_udf" not in plan
    assert "Opaque nodes: none" in plan
    assert "1 final query" in plan


def test_lazy_appended_frame_compiles_into_one_query(tmp_path):
    ours = write_modules(tmp_path, LAZY, "hamilton_fast")
    fast = driver.Builder().with_modules(ours["modules"]["MAIN"]).build()
    plan = fast.explain(["final_lf"], inputs={"initial_lf": INITIAL.lazy(), "lag": 1})
    assert "python_udf" not in plan
    assert "Opaque nodes: none" in plan


# -- build-time errors ---------------------------------------------------------------------------


def decorate(decorator) -> None:
    def final_df(initial_df: pl.DataFrame) -> pl.DataFrame:
        return initial_df

    decorator(final_df)


def a_plus_b(a: pl.Series, b: pl.Series) -> pl.Series:
    return a + b


def test_exactly_one_of_columns_to_pass_and_on_input():
    from hamilton_fast.plugins.h_polars import with_columns

    with pytest.raises(ModifierError) as info:
        decorate(with_columns(a_plus_b, columns_to_pass=["a"], on_input="initial_df"))
    message = str(info.value)
    assert "@with_columns on `final_df`" in message
    assert "test_decorators_with_columns.py:" in message
    assert "exactly one of `columns_to_pass` and `on_input`; both was given" in message
    assert "Hint: " in message
    with pytest.raises(ModifierError, match="neither was given"):
        decorate(with_columns(a_plus_b))


def test_pass_dataframe_as_is_refused_like_hamilton():
    from hamilton_fast.plugins.h_polars_lazyframe import with_columns

    with pytest.raises(ModifierError) as info:
        decorate(with_columns(a_plus_b, pass_dataframe_as="initial_df"))
    assert "`pass_dataframe_as` is not supported by h_polars_lazyframe.with_columns" in str(
        info.value
    )
    assert 'Hint: use on_input="initial_df"' in str(info.value)


def test_on_input_must_be_a_parameter():
    from hamilton_fast.plugins.h_polars import with_columns

    with pytest.raises(ModifierError, match=r"`on_input` names `df`, which is not a parameter"):
        decorate(with_columns(a_plus_b, on_input="df"))


def test_a_function_without_parameters_has_no_frame():
    from hamilton_fast.plugins.h_polars import with_columns

    def no_frame() -> pl.DataFrame:
        return INITIAL

    with pytest.raises(ModifierError, match=r"the function has no parameters"):
        with_columns(a_plus_b, columns_to_pass=["a", "b"])(no_frame)


def test_columns_to_pass_must_be_a_list():
    from hamilton_fast.plugins.h_polars import with_columns

    with pytest.raises(ModifierError, match=r"`columns_to_pass` takes a list of names, got 'a'"):
        decorate(with_columns(a_plus_b, columns_to_pass="a"))


ERROR_COLUMNS = """
import polars as pl


def a_plus_b(a: pl.Series, b: pl.Series) -> pl.Series:
    return a + b


def total(a_plus_b: pl.Series) -> float:
    return float(a_plus_b.sum())


def a(b: pl.Series) -> pl.Series:
    return b * 2
"""


def build_error(tmp_path, decorator_line: str, frame_type: str = "pl.DataFrame", config=None):
    main = f"""
import polars as pl
import COLUMNS as columns
from hamilton_fast.plugins.h_polars import with_columns


{decorator_line}
def final_df(initial_df: {frame_type}) -> {frame_type}:
    return initial_df
"""
    module = write_modules(tmp_path, {"COLUMNS": ERROR_COLUMNS, "MAIN": main}, "hamilton_fast")
    with pytest.raises(GraphError) as info:
        driver.Builder().with_modules(module["modules"]["MAIN"]).with_config(config or {}).build()
    message = str(info.value)
    assert "@with_columns on `final_df`" in message
    assert "Hint: " in message
    return message


def test_select_names_an_unknown_column(tmp_path):
    message = build_error(
        tmp_path,
        '@with_columns(columns.a_plus_b, columns_to_pass=["a", "b"], select=["a_plus_c"])',
    )
    assert "select names `a_plus_c`, which is neither passed nor computed" in message
    assert "the columns available are `a`, `b`, `a_plus_b`" in message


def test_select_names_a_scalar(tmp_path):
    message = build_error(
        tmp_path,
        "@with_columns(columns.a_plus_b, columns.total, columns_to_pass=['a', 'b'], "
        "select=['total'])",
    )
    assert "select names `total`, which returns float, not a column" in message


def test_a_passed_column_computed_again(tmp_path):
    message = build_error(tmp_path, '@with_columns(columns.a, columns_to_pass=["a", "b"])')
    assert "`a` is both passed in columns_to_pass and computed by a function" in message
    assert 'use on_input="initial_df"' in message


def test_frame_of_the_wrong_kind(tmp_path):
    message = build_error(
        tmp_path,
        '@with_columns(columns.a_plus_b, columns_to_pass=["a", "b"])',
        frame_type="pl.LazyFrame",
    )
    assert "the frame parameter `initial_df` is annotated pl.LazyFrame" in message
    assert "hamilton_fast.plugins.h_polars_lazyframe.with_columns" in message


def test_config_required_must_be_in_the_config(tmp_path):
    message = build_error(
        tmp_path,
        '@with_columns(columns.a_plus_b, columns_to_pass=["a", "b"], config_required=["sign"])',
    )
    assert "config_required names `sign`, which the config does not have" in message
