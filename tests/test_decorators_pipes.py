"""The pipe family (`pipe_input`, `pipe_output`, `step`, `mutate`, `apply_to`) vs Apache Hamilton.

Each dataflow is written once, as a template importing from `hamilton.function_modifiers`; the
hamilton_fast twin differs only in that line. Both run the whole graph: same node names, types,
tags and values.

One deliberate difference is pinned here: Apache Hamilton builds the exit node of a
`pipe_output`/`mutate` chain (the node that keeps the function's name) from an internal identity
function, so its `module` tag reads `hamilton.function_modifiers.macros`. hamilton_fast tags it with
the user's module, like every other node of the function (so `tag_filter={"module": ...}` finds
it). `assert_same_nodes` checks that exactly the expected exit nodes carry Hamilton's tag.
"""

from __future__ import annotations

import math
import pickle
from typing import TYPE_CHECKING, Any

import polars as pl
import pytest
from hamilton import base as h_base
from hamilton import driver as h_driver
from hamilton.plugins import h_polars as h_h_polars
from polars.testing import assert_frame_equal, assert_series_equal

from hamilton_fast import base, driver
from hamilton_fast.errors import GraphError, ModifierError
from hamilton_fast.function_modifiers import apply_to, mutate, pipe_input, pipe_output, step
from tests.helpers import load_module

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from types import ModuleType

HAMILTON_IMPORT = "from hamilton.function_modifiers import "
FAST_IMPORT = "from hamilton_fast.function_modifiers import "
HAMILTON_EXIT_MODULE = "hamilton.function_modifiers.macros"

RAW = pl.Series("raw", [3.0, 1.5, 8.0, 20.0, 7.25, 0.5])
OTHER = pl.Series("other", [1.0, -2.0, 0.5, 4.0, 9.0, -1.0])
INPUTS: dict[str, Any] = {"raw": RAW, "other": OTHER, "n": 3}


# --- harness ----------------------------------------------------------------------------------


def twins(tmp_path: Path, source: str) -> tuple[ModuleType, ModuleType]:
    """(module for Apache Hamilton, module for hamilton_fast) from one template."""
    assert source.count(HAMILTON_IMPORT) == 1
    theirs = load_module(tmp_path, source)
    ours = load_module(tmp_path, source.replace(HAMILTON_IMPORT, FAST_IMPORT))
    return theirs, ours


def hamilton_dict_driver(module: ModuleType, config: dict[str, Any]) -> Any:
    return (
        h_driver.Builder()
        .with_modules(module)
        .with_config(config)
        .with_adapters(h_base.SimplePythonGraphAdapter(h_base.DictResult()))
        .build()
    )


def fast_dict_driver(module: ModuleType, config: dict[str, Any]) -> Any:
    return (
        driver.Builder()
        .with_modules(module)
        .with_config(config)
        .with_adapters(base.DictResult())
        .build()
    )


def node_facts(dr: Any, module: ModuleType) -> dict[str, tuple[Any, dict[str, Any], bool]]:
    """name -> (type, tags, external), with the module's own name replaced by `<module>`."""
    facts = {}
    for var in dr.list_available_variables():
        tags = {
            k: "<module>" if k == "module" and v == module.__name__ else v
            for k, v in var.tags.items()
        }
        facts[var.name] = (var.type, tags, var.is_external_input)
    return facts


def assert_same_nodes(
    theirs: Any,
    their_module: ModuleType,
    ours: Any,
    our_module: ModuleType,
    exits: set[str],
) -> None:
    """Same names, types and tags; `exits` are the chain exit nodes (see module docstring)."""
    expected = node_facts(theirs, their_module)
    actual = node_facts(ours, our_module)
    assert sorted(actual) == sorted(expected)
    tagged_as_macros = {
        n for n, (_, tags, _) in expected.items() if tags.get("module") == HAMILTON_EXIT_MODULE
    }
    assert tagged_as_macros == exits
    for name, (kind, tags, external) in expected.items():
        wanted = {**tags, "module": "<module>"} if name in exits else tags
        assert actual[name] == (kind, wanted, external), name


