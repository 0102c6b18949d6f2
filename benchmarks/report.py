"""Run the benchmark suite at full size and write its tables into `benchmarks/README.md`.

    .venv/bin/python benchmarks/report.py                  # full size, the published figures
    .venv/bin/python benchmarks/report.py --size small     # a quick try of the whole pipeline
    .venv/bin/python benchmarks/report.py --from-run run.json   # re-render a saved run

Steps, each in its own process:
1. pytest-benchmark runs `benchmarks/` with `HF_BENCH_SIZE` set and `--benchmark-json`
   (groups `execute`, `build`, `plan`, `cache`, `scale`);
2. the interleaved timing (`benchmarks/interleaved.py`) of the execute workloads (wide, wide
   large, forecast) and of the cache scenarios (`rerun-*`): every round runs every contender
   once, ratios are taken within the round;
3. peak memory of one `execute`, one fresh process per engine (`benchmarks/peak_memory.py`), on
   the wide and forecast workloads;
4. the scale sweep (`benchmarks/scale.py`): interleaved time and peak memory as rows and nodes
   grow, drawn into `scale.png` next to the README.
Then the tables replace what stands between the markers `<!-- table:start -->` and
`<!-- table:end -->` in the README (`--readme`, `benchmarks/README.md` by default). Ratios
compare with the hand-written Polars query (or the named reference) measured in the same run,
never with figures from another run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
README = BENCH_DIR / "README.md"
SCALE_PNG = BENCH_DIR / "scale.png"
TABLE_START = "<!-- table:start -->"
TABLE_END = "<!-- table:end -->"

# Kept in step with benchmarks/engines.py and benchmarks/rerun.py, which this script does not
# import: it only starts processes, and renders what they print (test_report checks the copies).
HAMILTON_FAST = "hamilton_fast"
APACHE_HAMILTON = "apache_hamilton"
APACHE_HAMILTON_PANDAS = "apache_hamilton_pandas"
HANDWRITTEN = "handwritten"
HANDWRITTEN_SORTED = "handwritten_sorted"
ENGINE_ORDER = (
    HAMILTON_FAST,
    APACHE_HAMILTON,
    APACHE_HAMILTON_PANDAS,
    HANDWRITTEN,
    HANDWRITTEN_SORTED,
)
ENGINE_LABELS = {
    HAMILTON_FAST: "hamilton_fast",
    APACHE_HAMILTON: "Apache Hamilton (pl.Series nodes, PolarsDataFrameResult)",
    APACHE_HAMILTON_PANDAS: "Apache Hamilton (pd.Series nodes, PandasDataFrameResult)",
    HANDWRITTEN: "hand-written Polars query",
    HANDWRITTEN_SORTED: "hand-written Polars query, key flagged sorted (`set_sorted`)",
}
SCENARIO_LABELS = {
    HANDWRITTEN: "hand-written Polars query (recompute)",
    "hamilton_fast": "hamilton_fast, no cache",
    "hamilton_fast_cold": "hamilton_fast, cold (empty cache)",
    "hamilton_fast_warm": "hamilton_fast, warm rerun (nothing changed)",
    "hamilton_fast_warm_new_process": "hamilton_fast, warm rerun as in a new process (the "
    "process's memos forgotten)",
    "handwritten_edited_only": "hand-written Polars query of the recomputed nodes only (the other "
    "columns in memory)",
    "hamilton_fast_edit": "hamilton_fast, rerun after editing one function",
    "apache_hamilton_pandas": "Apache Hamilton (pandas), no cache",
    "apache_hamilton_pandas_cold": "Apache Hamilton (pandas), cold `.with_cache()`",
    "apache_hamilton_pandas_warm": "Apache Hamilton (pandas), warm `.with_cache()` rerun",
}
SECOND_REFERENCES = {
    "hamilton_fast_edit": {"median_round_ratio_vs_edited_only": "handwritten_edited_only"},
}
SECOND_REFERENCE_NAMES = {"handwritten_edited_only": "recomputed nodes only"}
"""How an informational second ratio is named in its cell."""
CACHE_TARGETS = {"hamilton_fast_cold": 1.3, "hamilton_fast_warm": 0.05, "hamilton_fast_edit": 0.25}
EXECUTE_TARGET = 1.1
MEMORY_TARGET = 1.1
HELLO_TARGET = 1 / 3
BUILD_PLAN_TARGET_SECONDS = 0.2
BUILD_PLAN_TARGET_NODES = 5_000
PER_NODE_TARGET_SECONDS = 10e-6
FINGERPRINT_TARGET_BYTES_PER_SECOND = 3e9

INTERLEAVED_EXECUTE = ("wide", "wide_large", "forecast")
INTERLEAVED_RERUN = ("wide", "forecast", "wide_hamilton", "forecast_hamilton")
MEMORY_WORKLOADS = {
    "wide": (HAMILTON_FAST, APACHE_HAMILTON, APACHE_HAMILTON_PANDAS, HANDWRITTEN),
    "forecast": (HAMILTON_FAST, APACHE_HAMILTON_PANDAS, HANDWRITTEN),
}


# -- measuring ------------------------------------------------------------------------------


def _env(size: str) -> dict[str, str]:
    return {**os.environ, "HF_BENCH_SIZE": size, "HAMILTON_TELEMETRY_ENABLED": "false"}


def run_suite(size: str, json_path: Path) -> int:
    """Run the benchmarks at `size`; returns pytest's exit code (the JSON is written anyway)."""
    command = [
        sys.executable,
        "-m",
        "pytest",
        "benchmarks",
        "-m",
        "",  # every benchmark, slow-marked ones included
        "--benchmark-enable",
        f"--benchmark-json={json_path}",
        "--benchmark-sort=fullname",
        "-q",
    ]
    print("running:", " ".join(command), f"(HF_BENCH_SIZE={size})", flush=True)
    return subprocess.run(command, cwd=REPO_ROOT, env=_env(size), check=False).returncode


