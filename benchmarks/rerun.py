"""Rerun scenarios of the cache benchmarks: cold, warm and edit-one-function runs.

A `RerunCase` holds one workload (wide or forecast) with its module file, written in a
directory of its own so that it can be rewritten in place the way a user edits it, and its
caches. Its scenarios, each a `Scenario` (untimed `setup`, timed `run`, untimed `teardown`):

- `handwritten`: the hand-written Polars query (the recompute every ratio is taken against);
- `hamilton_fast`: setup builds a fresh driver without cache; timed: its first `execute`;
- `hamilton_fast_cold`: a fresh driver on an empty cache directory; against `hamilton_fast`;
- `hamilton_fast_warm`: the original module written back, a fresh driver on a full cache, in
  the same process (a notebook rerun, or a script's driver built again); against `handwritten`;
- `hamilton_fast_warm_new_process`: the same after forgetting everything the process remembers
  about code and files (`forget_process_memos`: parsed sources, code fingerprints, library
  versions), as a rerun in a new process starts; only the cache directory's memos help.
  Against `handwritten` (informational: the target is the in-process rerun's);
- `hamilton_fast_edit`: the edited module written over the same file and imported, the edited
  nodes' entries cleared (back to "just edited"), a fresh driver; against `handwritten`, and
  (informational, `SECOND_REFERENCES`) against `handwritten_edited_only`;
- `handwritten_edited_only`: what the recomputed nodes cost by themselves. Setup builds an
  in-memory frame of the edited answer without the recomputed columns (plus the inputs);
  timed: the hand-written query of only those nodes over it, with the full query's layering
  and expressions (`handwritten_wide_nodes`, `handwritten_forecast_nodes`), returning the
  whole answer; against `handwritten`;
- `apache_hamilton_pandas`, `..._cold`, `..._warm`: the same for Apache Hamilton with
  `.with_cache(path)`; cold against its own uncached run, warm against `handwritten`.

hamilton_fast writes cache entries in a background thread after `execute` returns; the cold
scenario's teardown joins it (`dr.cache.wait()`), outside the timed part, and records how
long that took (`write_seconds`), so that the writes never land in another scenario's timing.
Every run is checked: results equal the hand-written answer (of the edited dataflow, for the
edit and the edited-only query), and the cache report says what the scenario claims (all hits
when warm; exactly the edited node and its descendants computed after the edit).

Apache Hamilton runs the pandas module here: its cache is the same for `pl.Series` nodes, and
fingerprints those element by element as well (see the README). Because that costs about 8 us
per value, the Apache Hamilton scenarios run on smaller inputs (`sizes.hamilton_cache_*`).
"""

from __future__ import annotations

import collections
import functools
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.engines import APACHE_HAMILTON_PANDAS, HAMILTON_FAST, HANDWRITTEN, to_pandas_inputs
from benchmarks.interleaved import Scenario
from benchmarks.sizes import (
    FORECAST_PANEL_SEED,
    WIDE_INPUT_SEED,
    WIDE_SPEC_SEED,
    PanelShape,
    WideShape,
)
from benchmarks.workloads.forecast import (
    EDITED_NODES,
    FORECAST_FEATURES,
    FORECAST_OUTPUTS,
    handwritten_forecast,
    handwritten_forecast_nodes,
    make_panel,
    normalize_forecast,
    panel_inputs,
    write_forecast_module,
)
from benchmarks.workloads.wide import (
    descendants,
    handwritten_wide,
    handwritten_wide_nodes,
    make_wide_inputs,
    make_wide_spec,
    negate_node,
    pick_edit_node,
    wide_outputs,
    write_wide_module,
)

if TYPE_CHECKING:
    import types
    from collections.abc import Callable

    import polars as pl

    from benchmarks.sizes import BenchSize

HF_UNCACHED = HAMILTON_FAST
HF_COLD = "hamilton_fast_cold"
HF_WARM = "hamilton_fast_warm"
HF_WARM_NEW_PROCESS = "hamilton_fast_warm_new_process"
HF_EDIT = "hamilton_fast_edit"
HANDWRITTEN_EDITED_ONLY = "handwritten_edited_only"
AH_UNCACHED = APACHE_HAMILTON_PANDAS
AH_COLD = "apache_hamilton_pandas_cold"
AH_WARM = "apache_hamilton_pandas_warm"

