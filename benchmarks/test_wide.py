"""The wide workload: a generated DAG of 200 mixed column operations over ten inputs.

Group `execute`: one `execute` of all 200 nodes on an already built driver (hamilton_fast,
Apache Hamilton with `pl.Series` nodes) against the hand-written layered Polars query.
Group `build`: building a driver from a generated module (module import not timed).
Every engine's answer is checked against the hand-written query before it is timed.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from benchmarks.engines import (
    BUILD_ENGINES,
    BUILDERS,
    EXECUTE_ENGINES,
    HAMILTON_FAST,
    HANDWRITTEN,
    assert_same_frame,
    hamilton_fast_missing,
    make_runner,
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


@dataclass(frozen=True)
class WideCase:
    spec: WideSpec
    module: types.ModuleType
    inputs: dict[str, pl.Series]
    outputs: list[str]

    def handwritten(self) -> pl.DataFrame:
        return handwritten_wide(self.spec, self.inputs, self.outputs)


def _skip_if_unavailable(engine: str) -> None:
    if engine == HAMILTON_FAST and (reason := hamilton_fast_missing()):
        pytest.skip(reason)


@pytest.fixture(scope="module")
def wide_case(bench_size: BenchSize, tmp_path_factory: pytest.TempPathFactory) -> WideCase:
    spec = make_wide_spec(bench_size.wide_nodes, seed=WIDE_SPEC_SEED)
    module = write_wide_module(
        spec, tmp_path_factory.mktemp("wide"), f"bench_wide_{bench_size.wide_nodes}_series"
    )
    inputs = make_wide_inputs(spec, bench_size.wide_rows, seed=WIDE_INPUT_SEED)
    return WideCase(spec, module, inputs, wide_outputs(spec))


@pytest.fixture(scope="module")
def wide_expected(wide_case: WideCase) -> pl.DataFrame:
    return wide_case.handwritten()


@pytest.mark.benchmark(group="execute")
@pytest.mark.parametrize("engine", EXECUTE_ENGINES)
def test_execute_wide(
    benchmark, bench_size: BenchSize, wide_case: WideCase, wide_expected: pl.DataFrame, engine: str
) -> None:
    _skip_if_unavailable(engine)
    run = make_runner(
        engine, wide_case.module, wide_case.outputs, wide_case.inputs, wide_case.handwritten
    )
    if engine == HANDWRITTEN:
        # The reference itself is checked against an eager node-at-a-time evaluation.
        oracle = naive_wide(wide_case.spec, wide_case.inputs, wide_case.outputs)
        assert_same_frame(wide_expected, oracle)
    else:
        assert_same_frame(run(), wide_expected)

    benchmark.extra_info.update(workload=bench_size.wide_label, engine=engine)
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
