"""Workloads ready to run: seeded inputs, module files of every flavor, the expected answer.

The pytest benchmarks, the interleaved timing (`interleaved.py`), the peak-memory probe
(`peak_memory.py`) and the scale sweep (`scale.py`) all build their workloads here, so every
one of them times exactly what the tests check.

- `WideCase` (`make_wide_case`): a generated wide DAG, `series` and `pandas` modules.
- `ForecastCase` (`make_forecast_case`): the demand panel, `expr` and `pandas` modules.
- `make_numeric_frame`: the numeric frame whose fingerprinting is timed.

`case.runner(engine)` gives the no-argument callable to time (driver built, inputs converted
beforehand); `case.expected()` the hand-written answer; `case.check(engine, result)` compares an
engine's answer with it, after bringing both to one shape where engines differ (pandas).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from benchmarks.engines import (
    APACHE_HAMILTON,
    APACHE_HAMILTON_PANDAS,
    HAMILTON_FAST,
    HANDWRITTEN,
    HANDWRITTEN_SORTED,
    assert_same_frame,
    make_runner,
    to_polars,
)
from benchmarks.sizes import (
    FINGERPRINT_SEED,
    FORECAST_PANEL_SEED,
    WIDE_INPUT_SEED,
    WIDE_SPEC_SEED,
    PanelShape,
    WideShape,
)
from benchmarks.workloads import forecast_features, forecast_pandas
from benchmarks.workloads.forecast import (
    FORECAST_OUTPUTS,
    handwritten_forecast,
    make_panel,
    normalize_forecast,
    panel_inputs,
)
from benchmarks.workloads.wide import (
    WideSpec,
    handwritten_wide,
    make_wide_inputs,
    make_wide_spec,
    wide_outputs,
    write_wide_module,
)

if TYPE_CHECKING:
    import pathlib
    import types
    from collections.abc import Callable

    import polars as pl

FORECAST_ENGINES = (HAMILTON_FAST, APACHE_HAMILTON_PANDAS, HANDWRITTEN, HANDWRITTEN_SORTED)
"""Apache Hamilton runs the pandas module: windows `.over(...)` have no `pl.Series` form."""


@dataclass
class WideCase:
    """A generated wide DAG with its modules (by flavor), inputs and requested outputs."""

    spec: WideSpec
    modules: dict[str, types.ModuleType]
    inputs: dict[str, pl.Series]
    outputs: list[str]
    label: str
    _expected: pl.DataFrame | None = field(default=None, repr=False)

    def handwritten(self) -> pl.DataFrame:
        return handwritten_wide(self.spec, self.inputs, self.outputs)

    def expected(self) -> pl.DataFrame:
        """The hand-written answer, computed once per case."""
        if self._expected is None:
            self._expected = self.handwritten()
        return self._expected

    def runner(self, engine: str) -> Callable[[], Any]:
        flavor = "pandas" if engine == APACHE_HAMILTON_PANDAS else "series"
        return make_runner(
            engine, self.modules[flavor], self.outputs, self.inputs, self.handwritten
        )

    def check(self, result: Any) -> None:
        assert_same_frame(to_polars(result), self.expected())


def make_wide_case(
    shape: WideShape,
    directory: pathlib.Path,
    stem: str,
    flavors: tuple[str, ...] = ("series", "pandas"),
) -> WideCase:
    """Spec, module files of `flavors`, seeded inputs: everything but the engines."""
    spec = make_wide_spec(shape.nodes, seed=WIDE_SPEC_SEED)
    modules = {
        flavor: write_wide_module(spec, directory, f"{stem}_{shape.nodes}_{flavor}", flavor)
        for flavor in flavors
    }
    inputs = make_wide_inputs(spec, shape.rows, seed=WIDE_INPUT_SEED)
    return WideCase(spec, modules, inputs, wide_outputs(spec), shape.label)


@dataclass
class ForecastCase:
    """The demand panel, the forecast modules (by flavor) and the requested outputs."""

    panel: pl.DataFrame
    modules: dict[str, types.ModuleType]
    outputs: list[str]
    label: str
    _expected: pl.DataFrame | None = field(default=None, repr=False)

    @property
    def inputs(self) -> dict[str, pl.Series]:
        return panel_inputs(self.panel)

    def handwritten(self) -> pl.DataFrame:
        return handwritten_forecast(self.panel, self.outputs)

    def expected(self) -> pl.DataFrame:
        if self._expected is None:
            self._expected = self.handwritten()
        return self._expected

    def runner(self, engine: str) -> Callable[[], Any]:
        if engine == APACHE_HAMILTON:
            msg = (
                "the forecast workload has no `pl.Series` module for Apache Hamilton.\n"
                f"Hint: use `{APACHE_HAMILTON_PANDAS}` (its pandas module)."
            )
            raise ValueError(msg)
        if engine == HANDWRITTEN_SORTED:
            return functools.partial(
                handwritten_forecast, self.panel, self.outputs, sorted_key=True
            )
        flavor = "pandas" if engine == APACHE_HAMILTON_PANDAS else "expr"
        return make_runner(
            engine, self.modules[flavor], self.outputs, self.inputs, self.handwritten
        )

    def check(self, result: Any) -> None:
        """Equal to the hand-written answer after aligning row order and dtypes."""
        actual = to_polars(result)
        if actual.schema == self.expected().schema:
            assert_same_frame(actual, self.expected())
        else:
            assert_same_frame(normalize_forecast(actual), normalize_forecast(self.expected()))


def make_forecast_case(shape: PanelShape) -> ForecastCase:
    """The seeded panel of `shape` with the package's forecast modules."""
    panel = make_panel(shape.series, shape.weeks, seed=FORECAST_PANEL_SEED)
    modules = {"expr": forecast_features, "pandas": forecast_pandas}
    return ForecastCase(panel, modules, list(FORECAST_OUTPUTS), shape.label)


@functools.cache
def forecast_case(shape: PanelShape) -> ForecastCase:
    """`make_forecast_case`, once per process and shape (the panel is only read)."""
    return make_forecast_case(shape)


def make_numeric_frame(n_rows: int, n_columns: int, null_fraction: float) -> pl.DataFrame:
    """Seeded Float64 columns `x0..`, with about `null_fraction` nulls each."""
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(FINGERPRINT_SEED)
    columns = {}
    for index in range(n_columns):
        values = rng.normal(size=n_rows)
        series = pl.Series(f"x{index}", values, dtype=pl.Float64)
        if null_fraction:
            series = series.scatter(np.flatnonzero(rng.random(n_rows) < null_fraction), None)
        columns[series.name] = series
    return pl.DataFrame(columns)
