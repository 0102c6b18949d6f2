"""How time and peak memory grow with rows and with nodes: hamilton_fast and the hand-written query.

    python -m benchmarks.scale --rounds 5 --plot benchmarks/scale.png

Two sweeps of the wide workload (every node requested): rows grow at a fixed node count
(`scale_rows` x `scale_rows_nodes` in `sizes.py`: 10^4 to 10^7 rows of 50 nodes at full size),
and nodes grow at a fixed row count (`scale_nodes` x `scale_nodes_rows`: 50, 200 and 1,000 nodes
of 100,000 rows). At every point the two engines are timed in interleaved rounds
(`interleaved.time_rounds`, ratios within each round), then the peak memory of one `execute`
is read in a fresh process per engine (`peak_memory.py`). Prints one JSON object and, with
`--plot`, draws the four panels (time and memory against rows and against nodes, log scales).
"""

from __future__ import annotations

import os

# Must precede any import of Apache Hamilton, which reads it at import time.
os.environ.setdefault("HAMILTON_TELEMETRY_ENABLED", "false")

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.engines import HAMILTON_FAST, HANDWRITTEN, hamilton_fast_missing
from benchmarks.sizes import BenchSize, WideShape, current_size

SCALE_ENGINES = (HAMILTON_FAST, HANDWRITTEN)
REPO_ROOT = Path(__file__).resolve().parent.parent


def scale_points(size: BenchSize) -> list[tuple[str, WideShape]]:
    """(axis, shape) of every point of both sweeps, rows first.

    >>> from benchmarks.sizes import SIZES
    >>> [(axis, s.nodes, s.rows) for axis, s in scale_points(SIZES["small"])][:3]
    [('rows', 50, 1000), ('rows', 50, 10000), ('nodes', 50, 1000)]
    """
    points = [("rows", WideShape(size.scale_rows_nodes, rows)) for rows in size.scale_rows]
    points += [("nodes", WideShape(nodes, size.scale_nodes_rows)) for nodes in size.scale_nodes]
    return points


def _engines() -> tuple[str, ...]:
    return tuple(e for e in SCALE_ENGINES if e != HAMILTON_FAST or not hamilton_fast_missing())


def time_point(shape: WideShape, rounds: int) -> dict[str, Any]:
    """Interleaved rounds of both engines on one point (checked once before timing)."""
    from benchmarks.cases import make_wide_case
    from benchmarks.interleaved import Scenario, time_rounds

    with tempfile.TemporaryDirectory() as directory:
        case = make_wide_case(shape, Path(directory), "scale", flavors=("series",))
        scenarios = {
            engine: Scenario(engine, run=case.runner(engine), check=case.check)
            for engine in _engines()
        }
        return time_rounds(scenarios, rounds)


def memory_point(shape: WideShape) -> dict[str, Any]:
    """Peak memory of each engine on one point, each in a fresh process."""
    results: dict[str, Any] = {}
    for engine in _engines():
        command = [
            sys.executable,
            "-m",
            "benchmarks.peak_memory",
            engine,
            "--nodes",
            str(shape.nodes),
            "--rows",
            str(shape.rows),
        ]
        done = subprocess.run(command, cwd=REPO_ROOT, check=False, capture_output=True, text=True)
        if done.returncode != 0:
            results[engine] = {"error": done.stderr.strip().splitlines()[-1:] or ["failed"]}
            continue
        results[engine] = json.loads(done.stdout.strip().splitlines()[-1])
    return results


def measure_scale(rounds: int, *, memory: bool = True) -> dict[str, Any]:
    size = current_size()
    points = []
    for axis, shape in scale_points(size):
        print(f"scale: {shape.label}", file=sys.stderr, flush=True)
        timing = time_point(shape, rounds)
        for entry in timing.values():
            if isinstance(entry, dict):
                entry.pop("samples", None)
        points.append(
            {
                "axis": axis,
                "nodes": shape.nodes,
                "rows": shape.rows,
                "label": shape.label,
                "timing": timing,
                "memory": memory_point(shape) if memory else None,
            }
        )
    return {"bench_size": size.name, "rounds": rounds, "points": points}


def plot_scale(data: dict[str, Any], path: Path) -> None:
    """Four log-log panels: time and peak memory, against rows and against nodes."""
    import matplotlib as mpl

    mpl.use("Agg")
    import matplotlib.pyplot as plt

    styles = {
        HAMILTON_FAST: {"label": "hamilton_fast", "marker": "o", "color": "tab:blue"},
        HANDWRITTEN: {"label": "hand-written Polars query", "marker": "s", "color": "tab:gray"},
    }
    figure, axes = plt.subplots(2, 2, figsize=(10, 7.5))
    for column, axis in enumerate(("rows", "nodes")):
        points = [p for p in data["points"] if p["axis"] == axis]
        if not points:
            continue
        fixed = f"{points[0]['nodes']} nodes" if axis == "rows" else f"{points[0]['rows']:,} rows"
        xs = [p[axis] for p in points]
        for engine, style in styles.items():
            times = [p["timing"].get(engine, {}).get("median") for p in points]
            if all(t is not None for t in times):
                axes[0][column].plot(xs, times, **style)
            if all(p["memory"] for p in points):
                peaks = [p["memory"].get(engine, {}).get("run_peak_mib") for p in points]
                if all(m is not None for m in peaks):
                    axes[1][column].plot(xs, peaks, **style)
        axes[0][column].set_title(f"execute time vs {axis} ({fixed})")
        axes[0][column].set_ylabel("median seconds")
        axes[1][column].set_title(f"peak RSS vs {axis} ({fixed})")
        axes[1][column].set_ylabel("MiB (fresh process, one execute)")
        for row in (0, 1):
            axes[row][column].set_xscale("log")
            axes[row][column].set_yscale("log")
            axes[row][column].set_xlabel(axis)
            axes[row][column].grid(True, which="both", alpha=0.3)
            axes[row][column].legend()
    figure.suptitle(f"wide workload, size `{data['bench_size']}`, {data['rounds']} rounds")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=current_size().scale_rounds)
    parser.add_argument("--plot", type=Path, help="write the PNG here")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory runs")
    args = parser.parse_args(argv)
    data = measure_scale(args.rounds, memory=not args.no_memory)
    if args.plot:
        plot_scale(data, args.plot)
    print(json.dumps(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
