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
class WideShape:
    """One size of the wide workload: how many generated nodes over how many rows."""

    nodes: int
    rows: int

    @property
    def label(self) -> str:
        return f"wide {self.nodes} nodes x {self.rows:,} rows"


@dataclass(frozen=True)
class PanelShape:
    """One size of the forecast panel: series x weeks (rows = their product)."""

    series: int
    weeks: int

    @property
    def rows(self) -> int:
        return self.series * self.weeks

    @property
    def label(self) -> str:
        return f"forecast {self.series:,} series x {self.weeks} weeks"


@dataclass(frozen=True)
class BenchSize:
    """How big each workload is, and how many timed rounds the slow ones get."""

    name: str
    wide_nodes: int
    wide_rows: int
    wide_large: WideShape
    build_nodes: tuple[int, ...]
    hello_rows: int
    forecast: PanelShape
    chain_nodes: tuple[int, int]
    chain_rows: int
    # Apache Hamilton 1.90's cache fingerprints a Series element by element in Python (about
    # 8 us per value), so its cold run at the full sizes would take tens of minutes: it is
    # compared on these smaller inputs, next to hamilton_fast and the hand-written query run
    # on the very same inputs.
    hamilton_cache_wide: WideShape
    hamilton_cache_forecast: PanelShape
    fingerprint_rows: int
    fingerprint_columns: int
    scale_rows: tuple[int, ...]
    scale_rows_nodes: int
    scale_nodes: tuple[int, ...]
    scale_nodes_rows: int
    execute_rounds: int
    build_rounds: int
    cache_rounds: int
    scale_rounds: int

    @property
    def wide(self) -> WideShape:
        return WideShape(self.wide_nodes, self.wide_rows)

    @property
    def wide_label(self) -> str:
        return self.wide.label


SIZES = {
    "small": BenchSize(
        name="small",
        wide_nodes=200,
        wide_rows=20_000,
        wide_large=WideShape(1_000, 2_000),
        build_nodes=(200, 1_000, 2_000),
        hello_rows=1_000,
        forecast=PanelShape(100, 60),
        chain_nodes=(100, 1_000),
        chain_rows=10,
        hamilton_cache_wide=WideShape(200, 200),
        hamilton_cache_forecast=PanelShape(20, 60),
        fingerprint_rows=100_000,
        fingerprint_columns=10,
        scale_rows=(1_000, 10_000),
        scale_rows_nodes=50,
        scale_nodes=(50, 200, 1_000),
        scale_nodes_rows=1_000,
        execute_rounds=3,
        build_rounds=3,
        cache_rounds=2,
        scale_rounds=2,
    ),
    "full": BenchSize(
        name="full",
        wide_nodes=200,
        wide_rows=1_000_000,
        wide_large=WideShape(1_000, 100_000),
        build_nodes=(1_000, 5_000, 20_000),
        hello_rows=1_000,
        forecast=PanelShape(2_000, 260),
        chain_nodes=(100, 1_000),
        chain_rows=10,
        hamilton_cache_wide=WideShape(200, 10_000),
        hamilton_cache_forecast=PanelShape(100, 260),
        fingerprint_rows=10_000_000,
        fingerprint_columns=10,
        scale_rows=(10_000, 100_000, 1_000_000, 10_000_000),
        scale_rows_nodes=50,
        scale_nodes=(50, 200, 1_000),
        scale_nodes_rows=100_000,
        execute_rounds=9,
        build_rounds=7,
        cache_rounds=5,
        scale_rounds=5,
    ),
}

WIDE_SPEC_SEED = 20_240_601
WIDE_INPUT_SEED = 7
HELLO_INPUT_SEED = 11
FORECAST_PANEL_SEED = 52
CHAIN_INPUT_SEED = 3
FINGERPRINT_SEED = 5


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
