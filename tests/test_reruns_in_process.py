"""Runs of one driver after the user changes module state in process, without a reimport.

Apache Hamilton calls every function on every run, so a module constant reassigned in a
notebook, a list of lags appended to, or a helper swapped is seen by the next ``execute``.
hamilton_fast traces functions once and replays the expressions (the trace memo and recipes),
and caches results by key: both must see the change. The oracle is ``tests/oracle.evaluate``
(eager, node by node, nothing memoized) on the mutated modules, and Apache Hamilton itself on
the Series nodes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from hamilton_fast import driver
from hamilton_fast.cache import node_cache as node_cache_module
from hamilton_fast.cache import stamps as stamps_module
from hamilton_fast.cache.stamps import call_stamp
from tests import oracle
from tests.cache_modules import Project

HELPERS = """
import polars as pl

FACTOR = 3.0


def adjust(s):
    return s * FACTOR


def bump(s, k=1.0):
    return s + k
"""

FLOW = """
import polars as pl

import <helpers> as helpers

SCALE = 2.0
OFFSETS = [1.0, 2.0]
WEIGHTS = {"a": 1.0}


class Params:
    shift = 0.5


PARAMS = Params()


def scaled(x: pl.Series) -> pl.Series:
    return x * SCALE


def helped(x: pl.Series) -> pl.Series:
    return helpers.adjust(x)


def offset(x: pl.Series) -> pl.Series:
    return x + sum(OFFSETS)


def defaulted(x: pl.Series) -> pl.Series:
    return helpers.bump(x)


def shifted(x: pl.Series) -> pl.Series:
    return x + PARAMS.shift


def weighted_series(x: pl.Series) -> pl.Series:
    return x * WEIGHTS["a"]
"""

EXPRESSIONS = """

def weighted(x: pl.Expr) -> pl.Expr:
    return x * WEIGHTS["a"]


def combined(scaled: pl.Series, helped: pl.Series, weighted: pl.Series) -> pl.Series:
    return scaled + helped + weighted
