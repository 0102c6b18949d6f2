"""The engines under comparison, built the same way by the tests and the memory probe.

- `hamilton_fast`: this project's driver, default settings.
- `apache_hamilton`: Apache Hamilton on the same module, `pl.Series` nodes, results gathered by
  its `PolarsDataFrameResult` builder.
- `handwritten`: the Polars query an expert writes for the workload, built without any library.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from typing import TYPE_CHECKING, Any

from polars.testing import assert_frame_equal

if TYPE_CHECKING:
    import types
    from collections.abc import Callable

    import polars as pl

# Apache Hamilton reads this when it is imported (only inside the functions below); the
# benchmarks must not phone home.
os.environ.setdefault("HAMILTON_TELEMETRY_ENABLED", "false")

HAMILTON_FAST = "hamilton_fast"
APACHE_HAMILTON = "apache_hamilton"
HANDWRITTEN = "handwritten"
EXECUTE_ENGINES = (HAMILTON_FAST, APACHE_HAMILTON, HANDWRITTEN)
BUILD_ENGINES = (HAMILTON_FAST, APACHE_HAMILTON)

ENGINE_LABELS = {
    HAMILTON_FAST: "hamilton_fast",
    APACHE_HAMILTON: "Apache Hamilton (pl.Series nodes, PolarsDataFrameResult)",
    HANDWRITTEN: "hand-written Polars query",
}

# Same operations in the same order give identical floats; the tolerance only absorbs a
# different but equally valid evaluation order (e.g. a mean summed in another chunking).
REL_TOL = 1e-6
ABS_TOL = 1e-6


def hamilton_fast_missing() -> str | None:
    """Why hamilton_fast cannot be benchmarked yet, or None when its driver module exists.

    Only a missing file counts: a driver that exists but fails to import is a bug to report,
    so it must fail loudly rather than skip.
    """
    if importlib.util.find_spec("hamilton_fast.driver") is None:
        return "hamilton_fast.driver is not written yet"
    return None


def build_hamilton_fast(module: types.ModuleType) -> Any:
    from hamilton_fast import driver

    return driver.Builder().with_modules(module).build()


def build_apache_hamilton(module: types.ModuleType) -> Any:
    from hamilton import base, driver
    from hamilton.plugins.h_polars import PolarsDataFrameResult

    adapter = base.SimplePythonGraphAdapter(PolarsDataFrameResult())
    return driver.Builder().with_modules(module).with_adapters(adapter).build()


BUILDERS = {HAMILTON_FAST: build_hamilton_fast, APACHE_HAMILTON: build_apache_hamilton}


def assert_same_frame(actual: pl.DataFrame, expected: pl.DataFrame) -> None:
    """Same columns in the same order, same dtypes, values equal within the float tolerance."""
    assert_frame_equal(actual, expected, check_exact=False, rel_tol=REL_TOL, abs_tol=ABS_TOL)


def make_runner(
    engine: str,
    module: types.ModuleType,
    outputs: list[str],
    inputs: dict[str, pl.Series],
    handwritten: Callable[[], pl.DataFrame],
) -> Callable[[], pl.DataFrame]:
    """A no-argument callable that computes `outputs` with `engine`; drivers are built here,
    once, so that timing the callable measures execution only."""
    if engine == HANDWRITTEN:
        return handwritten
    driver = BUILDERS[engine](module)
    return functools.partial(driver.execute, outputs, inputs=inputs)