def assert_same_values(expected: dict[str, Any], actual: dict[str, Any]) -> None:
    assert sorted(actual) == sorted(expected)
    for name, value in expected.items():
        got = actual[name]
        if isinstance(value, pl.Series):
            assert isinstance(got, pl.Series), name
            assert_series_equal(got, value, check_names=False, rel_tol=1e-9, abs_tol=1e-9)
        elif isinstance(value, pl.DataFrame):
            assert_frame_equal(got, value, rel_tol=1e-9, abs_tol=1e-9)
        elif isinstance(value, float):
            assert math.isclose(got, value, rel_tol=1e-9), name
        else:
            assert type(got) is type(value), name
            assert got == value, name


def compare_with_hamilton(
    tmp_path: Path, source: str, config: dict[str, Any], exits: set[str]
) -> Any:
    """Run every node of the template through both libraries; return the hamilton_fast driver."""
    their_module, our_module = twins(tmp_path, source)
    theirs = hamilton_dict_driver(their_module, config)
    ours = fast_dict_driver(our_module, config)
    assert_same_nodes(theirs, their_module, ours, our_module, exits)
    outputs = sorted(v.name for v in theirs.list_available_variables() if not v.is_external_input)
    inputs = {
        k: v for k, v in INPUTS.items() if k in {v.name for v in theirs.list_available_variables()}
    }
    assert_same_values(theirs.execute(outputs, inputs=inputs), ours.execute(outputs, inputs=inputs))
    return ours


# --- pipe_input -------------------------------------------------------------------------------

PIPE_INPUT = '''
import polars as pl
from hamilton.function_modifiers import config, pipe_input, source, step, tag, value


def _add(x: pl.Series, y: pl.Series) -> pl.Series:
    """Adds another column."""
    return x + y


def _scale(x: pl.Series, factor: float) -> pl.Series:
    return x * factor


def _shift(x: pl.Series, periods: int = 1) -> pl.Series:
    return x.shift(periods).fill_null(0.0)


def _offset(x: pl.Series, offset: float) -> pl.Series:
    return x + offset


def spend(raw: pl.Series) -> pl.Series:
    return raw * 2.0


@tag(owner="growth")
@pipe_input(
    step(_scale, 2.0),
    step(_add, y=source("spend")),
    step(_scale, factor=value(0.5)),
    step(_shift).named("lagged"),
    step(_offset, offset=100.0).when(mode="big"),
    step(_offset, offset=-1.0).when_not(mode="big"),
    step(_offset, offset=10.0).when_in(region=["us", "eu"]),
    step(_offset, offset=1000.0).when_not_in(region=["us", "eu"]),
    step(_scale, factor=3.0),
)
def adjusted(raw: pl.Series, spend: pl.Series) -> pl.Series:
    """Raw spend, adjusted."""
    return raw - spend * 0.1


@pipe_input(
    step(_scale, factor=3.0), step(_add, y=source("raw")), namespace="pre", on_input="other"
)
def combined(raw: pl.Series, other: pl.Series) -> pl.Series:
    return raw + other


@pipe_input(step(_scale, factor=3.0), step(_shift, periods=2).named("plain", namespace=None))
def shifted(spend: pl.Series) -> pl.Series:
    return spend * 1.0


@pipe_input(step(_scale, factor=-2.0), namespace=None)
def negated(raw: pl.Series) -> pl.Series:
    return raw + 0.0


@pipe_input(step(_scale, factor=7.0).when(mode="never"))
def untouched(raw: pl.Series) -> pl.Series:
    return raw - 1.0


@config.when(region="us")
@pipe_input(step(_scale, factor=5.0))
def regional__us(raw: pl.Series) -> pl.Series:
    return raw + 0.5


@config.when_not(region="us")
@pipe_input(step(_scale, factor=6.0), step(_shift))
def regional__elsewhere(raw: pl.Series) -> pl.Series:
    return raw - 0.5
'''