"""

OUTPUTS = ["scaled", "helped", "offset", "weighted", "defaulted", "shifted", "combined"]
SERIES_OUTPUTS = ["scaled", "helped", "offset", "defaulted", "shifted", "weighted_series"]
INPUTS = {"x": pl.Series("x", [1.0, 2.0, 4.0])}


def _reassign_constant(flow: Any, helpers: Any) -> None:
    flow.SCALE = 5.0


def _append_to_list(flow: Any, helpers: Any) -> None:
    flow.OFFSETS.append(10.0)


def _set_dict_item(flow: Any, helpers: Any) -> None:
    flow.WEIGHTS["a"] = 7.0


def _reassign_helper_constant(flow: Any, helpers: Any) -> None:
    helpers.FACTOR = 4.0


def _swap_helper(flow: Any, helpers: Any) -> None:
    helpers.adjust = lambda s: s - 1.0


def _replace_default(flow: Any, helpers: Any) -> None:
    helpers.bump.__defaults__ = (9.0,)


def _set_object_attribute(flow: Any, helpers: Any) -> None:
    flow.PARAMS.shift = 8.0


MUTATIONS: dict[str, Callable[[Any, Any], None]] = {
    "module constant reassigned": _reassign_constant,
    "list global appended to": _append_to_list,
    "dict global item set": _set_dict_item,
    "helper's constant in another module": _reassign_helper_constant,
    "helper in another module swapped": _swap_helper,
    "helper's default argument replaced": _replace_default,
    "attribute of a global object set": _set_object_attribute,
}


def _project(directory: Path, source: str):
    project = Project(directory)
    project.write("helpers", HELPERS)
    project.write("flow", source)
    helpers, module = project.load()
    yield module, helpers
    project.close()


@pytest.fixture
def flow(tmp_path: Path):
    yield from _project(tmp_path / "flows", FLOW + EXPRESSIONS)


@pytest.fixture
def series_flow(tmp_path: Path):
    """Series nodes only: Apache Hamilton cannot run the expression nodes."""
    yield from _project(tmp_path / "flows", FLOW)


def _builder(module: Any, cache: Path | None) -> driver.Builder:
    builder = driver.Builder().with_modules(module)
    return builder if cache is None else builder.with_cache(cache)


def _expected(module: Any) -> pl.DataFrame:
    return oracle.evaluate(module, OUTPUTS, INPUTS)


@pytest.mark.parametrize("cached", [False, True], ids=["uncached", "cached"])
@pytest.mark.parametrize("mutation", list(MUTATIONS))
def test_a_rerun_of_one_driver_sees_state_changed_in_process(flow, tmp_path, mutation, cached):
    module, helpers = flow
    cache = tmp_path / "cache" if cached else None
    dr = _builder(module, cache).build()
    for _ in range(2):  # the second run replays what the first traced
        assert_frame_equal(dr.execute(OUTPUTS, inputs=INPUTS), _expected(module))
    before = _expected(module)

    MUTATIONS[mutation](module, helpers)
    after = _expected(module)
    assert not after.equals(before), "the mutation must change some result"
    assert_frame_equal(dr.execute(OUTPUTS, inputs=INPUTS), after)
    if dr.cache is not None:
        dr.cache.wait()
        # Nothing stale was stored under the new keys: a fresh driver reads the same.
        fresh = _builder(module, cache).build()
        assert_frame_equal(fresh.execute(OUTPUTS, inputs=INPUTS), after)


def test_apache_hamilton_sees_the_same_changes(series_flow, monkeypatch):
    """The semantic copied: Hamilton's next run follows the module's state."""
    monkeypatch.setenv("HAMILTON_TELEMETRY_ENABLED", "false")
    hamilton_driver = pytest.importorskip("hamilton.driver")
    h_polars = pytest.importorskip("hamilton.plugins.h_polars")
    module, helpers = series_flow
    theirs = (
        hamilton_driver.Builder()
        .with_modules(module)
        .with_adapters(h_polars.PolarsDataFrameResult())
        .build()
    )
    ours = driver.Builder().with_modules(module).build()
    ours.execute(SERIES_OUTPUTS, inputs=INPUTS)
    previous = theirs.execute(SERIES_OUTPUTS, inputs=INPUTS)
    for name, mutation in MUTATIONS.items():
        mutation(module, helpers)
        expected = theirs.execute(SERIES_OUTPUTS, inputs=INPUTS)
        assert not expected.equals(previous), name
        assert_frame_equal(ours.execute(SERIES_OUTPUTS, inputs=INPUTS), expected)
        previous = expected


def test_an_unchanged_rerun_replays_without_planning(flow, monkeypatch):
    """The memo still works: nothing changed, nothing is traced or planned again."""
    module, _ = flow
    calls: list[str] = []
    original = driver.compile_request

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append("compile")
        return original(*args, **kwargs)

    monkeypatch.setattr(driver, "compile_request", counting)
    outputs = ["scaled", "helped", "offset", "weighted", "defaulted", "combined"]
    dr = driver.Builder().with_modules(module).build()
    for _ in range(3):
        dr.execute(outputs, inputs=INPUTS)
    assert calls == ["compile"]
    module.SCALE = 3.0
    dr.execute(outputs, inputs=INPUTS)
    dr.execute(outputs, inputs=INPUTS)
    assert calls == ["compile", "compile"]


# --------------------------------------------------------------------------------------------
# Call stamps


def test_stamps_are_equal_while_nothing_changes_and_differ_after_each_mutation(flow):
    module, helpers = flow
    functions = ["scaled", "helped", "offset", "weighted", "defaulted"]
    stamps = {name: call_stamp(getattr(module, name)) for name in functions}
    assert None not in stamps.values()
    assert stamps == {name: call_stamp(getattr(module, name)) for name in functions}
    changed = {
        "module constant reassigned": "scaled",
        "list global appended to": "offset",
        "dict global item set": "weighted",
        "helper's constant in another module": "helped",
        "helper in another module swapped": "helped",
        "helper's default argument replaced": "defaulted",
    }
    for mutation, node in changed.items():
        MUTATIONS[mutation](module, helpers)
        now = {name: call_stamp(getattr(module, name)) for name in functions}
        assert [name for name in functions if now[name] != stamps[name]] == [node], mutation
        stamps = now


def test_a_function_that_logs_keeps_its_stamp(tmp_path: Path):
    """``logger = logging.getLogger(__name__)`` is common in feature modules: it must not cost
    a function its memoized trace."""
    project = Project(tmp_path / "flows")
    project.write(
        "logs",
        "import logging\n\nlogger = logging.getLogger(__name__)\n\n\n"
        "def logs(x):\n    logger.info('computing')\n    return x\n",
    )
    try:
        (module,) = project.load()
        assert call_stamp(module.logs) is not None
        assert call_stamp(module.logs) == call_stamp(module.logs)
    finally:
        project.close()


def test_state_a_stamp_cannot_vouch_for_gives_none(tmp_path: Path):
    project = Project(tmp_path / "flows")
    project.write(
        "reads",
        """