HAMILTON_FAST_SCENARIOS = (
    HANDWRITTEN,
    HF_UNCACHED,
    HF_COLD,
    HF_WARM,
    HF_WARM_NEW_PROCESS,
    HANDWRITTEN_EDITED_ONLY,
    HF_EDIT,
)
APACHE_HAMILTON_SCENARIOS = (AH_UNCACHED, AH_COLD, AH_WARM)

SCENARIO_LABELS = {
    HANDWRITTEN: "hand-written Polars query (recompute)",
    HF_UNCACHED: "hamilton_fast, no cache",
    HF_COLD: "hamilton_fast, cold (empty cache)",
    HF_WARM: "hamilton_fast, warm rerun (nothing changed)",
    HF_WARM_NEW_PROCESS: "hamilton_fast, warm rerun as in a new process (the process's memos "
    "forgotten)",
    HANDWRITTEN_EDITED_ONLY: "hand-written Polars query of the recomputed nodes only (the other "
    "columns in memory)",
    HF_EDIT: "hamilton_fast, rerun after editing one function",
    AH_UNCACHED: "Apache Hamilton (pandas), no cache",
    AH_COLD: "Apache Hamilton (pandas), cold `.with_cache()`",
    AH_WARM: "Apache Hamilton (pandas), warm `.with_cache()` rerun",
}

REFERENCES = {
    HF_COLD: HF_UNCACHED,
    HF_WARM: HANDWRITTEN,
    HF_WARM_NEW_PROCESS: HANDWRITTEN,
    HF_EDIT: HANDWRITTEN,
    HANDWRITTEN_EDITED_ONLY: HANDWRITTEN,
    AH_COLD: AH_UNCACHED,
    AH_WARM: HANDWRITTEN,
}
"""What each scenario's ratio is taken against, in the same run (and the same round)."""

SECOND_REFERENCES = {
    HF_EDIT: {"median_round_ratio_vs_edited_only": HANDWRITTEN_EDITED_ONLY},
}
"""Informational ratios besides the one above (no target): scenario -> {field: reference}, the
field of the interleaved summary that holds the median of the per-round ratios. The edit rerun
against the hand-written query of just the nodes it recomputes says what the cache costs beyond
the recomputation itself."""

RERUN_WORKLOADS = {
    "wide": HAMILTON_FAST_SCENARIOS,
    "forecast": HAMILTON_FAST_SCENARIOS,
    "wide_hamilton": HAMILTON_FAST_SCENARIOS + APACHE_HAMILTON_SCENARIOS,
    "forecast_hamilton": HAMILTON_FAST_SCENARIOS + APACHE_HAMILTON_SCENARIOS,
}
"""The rerun cases: the two workloads at their execute sizes (hamilton_fast only), and at the
smaller sizes where Apache Hamilton's cache is run as well."""

TARGETS = {HF_COLD: 1.3, HF_WARM: 0.05, HF_EDIT: 0.25}
"""The cache issue's targets, as ratios to the reference above."""


