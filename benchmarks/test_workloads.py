"""The generated workloads keep their contract: seeded, well-formed, finite, and every flavor of
module computes what the hand-written query computes (Apache Hamilton is the oracle runner)."""

from __future__ import annotations

import collections
import math

import polars as pl
import pytest

from benchmarks.engines import assert_same_frame, build_apache_hamilton
from benchmarks.workloads.wide import (
    DEMEAN_OP,
    OPS,
    VALUE_LIMIT,
    handwritten_wide,
    make_chain_spec,
    make_wide_inputs,
    make_wide_spec,
    naive_wide,
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
