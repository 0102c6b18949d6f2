"""Workload sizes of the benchmark suite, switched by the environment variable `HF_BENCH_SIZE`.

`small` (the default) keeps `pytest benchmarks --benchmark-disable` fast enough for CI, where each
benchmark body runs once as a smoke test with its correctness check. `full` gives the published
figures (`benchmarks/report.py` sets it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

SIZE_VARIABLE = "HF_BENCH_SIZE"


@dataclass(frozen=True)
class BenchSize:
    """How big each workload is, and how many timed rounds the slow ones get."""

    name: str
    wide_nodes: int
    wide_rows: int
    build_nodes: tuple[int, ...]
    hello_rows: int
    execute_rounds: int
    build_rounds: int

    @property
    def wide_label(self) -> str:
        return f"wide {self.wide_nodes} nodes x {self.wide_rows:,} rows"


SIZES = {
    "small": BenchSize(
        name="small",
        wide_nodes=200,
        wide_rows=20_000,
        build_nodes=(200, 1_000),
        hello_rows=1_000,
        execute_rounds=3,
        build_rounds=3,
    ),
    "full": BenchSize(
        name="full",
        wide_nodes=200,
        wide_rows=1_000_000,
        build_nodes=(1_000, 5_000),
        hello_rows=1_000,
        execute_rounds=9,
        build_rounds=7,
    ),
}

WIDE_SPEC_SEED = 20_240_601
WIDE_INPUT_SEED = 7
HELLO_INPUT_SEED = 11


def current_size() -> BenchSize:
    """The size named by `HF_BENCH_SIZE` (default `small`)."""
    name = os.environ.get(SIZE_VARIABLE, "small").strip().lower() or "small"
    try:
        return SIZES[name]
    except KeyError:
        msg = (
            f"{SIZE_VARIABLE}={name!r} is not a benchmark size.\n"
            f"Hint: use one of {', '.join(sorted(SIZES))}, e.g. {SIZE_VARIABLE}=full."
        )
        raise ValueError(msg) from None