@pytest.mark.parametrize(
    "config",
    [{}, {"mode": "big", "region": "us"}, {"mode": "small", "region": "apac"}],
    ids=["no-config", "big-us", "small-apac"],
)
def test_pipe_input_matches_hamilton(tmp_path: Path, config: dict[str, Any]) -> None:
    ours = compare_with_hamilton(tmp_path, PIPE_INPUT, config, exits=set())
    names = {v.name for v in ours.list_available_variables()}
    assert {"adjusted.with_scale", "adjusted.with_add", "adjusted.with_scale_1"} <= names
    assert {"adjusted.lagged", "pre.with_scale", "pre.with_add", "plain", "with_scale"} <= names
    assert not any(n.startswith("untouched.") for n in names)
    assert "regional.with_scale" in names  # a @config variant pipes under its node name
    # each config selects two of the four conditional steps; only selected steps are counted
    offsets = sorted(n for n in names if n.startswith("adjusted.with_offset"))
    assert offsets == ["adjusted.with_offset", "adjusted.with_offset_1"]


def test_pipe_input_step_nodes_point_at_the_decorated_function(tmp_path: Path) -> None:
    _, module = twins(tmp_path, PIPE_INPUT)
    dr = fast_dict_driver(module, {})
    by_name = {v.name: v for v in dr.list_available_variables()}
    assert by_name["adjusted.with_add"].originating_functions == (module.adjusted,)
    assert by_name["adjusted.with_add"].documentation == "Adds another column."
    assert by_name["adjusted"].tags == {"module": module.__name__, "owner": "growth"}
    assert by_name["adjusted.with_add"].tags == {"module": module.__name__}


# --- pipe_output ------------------------------------------------------------------------------

PIPE_OUTPUT = '''
import polars as pl
from hamilton.function_modifiers import (
    config,
    extract_columns,
    extract_fields,
    pipe_output,
    source,
    step,
    tag,
    value,
)


def _clip(x: pl.Series, upper: float) -> pl.Series:
    return x.clip(upper_bound=upper)


def _add(x: pl.Series, y: pl.Series) -> pl.Series:
    return x + y


def _scale(x: pl.Series, factor: float) -> pl.Series:
    return x * factor


def _inc(v: int) -> int:
    return v + 1


@tag(owner="growth")
@pipe_output(
    step(_scale, factor=2.0),
    step(_clip, upper=value(50.0)).named("clipped"),
    step(_add, y=source("raw")).named("plus_raw", namespace="ignored"),
    step(_scale, factor=10.0).when(mode="big"),
    step(_scale, factor=0.1),
)
def spend(raw: pl.Series) -> pl.Series:
    """Weekly spend."""
    return raw * 3.0


@pipe_output(step(_scale, factor=-1.0), namespace=None)
def negated(spend: pl.Series) -> pl.Series:
    return spend + 0.0


@pipe_output(step(_scale, factor=2.0), step(_clip, upper=5.0).on_output("b"))
@extract_columns("a", "b")
def frame(raw: pl.Series) -> pl.DataFrame:
    return pl.DataFrame({"a": raw, "b": raw / 10.0})


@pipe_output(step(_inc), on_output=["first"], namespace="post")
@extract_fields({"first": int, "second": int})
def counts(n: int) -> dict:
    return {"first": n, "second": n * 2}


@pipe_output(step(_scale, factor=7.0).when(mode="never"))
def untouched(raw: pl.Series) -> pl.Series:
    return raw - 1.0


@config.when(mode="big")
@pipe_output(step(_scale, factor=5.0), step(_clip, upper=30.0))
def regional__big(raw: pl.Series) -> pl.Series:
    return raw + 0.5


@config.when_not(mode="big")
@pipe_output(step(_scale, factor=6.0))
def regional__small(raw: pl.Series) -> pl.Series:
    return raw - 0.5
'''

PIPE_OUTPUT_EXITS = {"spend", "negated", "a", "b", "first", "regional"}


