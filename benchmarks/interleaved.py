"""Workloads timed with the contenders' rounds interleaved, for a noisy shared machine.

    python -m benchmarks.interleaved --workload wide --rounds 9
    python -m benchmarks.interleaved --workload rerun-wide --rounds 5

pytest-benchmark times one engine's rounds back to back, so a burst of load from another
process can land on one engine only and skew a ratio between engines. Here every round runs
each contender once and each ratio is taken within the round, against the contender's
reference (the hand-written query, or for a cold cached run the same run without cache); the
median of those per-round ratios is much less sensitive to load that comes and goes. A scenario
may have a second, informational reference (the edit rerun: the hand-written query of only the
nodes it recomputes), reported the same way under its own field.

The order within a round is a seeded shuffle, not a rotation: with a rotation every contender
always follows the same one, and what the predecessor leaves behind (a freed 1.6 GB result the
allocator hands back page by page, garbage for the collector, dirty pages the kernel is still
writing) then lands on one contender in every round. Measured here: the hand-written query took
0.56 s interleaved with hamilton_fast alone, 0.79 s when it always followed Apache Hamilton.
Between two runs, untimed, the garbage collector runs and dirty pages are flushed (`settle`).
A contender may have an untimed setup and teardown per round (`Scenario`): building a fresh
driver, emptying a cache, joining background writes.

Workloads: `wide`, `wide_large`, `forecast` (every engine, `execute` on a built driver) and
`rerun-wide`, `rerun-forecast`, `rerun-wide_hamilton`, `rerun-forecast_hamilton` (the cache
scenarios of `benchmarks/rerun.py`). Prints one JSON object; `benchmarks/report.py` runs this
after the pytest-benchmark suite. Correctness is checked by the suite, and once more here
before the first timed round.
"""

from __future__ import annotations

import os

# Must precede any import of Apache Hamilton, which reads it at import time.
os.environ.setdefault("HAMILTON_TELEMETRY_ENABLED", "false")

import argparse
import gc
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.engines import HAMILTON_FAST, HANDWRITTEN, WIDE_ENGINES, hamilton_fast_missing
from benchmarks.sizes import current_size

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

EXECUTE_WORKLOADS = ("wide", "wide_large", "forecast")
RERUN_PREFIX = "rerun-"
ORDER_SEED = 20_261_128


@dataclass
class Scenario:
    """One timed action with its untimed preparation and clean-up, run once per round."""

    name: str
    run: Callable[[], Any]
    setup: Callable[[], None] = lambda: None
    teardown: Callable[[], None] = lambda: None
    check: Callable[[Any], None] = lambda result: None
    extra: dict[str, float] = field(default_factory=dict)


def settle() -> None:
    """Leave nothing of the previous run for the next one to pay: garbage, dirty pages."""
    gc.collect()
    if hasattr(os, "sync"):
        os.sync()


def time_rounds(
    scenarios: Mapping[str, Scenario],
    rounds: int,
    references: Mapping[str, str] | None = None,
    default_reference: str = HANDWRITTEN,
    *,
    check_first: bool = True,
    second_references: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, Any]:
    """Run every scenario once per round, in a seeded random order; per-scenario times and the
    median of per-round ratios to its reference (`references`, else `default_reference`).

    `second_references` asks for more ratios, scenario -> {field: reference}: the median of the
    scenario's per-round ratios to `reference`, stored under `field` (when both ran)."""
    names = list(scenarios)
    order = random.Random(ORDER_SEED)
    references = dict(references or {})
    if check_first:  # warm-up round (planning, allocator, page cache), checked
        for scenario in scenarios.values():
            scenario.setup()
            try:
                scenario.check(scenario.run())
            finally:
                scenario.teardown()
    times: dict[str, list[float]] = {name: [] for name in names}
    extras: dict[str, dict[str, list[float]]] = {name: {} for name in names}
    for _ in range(rounds):
        for name in order.sample(names, len(names)):
            scenario = scenarios[name]
            scenario.setup()
            settle()
            try:
                start = time.perf_counter()
                answer = scenario.run()
                times[name].append(time.perf_counter() - start)
                del answer  # released untimed, before the teardown (see test_rerun.py)
            finally:
                scenario.teardown()
            for key, value in scenario.extra.items():
                extras[name].setdefault(key, []).append(value)
    summary: dict[str, Any] = {"rounds": rounds}
    for name, samples in times.items():
        reference = references.get(name, default_reference)
        entry: dict[str, Any] = {
            "median": statistics.median(samples),
            "min": min(samples),
            "samples": samples,
            "reference": reference if reference in times else None,
        }
        if reference in times:
            entry["median_round_ratio"] = _median_ratio(samples, times[reference])
        for key, other in (second_references or {}).get(name, {}).items():
            if other in times:
                entry[key] = _median_ratio(samples, times[other])
        for key, values in extras[name].items():
            entry[key] = statistics.median(values)
        summary[name] = entry
    return summary