@dataclass
class RerunCase:
    """A workload with a rewritable module file and caches (see the module docstring)."""

    label: str
    directory: Path
    n_nodes: int  # function nodes of the dataflow (outputs may add inputs, like the keys)
    outputs: list[str]
    inputs: dict[str, pl.Series]
    edited_nodes: frozenset[str]
    write_module: Callable[[str, bool], types.ModuleType]  # (flavor, edited) -> module
    handwritten: Callable[[bool], pl.DataFrame]  # edited -> answer
    handwritten_edited_nodes: Callable[[pl.DataFrame], pl.DataFrame]  # known columns -> answer
    check_frame: Callable[[Any, pl.DataFrame], None]  # (result, expected)
    hamilton_flavor: str = "pandas"
    _expected: dict[bool, pl.DataFrame] = field(default_factory=dict, repr=False)
    _pandas_inputs: dict[str, Any] | None = field(default=None, repr=False)
    _caches: int = 0

    # -- helpers -------------------------------------------------------------------------

    def expected(self, *, edited: bool = False) -> pl.DataFrame:
        if edited not in self._expected:
            self._expected[edited] = self.handwritten(edited)
        return self._expected[edited]

    def pandas_inputs(self) -> dict[str, Any]:
        if self._pandas_inputs is None:
            self._pandas_inputs = to_pandas_inputs(self.inputs)
        return self._pandas_inputs

    def new_cache_dir(self, stem: str) -> Path:
        self._caches += 1
        return self.directory / f"{stem}_{self._caches}"

    def hamilton_fast_driver(self, *, edited: bool = False, cache: Path | None = None) -> Any:
        from hamilton_fast import driver

        builder = driver.Builder().with_modules(self.write_module("series", edited))
        if cache is not None:
            builder = builder.with_cache(cache)
        return builder.build()

    def apache_hamilton_driver(self, cache: Path | None = None) -> Any:
        from hamilton import base, driver

        # A result builder, not SimplePythonGraphAdapter: the latter takes the node-execution
        # hook that Hamilton's cache needs, and the two refuse to be combined.
        module = self.write_module(self.hamilton_flavor, False)
        builder = driver.Builder().with_modules(module).with_adapters(base.PandasDataFrameResult())
        if cache is not None:
            builder = builder.with_cache(path=str(cache))
        return builder.build()

    def fill_cache(self, path: Path, *, edited: bool = False) -> None:
        """One cold run into `path`, writes joined: the starting point of warm reruns."""
        dr = self.hamilton_fast_driver(edited=edited, cache=path)
        dr.execute(self.outputs, inputs=self.inputs)
        dr.cache.wait()

    # -- scenarios -----------------------------------------------------------------------

    def scenarios(self, names: tuple[str, ...]) -> dict[str, Scenario]:
        makers = {
            HANDWRITTEN: self._handwritten,
            HF_UNCACHED: self._hf_uncached,
            HF_COLD: self._hf_cold,
            HF_WARM: self._hf_warm,
            HF_WARM_NEW_PROCESS: functools.partial(self._hf_warm, new_process=True),
            HF_EDIT: self._hf_edit,
            HANDWRITTEN_EDITED_ONLY: self._handwritten_edited_only,
            AH_UNCACHED: self._ah_uncached,
            AH_COLD: self._ah_cold,
            AH_WARM: self._ah_warm,
        }
        return {name: makers[name]() for name in names}

    def _handwritten(self) -> Scenario:
        return Scenario(
            HANDWRITTEN,
            run=lambda: self.handwritten(False),
            check=lambda result: self.check_frame(result, self.expected()),
        )

    def _handwritten_edited_only(self) -> Scenario:
        state: dict[str, pl.DataFrame] = {}

        def setup() -> None:
            # What the edit rerun does not recompute, already in memory: the edited answer
            # without the recomputed columns, and the inputs (a recomputed node may read one).
            answer = self.expected(edited=True)
            known = answer.drop(sorted(self.edited_nodes))
            state["known"] = known.hstack(
                [s for name, s in self.inputs.items() if name not in known.columns]
            )

        def run() -> pl.DataFrame:
            return self.handwritten_edited_nodes(state["known"])

        def teardown() -> None:
            state.clear()

        return Scenario(
            HANDWRITTEN_EDITED_ONLY,
            run=run,
            setup=setup,
            teardown=teardown,
            check=lambda result: self.check_frame(result, self.expected(edited=True)),
        )

    def _fresh_driver_scenario(self, name: str, build: Callable[[], Any], inputs: Any) -> Scenario:
        """Time the first `execute` of a driver built (untimed) before each run."""
        state: dict[str, Any] = {}

        def setup() -> None:
            state["driver"] = build()

        def run() -> Any:
            return state["driver"].execute(self.outputs, inputs=inputs)

        return Scenario(
            name, run=run, setup=setup, check=lambda r: self.check_frame(r, self.expected())
        )

    def _hf_uncached(self) -> Scenario:
        return self._fresh_driver_scenario(HF_UNCACHED, self.hamilton_fast_driver, self.inputs)

    def _ah_uncached(self) -> Scenario:
        return self._fresh_driver_scenario(
            AH_UNCACHED, self.apache_hamilton_driver, self.pandas_inputs()
        )

    def _hf_cold(self) -> Scenario:
        state: dict[str, Any] = {}
        scenario = Scenario(HF_COLD, run=lambda: None)

        def setup() -> None:
            state["path"] = self.new_cache_dir("hf_cold")
            state["driver"] = self.hamilton_fast_driver(cache=state["path"])

        def run() -> Any:
            return state["driver"].execute(self.outputs, inputs=self.inputs)

        def teardown() -> None:
            dr = state.pop("driver", None)
            if dr is not None:
                start = time.perf_counter()
                dr.cache.wait()
                scenario.extra["write_seconds"] = time.perf_counter() - start
            if "path" in state:
                shutil.rmtree(state.pop("path"), ignore_errors=True)

        def check(result: Any) -> None:
            self.check_frame(result, self.expected())
            statuses = collections.Counter(
                s.status for s in state["driver"].cache.last_run.values()
            )
            assert statuses["hit"] == 0, f"a cold run read the cache: {dict(statuses)}"

        scenario.run, scenario.setup, scenario.teardown, scenario.check = (
            run,
            setup,
            teardown,
            check,
        )
        return scenario

    def _hf_warm(self, *, new_process: bool = False) -> Scenario:
        path = self.new_cache_dir("hf_warm")
        self.fill_cache(path)
        state: dict[str, Any] = {}

        def setup() -> None:
            state["driver"] = self.hamilton_fast_driver(cache=path)
            if new_process:
                from hamilton_fast.cache.node_cache import forget_process_memos

                forget_process_memos()

        def run() -> Any:
            return state["driver"].execute(self.outputs, inputs=self.inputs)

        def check(result: Any) -> None:
            self.check_frame(result, self.expected())
            computed = _computed(state["driver"])
            assert not computed, f"a warm rerun with nothing changed computed {sorted(computed)}"

        name = HF_WARM_NEW_PROCESS if new_process else HF_WARM
        return Scenario(name, run=run, setup=setup, check=check)

    def _hf_edit(self) -> Scenario:
        path = self.new_cache_dir("hf_edit")
        self.fill_cache(path)
        state: dict[str, Any] = {}

        def setup() -> None:
            dr = self.hamilton_fast_driver(edited=True, cache=path)
            # Back to "the edit was just made": drop what an earlier round of this scenario
            # stored for the edited nodes (the original entries go too; nothing reads them).
            for node in sorted(self.edited_nodes):
                dr.cache.clear(node)
            state["driver"] = dr

        def run() -> Any:
            return state["driver"].execute(self.outputs, inputs=self.inputs)

        def teardown() -> None:
            if "driver" in state:
                state["driver"].cache.wait()

        def check(result: Any) -> None:
            self.check_frame(result, self.expected(edited=True))
            computed = _computed(state["driver"])
            assert computed == set(self.edited_nodes), (
                f"after editing one function, expected exactly {sorted(self.edited_nodes)} to be "
                f"recomputed, got {sorted(computed)}"
            )

        return Scenario(HF_EDIT, run=run, setup=setup, teardown=teardown, check=check)

    def _ah_cold(self) -> Scenario:
        state: dict[str, Any] = {}

        def setup() -> None:
            state["path"] = self.new_cache_dir("ah_cold")
            state["driver"] = self.apache_hamilton_driver(cache=state["path"])

        def run() -> Any:
            return state["driver"].execute(self.outputs, inputs=self.pandas_inputs())

        def teardown() -> None:
            state.pop("driver", None)
            if "path" in state:
                shutil.rmtree(state.pop("path"), ignore_errors=True)

        return Scenario(
            AH_COLD,
            run=run,
            setup=setup,
            teardown=teardown,
            check=lambda r: self.check_frame(r, self.expected()),
        )

    def _ah_warm(self) -> Scenario:
        path = self.new_cache_dir("ah_warm")
        self.apache_hamilton_driver(cache=path).execute(self.outputs, inputs=self.pandas_inputs())
        state: dict[str, Any] = {}

        def setup() -> None:
            state["driver"] = self.apache_hamilton_driver(cache=path)

        def run() -> Any:
            return state["driver"].execute(self.outputs, inputs=self.pandas_inputs())

        return Scenario(
            AH_WARM, run=run, setup=setup, check=lambda r: self.check_frame(r, self.expected())
        )


