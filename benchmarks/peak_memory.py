"""Peak memory of one `execute`, one engine per fresh process.

    python -m benchmarks.peak_memory hamilton_fast                       # wide, current size
    python -m benchmarks.peak_memory handwritten --nodes 50 --rows 10000000
    python -m benchmarks.peak_memory apache_hamilton_pandas --workload forecast

prints one JSON object: the process's peak resident set before the run (imports, inputs and
driver built) and after it, read from `VmHWM` in `/proc/self/status`. Not from
`getrusage(RUSAGE_SELF).ru_maxrss`: on Linux that carries over the parent's resident set at
`fork` through `exec`, so a probe started by a process holding 8 GB reports 8 GB whatever it
does (`resource` is the fallback where `/proc` is missing). Every engine's process imports the
same libraries, so the baselines are comparable; `run_peak_mib` minus `baseline_mib` is what the
execution itself added on top of the high-water mark of the setup.
`benchmarks/report.py` runs this once per engine and workload, `benchmarks/scale.py` once per
engine and point of the scale sweep.
"""

from __future__ import annotations

import os

# Must precede any import of Apache Hamilton, which reads it at import time.
os.environ.setdefault("HAMILTON_TELEMETRY_ENABLED", "false")

import argparse
import gc
import json
import resource
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.engines import HAMILTON_FAST, WIDE_ENGINES, hamilton_fast_missing, to_polars
from benchmarks.sizes import PanelShape, WideShape, current_size


def _peak_rss_mib() -> float:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    # Linux reports ru_maxrss in KiB (and includes the parent's resident set at fork).
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(engine: str, workload: str, shape: WideShape | PanelShape) -> dict[str, object]:
    """Build everything for `engine`, then run `workload` once and read the peaks."""
    # Same imports in every engine's process, whichever it uses.
    import hamilton.driver  # noqa: F401
    import pandas  # noqa: F401
    import polars as pl

    if hamilton_fast_missing() is None:
        import hamilton_fast.driver  # noqa: F401

    from benchmarks.cases import make_forecast_case, make_wide_case

    with tempfile.TemporaryDirectory() as directory:
        case: Any
        if workload == "forecast":
            assert isinstance(shape, PanelShape)
            case = make_forecast_case(shape)
        else:
            assert isinstance(shape, WideShape)
            case = make_wide_case(shape, Path(directory), f"peak_wide_{shape.rows}")
        run = case.runner(engine)
        gc.collect()
        baseline = _peak_rss_mib()
        result = run()
        peak = _peak_rss_mib()
    return {
        "engine": engine,
        "workload": case.label,
        "baseline_mib": round(baseline, 1),
        "run_peak_mib": round(peak, 1),
        "result_mib": round(to_polars(result).estimated_size("mb"), 1),
        "polars_threads": pl.thread_pool_size(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("engine", choices=WIDE_ENGINES)
    parser.add_argument("--workload", default="wide", choices=("wide", "forecast"))
    parser.add_argument("--nodes", type=int, help="wide: generated nodes (default: size's)")
    parser.add_argument("--rows", type=int, help="wide: rows (default: the size's)")
    args = parser.parse_args(argv)
    if args.engine == HAMILTON_FAST and (reason := hamilton_fast_missing()):
        print(json.dumps({"engine": args.engine, "skipped": reason}))
        return 0
    size = current_size()
    shape: WideShape | PanelShape
    if args.workload == "forecast":
        shape = size.forecast
    else:
        shape = WideShape(args.nodes or size.wide_nodes, args.rows or size.wide_rows)
    print(json.dumps(measure(args.engine, args.workload, shape)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
