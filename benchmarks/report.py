"""Run the benchmark suite at full size and write its table into `benchmarks/README.md`.

    .venv/bin/python benchmarks/report.py                  # full size, the published figures
    .venv/bin/python benchmarks/report.py --size small     # a quick try of the whole pipeline
    .venv/bin/python benchmarks/report.py --from-json results.json --no-memory

Steps: pytest-benchmark runs `benchmarks/` with `HF_BENCH_SIZE` set and `--benchmark-json`; then
one fresh process per engine measures the peak memory of the wide workload
(`benchmarks/peak_memory.py`); then the table replaces what stands between the markers
`<!-- table:start -->` and `<!-- table:end -->` in the README. Ratios compare with the
hand-written Polars query measured in the same run, never with figures from another run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
README = BENCH_DIR / "README.md"
TABLE_START = "<!-- table:start -->"
TABLE_END = "<!-- table:end -->"

# Kept in step with benchmarks/engines.py, which this script does not import: it must run with
# any interpreter that can start the venv's pytest, before anything else is importable.
HAMILTON_FAST = "hamilton_fast"
APACHE_HAMILTON = "apache_hamilton"
HANDWRITTEN = "handwritten"
ENGINE_ORDER = (HAMILTON_FAST, APACHE_HAMILTON, HANDWRITTEN)
ENGINE_LABELS = {
    HAMILTON_FAST: "hamilton_fast",
    APACHE_HAMILTON: "Apache Hamilton (pl.Series nodes, PolarsDataFrameResult)",
    HANDWRITTEN: "hand-written Polars query",
}
TARGET_RATIO = 1.1
MEMORY_WORKLOAD_PREFIX = "wide "


@dataclass(frozen=True)
class Measurement:
    group: str
    workload: str
    engine: str
    median: float
    minimum: float
    iqr: float
    rounds: int


def run_suite(size: str, json_path: Path) -> int:
    """Run the benchmarks at `size`; returns pytest's exit code (the JSON is written anyway)."""
    env = {**os.environ, "HF_BENCH_SIZE": size, "HAMILTON_TELEMETRY_ENABLED": "false"}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "benchmarks",
        "--benchmark-enable",
        f"--benchmark-json={json_path}",
        "--benchmark-sort=fullname",
        "-q",
    ]
    print("running:", " ".join(command), f"(HF_BENCH_SIZE={size})", flush=True)
    return subprocess.run(command, cwd=REPO_ROOT, env=env, check=False).returncode


def measure_memory(size: str) -> dict[str, dict[str, Any]]:
    """Peak memory of the wide workload per engine, each in a fresh process."""
    env = {**os.environ, "HF_BENCH_SIZE": size, "HAMILTON_TELEMETRY_ENABLED": "false"}
    results = {}
    for engine in ENGINE_ORDER:
        command = [sys.executable, "-m", "benchmarks.peak_memory", engine]
        print("measuring memory:", engine, flush=True)
        done = subprocess.run(
            command, cwd=REPO_ROOT, env=env, check=False, capture_output=True, text=True
        )
        if done.returncode != 0:
            results[engine] = {"error": done.stderr.strip().splitlines()[-1:] or ["failed"]}
            print(done.stderr, file=sys.stderr)
            continue
        results[engine] = json.loads(done.stdout.strip().splitlines()[-1])
    return results


def measure_interleaved(size: str, rounds: int) -> dict[str, Any] | None:
    """The wide workload with the engines' rounds interleaved (`benchmarks/interleaved.py`)."""
    env = {**os.environ, "HF_BENCH_SIZE": size, "HAMILTON_TELEMETRY_ENABLED": "false"}
    command = [sys.executable, "-m", "benchmarks.interleaved", "--rounds", str(rounds)]
    print("timing interleaved rounds:", " ".join(command[2:]), flush=True)
    done = subprocess.run(
        command, cwd=REPO_ROOT, env=env, check=False, capture_output=True, text=True
    )
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def read_measurements(data: dict[str, Any]) -> list[Measurement]:
    measurements = []
    for bench in data["benchmarks"]:
        info = bench.get("extra_info", {})
        stats = bench["stats"]
        measurements.append(
            Measurement(
                group=bench["group"],
                workload=info.get("workload", bench["name"]),
                engine=info.get("engine", bench.get("param", "?")),
                median=stats["median"],
                minimum=stats["min"],
                iqr=stats["iqr"],
                rounds=stats["rounds"],
            )
        )
    return measurements


def format_seconds(seconds: float) -> str:
    """Human-scaled duration.

    >>> format_seconds(0.000123), format_seconds(0.0456), format_seconds(2.5)
    ('123 µs', '45.6 ms', '2.50 s')
    """
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def _by_workload(measurements: list[Measurement], group: str) -> dict[str, dict[str, Measurement]]:
    table: dict[str, dict[str, Measurement]] = {}
    for measurement in measurements:
        if measurement.group == group:
            table.setdefault(measurement.workload, {})[measurement.engine] = measurement
    # The wide workload carries the target, so it leads; otherwise keep the run's order.
    ordered = sorted(table, key=lambda workload: "wide" not in workload)
    return {workload: table[workload] for workload in ordered}


