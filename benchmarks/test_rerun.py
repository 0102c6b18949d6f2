"""Cache benchmarks (group `cache`): cold, warm and edit-one-function reruns, and fingerprinting.

Scenarios are described in `benchmarks/rerun.py`. On the wide (200 nodes) and forecast
workloads at their execute sizes: the hand-written recompute, hamilton_fast without cache, cold
with an empty cache, warm rerun with nothing changed, rerun after editing one function in the
middle of the graph, and the hand-written query of only the nodes that edit recomputes (the
other columns already in memory), the edit's second reference. Apache Hamilton's
`.with_cache()` (pandas modules) runs on smaller inputs of the same workloads
(`hamilton_cache_*` in `sizes.py`), next to the same scenarios of hamilton_fast and the
hand-written query on those inputs.

Every scenario runs once, checked, before it is timed: results equal the hand-written answer
(of the edited dataflow, for the edit and the edited-only query) and the cache report agrees
with the scenario (no hit when cold, nothing computed when warm, exactly the edited node and
its descendants after the edit).

`test_fingerprint_frame` times `hamilton_fast.cache.fingerprint_frame` on a numeric frame (10
Float64 columns, 10,000,000 rows at full size), with and without nulls.
"""

from __future__ import annotations

import functools
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from benchmarks.cases import make_numeric_frame
from benchmarks.engines import HAMILTON_FAST, hamilton_fast_missing
from benchmarks.interleaved import settle
from benchmarks.rerun import (
    REFERENCES,
    RERUN_WORKLOADS,
    RerunCase,
    make_rerun_case,
    run_once,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from benchmarks.sizes import BenchSize

RERUN_PARAMS = [
    pytest.param(workload, scenario, id=f"{workload}-{scenario}")
    for workload, scenarios in RERUN_WORKLOADS.items()
    for scenario in scenarios
]


@pytest.fixture(scope="module")
def rerun_cases(bench_size: BenchSize) -> Iterator[Callable[[str], RerunCase]]:
    """Rerun cases by workload, made once per test module; their caches removed at the end."""
    root = Path(tempfile.mkdtemp(prefix="hf_bench_rerun_"))

    @functools.cache
    def case(workload: str) -> RerunCase:
        return make_rerun_case(workload, bench_size, root / workload)

    yield case
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.benchmark(group="cache")
@pytest.mark.parametrize(("workload", "scenario_name"), RERUN_PARAMS)
def test_rerun(
    benchmark,
    bench_size: BenchSize,
    rerun_cases: Callable[[str], RerunCase],
    workload: str,
    scenario_name: str,
) -> None:
    if scenario_name.startswith(HAMILTON_FAST) and (reason := hamilton_fast_missing()):
        pytest.skip(reason)
    case = rerun_cases(workload)
    scenario = case.scenarios((scenario_name,))[scenario_name]
    run_once(scenario)  # checked: right answer, and the cache did what the scenario says

    benchmark.extra_info.update(
        workload=case.label,
        engine=scenario_name,
        rerun=workload,
        reference=REFERENCES.get(scenario_name),
        edited_nodes=len(case.edited_nodes),
        nodes=case.n_nodes,
    )

    def setup() -> None:
        scenario.setup()
        settle()  # the previous round's garbage and dirty pages are not this round's cost

    # Each round's answer is released after its time is taken and before its teardown, as in
    # the interleaved rounds; pytest-benchmark itself would hold it until after the next
    # round's teardown. A cold round's teardown waits seconds for its writes, long enough for
    # the allocator to hand a held answer's pages, once freed, back to the system, so the next
    # round faulted 1.6 GB of fresh pages that back-to-back rounds without a cache reuse
    # (measured: 480 -> 640 ms a round; an uncached run paused as long between rounds slows
    # the same way). Releasing it inside the timed call instead would time the unmapping of a
    # warm answer's 200 files.
    answers: list[Any] = []

    def run() -> None:
        answers.append(scenario.run())

    def teardown() -> None:
        answers.clear()
        scenario.teardown()

    try:
        benchmark.pedantic(run, setup=setup, teardown=teardown, rounds=bench_size.cache_rounds)
    finally:
        scenario.teardown()  # --benchmark-disable runs setup and run, but not teardown
    benchmark.extra_info.update(scenario.extra)


@pytest.mark.benchmark(group="cache")
@pytest.mark.parametrize("null_fraction", [0.0, 0.01], ids=["no-nulls", "1pct-nulls"])
def test_fingerprint_frame(benchmark, bench_size: BenchSize, null_fraction: float) -> None:
    if reason := hamilton_fast_missing():
        pytest.skip(reason)
    from hamilton_fast.cache import fingerprint_frame

    rows, columns = bench_size.fingerprint_rows, bench_size.fingerprint_columns
    frame = make_numeric_frame(rows, columns, null_fraction)
    key = fingerprint_frame(frame)
    # A fingerprint that is fast but blind is no result: stable, and sensitive to one value.
    assert fingerprint_frame(frame.clone()) == key
    changed = frame.with_columns(frame.get_column("x3").scatter(rows // 2, 0.125))
    assert fingerprint_frame(changed) != key

    benchmark.extra_info.update(
        workload=(
            f"fingerprint {rows:,} rows x {columns} Float64 "
            f"({'no nulls' if not null_fraction else f'{null_fraction:.0%} nulls'})"
        ),
        engine=HAMILTON_FAST,
        bytes=frame.estimated_size(),
    )
    benchmark.pedantic(fingerprint_frame, args=(frame,), rounds=bench_size.execute_rounds)