def _last_json_line(command: list[str], size: str, what: str) -> Any:
    print(f"{what}:", " ".join(command[2:]), flush=True)
    done = subprocess.run(
        command, cwd=REPO_ROOT, env=_env(size), check=False, capture_output=True, text=True
    )
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_memory(size: str) -> dict[str, dict[str, Any]]:
    """Peak memory per workload and engine, each in a fresh process."""
    results: dict[str, dict[str, Any]] = {}
    for workload, engines in MEMORY_WORKLOADS.items():
        for engine in engines:
            command = [
                sys.executable,
                "-m",
                "benchmarks.peak_memory",
                engine,
                "--workload",
                workload,
            ]
            results.setdefault(workload, {})[engine] = _last_json_line(
                command, size, "measuring memory"
            )
    return results


def measure_interleaved(size: str, rounds: int, cache_rounds: int) -> dict[str, Any]:
    """Every interleaved workload (`benchmarks/interleaved.py`), by name."""
    results = {}
    for workload, count in [(w, rounds) for w in INTERLEAVED_EXECUTE] + [
        (f"rerun-{w}", cache_rounds) for w in INTERLEAVED_RERUN
    ]:
        command = [
            sys.executable,
            "-m",
            "benchmarks.interleaved",
            "--workload",
            workload,
            "--rounds",
            str(count),
        ]
        results[workload] = _last_json_line(command, size, "timing interleaved rounds")
    return results


def measure_scale(size: str, rounds: int | None, plot: Path) -> Any:
    command = [sys.executable, "-m", "benchmarks.scale", "--plot", str(plot)]
    if rounds:
        command += ["--rounds", str(rounds)]
    return _last_json_line(command, size, "scale sweep")


# -- reading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measurement:
    group: str
    workload: str
    engine: str
    median: float
    minimum: float
    iqr: float
    rounds: int
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


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
                extra=info,
            )
        )
    return measurements


def _by_workload(measurements: list[Measurement], group: str) -> dict[str, dict[str, Measurement]]:
    table: dict[str, dict[str, Measurement]] = {}
    for measurement in measurements:
        if measurement.group == group and measurement.extra.get("what") is None:
            table.setdefault(measurement.workload, {})[measurement.engine] = measurement
    # The wide workloads carry the main target, so they lead; otherwise keep the run's order.
    ordered = sorted(table, key=lambda workload: not workload.startswith("wide"))
    return {workload: table[workload] for workload in ordered}


# -- formatting -----------------------------------------------------------------------------


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


def _ratio(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}x"