def _computed(dr: Any) -> set[str]:
    return {name for name, s in dr.cache.last_run.items() if s.status == "computed"}


def _check_wide(result: Any, expected: pl.DataFrame) -> None:
    from benchmarks.engines import assert_same_frame, to_polars

    assert_same_frame(to_polars(result), expected)


def _check_forecast(result: Any, expected: pl.DataFrame) -> None:
    from benchmarks.engines import assert_same_frame, to_polars

    assert_same_frame(normalize_forecast(to_polars(result)), normalize_forecast(expected))


def make_wide_rerun(shape: WideShape, directory: Path | None = None) -> RerunCase:
    """The wide workload prepared for reruns; the edit negates `pick_edit_node(spec)`."""
    directory = Path(directory or tempfile.mkdtemp(prefix="hf_rerun_wide_"))
    spec = make_wide_spec(shape.nodes, seed=WIDE_SPEC_SEED)
    edited_node = pick_edit_node(spec)
    edited_spec = negate_node(spec, edited_node)
    inputs = make_wide_inputs(spec, shape.rows, seed=WIDE_INPUT_SEED)
    outputs = wide_outputs(spec)
    stem = f"rerun_wide_{shape.nodes}_{shape.rows}"

    def write_module(flavor: str, edited: bool) -> types.ModuleType:
        # One file per flavor, rewritten in place: the user's edit-and-rerun loop.
        return write_wide_module(
            edited_spec if edited else spec, directory, f"{stem}_{flavor}", flavor
        )

    def handwritten(edited: bool) -> pl.DataFrame:
        return handwritten_wide(edited_spec if edited else spec, inputs, outputs)

    edited_nodes = frozenset(descendants(spec, edited_node))

    return RerunCase(
        label=shape.label,
        directory=directory,
        n_nodes=len(spec.nodes),
        outputs=outputs,
        inputs=inputs,
        edited_nodes=edited_nodes,
        write_module=write_module,
        handwritten=handwritten,
        handwritten_edited_nodes=lambda known: handwritten_wide_nodes(
            edited_spec, known, edited_nodes, outputs
        ),
        check_frame=_check_wide,
    )