@pytest.mark.parametrize("config", [{}, {"mode": "big"}], ids=["no-config", "big"])
def test_pipe_output_matches_hamilton(tmp_path: Path, config: dict[str, Any]) -> None:
    ours = compare_with_hamilton(tmp_path, PIPE_OUTPUT, config, exits=PIPE_OUTPUT_EXITS)
    names = {v.name for v in ours.list_available_variables()}
    assert {"spend.raw", "spend.with_scale", "spend.clipped", "spend.plus_raw"} <= names
    assert ("spend.with_scale_2" in names) == bool(config)
    assert {"negated.raw", "with_scale", "a.raw", "a.with_scale", "b.with_clip"} <= names
    assert {"first.raw", "post.with_inc"} <= names
    assert "a.with_clip" not in names
    assert "second.raw" not in names
    assert "untouched.raw" not in names


def test_pipe_output_frame_result_matches_hamilton(tmp_path: Path) -> None:
    their_module, our_module = twins(tmp_path, PIPE_OUTPUT)
    outputs = ["spend", "spend.raw", "spend.clipped", "negated", "with_scale", "a", "b", "b.raw"]
    theirs = (
        h_driver.Builder()
        .with_modules(their_module)
        .with_adapters(h_base.SimplePythonGraphAdapter(h_h_polars.PolarsDataFrameResult()))
        .build()
    )
    expected = theirs.execute(outputs, inputs={"raw": RAW})
    actual = driver.Builder().with_modules(our_module).build().execute(outputs, inputs={"raw": RAW})
    assert_frame_equal(actual, expected, rel_tol=1e-9, abs_tol=1e-9)


def test_pipe_output_exit_node_keeps_the_function_module_and_doc(tmp_path: Path) -> None:
    _, module = twins(tmp_path, PIPE_OUTPUT)
    dr = fast_dict_driver(module, {})
    spend = next(v for v in dr.list_available_variables() if v.name == "spend")
    assert spend.tags == {"module": module.__name__, "owner": "growth"}
    assert spend.documentation == "Weekly spend."
    selected = dr.list_available_variables(tag_filter={"owner": "growth"})
    assert [v.name for v in selected] == ["spend"]


# --- mutate -----------------------------------------------------------------------------------

MUTATE = """
import polars as pl
from hamilton.function_modifiers import (
    apply_to,
    extract_columns,
    mutate,
    pipe_output,
    source,
    step,
    value,
)


def _double(x: pl.Series) -> pl.Series:
    return x * 2.0


def spend(raw: pl.Series) -> pl.Series:
    return raw * 2.0


def signups(raw: pl.Series) -> pl.Series:
    return raw + 1.0


@pipe_output(step(_double))
def clicks(raw: pl.Series) -> pl.Series:
    return raw - 0.5


@extract_columns("a", "b")
def frame(raw: pl.Series) -> pl.DataFrame:
    return pl.DataFrame({"a": raw, "b": raw / 10.0})


def untouched(raw: pl.Series) -> pl.Series:
    return raw * 5.0


# Defined first but sorting last: mutators apply in definition order.
@mutate(spend, signups, clicks, factor=value(3.0))
def _z_scale(x: pl.Series, factor: float) -> pl.Series:
    return x * factor


@mutate(
    apply_to(spend, offset=1.0),
    apply_to(signups).named("shifted").when(mode="big"),
    offset=value(-5.0),
)
def _a_offset(x: pl.Series, offset: float) -> pl.Series:
    return x + offset


@mutate(apply_to(frame).on_output("b"), apply_to(spend), y=source("raw"))
def _m_add(x: pl.Series, y: pl.Series) -> pl.Series:
    return x + y


@mutate(spend)
@mutate(spend, k=2.0)
def _stacked(x: pl.Series, k: float = 1.0) -> pl.Series:
    return x * 10.0 + k


@mutate(untouched)
def _never(x: pl.Series) -> pl.Series:
    return x * 0.0


@mutate(apply_to(untouched).when(mode="never"))
def never_public(x: pl.Series) -> pl.Series:
    return x * 0.0
"""

MUTATE_EXITS = {"spend", "signups", "clicks", "b", "untouched"}


