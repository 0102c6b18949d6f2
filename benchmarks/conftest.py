"""Shared setup of the benchmark suite: telemetry off, the size switch, run metadata.

`HF_BENCH_SIZE=small` (default) or `full` picks the workload sizes (see `benchmarks/sizes.py`).
Every benchmark records the Polars thread count, the size and the collect engine of the
hand-written reference in its `extra_info`; the machine info gets the library versions.
"""

from __future__ import annotations

import os

# Must precede any import of Apache Hamilton, which reads it at import time.
os.environ.setdefault("HAMILTON_TELEMETRY_ENABLED", "false")

import platform
from importlib import metadata
from typing import Any

import polars as pl
import pytest

from benchmarks.sizes import BenchSize, current_size

REFERENCE_ENGINE = "in-memory"


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        pass
    try:
        module = __import__(distribution.replace("-", "_"))
    except ImportError:
        return "not installed"
    return getattr(module, "__version__", "source tree")


def _hamilton_fast_engine() -> str:
    try:
        from hamilton_fast.driver import Builder
    except ImportError:
        return "not available"
    return str(getattr(Builder(), "engine", "unknown"))


def run_metadata() -> dict[str, Any]:
    """Facts that decide what the figures mean, stored with every benchmark run."""
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "polars": pl.__version__,
        "apache_hamilton": _version("apache-hamilton"),
        "pandas": _version("pandas"),
        "hamilton_fast": _version("hamilton_fast"),
        "polars_thread_pool_size": pl.thread_pool_size(),
        "POLARS_MAX_THREADS": os.environ.get("POLARS_MAX_THREADS", "unset"),
        "reference_engine": REFERENCE_ENGINE,
        "hamilton_fast_engine": _hamilton_fast_engine(),
        "bench_size": current_size().name,
    }


def pytest_configure(config: pytest.Config) -> None:
    try:
        current_size()
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    machine_info["hamilton_fast_bench"] = run_metadata()


@pytest.fixture(scope="session")
def bench_size() -> BenchSize:
    return current_size()


@pytest.fixture(autouse=True)
def _record_run_metadata(request: pytest.FixtureRequest) -> None:
    if "benchmark" in request.fixturenames:
        benchmark = request.getfixturevalue("benchmark")
        benchmark.extra_info["polars_threads"] = pl.thread_pool_size()
        benchmark.extra_info["bench_size"] = current_size().name
        benchmark.extra_info["reference_engine"] = REFERENCE_ENGINE