def verdict(target: float, *ratios: float | None, best: float | None = None) -> str:
    """`met`, `missed` or `noisy` for a target that ratios must not exceed.

    With two median-based figures (pytest-benchmark medians, interleaved per-round ratios),
    both must agree; with one, the best round decides between `missed` and `noisy`.

    >>> verdict(1.1, 1.05, 1.08), verdict(1.1, 1.2, 1.3), verdict(1.1, 1.05, 1.2)
    ('met', 'missed', 'noisy')
    >>> verdict(1.1, 1.2, best=1.0), verdict(1.1, 1.2, best=1.15), verdict(1.1, None)
    ('noisy', 'missed', 'not measured')
    """
    known = [r for r in ratios if r is not None]
    if not known:
        return "not measured"
    if all(r <= target for r in known):
        return "met"
    if len(known) > 1 and any(r <= target for r in known):
        return "noisy"
    if len(known) == 1 and best is not None and best <= target:
        return "noisy"
    return "missed"


def _memory_cell(entry: dict[str, Any] | None) -> str:
    if entry is None:
        return "not measured"
    if "skipped" in entry:
        return "skipped"
    if "error" in entry:
        return "failed: " + str(entry["error"])
    added = entry["run_peak_mib"] - entry["baseline_mib"]
    return f"{entry['run_peak_mib']:,.0f} (+{added:,.0f})"


def _memory_for(memory: dict[str, Any] | None, workload: str) -> dict[str, Any] | None:
    if not memory:
        return None
    for entries in memory.values():
        for entry in entries.values():
            if entry.get("workload") == workload:
                return entries
    return None


# -- rendering ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """Everything one report is rendered from."""

    data: dict[str, Any]
    memory: dict[str, Any] | None = None
    interleaved: dict[str, Any] | None = None
    scale: dict[str, Any] | None = None
    pytest_status: int | None = None
    load_before: tuple[float, float, float] | None = None
    load_after: tuple[float, float, float] | None = None

    @property
    def measurements(self) -> list[Measurement]:
        return read_measurements(self.data)

    def interleaved_for(self, label: str, group: str) -> dict[str, Any] | None:
        for entry in (self.interleaved or {}).values():
            if entry.get("workload") == label and entry.get("group") == group:
                return entry
        return None


