"""Where hamilton_fast spends its time on the targets it misses: cProfile of one scenario.

    python -m benchmarks.profile_hotspots warm          # warm rerun of the wide workload
    python -m benchmarks.profile_hotspots cold          # cold run + its background write
    python -m benchmarks.profile_hotspots plan --nodes 5000
    python -m benchmarks.profile_hotspots fingerprint-nulls
    python -m benchmarks.profile_hotspots hello

Each scenario is set up untimed, then run once under cProfile; the top functions by cumulative
and by own time are printed, with the wall time of the profiled run. `HF_BENCH_SIZE` picks the
sizes, as for the suite (`full` for the figures quoted in the README). These are the
reproductions behind the README's "Library performance problems" section.
"""

from __future__ import annotations

import os

# Must precede any import of Apache Hamilton, which reads it at import time.
os.environ.setdefault("HAMILTON_TELEMETRY_ENABLED", "false")

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.sizes import WIDE_INPUT_SEED, WIDE_SPEC_SEED, current_size

if TYPE_CHECKING:
    from collections.abc import Callable


def _rerun(scenario_name: str) -> tuple[Callable[[], Any], Callable[[], None]]:
    from benchmarks.rerun import make_wide_rerun

    case = make_wide_rerun(current_size().wide)
    scenario = case.scenarios((scenario_name,))[scenario_name]
    scenario.setup()

    def run() -> Any:
        result = scenario.run()
        if scenario_name == "hamilton_fast_cold":
            scenario.teardown()  # the background write, profiled with the run
        return result

    return run, scenario.teardown


def _plan(n_nodes: int) -> tuple[Callable[[], Any], Callable[[], None]]:
    from benchmarks.engines import build_hamilton_fast
    from benchmarks.workloads.wide import (
        make_wide_inputs,
        make_wide_spec,
        wide_outputs,
        write_wide_module,
    )

    spec = make_wide_spec(n_nodes, seed=WIDE_SPEC_SEED + n_nodes)
    module = write_wide_module(spec, Path(tempfile.mkdtemp()), f"profile_plan_{n_nodes}")
    inputs = make_wide_inputs(spec, 64, seed=WIDE_INPUT_SEED)
    outputs = wide_outputs(spec)
    return lambda: build_hamilton_fast(module).execute(outputs, inputs=inputs), lambda: None


def _fingerprint(null_fraction: float) -> tuple[Callable[[], Any], Callable[[], None]]:
    from benchmarks.cases import make_numeric_frame
    from hamilton_fast.cache import fingerprint_frame

    size = current_size()
    frame = make_numeric_frame(size.fingerprint_rows, size.fingerprint_columns, null_fraction)
    print(f"frame: {frame.shape}, {frame.estimated_size() / 1e9:.2f} GB")
    return lambda: fingerprint_frame(frame), lambda: None


def _hello() -> tuple[Callable[[], Any], Callable[[], None]]:
    from benchmarks.engines import build_hamilton_fast
    from benchmarks.workloads import hello
    from benchmarks.workloads.hello_reference import HELLO_OUTPUTS, make_hello_inputs

    inputs = make_hello_inputs(1_000, seed=11)
    dr = build_hamilton_fast(hello)
    dr.execute(HELLO_OUTPUTS, inputs=inputs)

    def run() -> None:
        for _ in range(1_000):
            dr.execute(HELLO_OUTPUTS, inputs=inputs)

    return run, lambda: None


def prepare(scenario: str, nodes: int) -> tuple[Callable[[], Any], Callable[[], None]]:
    if scenario in ("warm", "cold", "edit"):
        return _rerun(f"hamilton_fast_{scenario}")
    if scenario == "plan":
        return _plan(nodes)
    if scenario == "fingerprint":
        return _fingerprint(0.0)
    if scenario == "fingerprint-nulls":
        return _fingerprint(0.01)
    if scenario == "hello":
        return _hello()
    msg = f"unknown scenario `{scenario}`"
    raise SystemExit(msg)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "scenario",
        choices=("warm", "cold", "edit", "plan", "fingerprint", "fingerprint-nulls", "hello"),
    )
    parser.add_argument("--nodes", type=int, default=5_000, help="plan: generated nodes")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    run, teardown = prepare(args.scenario, args.nodes)
    profile = cProfile.Profile()
    start = time.perf_counter()
    profile.runcall(run)
    wall = time.perf_counter() - start
    teardown()
    print(f"{args.scenario}: {wall:.3f} s under cProfile")
    stats = pstats.Stats(profile)
    stats.sort_stats("cumulative").print_stats(args.top)
    stats.sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