@pytest.mark.parametrize("config", [{}, {"mode": "big"}], ids=["no-config", "big"])
def test_mutate_matches_hamilton(tmp_path: Path, config: dict[str, Any]) -> None:
    ours = compare_with_hamilton(tmp_path, MUTATE, config, exits=MUTATE_EXITS)
    deps = {name: [d.name for d in node.dependencies] for name, node in ours.graph.nodes.items()}
    assert deps["spend"] == ["spend.with_stacked_1"]
    assert deps["spend.with_stacked_1"] == ["spend.with_stacked", "k"]
    assert deps["spend.with_stacked"] == ["spend.with_m_add"]
    assert deps["spend.with_m_add"] == ["spend.with_a_offset", "raw"]
    assert deps["spend.with_a_offset"] == ["spend.with_z_scale"]
    assert deps["spend.with_z_scale"] == ["spend.raw"]
    assert deps["clicks.with_z_scale"] == ["clicks.with_double"]
    assert deps["b.with_m_add"] == ["b.raw", "raw"]
    assert "a.raw" not in deps
    assert ("signups.shifted" in deps) == bool(config)
    assert "never_public" not in deps  # a mutator is never a node itself


MUTATE_TARGET = """
import polars as pl


def spend(raw: pl.Series) -> pl.Series:
    return raw * 2.0
"""

MUTATE_ELSEWHERE = """
import polars as pl
from {package}.function_modifiers import mutate
from {target} import spend


@mutate(spend)
def _clip(x: pl.Series) -> pl.Series:
    return x.clip(upper_bound=1.0)
"""


@pytest.mark.parametrize(
    ("package", "error"), [("hamilton", Exception), ("hamilton_fast", ModifierError)]
)
def test_mutate_of_a_function_in_another_module_fails_at_import(
    tmp_path: Path, package: str, error: type[Exception]
) -> None:
    target = load_module(tmp_path, MUTATE_TARGET)
    source = MUTATE_ELSEWHERE.format(package=package, target=target.__name__)
    with pytest.raises(error, match="same module") as info:
        load_module(tmp_path, source)
    if package == "hamilton_fast":
        message = str(info.value)
        assert "@mutate on `_clip`" in message
        assert f"it transforms `spend` from module `{target.__name__}`" in message
        assert "\nHint: " in message


# --- Expr pipes: traced into one query ----------------------------------------------------------

EXPR_PIPES = """
import polars as pl
from hamilton_fast.function_modifiers import mutate, pipe_input, pipe_output, source, step, value


def _scale(x: pl.Expr, factor: float) -> pl.Expr:
    return x * factor


def _lag(x: pl.Expr, periods: int, by: pl.Expr) -> pl.Expr:
    return x.shift(periods).over(by)


def _fill(x: pl.Expr) -> pl.Expr:
    return x.fill_null(0.0)


@pipe_input(step(_scale, factor=2.0), step(_lag, value(1), by=source("store")), step(_fill))
def lagged_spend(spend: pl.Expr) -> pl.Expr:
    return spend + 1.0


@pipe_output(step(_lag, periods=2, by=source("store")), step(_fill).named("filled"))
def spend_share(spend: pl.Expr, lagged_spend: pl.Expr) -> pl.Expr:
    return spend / (spend + lagged_spend)


def store_total(spend_share: pl.Expr, store: pl.Expr) -> pl.Expr:
    return spend_share.sum().over(store)


@mutate(store_total, factor=value(100.0))
def _as_percent(x: pl.Expr, factor: float) -> pl.Expr:
    return x * factor
"""

STORES = pl.DataFrame(
    {
        "spend": [3.0, 1.5, 8.0, 20.0, 7.25, 0.5, 4.0, 9.5],
        "store": [1, 1, 1, 2, 2, 2, 2, 1],
    }
)


