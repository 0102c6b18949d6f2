"""Scale (group `scale`): the wide workload as rows grow and as nodes grow.

hamilton_fast and the hand-written query at every point of the two sweeps of
`benchmarks/scale.py` (rows: 10^4 to 10^7 at 50 nodes; nodes: 50, 200, 1,000 at 100,000 rows,
at full size), one `execute` on a built driver, checked against the hand-written answer first.
Peak memory and the plot come from `python -m benchmarks.scale`, which `report.py` runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from benchmarks.cases import make_wide_case
from benchmarks.engines import HAMILTON_FAST, hamilton_fast_missing
from benchmarks.scale import SCALE_ENGINES, scale_points
from benchmarks.sizes import current_size

if TYPE_CHECKING:
    from benchmarks.sizes import BenchSize, WideShape

POINTS = [
    pytest.param(axis, shape, id=f"{axis}-{shape.nodes}x{shape.rows}")
    for axis, shape in scale_points(current_size())
]


@pytest.mark.benchmark(group="scale")
@pytest.mark.parametrize(("axis", "shape"), POINTS)
@pytest.mark.parametrize("engine", SCALE_ENGINES)
def test_scale(
    benchmark,
    bench_size: BenchSize,
    tmp_path,
    engine: str,
    axis: str,
    shape: WideShape,
) -> None:
    if engine == HAMILTON_FAST and (reason := hamilton_fast_missing()):
        pytest.skip(reason)
    case = make_wide_case(shape, tmp_path, f"scale_{axis}", flavors=("series",))
    run = case.runner(engine)
    case.check(run())

    benchmark.extra_info.update(
        workload=case.label, engine=engine, axis=axis, nodes=shape.nodes, rows=shape.rows
    )
    benchmark.pedantic(run, rounds=bench_size.scale_rounds, warmup_rounds=0)