def make_forecast_rerun(shape: PanelShape, directory: Path | None = None) -> RerunCase:
    """The forecast workload prepared for reruns; the edit changes `demand_roll_mean_4`."""
    directory = Path(directory or tempfile.mkdtemp(prefix="hf_rerun_forecast_"))
    panel = make_panel(shape.series, shape.weeks, seed=FORECAST_PANEL_SEED)
    outputs = list(FORECAST_OUTPUTS)
    stem = f"rerun_forecast_{shape.series}_{shape.weeks}"

    def write_module(flavor: str, edited: bool) -> types.ModuleType:
        name = "expr" if flavor == "series" else flavor
        return write_forecast_module(directory, f"{stem}_{name}", name, edited=edited)

    def handwritten(edited: bool) -> pl.DataFrame:
        return handwritten_forecast(panel, outputs, edited=edited)

    return RerunCase(
        label=shape.label,
        directory=directory,
        n_nodes=len(FORECAST_FEATURES),
        outputs=outputs,
        inputs=panel_inputs(panel),
        edited_nodes=EDITED_NODES,
        write_module=write_module,
        handwritten=handwritten,
        handwritten_edited_nodes=lambda known: handwritten_forecast_nodes(
            known, EDITED_NODES, outputs, edited=True
        ),
        check_frame=_check_forecast,
    )


def make_rerun_case(workload: str, size: BenchSize, directory: Path) -> RerunCase:
    """The rerun case named `workload` at `size`, its files under `directory`."""
    if workload == "wide":
        return make_wide_rerun(size.wide, directory)
    if workload == "forecast":
        return make_forecast_rerun(size.forecast, directory)
    if workload == "wide_hamilton":
        return make_wide_rerun(size.hamilton_cache_wide, directory)
    if workload == "forecast_hamilton":
        return make_forecast_rerun(size.hamilton_cache_forecast, directory)
    msg = f"unknown rerun workload `{workload}`.\nHint: use one of {', '.join(RERUN_WORKLOADS)}."
    raise ValueError(msg)


def run_once(scenario: Scenario) -> Any:
    """Setup, run, check and teardown, untimed: what CI does with every scenario."""
    scenario.setup()
    try:
        result = scenario.run()
        scenario.check(result)
    finally:
        scenario.teardown()
    return result