import numpy as np

ARRAY = np.arange(3.0)
BIG = list(range(5000))


class Params:
    shift = 0.5


def reads_array(x):
    return x + ARRAY[0]


def reads_big_list(x):
    return x + len(BIG)


def reads_user_class(x):
    return x + Params.shift
""",
    )
    try:
        (reads,) = project.load()
        for name in ("reads_array", "reads_big_list", "reads_user_class"):
            assert call_stamp(getattr(reads, name)) is None, name
        assert call_stamp(np.add) == call_stamp(np.add)
    finally:
        project.close()


def test_an_expression_global_is_not_vouched_for(flow):
    """A Polars expression can hold a literal Series sharing a NumPy array's memory, which
    the caller can change in place: a stamp cannot see that cheaply."""
    module, _ = flow
    module.SCALE = pl.lit(pl.Series("w", np.ones(3)))
    assert call_stamp(module.scaled) is None
    module.SCALE = np.ones(3)
    assert call_stamp(module.scaled) is None


def test_a_bound_method_of_a_mutable_global_counts_its_object(tmp_path: Path):
    project = Project(tmp_path / "flows")
    project.write(
        "lookup",
        """
import polars as pl

RATES = {"eur": 1.0}
rate = RATES.get


def converted(x: pl.Series) -> pl.Series:
    return x * rate("eur")
""",
    )
    try:
        (module,) = project.load()
        dr = driver.Builder().with_modules(module).build()
        assert dr.execute(["converted"], inputs=INPUTS)["converted"].to_list() == [1.0, 2.0, 4.0]
        module.RATES["eur"] = 2.0
        assert dr.execute(["converted"], inputs=INPUTS)["converted"].to_list() == [2.0, 4.0, 8.0]
    finally:
        project.close()


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (0.0, -0.0),
        (Decimal("1.0"), Decimal("1")),
        (
            dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC),
            dt.datetime(2026, 1, 1, 13, tzinfo=dt.timezone(dt.timedelta(hours=1))),
        ),
        (1, True),
        (1, 1.0),
    ],
    ids=["signed zero", "decimal exponent", "time zone", "int and bool", "int and float"],
)
def test_stamps_tell_apart_values_that_compare_equal(tmp_path: Path, before, after):
    """``==`` says these are equal, yet a function reading them can compute something else."""
    assert before == after
    project = Project(tmp_path / "flows")
    project.write("reads", "VALUE = None\n\n\ndef reads(x):\n    return (x, VALUE)\n")
    try:
        (module,) = project.load()
        module.VALUE = before
        first = call_stamp(module.reads)
        module.VALUE = after
        assert first is not None
        assert call_stamp(module.reads) != first
    finally:
        project.close()


@pytest.mark.parametrize("mutation", list(MUTATIONS))
def test_code_fingerprints_reused_by_stamp_equal_fresh_ones(flow, tmp_path, mutation):
    """The process-wide code-fingerprint memo (keyed by call stamp) gives the keys a
    fingerprint taken from scratch gives, before and after each change."""
    module, helpers = flow
    cache = tmp_path / "cache"

    def keys(*, fresh: bool) -> dict[str, str | None]:
        if fresh:
            node_cache_module._CODE_MEMO.clear()
        dr = _builder(module, cache).build()
        dr.execute(OUTPUTS, inputs=INPUTS)
        assert dr.cache is not None
        dr.cache.wait()
        return {name: status.key for name, status in dr.cache.last_run.items()}

    before = keys(fresh=True)
    assert keys(fresh=False) == before
    MUTATIONS[mutation](module, helpers)
    after = keys(fresh=False)
    assert after == keys(fresh=True)
    if mutation == "attribute of a global object set":
        assert after["shifted"] is None  # an object of a user class: never cached
    else:
        assert after != before


def test_a_function_reading_nothing_stamps_as_the_full_walk_does(tmp_path: Path):
    project = Project(tmp_path / "flows")
    project.write("pure", "def pure(x):\n    return x + 1\n\n\ndef impure(x):\n    return x + K\n")
    try:
        (module,) = project.load()
        module.K = 1
        assert stamps_module.call_stamp(module.pure) == stamps_module._Walk().stamp(module.pure)
        assert stamps_module.call_stamp(module.impure) == stamps_module._Walk().stamp(module.impure)
        module.pure.__code__ = module.impure.__code__  # reads K now: not the fast path
        assert call_stamp(module.pure) == stamps_module._Walk().stamp(module.pure)
    finally:
        project.close()
