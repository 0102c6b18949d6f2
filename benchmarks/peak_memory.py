"""Peak memory of one `execute` of the wide workload, one engine per fresh process.

    python -m benchmarks.peak_memory hamilton_fast

prints one JSON object: the process's peak resident set before the run (imports, inputs and
driver built) and after it, read from `resource.getrusage(RUSAGE_SELF).ru_maxrss`. Every engine's
process imports the same libraries, so the baselines are comparable; `run_peak_mib` minus
`baseline_mib` is what the execution itself added on top of the high-water mark of the setup.
`benchmarks/report.py` runs this once per engine.
"""

from __future__ import annotations

import os

# Must precede any import of Apache Hamilton, which reads it at import time.
os.environ.setdefault("HAMILTON_TELEMETRY_ENABLED", "false")

import argparse
import functools
import gc
import json
import resource
import sys
import tempfile
from pathlib import Path

from benchmarks.engines import EXECUTE_ENGINES, HAMILTON_FAST, hamilton_fast_missing, make_runner
from benchmarks.sizes import WIDE_INPUT_SEED, WIDE_SPEC_SEED, current_size
from benchmarks.workloads.wide import (
    handwritten_wide,
    make_wide_inputs,
    make_wide_spec,
    wide_outputs,
    write_wide_module,
)


def _peak_rss_mib() -> float:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_wide(engine: str) -> dict[str, object]:
    """Build everything for `engine`, then run the wide workload once and read the peaks."""
    # Same imports in every engine's process, whichever it uses.
    import hamilton.driver  # noqa: F401
    import polars as pl

    if hamilton_fast_missing() is None:
        import hamilton_fast.driver  # noqa: F401

    size = current_size()
    spec = make_wide_spec(size.wide_nodes, seed=WIDE_SPEC_SEED)
    inputs = make_wide_inputs(spec, size.wide_rows, seed=WIDE_INPUT_SEED)
    outputs = wide_outputs(spec)
    with tempfile.TemporaryDirectory() as directory:
        module = write_wide_module(spec, Path(directory), f"peak_wide_{size.wide_nodes}")
        handwritten = functools.partial(handwritten_wide, spec, inputs, outputs)
        run = make_runner(engine, module, outputs, inputs, handwritten)
        gc.collect()
        baseline = _peak_rss_mib()
        result = run()
        peak = _peak_rss_mib()
    return {
        "engine": engine,
        "workload": size.wide_label,
        "baseline_mib": round(baseline, 1),
        "run_peak_mib": round(peak, 1),
        "result_mib": round(result.estimated_size("mb"), 1),
        "polars_threads": pl.thread_pool_size(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("engine", choices=EXECUTE_ENGINES)
    engine = parser.parse_args(argv).engine
    if engine == HAMILTON_FAST and (reason := hamilton_fast_missing()):
        print(json.dumps({"engine": engine, "skipped": reason}))
        return 0
    print(json.dumps(measure_wide(engine)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
