"""Per-node run-time overhead: one `execute` of a chain of trivial ops on 10 rows.

Group `execute`: a chain of N cheap elementwise ops (`x * 0.5`, `x + c1`, alternately), the last
node requested, for N = 100 and N = 1,000, on an already built driver. At 10 rows the arithmetic
is free, so `(t_1000 - t_100) / 900` is what each engine spends per node; `report.py` computes
it from the medians. hamilton_fast, Apache Hamilton (`pl.Series` nodes) and the hand-written
layered query (one `with_columns` per node, since every node is its own dependency level).
"""

from __future__ import annotations

import functools
import sys
from typing import TYPE_CHECKING

import pytest

from benchmarks.engines import (
    EXECUTE_ENGINES,
    HAMILTON_FAST,
    HANDWRITTEN,
    assert_same_frame,
    hamilton_fast_missing,
    make_runner,
)
from benchmarks.sizes import CHAIN_INPUT_SEED, current_size
from benchmarks.workloads.wide import (
    handwritten_wide,
    make_trivial_chain_spec,
    make_wide_inputs,
    naive_wide,
    write_wide_module,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from benchmarks.sizes import BenchSize

# Apache Hamilton walks the graph recursively, a few frames per node: a 1,000-node chain needs
# more than Python's default limit of 1,000 frames (it fails with RecursionError without this).
HAMILTON_RECURSION_LIMIT = 20_000


def chain_label(n_nodes: int, n_rows: int) -> str:
    return f"chain {n_nodes:,} nodes x {n_rows} rows"


@pytest.fixture(scope="module")
def deep_recursion() -> Iterator[None]:
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(max(previous, HAMILTON_RECURSION_LIMIT))
    yield
    sys.setrecursionlimit(previous)


@pytest.fixture(scope="module")
def chain_module(tmp_path_factory: pytest.TempPathFactory):
    directory = tmp_path_factory.mktemp("chain")

    @functools.cache
    def module_with(n_nodes: int):
        spec = make_trivial_chain_spec(n_nodes)
        return spec, write_wide_module(spec, directory, f"bench_chain_{n_nodes}")

    return module_with


@pytest.mark.benchmark(group="execute")
@pytest.mark.parametrize("n_nodes", current_size().chain_nodes, ids=lambda n: f"{n}-nodes")
@pytest.mark.parametrize("engine", EXECUTE_ENGINES)
def test_execute_chain(
    benchmark, bench_size: BenchSize, deep_recursion: None, chain_module, engine: str, n_nodes: int
) -> None:
    if engine == HAMILTON_FAST and (reason := hamilton_fast_missing()):
        pytest.skip(reason)
    spec, module = chain_module(n_nodes)
    inputs = make_wide_inputs(spec, bench_size.chain_rows, seed=CHAIN_INPUT_SEED)
    outputs = [spec.nodes[-1].name]
    handwritten = functools.partial(handwritten_wide, spec, inputs, outputs)
    run = make_runner(engine, module, outputs, inputs, handwritten)
    expected = handwritten()
    if engine == HANDWRITTEN:
        assert_same_frame(expected, naive_wide(spec, inputs, outputs))
    else:
        assert_same_frame(run(), expected)

    benchmark.extra_info.update(
        workload=chain_label(n_nodes, bench_size.chain_rows), engine=engine, chain_nodes=n_nodes
    )
    benchmark.pedantic(run, rounds=max(20, 10 * bench_size.execute_rounds), warmup_rounds=2)