def expected_expr_pipes() -> pl.DataFrame:
    """The same computation, written by hand as eager Polars, one step at a time."""
    df = STORES
    df = df.with_columns((pl.col("spend") * 2.0).alias("lag_in"))
    df = df.with_columns(pl.col("lag_in").shift(1).over("store").alias("lagged"))
    df = df.with_columns((pl.col("lagged").fill_null(0.0) + 1.0).alias("lagged_spend"))
    df = df.with_columns(
        (pl.col("spend") / (pl.col("spend") + pl.col("lagged_spend"))).alias("share_raw")
    )
    df = df.with_columns(pl.col("share_raw").shift(2).over("store").alias("share_lag"))
    df = df.with_columns(pl.col("share_lag").fill_null(0.0).alias("spend_share"))
    df = df.with_columns(pl.col("spend_share").sum().over("store").alias("total_raw"))
    df = df.with_columns((pl.col("total_raw") * 100.0).alias("store_total"))
    return df.select("lagged_spend", "spend_share", "store_total", "share_raw")


def test_expr_pipes_compile_into_one_query(tmp_path: Path) -> None:
    module = load_module(tmp_path, EXPR_PIPES)
    dr = driver.Builder().with_modules(module).build()
    inputs = {"spend": STORES["spend"], "store": STORES["store"]}
    outputs = ["lagged_spend", "spend_share", "store_total", "spend_share.raw"]
    plan = dr.explain(outputs, inputs=inputs)
    assert "python_udf" not in plan
    assert "Opaque nodes: none" in plan
    assert "1 final query" in plan
    actual = dr.execute(outputs, inputs=inputs)
    expected = expected_expr_pipes().rename({"share_raw": "spend_share.raw"})
    assert_frame_equal(actual, expected, rel_tol=1e-9, abs_tol=1e-9)
    names = {v.name for v in dr.list_available_variables()}
    assert {
        "lagged_spend.with_scale",
        "lagged_spend.with_lag",
        "lagged_spend.with_fill",
        "spend_share.with_lag",
        "spend_share.filled",
        "store_total.raw",
        "store_total.with_as_percent",
    } <= names


# --- errors -----------------------------------------------------------------------------------


def _no_params() -> float:
    return 1.0


def _unannotated(x):  # type: ignore[no-untyped-def]  # noqa: ANN001, ANN202
    return x


def _one(x: float) -> float:
    return x


def _two(x: float, k: float) -> float:
    return x * k


def _positional_only(x: float, /) -> float:
    return x


def _target(a: float) -> float:
    return a


