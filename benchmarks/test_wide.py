"""The wide workload: generated DAGs of mixed column operations over ten inputs.

Group `execute`: one `execute` of every node on an already built driver, for two shapes (200
nodes x 1,000,000 rows and 1,000 nodes x 100,000 rows at full size): hamilton_fast, Apache
Hamilton with `pl.Series` nodes and, as a second anchor, with `pd.Series` nodes, against the
hand-written layered Polars query.
Group `build`: building a driver from a generated module (module import not timed).
Group `plan`: hamilton_fast's build plus its first `execute` on 64 rows, which plans the query:
the fixed cost before any data is touched (Apache Hamilton does no planning, so its `build` is
the comparison).
Every engine's answer is checked against the hand-written query before it is timed.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import pytest

from benchmarks.cases import WideCase, make_wide_case
from benchmarks.engines import (
    BUILD_ENGINES,
    BUILDERS,
    HAMILTON_FAST,
    HANDWRITTEN,
    WIDE_ENGINES,
    assert_same_frame,
    build_hamilton_fast,
    hamilton_fast_missing,
)
from benchmarks.sizes import WIDE_INPUT_SEED, WIDE_SPEC_SEED, current_size
from benchmarks.workloads.wide import (
    WideSpec,
    handwritten_wide,
    make_wide_inputs,
    make_wide_spec,
    naive_wide,
    wide_outputs,
    write_wide_module,
)

if TYPE_CHECKING:
    import types
    from collections.abc import Callable

    import polars as pl

    from benchmarks.sizes import BenchSize

BUILD_CHECK_ROWS = 64
WIDE_SHAPES = ("wide", "wide_large")


def _skip_if_unavailable(engine: str) -> None:
    if engine == HAMILTON_FAST and (reason := hamilton_fast_missing()):
        pytest.skip(reason)


@pytest.fixture(scope="module")
def wide_cases(
    bench_size: BenchSize, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], WideCase]:
    """Cases by shape name, each made once per test module (inputs and modules are shared by
    the engines, so every engine reads the same data)."""
    directory = tmp_path_factory.mktemp("wide")
    shapes = {"wide": bench_size.wide, "wide_large": bench_size.wide_large}

    @functools.cache
    def case(shape: str) -> WideCase:
        return make_wide_case(shapes[shape], directory, "bench_wide")

    return case


@pytest.mark.benchmark(group="execute")
@pytest.mark.parametrize("shape", WIDE_SHAPES)
@pytest.mark.parametrize("engine", WIDE_ENGINES)
def test_execute_wide(
    benchmark,
    bench_size: BenchSize,
    wide_cases: Callable[[str], WideCase],
    engine: str,
    shape: str,
) -> None:
    _skip_if_unavailable(engine)
    case = wide_cases(shape)
    run = case.runner(engine)
    if engine == HANDWRITTEN:
        # The reference itself is checked against an eager node-at-a-time evaluation.
        assert_same_frame(case.expected(), naive_wide(case.spec, case.inputs, case.outputs))
    else:
        case.check(run())

    benchmark.extra_info.update(workload=case.label, engine=engine)
    benchmark.pedantic(run, rounds=bench_size.execute_rounds, warmup_rounds=1)


@pytest.fixture(scope="module")
def build_module(
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[int], tuple[WideSpec, types.ModuleType]]:
    """Generated modules by node count, written and imported once per test module."""
    directory = tmp_path_factory.mktemp("wide_build")

    @functools.cache
    def module_with(n_nodes: int) -> tuple[WideSpec, types.ModuleType]:
        spec = make_wide_spec(n_nodes, seed=WIDE_SPEC_SEED + n_nodes)
        return spec, write_wide_module(spec, directory, f"bench_wide_build_{n_nodes}")

    return module_with


@pytest.mark.benchmark(group="build")
@pytest.mark.parametrize("n_nodes", current_size().build_nodes, ids=lambda n: f"{n}-nodes")
@pytest.mark.parametrize("engine", BUILD_ENGINES)
def test_build_wide(
    benchmark,
    bench_size: BenchSize,
    build_module: Callable[[int], tuple[WideSpec, types.ModuleType]],
    engine: str,
    n_nodes: int,
) -> None:
    _skip_if_unavailable(engine)
    spec, module = build_module(n_nodes)
    build = BUILDERS[engine]

    # A driver that builds fast but answers wrong is no result: check it on a few rows first.
    inputs = make_wide_inputs(spec, BUILD_CHECK_ROWS, seed=WIDE_INPUT_SEED)
    outputs = wide_outputs(spec)
    assert_same_frame(
        build(module).execute(outputs, inputs=inputs), handwritten_wide(spec, inputs, outputs)
    )

    benchmark.extra_info.update(workload=f"build wide {n_nodes} nodes", engine=engine)
    benchmark.pedantic(build, args=(module,), rounds=bench_size.build_rounds, warmup_rounds=1)


@pytest.mark.benchmark(group="plan")
@pytest.mark.parametrize("n_nodes", current_size().build_nodes, ids=lambda n: f"{n}-nodes")
def test_plan_wide(
    benchmark,
    bench_size: BenchSize,
    build_module: Callable[[int], tuple[WideSpec, types.ModuleType]],
    n_nodes: int,
) -> None:
    """hamilton_fast: build, then the first `execute` on 64 rows (planning included)."""
    _skip_if_unavailable(HAMILTON_FAST)
    spec, module = build_module(n_nodes)
    inputs = make_wide_inputs(spec, BUILD_CHECK_ROWS, seed=WIDE_INPUT_SEED)
    outputs = wide_outputs(spec)

    def build_and_plan() -> pl.DataFrame:
        return build_hamilton_fast(module).execute(outputs, inputs=inputs)

    assert_same_frame(build_and_plan(), handwritten_wide(spec, inputs, outputs))

    benchmark.extra_info.update(
        workload=f"build wide {n_nodes} nodes", engine=HAMILTON_FAST, what="build + plan"
    )
    benchmark.pedantic(build_and_plan, rounds=bench_size.build_rounds, warmup_rounds=1)