def _median_ratio(samples: list[float], references: list[float]) -> float:
    """Median of the per-round ratios `samples[i] / references[i]`."""
    return statistics.median(t / ref for t, ref in zip(samples, references, strict=True))


def _engines(candidates: tuple[str, ...]) -> list[str]:
    return [e for e in candidates if e != HAMILTON_FAST or not hamilton_fast_missing()]


def time_execute(workload: str, rounds: int) -> dict[str, Any]:
    """Every engine's `execute` of `workload` (drivers built once, before the rounds)."""
    from benchmarks.cases import FORECAST_ENGINES, forecast_case, make_wide_case

    size = current_size()
    with tempfile.TemporaryDirectory() as directory:
        if workload == "forecast":
            case: Any = forecast_case(size.forecast)
            engines = _engines(FORECAST_ENGINES)
        else:
            shape = size.wide if workload == "wide" else size.wide_large
            case = make_wide_case(shape, Path(directory), f"interleaved_{workload}")
            engines = _engines(WIDE_ENGINES)
        scenarios = {
            engine: Scenario(engine, run=case.runner(engine), check=case.check)
            for engine in engines
        }
        summary = time_rounds(scenarios, rounds)
    return {"workload": case.label, "group": "execute", **summary}


def time_rerun(workload: str, rounds: int) -> dict[str, Any]:
    """The cache scenarios of rerun workload `workload` (see `benchmarks/rerun.py`)."""
    from benchmarks.rerun import (
        REFERENCES,
        RERUN_WORKLOADS,
        SECOND_REFERENCES,
        make_rerun_case,
    )

    size = current_size()
    directory = Path(tempfile.mkdtemp(prefix="hf_interleaved_rerun_"))
    try:
        case = make_rerun_case(workload, size, directory)
        names = RERUN_WORKLOADS[workload]
        if hamilton_fast_missing():
            names = tuple(n for n in names if not n.startswith(HAMILTON_FAST))
        summary = time_rounds(
            case.scenarios(names), rounds, REFERENCES, second_references=SECOND_REFERENCES
        )
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return {
        "workload": case.label,
        "group": "cache",
        "rerun": workload,
        "edited_nodes": len(case.edited_nodes),
        "nodes": case.n_nodes,
        **summary,
    }


def time_workload(workload: str, rounds: int) -> dict[str, Any]:
    if workload.startswith(RERUN_PREFIX):
        return time_rerun(workload.removeprefix(RERUN_PREFIX), rounds)
    if workload in EXECUTE_WORKLOADS:
        return time_execute(workload, rounds)
    msg = (
        f"unknown workload `{workload}`.\n"
        f"Hint: use one of {', '.join(EXECUTE_WORKLOADS)}, or `{RERUN_PREFIX}` followed by a "
        "rerun workload (wide, forecast, wide_hamilton, forecast_hamilton)."
    )
    raise SystemExit(msg)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", default="wide")
    parser.add_argument("--rounds", type=int, default=current_size().execute_rounds)
    args = parser.parse_args(argv)
    print(json.dumps(time_workload(args.workload, args.rounds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
