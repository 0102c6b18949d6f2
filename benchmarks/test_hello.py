"""Hamilton's hello-world dataflow on 1,000 rows: the fixed cost of one `execute`.

Group `execute`: latency of one `execute` on an already built driver (hamilton_fast, Apache
Hamilton) against a bare Polars `with_columns`. Group `build`: building the driver.
Every engine's answer is checked before it is timed.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import polars as pl
import pytest

from benchmarks.engines import (
    BUILD_ENGINES,
    BUILDERS,
    EXECUTE_ENGINES,
    HAMILTON_FAST,
    assert_same_frame,
    hamilton_fast_missing,
    make_runner,
)
from benchmarks.sizes import HELLO_INPUT_SEED
from benchmarks.workloads import hello
from benchmarks.workloads.hello_reference import (
    HELLO_OUTPUTS,
    handwritten_hello,
    make_hello_inputs,
)

if TYPE_CHECKING:
    from benchmarks.sizes import BenchSize


def _skip_if_unavailable(engine: str) -> None:
    if engine == HAMILTON_FAST and (reason := hamilton_fast_missing()):
        pytest.skip(reason)


def _hello_by_calls(inputs: dict[str, pl.Series]) -> pl.DataFrame:
    """The oracle: the module's own functions called one after another, in Python."""
    spend, signups = inputs["spend"], inputs["signups"]
    zero_mean = hello.spend_zero_mean(spend, hello.spend_mean(spend))
    return pl.DataFrame(
        {
            "spend": spend,
            "signups": signups,
            "avg_3wk_spend": hello.avg_3wk_spend(spend),
            "spend_per_signup": hello.spend_per_signup(spend, signups),
            "spend_zero_mean_unit_variance": hello.spend_zero_mean_unit_variance(
                zero_mean, hello.spend_std_dev(spend)
            ),
        }
    ).select(HELLO_OUTPUTS)


@pytest.fixture(scope="module")
def hello_inputs(bench_size: BenchSize) -> dict[str, pl.Series]:
    return make_hello_inputs(bench_size.hello_rows, seed=HELLO_INPUT_SEED)


@pytest.mark.benchmark(group="execute")
@pytest.mark.parametrize("engine", EXECUTE_ENGINES)
def test_execute_hello(
    benchmark, bench_size: BenchSize, hello_inputs: dict[str, pl.Series], engine: str
) -> None:
    _skip_if_unavailable(engine)
    handwritten = functools.partial(handwritten_hello, hello_inputs, HELLO_OUTPUTS)
    run = make_runner(engine, hello, HELLO_OUTPUTS, hello_inputs, handwritten)
    assert_same_frame(run(), _hello_by_calls(hello_inputs))

    benchmark.extra_info.update(
        workload=f"hello world {bench_size.hello_rows:,} rows", engine=engine
    )
    benchmark(run)


@pytest.mark.benchmark(group="build")
@pytest.mark.parametrize("engine", BUILD_ENGINES)
def test_build_hello(benchmark, engine: str) -> None:
    _skip_if_unavailable(engine)
    build = BUILDERS[engine]
    benchmark.extra_info.update(workload="build hello world", engine=engine)
    benchmark(build, hello)