def _memory_cell(memory: dict[str, dict[str, Any]], engine: str) -> str:
    entry = memory.get(engine)
    if entry is None:
        return "not measured"
    if "skipped" in entry:
        return "skipped"
    if "error" in entry:
        return "failed: " + " ".join(entry["error"])
    added = entry["run_peak_mib"] - entry["baseline_mib"]
    return f"{entry['run_peak_mib']:,.0f} (+{added:,.0f})"


def render_execute(
    measurements: list[Measurement], memory: dict[str, dict[str, Any]] | None
) -> list[str]:
    lines = [
        "| workload | engine | median | min | IQR | rounds | vs hand-written (median) "
        "| peak RSS MiB (+run) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for workload, engines in _by_workload(measurements, "execute").items():
        reference = engines.get(HANDWRITTEN)
        for engine in ENGINE_ORDER:
            measurement = engines.get(engine)
            memory_cell = "not measured"
            if memory is not None and workload.startswith(MEMORY_WORKLOAD_PREFIX):
                memory_cell = _memory_cell(memory, engine)
            if measurement is None:
                lines.append(
                    f"| {workload} | {ENGINE_LABELS[engine]} | no result (skipped or failed) "
                    f"| | | | | {memory_cell} |"
                )
                continue
            ratio = f"{measurement.median / reference.median:.2f}x" if reference else "n/a"
            lines.append(
                f"| {workload} | {ENGINE_LABELS[engine]} | {format_seconds(measurement.median)} "
                f"| {format_seconds(measurement.minimum)} | {format_seconds(measurement.iqr)} "
                f"| {measurement.rounds} | {ratio} | {memory_cell} |"
            )
    return lines


def render_build(measurements: list[Measurement]) -> list[str]:
    lines = [
        "| workload | engine | median | min | IQR | rounds | vs Apache Hamilton (median) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for workload, engines in _by_workload(measurements, "build").items():
        reference = engines.get(APACHE_HAMILTON)
        for engine in (HAMILTON_FAST, APACHE_HAMILTON):
            measurement = engines.get(engine)
            if measurement is None:
                label = ENGINE_LABELS[engine]
                lines.append(f"| {workload} | {label} | no result (skipped or failed) | | | | |")
                continue
            ratio = f"{measurement.median / reference.median:.2f}x" if reference else "n/a"
            lines.append(
                f"| {workload} | {ENGINE_LABELS[engine]} | {format_seconds(measurement.median)} "
                f"| {format_seconds(measurement.minimum)} | {format_seconds(measurement.iqr)} "
                f"| {measurement.rounds} | {ratio} |"
            )
    return lines


def render_interleaved(interleaved: dict[str, Any]) -> list[str]:
    rounds = interleaved["rounds"]
    lines = [
        f"| workload | engine | median | min | median of per-round ratios (n={rounds}) |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for engine in ENGINE_ORDER:
        entry = interleaved.get(engine)
        if entry is None:
            lines.append(f"| {interleaved['workload']} | {ENGINE_LABELS[engine]} | no result | | |")
            continue
        lines.append(
            f"| {interleaved['workload']} | {ENGINE_LABELS[engine]} "
            f"| {format_seconds(entry['median'])} | {format_seconds(entry['min'])} "
            f"| {entry['median_round_ratio']:.2f}x |"
        )
    return lines


def render_target(measurements: list[Measurement], interleaved: dict[str, Any] | None) -> str:
    """One sentence on the issue's target: hamilton_fast within 1.1x on the wide workload."""
    for workload, engines in _by_workload(measurements, "execute").items():
        if not workload.startswith(MEMORY_WORKLOAD_PREFIX):
            continue
        fast, reference = engines.get(HAMILTON_FAST), engines.get(HANDWRITTEN)
        if fast is None or reference is None:
            return (
                f"Target ({TARGET_RATIO}x of hand-written on {workload}): no hamilton_fast result."
            )
        ratio = fast.median / reference.median
        best_ratio = fast.minimum / reference.minimum
        paired = ""
        if interleaved and HAMILTON_FAST in interleaved:
            paired_ratio = interleaved[HAMILTON_FAST]["median_round_ratio"]
            paired = f", {paired_ratio:.2f}x as the median of interleaved per-round ratios"
            ratio = max(ratio, paired_ratio)
        verdict = "met" if ratio <= TARGET_RATIO else "missed"
        return (
            f"Target: hamilton_fast within {TARGET_RATIO}x of the hand-written query on "
            f"{workload}: **{verdict}** ({fast.median / reference.median:.2f}x by medians, "
            f"{best_ratio:.2f}x by minimums{paired}; the verdict takes the worse of the "
            "median-based figures)."
        )
    return "Target: no wide workload in this run."


@dataclass(frozen=True)
class Run:
    """Everything one report is rendered from."""

    data: dict[str, Any]
    memory: dict[str, dict[str, Any]] | None = None
    interleaved: dict[str, Any] | None = None
    pytest_status: int | None = None
    load_before: tuple[float, float, float] | None = None
    load_after: tuple[float, float, float] | None = None


def _load(load: tuple[float, float, float] | None) -> str:
    return "?" if load is None else " / ".join(f"{value:.2f}" for value in load)


def render(run: Run) -> str:
    data = run.data
    info = data["machine_info"]
    meta = info.get("hamilton_fast_bench", {})
    cpu = info.get("cpu", {})
    measurements = read_measurements(data)
    commit = (data.get("commit_info") or {}).get("id") or "no commit"
    lines = [
        f"Measured {data.get('datetime', '?')[:19]} UTC, size `{meta.get('bench_size', '?')}`, "
        f"on {cpu.get('brand_raw', info.get('processor') or '?')}, "
        f"{meta.get('cpu_count', cpu.get('count', '?'))} cores (shared, noisy machine).",
        "",
        f"- Python {meta.get('python', info.get('python_version'))}, "
        f"polars {meta.get('polars', '?')}, apache-hamilton {meta.get('apache_hamilton', '?')}, "
        f"hamilton_fast {meta.get('hamilton_fast', '?')} (commit {commit[:10]})",
        f"- POLARS_MAX_THREADS={meta.get('POLARS_MAX_THREADS', '?')} "
        f"(Polars thread pool: {meta.get('polars_thread_pool_size', '?')} threads)",
        f'- hand-written queries collect with `engine="{meta.get("reference_engine", "?")}"`; '
        f'hamilton_fast its default (`"{meta.get("hamilton_fast_engine", "?")}"`)',
        f"- load average (1/5/15 min) before the run {_load(run.load_before)}, "
        f"after {_load(run.load_after)}: above the core count means other work shared the CPUs",
        "- median and min over the rounds shown; IQR is the interquartile range",
    ]
    if run.pytest_status not in (None, 0):
        lines.append(
            f"- **pytest exited with status {run.pytest_status}**: a check failed or a benchmark "
            "errored; engines without a result below did not pass their correctness check"
        )
    lines += ["", "**Execute** (pytest-benchmark)", "", *render_execute(measurements, run.memory)]
    lines.append("")
    if run.memory is None:
        lines.append("Peak memory: not measured in this run.")
    else:
        lines.append(
            "Peak RSS: maximum resident set of a fresh process (same imports for every engine) "
            "after one execute of the wide workload; in brackets, how much the execute added "
            "to the high-water mark of the setup (inputs and driver built). Not measured for "
            "the hello world, whose footprint is the interpreter's."
        )
    if run.interleaved is not None:
        lines += [
            "",
            "**Execute, wide workload with interleaved rounds** (`benchmarks/interleaved.py`: "
            "each round runs every engine once, so passing load hits all engines alike)",
            "",
            *render_interleaved(run.interleaved),
        ]
    lines += [
        "",
        render_target(measurements, run.interleaved),
        "",
        "**Build** (pytest-benchmark)",
        "",
        *render_build(measurements),
    ]
    return "\n".join(lines)


def write_table(readme: Path, table: str) -> None:
    text = readme.read_text(encoding="utf-8")
    start, end = text.find(TABLE_START), text.find(TABLE_END)
    if start < 0 or end < start:
        msg = (
            f"{readme} has no `{TABLE_START}` ... `{TABLE_END}` block to fill.\n"
            "Hint: put both markers, each on its own line, where the table belongs."
        )
        raise SystemExit(msg)
    before, after = text[: start + len(TABLE_START)], text[end:]
    readme.write_text(f"{before}\n{table}\n{after}", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="full", choices=("small", "full"))
    parser.add_argument("--from-json", type=Path, help="render an existing pytest-benchmark JSON")
    parser.add_argument("--save-json", type=Path, help="keep the pytest-benchmark JSON here")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory runs")
    parser.add_argument(
        "--interleaved-rounds", type=int, default=15, help="0 skips the interleaved timing"
    )
    parser.add_argument("--readme", type=Path, default=README)
    args = parser.parse_args(argv)

    load_before = os.getloadavg()
    pytest_status = None
    if args.from_json:
        data = json.loads(args.from_json.read_text(encoding="utf-8"))
        size = data["machine_info"].get("hamilton_fast_bench", {}).get("bench_size", args.size)
    else:
        size = args.size
        with tempfile.TemporaryDirectory() as directory:
            json_path = args.save_json or Path(directory) / "benchmarks.json"
            pytest_status = run_suite(size, json_path)
            if not json_path.exists():
                print(f"pytest exited with {pytest_status} and wrote no results", file=sys.stderr)
                return pytest_status or 1
            data = json.loads(json_path.read_text(encoding="utf-8"))
    interleaved = None
    if args.interleaved_rounds > 0:
        interleaved = measure_interleaved(size, args.interleaved_rounds)
    memory = None if args.no_memory else measure_memory(size)
    run = Run(
        data=data,
        memory=memory,
        interleaved=interleaved,
        pytest_status=pytest_status,
        load_before=None if args.from_json else load_before,
        load_after=None if args.from_json else os.getloadavg(),
    )
    table = render(run)
    write_table(args.readme, table)
    print(table)
    print(f"\nwrote the table into {args.readme}")
    return pytest_status or 0


if __name__ == "__main__":
    sys.exit(main())
