"""The generated workloads keep their contract: seeded, well-formed, finite, and every flavor of
module computes what the hand-written query computes (Apache Hamilton is the oracle runner).
The forecast workload's three implementations agree, before and after the rerun edit, and the
edit touches exactly the nodes the rerun benchmark expects to be recomputed."""

from __future__ import annotations

import collections
import doctest
import inspect
import math

import polars as pl
import pytest

from benchmarks import report, scale
from benchmarks.engines import assert_same_frame, build_apache_hamilton
from benchmarks.workloads import forecast as forecast_module
from benchmarks.workloads import forecast_features, forecast_pandas
from benchmarks.workloads import wide as wide_module
from benchmarks.workloads.forecast import (
    EDITED_NODE,
    EDITED_NODES,
    FORECAST_FEATURES,
    FORECAST_OUTPUTS,
    handwritten_forecast,
    make_panel,
    normalize_forecast,
    panel_inputs,
    write_forecast_module,
)
from benchmarks.workloads.wide import (
    DEMEAN_OP,
    INPUT_LIMIT,
    OPS,
    VALUE_LIMIT,
    descendants,
    handwritten_wide,
    make_chain_spec,
    make_trivial_chain_spec,
    make_wide_inputs,
    make_wide_spec,
    naive_wide,
    negate_node,
    pick_edit_node,
    wide_outputs,
    write_wide_module,
)


def test_spec_is_seeded() -> None:
    assert make_wide_spec(50, seed=3) == make_wide_spec(50, seed=3)
    assert make_wide_spec(50, seed=3) != make_wide_spec(50, seed=4)


def test_spec_is_well_formed() -> None:
    spec = make_wide_spec(1_000, seed=1, n_inputs=10)
    seen = set(spec.input_names)
    for node in spec.nodes:
        assert 1 <= len(node.deps) <= 2
        assert len(set(node.deps)) == len(node.deps)
        assert set(node.deps) <= seen, f"{node.name} depends on a later node"
        seen.add(node.name)
    counts = collections.Counter(node.op for node in spec.nodes)
    assert set(counts) == set(OPS)
    assert 0.02 <= counts[DEMEAN_OP] / len(spec.nodes) <= 0.09
    assert spec.input_names == tuple(f"c{i}" for i in range(10))


def test_inputs_are_float64_with_some_nulls() -> None:
    spec = make_wide_spec(5, seed=0, n_inputs=3)
    inputs = make_wide_inputs(spec, 5_000, seed=1)
    assert list(inputs) == ["c0", "c1", "c2"]
    for series in inputs.values():
        assert series.dtype == pl.Float64
        assert 0 < series.null_count() < 200
        assert not series.is_nan().any()
    assert make_wide_inputs(spec, 100, seed=1)["c0"].equals(
        make_wide_inputs(spec, 100, seed=1)["c0"]
    )


@pytest.mark.parametrize("make_spec", [make_wide_spec, make_chain_spec], ids=["wide", "chain"])
def test_long_dataflows_stay_finite(make_spec) -> None:
    spec = make_spec(1_000, seed=5)
    inputs = make_wide_inputs(spec, 2_000, seed=6)
    result = handwritten_wide(spec, inputs, wide_outputs(spec))
    largest = result.select(pl.all().abs().max()).max_horizontal().item()
    assert math.isfinite(largest)
    assert largest <= VALUE_LIMIT * (1 + 1e-9)
    assert not result.select(pl.any_horizontal(pl.all().is_nan().any())).item()


def test_handwritten_matches_node_at_a_time_oracle() -> None:
    spec = make_wide_spec(120, seed=8, n_inputs=5)
    inputs = make_wide_inputs(spec, 500, seed=9)
    outputs = wide_outputs(spec)[::-1]
    assert_same_frame(handwritten_wide(spec, inputs, outputs), naive_wide(spec, inputs, outputs))


@pytest.fixture(scope="module")
def small_case(tmp_path_factory: pytest.TempPathFactory):
    spec = make_wide_spec(60, seed=12, n_inputs=4)
    inputs = make_wide_inputs(spec, 400, seed=13)
    outputs = wide_outputs(spec)
    expected = handwritten_wide(spec, inputs, outputs)
    return spec, inputs, outputs, expected, tmp_path_factory.mktemp("flavors")


def test_series_module_under_apache_hamilton(small_case) -> None:
    spec, inputs, outputs, expected, directory = small_case
    module = write_wide_module(spec, directory, "flavor_series_60")
    assert_same_frame(build_apache_hamilton(module).execute(outputs, inputs=inputs), expected)


def test_expr_module_under_apache_hamilton(small_case) -> None:
    from hamilton import base, driver

    spec, inputs, outputs, expected, directory = small_case
    module = write_wide_module(spec, directory, "flavor_expr_60", flavor="expr")
    adapter = base.SimplePythonGraphAdapter(base.DictResult())
    dr = driver.Builder().with_modules(module).with_adapters(adapter).build()
    exprs = dr.execute(outputs, inputs={name: pl.col(name) for name in spec.input_names})
    assert_same_frame(pl.LazyFrame(inputs).select(**exprs).collect(), expected)


