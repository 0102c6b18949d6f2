"""The wide workload timed with the engines' rounds interleaved, for a noisy shared machine.

    python -m benchmarks.interleaved --rounds 9

pytest-benchmark times one engine's rounds back to back, so a burst of load from another
process can land on one engine only and skew a ratio between engines. Here every round runs
each engine once (in a rotating order, so no engine always goes first) and the ratio to the
hand-written query is taken within each round; the median of those per-round ratios is much
less sensitive to load that comes and goes. Prints one JSON object; `benchmarks/report.py`
runs this after the pytest-benchmark suite. Correctness is checked by the suite, not here.
"""

from __future__ import annotations

import os

# Must precede any import of Apache Hamilton, which reads it at import time.
os.environ.setdefault("HAMILTON_TELEMETRY_ENABLED", "false")

import argparse
import functools
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.engines import (
    EXECUTE_ENGINES,
    HAMILTON_FAST,
    HANDWRITTEN,
    hamilton_fast_missing,
    make_runner,
)
from benchmarks.sizes import WIDE_INPUT_SEED, WIDE_SPEC_SEED, current_size
from benchmarks.workloads.wide import (
    handwritten_wide,
    make_wide_inputs,
    make_wide_spec,
    wide_outputs,
    write_wide_module,
)


def time_interleaved(rounds: int) -> dict[str, object]:
    """Per-engine times of `rounds` interleaved rounds of the wide workload, plus ratios."""
    size = current_size()
    spec = make_wide_spec(size.wide_nodes, seed=WIDE_SPEC_SEED)
    inputs = make_wide_inputs(spec, size.wide_rows, seed=WIDE_INPUT_SEED)
    outputs = wide_outputs(spec)
    engines = [e for e in EXECUTE_ENGINES if e != HAMILTON_FAST or not hamilton_fast_missing()]
    times: dict[str, list[float]] = {engine: [] for engine in engines}
    with tempfile.TemporaryDirectory() as directory:
        module = write_wide_module(spec, Path(directory), f"interleaved_wide_{size.wide_nodes}")
        handwritten = functools.partial(handwritten_wide, spec, inputs, outputs)
        runners = {e: make_runner(e, module, outputs, inputs, handwritten) for e in engines}
        for run in runners.values():  # warm-up: planning, caches, allocator
            run()
        for round_index in range(rounds):
            shift = round_index % len(engines)
            for engine in engines[shift:] + engines[:shift]:
                start = time.perf_counter()
                runners[engine]()
                times[engine].append(time.perf_counter() - start)
    summary: dict[str, object] = {"workload": size.wide_label, "rounds": rounds}
    for engine, samples in times.items():
        ratios = [t / ref for t, ref in zip(samples, times[HANDWRITTEN], strict=True)]
        summary[engine] = {
            "median": statistics.median(samples),
            "min": min(samples),
            "median_round_ratio": statistics.median(ratios),
            "samples": samples,
        }
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=current_size().execute_rounds)
    print(json.dumps(time_interleaved(parser.parse_args(argv).rounds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
