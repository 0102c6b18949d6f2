"""The engines under comparison, built the same way by the tests and the memory probe.

- `hamilton_fast`: this project's driver, default settings.
- `apache_hamilton`: Apache Hamilton on the same module, `pl.Series` nodes, results gathered by
  its `PolarsDataFrameResult` builder.
- `apache_hamilton_pandas`: Apache Hamilton on the pandas version of the module (`pd.Series`
  nodes, `PandasDataFrameResult`), inputs converted to pandas once, before any timing: the
  second anchor, and the only Apache Hamilton engine of workloads written for pandas.
- `handwritten`: the Polars query an expert writes for the workload, built without any library.

Each engine runs the module flavor it is written for (`ENGINE_FLAVORS`): `series` (or `expr`,
for workloads whose natural form is `pl.Expr`) for hamilton_fast, `series` for
`apache_hamilton`, `pandas` for `apache_hamilton_pandas`.
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
APACHE_HAMILTON_PANDAS = "apache_hamilton_pandas"
HANDWRITTEN = "handwritten"
# The hand-written query with its partition key flagged sorted (`set_sorted`), as an expert
# who knows Polars' flags writes it; informational (the targets compare with HANDWRITTEN).
HANDWRITTEN_SORTED = "handwritten_sorted"
EXECUTE_ENGINES = (HAMILTON_FAST, APACHE_HAMILTON, HANDWRITTEN)
WIDE_ENGINES = (HAMILTON_FAST, APACHE_HAMILTON, APACHE_HAMILTON_PANDAS, HANDWRITTEN)
BUILD_ENGINES = (HAMILTON_FAST, APACHE_HAMILTON)

ENGINE_LABELS = {
    HAMILTON_FAST: "hamilton_fast",
    APACHE_HAMILTON: "Apache Hamilton (pl.Series nodes, PolarsDataFrameResult)",
    APACHE_HAMILTON_PANDAS: "Apache Hamilton (pd.Series nodes, PandasDataFrameResult)",
    HANDWRITTEN: "hand-written Polars query",
    HANDWRITTEN_SORTED: "hand-written Polars query, key flagged sorted (`set_sorted`)",
}
ENGINE_FLAVORS = {
    HAMILTON_FAST: "series",
    APACHE_HAMILTON: "series",
    APACHE_HAMILTON_PANDAS: "pandas",
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


def build_apache_hamilton_pandas(module: types.ModuleType) -> Any:
    from hamilton import base, driver

    adapter = base.SimplePythonGraphAdapter(base.PandasDataFrameResult())
    return driver.Builder().with_modules(module).with_adapters(adapter).build()


BUILDERS = {
    HAMILTON_FAST: build_hamilton_fast,
    APACHE_HAMILTON: build_apache_hamilton,
    APACHE_HAMILTON_PANDAS: build_apache_hamilton_pandas,
}


def assert_same_frame(actual: pl.DataFrame, expected: pl.DataFrame) -> None:
    """Same columns in the same order, same dtypes, values equal within the float tolerance."""
    assert_frame_equal(actual, expected, check_exact=False, rel_tol=REL_TOL, abs_tol=ABS_TOL)


def to_polars(result: Any) -> pl.DataFrame:
    """An engine's answer as a Polars frame (pandas results are converted, NaN read as null).

    Only for correctness checks: the conversion is never inside a timed call.
    """
    import polars as pl

    if isinstance(result, pl.DataFrame):
        return result
    return pl.from_pandas(result)


def to_pandas_inputs(inputs: dict[str, pl.Series]) -> dict[str, Any]:
    """Inputs for a pandas module: the same columns as `pd.Series` (a pandas user's data)."""
    return {name: series.to_pandas() for name, series in inputs.items()}


def make_runner(
    engine: str,
    module: types.ModuleType,
    outputs: list[str],
    inputs: dict[str, pl.Series],
    handwritten: Callable[[], pl.DataFrame],
) -> Callable[[], pl.DataFrame]:
    """A no-argument callable that computes `outputs` with `engine`; drivers are built (and
    inputs converted, for pandas) here, once, so that timing the callable measures execution
    only. `module` must be the flavor the engine runs (`ENGINE_FLAVORS`)."""
    if engine == HANDWRITTEN:
        return handwritten
    driver = BUILDERS[engine](module)
    engine_inputs = to_pandas_inputs(inputs) if engine == APACHE_HAMILTON_PANDAS else inputs
    return functools.partial(driver.execute, outputs, inputs=engine_inputs)