def render_execute(run: Run) -> list[str]:
    lines = [
        "| workload | engine | median | min | IQR | rounds | vs hand-written (median) "
        "| peak RSS MiB (+run) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for workload, engines in _by_workload(run.measurements, "execute").items():
        if workload.startswith("chain "):
            continue
        reference = engines.get(HANDWRITTEN)
        memory = _memory_for(run.memory, workload)
        for engine in ENGINE_ORDER:
            measurement = engines.get(engine)
            memory_cell = _memory_cell(memory.get(engine)) if memory else "not measured"
            if measurement is None:
                if engine in (APACHE_HAMILTON, APACHE_HAMILTON_PANDAS, HANDWRITTEN_SORTED):
                    continue  # not every workload has every engine (the sorted key: forecast)
                lines.append(
                    f"| {workload} | {ENGINE_LABELS[engine]} | no result (skipped or failed) "
                    f"| | | | | {memory_cell} |"
                )
                continue
            ratio = _ratio(measurement.median / reference.median if reference else None)
            lines.append(
                f"| {workload} | {ENGINE_LABELS[engine]} | {format_seconds(measurement.median)} "
                f"| {format_seconds(measurement.minimum)} | {format_seconds(measurement.iqr)} "
                f"| {measurement.rounds} | {ratio} | {memory_cell} |"
            )
    return lines


def render_interleaved_execute(run: Run) -> list[str]:
    lines = [
        "| workload | engine | median | min | median of per-round ratios | rounds |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for name in INTERLEAVED_EXECUTE:
        entry = (run.interleaved or {}).get(name)
        if not entry:
            continue
        if "error" in entry:
            lines.append(f"| {name} | failed: {entry['error']} | | | | |")
            continue
        for engine in ENGINE_ORDER:
            timing = entry.get(engine)
            if timing is None:
                continue
            lines.append(
                f"| {entry['workload']} | {ENGINE_LABELS[engine]} "
                f"| {format_seconds(timing['median'])} | {format_seconds(timing['min'])} "
                f"| {_ratio(timing.get('median_round_ratio'))} | {entry['rounds']} |"
            )
    return lines


def per_node_overhead(run: Run) -> dict[str, tuple[float, float, float, float]]:
    """Per engine: (median at short chain, at long chain, per node by medians, by minimums)."""
    chains: dict[str, dict[int, Measurement]] = {}
    for m in run.measurements:
        if m.group == "execute" and "chain_nodes" in m.extra:
            chains.setdefault(m.engine, {})[int(m.extra["chain_nodes"])] = m
    result = {}
    for engine, by_length in chains.items():
        if len(by_length) < 2:
            continue
        short, long = min(by_length), max(by_length)
        span = long - short
        a, b = by_length[short], by_length[long]
        result[engine] = (
            a.median,
            b.median,
            (b.median - a.median) / span,
            (b.minimum - a.minimum) / span,
        )
    return result


def render_overhead(run: Run) -> list[str]:
    overhead = per_node_overhead(run)
    lengths = sorted(
        {int(m.extra["chain_nodes"]) for m in run.measurements if "chain_nodes" in m.extra}
    )
    if not overhead or len(lengths) < 2:
        return ["No chain measurements in this run."]
    short, long = lengths[0], lengths[-1]
    lines = [
        f"| engine | chain of {short:,} (median) | chain of {long:,} (median) "
        f"| per node: (t_{long} - t_{short}) / {long - short} | same, by minimums |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for engine in ENGINE_ORDER:
        if engine not in overhead:
            continue
        a, b, per_node, per_node_min = overhead[engine]
        lines.append(
            f"| {ENGINE_LABELS[engine]} | {format_seconds(a)} | {format_seconds(b)} "
            f"| {per_node * 1e6:.1f} µs | {per_node_min * 1e6:.1f} µs |"
        )
    return lines


def build_rows(
    run: Run,
) -> list[tuple[int, Measurement | None, Measurement | None, Measurement | None]]:
    """(nodes, hamilton_fast build, hamilton_fast build + plan, Apache Hamilton build)."""
    rows: dict[int, list[Measurement | None]] = {}
    for m in run.measurements:
        if m.group not in ("build", "plan") or not m.workload.startswith("build wide "):
            continue
        nodes = int(m.workload.split()[2])
        slot = rows.setdefault(nodes, [None, None, None])
        if m.group == "plan":
            slot[1] = m
        elif m.engine == HAMILTON_FAST:
            slot[0] = m
        elif m.engine == APACHE_HAMILTON:
            slot[2] = m
    return [(nodes, *rows[nodes]) for nodes in sorted(rows)]  # type: ignore[misc]


def render_build(run: Run) -> list[str]:
    def cell(m: Measurement | None) -> str:
        return (
            "no result"
            if m is None
            else f"{format_seconds(m.median)} (min {format_seconds(m.minimum)})"
        )

    lines = [
        "| generated nodes | hamilton_fast build | hamilton_fast build + plan "
        "| Apache Hamilton build | build + plan vs Apache Hamilton build |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for nodes, build, plan, hamilton in build_rows(run):
        ratio = _ratio(plan.median / hamilton.median if plan and hamilton else None)
        lines.append(f"| {nodes:,} | {cell(build)} | {cell(plan)} | {cell(hamilton)} | {ratio} |")
    hello = _by_workload(run.measurements, "build").get("build hello world", {})
    if hello:
        fast, hamilton = hello.get(HAMILTON_FAST), hello.get(APACHE_HAMILTON)
        lines.append(
            f"| hello world (6) | {cell(fast)} | | {cell(hamilton)} "
            f"| {_ratio(fast.median / hamilton.median if fast and hamilton else None)} "
            "(build only) |"
        )
    return lines


def cache_rows(run: Run) -> list[dict[str, Any]]:
    """One row per (rerun workload, scenario): pytest and interleaved figures, ratios."""
    by_rerun: dict[str, dict[str, Measurement]] = {}
    for m in run.measurements:
        if m.group == "cache" and "rerun" in m.extra:
            by_rerun.setdefault(m.extra["rerun"], {})[m.engine] = m
    rows = []
    for name in INTERLEAVED_RERUN:
        entry = (run.interleaved or {}).get(f"rerun-{name}") or {}
        if "error" in entry:
            entry = {}
        engines = by_rerun.get(name, {})
        any_measured = next(iter(engines.values()), None)
        label = entry.get("workload") or (any_measured.workload if any_measured else None)
        if label is None:
            continue
        for scenario in SCENARIO_LABELS:
            inter = entry.get(scenario)
            measured = engines.get(scenario)
            if inter is None and measured is None:
                continue
            reference = (inter or {}).get("reference") or (
                measured.extra.get("reference") if measured else None
            )
            pytest_ratio = None
            if measured is not None and reference and reference in engines:
                pytest_ratio = measured.median / engines[reference].median
            interleaved_ratio = (inter or {}).get("median_round_ratio") if reference else None
            second = []
            for key, other in SECOND_REFERENCES.get(scenario, {}).items():
                other_pytest = None
                if measured is not None and other in engines:
                    other_pytest = measured.median / engines[other].median
                second.append((other, (inter or {}).get(key), other_pytest))
            facts = {**(any_measured.extra if any_measured else {}), **entry}
            rows.append(
                {
                    "rerun": name,
                    "workload": label,
                    "scenario": scenario,
                    "reference": reference,
                    "interleaved": inter,
                    "pytest": measured,
                    "pytest_ratio": pytest_ratio,
                    "interleaved_ratio": interleaved_ratio,
                    "second": second,
                    "edited": facts.get("edited_nodes"),
                    "nodes": facts.get("nodes"),
                }
            )
    return rows


def render_cache(run: Run) -> list[str]:
    lines = [
        "| workload | scenario | median (interleaved) | vs reference, median of per-round "
        "ratios | median (pytest) | vs reference (pytest medians) | reference | target |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for row in cache_rows(run):
        inter, measured = row["interleaved"], row["pytest"]
        target = CACHE_TARGETS.get(row["scenario"])
        scenario = SCENARIO_LABELS[row["scenario"]]
        interleaved_ratio = _ratio(row["interleaved_ratio"], 3) if row["reference"] else ""
        pytest_ratio = _ratio(row["pytest_ratio"], 3) if row["reference"] else ""
        reference = SCENARIO_LABELS.get(row["reference"], "") if row["reference"] else ""
        for other, by_rounds, by_medians in row["second"]:
            # Informational, in brackets after the figure the target is checked against.
            name = SECOND_REFERENCE_NAMES.get(other, other)
            if by_rounds is not None:
                interleaved_ratio += f" ({_ratio(by_rounds)} vs {name})"
            if by_medians is not None:
                pytest_ratio += f" ({_ratio(by_medians)} vs {name})"
            if by_rounds is not None or by_medians is not None:
                reference += f"; in brackets: {SCENARIO_LABELS.get(other, other)}"
        if row["scenario"] == "hamilton_fast_edit" and row["edited"]:
            scenario += f" ({row['edited']} of {row['nodes']} nodes recomputed)"
        if row["scenario"] == "hamilton_fast_cold" and inter and "write_seconds" in inter:
            write = format_seconds(inter["write_seconds"])
            scenario += f"; then the background write, joined untimed: {write}"
        lines.append(
            f"| {row['workload']} | {scenario} "
            f"| {format_seconds(inter['median']) if inter else 'not run'} "
            f"| {interleaved_ratio} "
            f"| {format_seconds(measured.median) if measured else 'not run'} "
            f"| {pytest_ratio} | {reference} | {f'<= {target}x' if target else ''} |"
        )
    return lines


def fingerprint_rows(run: Run) -> list[tuple[Measurement, float, float]]:
    """(measurement, GB/s by median, GB/s by minimum) of every fingerprint benchmark."""
    rows = []
    for m in run.measurements:
        if m.group == "cache" and "bytes" in m.extra:
            size = float(m.extra["bytes"])
            rows.append((m, size / m.median / 1e9, size / m.minimum / 1e9))
    return rows


def render_fingerprint(run: Run) -> list[str]:
    lines = [
        "| input | bytes | median | min | throughput (median) | throughput (best) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for m, by_median, by_min in fingerprint_rows(run):
        lines.append(
            f"| {m.workload} | {m.extra['bytes']:,} | {format_seconds(m.median)} "
            f"| {format_seconds(m.minimum)} | {by_median:.2f} GB/s | {by_min:.2f} GB/s |"
        )
    return lines


def render_scale(run: Run) -> list[str]:
    if not run.scale or "points" not in run.scale:
        reason = (run.scale or {}).get("error", "not run")
        return [f"Scale sweep: {reason}."]
    lines = [
        "| sweep | workload | hamilton_fast median | hand-written median | median of per-round "
        "ratios | hamilton_fast peak RSS MiB (+run) | hand-written peak RSS MiB (+run) "
        "| peak RSS ratio |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for point in run.scale["points"]:
        timing, memory = point["timing"], point.get("memory") or {}
        fast, hand = timing.get(HAMILTON_FAST, {}), timing.get(HANDWRITTEN, {})
        mem_fast, mem_hand = memory.get(HAMILTON_FAST), memory.get(HANDWRITTEN)
        mem_ratio = None
        if mem_fast and mem_hand and "run_peak_mib" in mem_fast and "run_peak_mib" in mem_hand:
            mem_ratio = mem_fast["run_peak_mib"] / mem_hand["run_peak_mib"]
        lines.append(
            f"| {point['axis']} | {point['label']} "
            f"| {format_seconds(fast['median']) if fast else 'n/a'} "
            f"| {format_seconds(hand['median']) if hand else 'n/a'} "
            f"| {_ratio(fast.get('median_round_ratio'))} "
            f"| {_memory_cell(mem_fast) if memory else 'not measured'} "
            f"| {_memory_cell(mem_hand) if memory else 'not measured'} | {_ratio(mem_ratio)} |"
        )
    lines += ["", f"![time and peak memory as rows and nodes grow]({SCALE_PNG.name})"]
    return lines


# -- targets --------------------------------------------------------------------------------


def target_rows(run: Run) -> list[tuple[str, str, str]]:
    """(target, measured, verdict) for every target of the issues."""
    rows: list[tuple[str, str, str]] = []
    execute = _by_workload(run.measurements, "execute")
    for workload, engines in execute.items():
        if not (workload.startswith(("wide ", "forecast "))):
            continue
        fast, hand = engines.get(HAMILTON_FAST), engines.get(HANDWRITTEN)
        by_median = fast.median / hand.median if fast and hand else None
        inter = run.interleaved_for(workload, "execute")
        paired = (inter or {}).get(HAMILTON_FAST, {}).get("median_round_ratio")
        measured = f"{_ratio(by_median)} by pytest medians"
        if paired is not None:
            measured += f", {_ratio(paired)} by interleaved per-round ratios"
        rows.append(
            (
                f"execute {workload}: hamilton_fast <= {EXECUTE_TARGET}x hand-written",
                measured,
                verdict(EXECUTE_TARGET, by_median, paired),
            )
        )
    hello = execute.get(next((w for w in execute if w.startswith("hello world")), ""), {})
    if hello:
        fast, hamilton = hello.get(HAMILTON_FAST), hello.get(APACHE_HAMILTON)
        if fast and hamilton:
            ratio = fast.median / hamilton.median
            rows.append(
                (
                    "hello world execute: hamilton_fast <= 1/3 of Apache Hamilton",
                    f"{_ratio(ratio)} ({format_seconds(fast.median)} vs "
                    f"{format_seconds(hamilton.median)})",
                    verdict(HELLO_TARGET, ratio, best=fast.minimum / hamilton.minimum),
                )
            )
    for nodes, _build, plan, hamilton in build_rows(run):
        if plan is None:
            continue
        if nodes == BUILD_PLAN_TARGET_NODES:
            rows.append(
                (
                    f"build + plan {nodes:,} nodes < {BUILD_PLAN_TARGET_SECONDS} s",
                    f"{format_seconds(plan.median)} (min {format_seconds(plan.minimum)}); "
                    "Apache Hamilton build "
                    f"{format_seconds(hamilton.median) if hamilton else 'n/a'}",
                    verdict(
                        BUILD_PLAN_TARGET_SECONDS,
                        plan.median,
                        best=plan.minimum,
                    ),
                )
            )
        elif nodes == max(n for n, *_ in build_rows(run)) and nodes > BUILD_PLAN_TARGET_NODES:
            rows.append(
                (
                    f"build + plan {nodes:,} nodes without trouble",
                    f"{format_seconds(plan.median)}, answer checked",
                    "met (completes)",
                )
            )
    overhead = per_node_overhead(run)
    for engine in (HAMILTON_FAST, APACHE_HAMILTON):
        if engine not in overhead:
            continue
        _, _, per_node, per_node_min = overhead[engine]
        name = ENGINE_LABELS[engine]
        if engine == HAMILTON_FAST:
            rows.append(
                (
                    "per-node run-time overhead < 10 µs (hamilton_fast)",
                    f"{per_node * 1e6:.1f} µs by medians, {per_node_min * 1e6:.1f} µs by minimums",
                    verdict(PER_NODE_TARGET_SECONDS, per_node, best=per_node_min),
                )
            )
        else:
            rows.append(
                (f"per-node overhead, for comparison: {name}", f"{per_node * 1e6:.1f} µs", "")
            )
    for workload, entries in (run.memory or {}).items():
        fast, hand = entries.get(HAMILTON_FAST, {}), entries.get(HANDWRITTEN, {})
        if "run_peak_mib" in fast and "run_peak_mib" in hand:
            ratio = fast["run_peak_mib"] / hand["run_peak_mib"]
            added = (fast["run_peak_mib"] - fast["baseline_mib"]) / max(
                hand["run_peak_mib"] - hand["baseline_mib"], 1e-9
            )
            rows.append(
                (
                    f"peak memory {fast.get('workload', workload)} "
                    f"<= {MEMORY_TARGET}x hand-written",
                    f"{_ratio(ratio)} of peak RSS ({_ratio(added)} of what the run added); one "
                    "process each",
                    verdict(MEMORY_TARGET, ratio),
                )
            )
    for row in cache_rows(run):
        target = CACHE_TARGETS.get(row["scenario"])
        if target is None:
            continue
        rows.append(
            (
                f"{row['workload']}: {SCENARIO_LABELS[row['scenario']]} <= {target}x "
                f"{SCENARIO_LABELS.get(row['reference'], row['reference'])}",
                f"{_ratio(row['pytest_ratio'], 3)} by pytest medians, "
                f"{_ratio(row['interleaved_ratio'], 3)} by interleaved per-round ratios",
                verdict(target, row["pytest_ratio"], row["interleaved_ratio"]),
            )
        )
    for m, by_median, by_min in fingerprint_rows(run):
        rows.append(
            (
                f"{m.workload}: >= {FINGERPRINT_TARGET_BYTES_PER_SECOND / 1e9:.0f} GB/s",
                f"{by_median:.2f} GB/s by median, {by_min:.2f} GB/s best",
                # A throughput target: compare the time per byte against the target's.
                verdict(
                    1e9 / FINGERPRINT_TARGET_BYTES_PER_SECOND,
                    1 / by_median,
                    best=1 / by_min,
                ),
            )
        )
    return rows


def render_targets(run: Run) -> list[str]:
    lines = ["| target | measured | verdict |", "| --- | --- | --- |"]
    for target, measured, outcome in target_rows(run):
        shown = f"**{outcome}**" if outcome else ""
        lines.append(f"| {target} | {measured} | {shown} |")
    return lines


def _load(load: tuple[float, float, float] | None) -> str:
    return "?" if load is None else " / ".join(f"{value:.2f}" for value in load)


def render(run: Run) -> str:
    data = run.data
    info = data["machine_info"]
    meta = info.get("hamilton_fast_bench", {})
    cpu = info.get("cpu", {})
    commit = (data.get("commit_info") or {}).get("id") or "no commit"
    dirty = " + uncommitted changes" if (data.get("commit_info") or {}).get("dirty") else ""
    lines = [
        f"Measured {data.get('datetime', '?')[:19]} UTC, size `{meta.get('bench_size', '?')}`, "
        f"on {cpu.get('brand_raw', info.get('processor') or '?')}, "
        f"{meta.get('cpu_count', cpu.get('count', '?'))} cores (shared, noisy machine).",
        "",
        f"- Python {meta.get('python', info.get('python_version'))}, "
        f"polars {meta.get('polars', '?')}, apache-hamilton {meta.get('apache_hamilton', '?')}, "
        f"pandas {meta.get('pandas', '?')}, hamilton_fast {meta.get('hamilton_fast', '?')} "
        f"(commit {commit[:10]}{dirty})",
        f"- POLARS_MAX_THREADS={meta.get('POLARS_MAX_THREADS', '?')} "
        f"(Polars thread pool: {meta.get('polars_thread_pool_size', '?')} threads, the same for "
        "every engine: all run in one process per step)",
        f'- hand-written queries collect with `engine="{meta.get("reference_engine", "?")}"`; '
        f'hamilton_fast its default (`"{meta.get("hamilton_fast_engine", "?")}"`)',
        f"- load average (1/5/15 min) before the run {_load(run.load_before)}, "
        f"after {_load(run.load_after)}: above the core count means other work shared the CPUs",
        "- median and min over the rounds shown; IQR is the interquartile range; a verdict is "
        "`met` when every median-based figure meets the target, `missed` when none does (or, with "
        "one figure, when even the best round misses), `noisy` otherwise",
    ]
    if run.pytest_status not in (None, 0):
        lines.append(
            f"- **pytest exited with status {run.pytest_status}**: a check failed or a benchmark "
            "errored; engines without a result below did not pass their correctness check"
        )
    lines += ["", "**Targets**", "", *render_targets(run)]
    lines += ["", "**Execute** (pytest-benchmark)", "", *render_execute(run), ""]
    if run.memory is None:
        lines.append("Peak memory: not measured in this run.")
    else:
        lines.append(
            "Peak RSS: maximum resident set of a fresh process (same imports for every engine) "
            "after one execute; in brackets, how much the execute added to the high-water mark "
            "of the setup (inputs and driver built). Not measured for the hello world, whose "
            "footprint is the interpreter's."
        )
    if run.interleaved:
        lines += [
            "",
            "**Execute with interleaved rounds** (`benchmarks/interleaved.py`: each round runs "
            "every engine once, so passing load hits all engines alike)",
            "",
            *render_interleaved_execute(run),
        ]
    lines += [
        "",
        "**Per-node run-time overhead** (chains of trivial ops on 10 rows, the last node "
        "requested; pytest-benchmark)",
        "",
        *render_overhead(run),
        "",
        "**Build and plan** (pytest-benchmark; build + plan is the build and the first `execute` "
        "on 64 rows)",
        "",
        *render_build(run),
        "",
        "**Cache: cold, warm and edited reruns** (each scenario's setup untimed: fresh driver, "
        "emptied or filled cache, module file rewritten; cold-run writes joined outside the "
        "timing)",
        "",
        *render_cache(run),
        "",
        "**Input fingerprinting** (`hamilton_fast.cache.fingerprint_frame`)",
        "",
        *render_fingerprint(run),
        "",
        "**Scale** (`benchmarks/scale.py`: wide workload, interleaved rounds; peak memory in a "
        "fresh process per engine and point)",
        "",
        *render_scale(run),
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
    parser.add_argument("--from-run", type=Path, help="render a run saved with --save-run")
    parser.add_argument("--save-json", type=Path, help="keep the pytest-benchmark JSON here")
    parser.add_argument("--save-run", type=Path, help="keep everything measured here (JSON)")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory runs")
    parser.add_argument("--no-scale", action="store_true", help="skip the scale sweep")
    parser.add_argument(
        "--interleaved-rounds", type=int, default=9, help="0 skips the interleaved timing"
    )
    parser.add_argument("--cache-rounds", type=int, default=5, help="interleaved cache rounds")
    parser.add_argument("--scale-rounds", type=int, default=0, help="0: the size's default")
    parser.add_argument("--readme", type=Path, default=README)
    args = parser.parse_args(argv)

    if args.from_run:
        saved = json.loads(args.from_run.read_text(encoding="utf-8"))
        saved["load_before"] = tuple(saved["load_before"]) if saved.get("load_before") else None
        saved["load_after"] = tuple(saved["load_after"]) if saved.get("load_after") else None
        run = Run(**saved)
    else:
        run = measure(args)
        if args.save_run:
            args.save_run.write_text(json.dumps(run.__dict__), encoding="utf-8")
    table = render(run)
    write_table(args.readme, table)
    print(table)
    print(f"\nwrote the table into {args.readme}")
    return run.pytest_status or 0


def measure(args: argparse.Namespace) -> Run:
    load_before = os.getloadavg()
    pytest_status = None
    if args.from_json:
        data = json.loads(args.from_json.read_text(encoding="utf-8"))
        size = data["machine_info"].get("hamilton_fast_bench", {}).get("bench_size", args.size)
        load_before = None
    else:
        size = args.size
        with tempfile.TemporaryDirectory() as directory:
            json_path = args.save_json or Path(directory) / "benchmarks.json"
            pytest_status = run_suite(size, json_path)
            if not json_path.exists():
                msg = f"pytest exited with {pytest_status} and wrote no results"
                raise SystemExit(msg)
            data = json.loads(json_path.read_text(encoding="utf-8"))
    interleaved = None
    if args.interleaved_rounds > 0:
        interleaved = measure_interleaved(size, args.interleaved_rounds, args.cache_rounds)
    memory = None if args.no_memory else measure_memory(size)
    scale = None
    if not args.no_scale:
        # Next to the README written, which links it by name: a trial run with `--readme`
        # elsewhere leaves the published plot alone.
        scale = measure_scale(size, args.scale_rounds, args.readme.with_name(SCALE_PNG.name))
    return Run(
        data=data,
        memory=memory,
        interleaved=interleaved,
        scale=scale,
        pytest_status=pytest_status,
        load_before=load_before,
        load_after=None if args.from_json else os.getloadavg(),
    )


if __name__ == "__main__":
    sys.exit(main())
