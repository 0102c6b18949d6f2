"""The forecast workload: about 40 demand-forecasting features on a weekly panel.

Group `execute`: one `execute` of every feature and the forecast on an already built driver
(2,000 series x 260 weeks at full size): hamilton_fast on the `pl.Expr` module, Apache Hamilton
on the pandas module, against the hand-written Polars query. Every engine's answer is checked
against the hand-written one (rows aligned by series and week, numbers compared as Float64
within the float tolerance), and the hand-written one against Apache Hamilton's pandas answer,
an implementation written independently of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from benchmarks.cases import FORECAST_ENGINES, ForecastCase, forecast_case
from benchmarks.engines import APACHE_HAMILTON_PANDAS, HAMILTON_FAST, HANDWRITTEN
from benchmarks.engines import hamilton_fast_missing as _missing

if TYPE_CHECKING:
    from benchmarks.sizes import BenchSize


@pytest.fixture(scope="module")
def case(bench_size: BenchSize) -> ForecastCase:
    return forecast_case(bench_size.forecast)


@pytest.mark.benchmark(group="execute")
@pytest.mark.parametrize("engine", FORECAST_ENGINES)
def test_execute_forecast(
    benchmark, bench_size: BenchSize, case: ForecastCase, engine: str
) -> None:
    if engine == HAMILTON_FAST and (reason := _missing()):
        pytest.skip(reason)
    run = case.runner(engine)
    if engine == HANDWRITTEN:
        case.check(case.runner(APACHE_HAMILTON_PANDAS)())
    else:
        case.check(run())

    benchmark.extra_info.update(workload=case.label, engine=engine)
    benchmark.pedantic(run, rounds=bench_size.execute_rounds, warmup_rounds=1)