DECORATION_ERRORS: list[tuple[str, Callable[[], Any], str]] = [
    (
        "no-parameters",
        lambda: pipe_input(step(_no_params))(_target),
        r"@pipe_input on `_target` \(.*test_decorators_pipes.py:\d+\): step\(_no_params\): "
        r"`_no_params` has no parameters",
    ),
    (
        "unannotated",
        lambda: pipe_output(step(_unannotated))(_target),
        r"@pipe_output on `_target` .*`_unannotated` has no type annotation for `x`, the return",
    ),
    (
        "too-many-arguments",
        lambda: pipe_input(step(_one, 2.0))(_target),
        r"step\(_one, 2.0\): the arguments do not fit `_one\(x\)`"
        r"(.|\n)*Hint: `_one` takes only the piped value",
    ),
    (
        "unknown-keyword",
        lambda: pipe_input(step(_two, factor=2.0))(_target),
        r"step\(_two, factor=2.0\): the arguments do not fit(.|\n)*"
        r"Hint: pass only the parameters after `x`, e.g. step\(_two, k=value\(...\)\)",
    ),
    (
        "positional-only",
        lambda: pipe_input(step(_positional_only))(_target),
        r"`_positional_only` has parameters that cannot be passed by keyword: `x, /`",
    ),
    (
        "string-step",
        lambda: step("_one"),  # type: ignore[arg-type]
        r"step\(\) takes a function, got '_one'",
    ),
    ("name-kwarg", lambda: step(_two, _name="x"), r"`_name` cannot be passed"),
    (
        "namespace-twice",
        lambda: pipe_input(step(_one).named("n", namespace="x"), namespace="y")(_target),
        r"step\(_one\) sets its own namespace, and the decorator sets namespace='y'",
    ),
    (
        "namespace-twice-output",
        lambda: pipe_output(step(_one).named("n", namespace="x"), namespace="y")(_target),
        r"@pipe_output on `_target`.*sets its own namespace",
    ),
    (
        "on-input-list",
        lambda: pipe_input(step(_one), on_input=["a"])(_target),  # type: ignore[arg-type]
        r"@pipe_input on `_target` .*: on_input=\['a'\]: only one parameter can be piped"
        r"(.|\n)*Hint: on_input=\"a\"",
    ),
    (
        "on-input-unknown",
        lambda: pipe_input(step(_one), on_input="b")(_target),
        r"on_input='b' is not a parameter of `_target`(.|\n)*Hint: the parameters are `a`",
    ),
    (
        "on-output-ellipsis",
        lambda: pipe_output(step(_one), on_output=...)(_target),
        r"@pipe_output on `_target` .*: on_output=\.\.\. cannot select outputs",
    ),
    (
        "on-output-twice",
        lambda: pipe_output(step(_one).on_output("a"), on_output="b")(_target),
        r"the target can be set on the decorator or on the steps, not both",
    ),
    (
        "collapse",
        lambda: pipe_output(step(_one), collapse=True)(_target),
        r"@pipe_output on `_target` .*: collapse=True \(one node for all steps\) is not supported",
    ),
    (
        "not-a-step",
        lambda: pipe_input(_one)(_target),  # type: ignore[arg-type]
        r"@pipe_input on `_target` .*: argument 1 is <function _one .*>, not a step",
    ),
    (
        "mutate-string",
        lambda: mutate("spend")(_two),  # type: ignore[arg-type]
        r"@mutate on `_two` .*: 'spend' is not a function to transform",
    ),
    (
        "mutate-nothing",
        lambda: mutate()(_two),
        r"@mutate on `_two` .*: it names no function to transform",
    ),
    (
        "mutate-a-step",
        lambda: mutate(step(_one))(_two),
        r"@mutate on `_two` .*: step\(_one\) is not a function to transform",
    ),
    (
        "on-output-not-names",
        lambda: pipe_output(step(_one), on_output=3)(_target),  # type: ignore[arg-type]
        r"@pipe_output on `_target` .*: on_output=3 must be a node name",
    ),
    (
        "apply-to-string",
        lambda: apply_to("spend"),  # type: ignore[arg-type]
        r"apply_to\(\) takes the function to mutate",
    ),
    (
        "mutate-bad-kwargs",
        lambda: mutate(_target, factor=2.0)(_two),
        r"@mutate on `_two` .*step\(_two, factor=2.0\): the arguments do not fit",
    ),
    (
        "when-in-not-a-list",
        lambda: step(_one).when_in(mode="big"),
        r"step\(_one\).when_in\(mode='big'\): the value must be a list of options",
    ),
]


@pytest.mark.parametrize(
    ("make", "pattern"),
    [pytest.param(make, pattern, id=case) for case, make, pattern in DECORATION_ERRORS],
)
def test_bad_arguments_fail_when_decorating(make: Callable[[], Any], pattern: str) -> None:
    with pytest.raises(ModifierError, match=pattern) as info:
        make()
    assert "\nHint: " in str(info.value)


BUILD_ERRORS = """
import polars as pl
from hamilton_fast.function_modifiers import (
    extract_columns,
    inject,
    parameterize,
    pipe_input,
    pipe_output,
    source,
    step,
    value,
)


def _count(x: pl.Series) -> int:
    return x.len()


def _add_one(x: pl.Series) -> pl.Series:
    return x + 1


@pipe_input(step(_count), step(_add_one))
def mismatched(raw: pl.Series) -> pl.Series:
    return raw


@pipe_input(step(_count))
def wrong_end(raw: pl.Series) -> pl.Series:
    return raw


@pipe_output(step(_count), step(_add_one))
def wrong_output(raw: pl.Series) -> pl.Series:
    return raw


@pipe_input(step(_add_one))
@inject(raw=source("other"))
def filled_elsewhere(raw: pl.Series) -> pl.Series:
    return raw


@pipe_input(step(_add_one))
@parameterize(p1={"k": value(1)}, p2={"k": value(2)})
def expanded(raw: pl.Series, k: int) -> pl.Series:
    return raw * k


@pipe_output(step(_add_one), on_output="nope")
def unknown_output(raw: pl.Series) -> pl.Series:
    return raw
"""