def test_pandas_module_under_apache_hamilton(small_case) -> None:
    from hamilton import base, driver

    spec, inputs, outputs, expected, directory = small_case
    module = write_wide_module(spec, directory, "flavor_pandas_60", flavor="pandas")
    adapter = base.SimplePythonGraphAdapter(base.PandasDataFrameResult())
    dr = driver.Builder().with_modules(module).with_adapters(adapter).build()
    result = dr.execute(outputs, inputs={name: s.to_pandas() for name, s in inputs.items()})
    assert_same_frame(pl.from_pandas(result), expected)


def test_unknown_flavor_names_the_choices(tmp_path) -> None:
    with pytest.raises(ValueError, match="Hint: use one of series, expr, pandas"):
        write_wide_module(make_wide_spec(2, seed=0), tmp_path, "flavor_bad", flavor="numpy")


def test_trivial_chain_stays_finite_without_clipping() -> None:
    spec = make_trivial_chain_spec(1_000)
    assert all(node.clip_limit is None for node in spec.nodes)
    inputs = make_wide_inputs(spec, 200, seed=2)
    result = handwritten_wide(spec, inputs, [spec.nodes[-1].name])
    assert result.select(pl.all().abs().max()).item() <= 2 * (INPUT_LIMIT + 1)


def test_negated_node_flips_only_its_descendants() -> None:
    spec = make_wide_spec(120, seed=8, n_inputs=5)
    name = pick_edit_node(spec)
    edited = negate_node(spec, name)
    inputs = make_wide_inputs(spec, 300, seed=9)
    outputs = wide_outputs(spec)
    before, after = (
        handwritten_wide(spec, inputs, outputs),
        handwritten_wide(edited, inputs, outputs),
    )
    changed = {c for c in outputs if not before.get_column(c).equals(after.get_column(c))}
    assert name in changed
    assert changed <= descendants(spec, name)
    assert_same_frame(after, naive_wide(edited, inputs, outputs))
    assert negate_node(edited, name) == spec


def _module_functions(module) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(fn)
        for name, fn in vars(module).items()
        if inspect.isfunction(fn) and fn.__module__ == module.__name__
    }


@pytest.mark.parametrize("module", [forecast_features, forecast_pandas], ids=["expr", "pandas"])
def test_forecast_modules_hold_exactly_the_features(module) -> None:
    functions = _module_functions(module)
    assert list(functions) == list(FORECAST_FEATURES)
    expr = _module_functions(forecast_features)
    assert {n: list(s.parameters) for n, s in functions.items()} == {
        n: list(s.parameters) for n, s in expr.items()
    }


def test_forecast_edit_recomputes_the_declared_nodes() -> None:
    parameters = {n: set(s.parameters) for n, s in _module_functions(forecast_features).items()}
    downstream = {EDITED_NODE}
    for name, needs in parameters.items():  # the module is written in dependency order
        if needs & downstream:
            downstream.add(name)
    assert downstream == set(EDITED_NODES)


def test_panel_is_seeded_sorted_and_positive() -> None:
    panel = make_panel(30, 70, seed=4)
    assert panel.equals(make_panel(30, 70, seed=4))
    assert not panel.equals(make_panel(30, 70, seed=5))
    assert panel.equals(panel.sort("series_id", "week"))
    assert panel.null_count().sum_horizontal().item() == 0
    assert panel.select((pl.col("price") > 0).all(), (pl.col("demand") > 0).all()).row(0) == (
        True,
        True,
    )
    assert set(panel.get_column("promo").unique()) == {0, 1}
    assert panel.group_by("series_id").len().get_column("len").unique().to_list() == [70]


@pytest.mark.parametrize("edited", [False, True], ids=["original", "edited"])
def test_handwritten_forecast_matches_the_pandas_module(tmp_path, edited: bool) -> None:
    from hamilton import base, driver

    panel = make_panel(12, 110, seed=6)
    module = write_forecast_module(tmp_path, f"forecast_pandas_{edited}", "pandas", edited=edited)
    adapter = base.SimplePythonGraphAdapter(base.PandasDataFrameResult())
    dr = driver.Builder().with_modules(module).with_adapters(adapter).build()
    inputs = {name: s.to_pandas() for name, s in panel_inputs(panel).items()}
    by_pandas = pl.from_pandas(dr.execute(FORECAST_OUTPUTS, inputs=inputs))
    expected = handwritten_forecast(panel, FORECAST_OUTPUTS, edited=edited)
    assert_same_frame(normalize_forecast(by_pandas), normalize_forecast(expected))
    assert expected.get_column("forecast").is_finite().all()


def test_forecast_edit_changes_the_answer() -> None:
    panel = make_panel(5, 60, seed=7)
    before = handwritten_forecast(panel, FORECAST_OUTPUTS)
    after = handwritten_forecast(panel, FORECAST_OUTPUTS, edited=True)
    changed = {c for c in FORECAST_OUTPUTS if not before.get_column(c).equals(after.get_column(c))}
    # demand_trend is recomputed but keeps its values: where the edit nulls the 4-week mean,
    # the 13-week mean it divides by is null already.
    assert {EDITED_NODE, "forecast"} <= changed <= set(EDITED_NODES)


@pytest.mark.parametrize(
    "module",
    [wide_module, forecast_module, report, scale],
    ids=lambda m: m.__name__.rsplit(".", 1)[-1],
)
def test_doctests(module) -> None:
    failures, tried = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert tried > 0
    assert failures == 0