def test_build_errors_are_collected_with_locations(tmp_path: Path) -> None:
    module = load_module(tmp_path, BUILD_ERRORS)
    with pytest.raises(GraphError) as info:
        driver.Builder().with_modules(module).build()
    message = str(info.value)
    assert message.startswith("6 problems found")
    for expected in [
        "@pipe_input on `mismatched`: step(_add_one) takes `x: pl.Series` first, but the value "
        "piped into it, `mismatched.with_count` (returned by step(_count)), is int",
        "Hint: annotate `x` of `_add_one` as int, or reorder the steps",
        "@pipe_input on `wrong_end`: the last step, `wrong_end.with_count`, returns int, but "
        "`wrong_end` takes `raw: pl.Series`",
        "@pipe_output on `wrong_output`: step(_add_one) takes `x: pl.Series` first, but the value "
        "piped into it, `wrong_output.with_count`",
        "@pipe_input on `filled_elsewhere`: the first parameter, `raw`, is not a dependency",
        "@pipe_input on `expanded`: it is combined with @parameterize",
        "@pipe_output on `unknown_output`: on_output names `nope`, which this function does not "
        "create\n  function: unknown_output at ",
    ]:
        assert expected in message
    line = module.mismatched.__code__.co_firstlineno
    assert f"  function: mismatched at {module.__file__}:{line}\n  step: _add_one at " in message


PIPE_INPUT_WITH_PARAMETERIZE = """
import polars as pl
from hamilton.function_modifiers import parameterize, pipe_input, step, value


def _add_one(x: pl.Series) -> pl.Series:
    return x + 1


@pipe_input(step(_add_one))
@parameterize(p1={"k": value(1)}, p2={"k": value(2)})
def expanded(raw: pl.Series, k: int) -> pl.Series:
    return raw * k
"""


def test_pipe_input_with_an_expander_is_rejected_like_hamilton(tmp_path: Path) -> None:
    their_module, our_module = twins(tmp_path, PIPE_INPUT_WITH_PARAMETERIZE)
    with pytest.raises(ValueError, match="more than one node"):
        hamilton_dict_driver(their_module, {})
    with pytest.raises(GraphError, match="it is combined with @parameterize"):
        fast_dict_driver(our_module, {})


def test_config_key_for_configuration_argument_must_exist(tmp_path: Path) -> None:
    source = """
import polars as pl
from hamilton_fast.function_modifiers import configuration, pipe_input, step


def _scale(x: pl.Series, factor: float) -> pl.Series:
    return x * factor


@pipe_input(step(_scale, factor=configuration("factor")))
def scaled(raw: pl.Series) -> pl.Series:
    return raw
"""
    module = load_module(tmp_path, source)
    with pytest.raises(GraphError, match="fills `factor` from config key `factor`"):
        driver.Builder().with_modules(module).build()
    dr = driver.Builder().with_modules(module).with_config({"factor": 4.0}).build()
    result = dr.execute(["scaled"], inputs={"raw": RAW})
    assert_series_equal(result["scaled"], RAW * 4.0, check_names=False)


@pytest.mark.parametrize("template", [PIPE_INPUT, PIPE_OUTPUT, MUTATE], ids=["in", "out", "mutate"])
def test_generated_node_functions_pickle(tmp_path: Path, template: str) -> None:
    _, module = twins(tmp_path, template)
    dr = fast_dict_driver(module, {"mode": "big"})
    generated = [n for n in dr.graph.nodes.values() if "." in n.name or n.name.startswith("with")]
    assert generated
    for node in generated:
        if node.fn is not None:
            assert pickle.loads(pickle.dumps(node.fn)) == node.fn, node.name
