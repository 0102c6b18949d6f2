"""State a function reads that fingerprints and call stamps once missed (found by a review).

Each case runs a module, changes what one of its functions reads (in process, or on disk
with a reimport as a new process would see it), and runs again: the result must be the
eager oracle's on the changed modules, uncached and cached, on the same driver and on a new
one. Call stamps must also stay linear in the code they cover.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from hamilton_fast import driver
from hamilton_fast.cache import node_cache
from hamilton_fast.cache.stamps import call_stamp
from tests import oracle
from tests.cache_modules import Project

X = {"x": pl.Series("x", [1.0, 2.0, 4.0])}

ENUM_VALUE = """
import enum
import polars as pl


class Mode(enum.Enum):
    A = [2.0]


MODE = Mode.A


def out(x: pl.Series) -> pl.Series:
    return x * MODE.value[0]
"""

ENUM_METHOD = """
import enum
import polars as pl

FACTOR = 2.0


class Mode(enum.Enum):
    A = 1

    def factor(self):
        return FACTOR


MODE = Mode.A


def out(x: pl.Series) -> pl.Series:
    return x * MODE.factor()
"""

EXPR_OVER_NUMPY = """
import numpy as np
import polars as pl

WEIGHTS = np.array([1.0, 1.0, 1.0])
W = pl.lit(pl.Series("w", WEIGHTS))


def out(x: pl.Series) -> pl.Series:
    return pl.select(x * W).to_series()
"""

DTYPE = """
import polars as pl

UNIT = pl.Datetime("ms")


def out(x: pl.Series) -> pl.Series:
    return x.cast(pl.Int64).cast(UNIT)
"""

BOUND_METHOD = """
import polars as pl

RATES = {"eur": 1.0}
rate = RATES.get


def out(x: pl.Series) -> pl.Series:
    return x * rate("eur")
"""

USER_TIME_ZONE = """
import datetime as dt
import polars as pl


class Shift(dt.tzinfo):
    def __init__(self):
        self.hours = 1

    def utcoffset(self, d):
        return dt.timedelta(hours=self.hours)

    def dst(self, d):
        return dt.timedelta(0)

    def __repr__(self):
        return "Shift()"


START = dt.datetime(2020, 1, 1, tzinfo=Shift())


def out(x: pl.Series) -> pl.Series:
    return x + START.utcoffset().total_seconds()
"""


def _set_enum_value(m: Any) -> None:
    m.Mode.A.value[0] = 5.0


def _reassign_factor(m: Any) -> None:
    m.FACTOR = 5.0


def _overwrite_weights(m: Any) -> None:
    m.WEIGHTS[:] = 2.0  # pl.Series(ndarray) shares the array's memory: W changes with it


def _set_time_unit(m: Any) -> None:
    m.UNIT.time_unit = "ns"


def _set_rate(m: Any) -> None:
    m.RATES["eur"] = 2.0


def _set_shift(m: Any) -> None:
    m.START.tzinfo.hours = 2


IN_PROCESS: dict[str, tuple[str, Callable[[Any], None]]] = {
    "enum member's mutable value": (ENUM_VALUE, _set_enum_value),
    "global read by an enum's method": (ENUM_METHOD, _reassign_factor),
    "array under a literal expression": (EXPR_OVER_NUMPY, _overwrite_weights),
    "attribute of a dtype": (DTYPE, _set_time_unit),
    "dict behind a bound method": (BOUND_METHOD, _set_rate),
    "state of the user's time zone": (USER_TIME_ZONE, _set_shift),
}

ON_DISK: dict[str, tuple[str, str, str]] = {
    "enum's method body": (ENUM_METHOD, "return FACTOR", "return FACTOR * 10"),
    "dict behind a bound method": (BOUND_METHOD, '{"eur": 1.0}', '{"eur": 2.0}'),
}


@pytest.fixture
def project(tmp_path: Path):
    opened = Project(tmp_path / "flows")
    yield opened
    opened.close()


def _run(module: Any, cache: Path | None) -> tuple[driver.Driver, pl.DataFrame]:
    builder = driver.Builder().with_modules(module)
    dr = (builder if cache is None else builder.with_cache(cache)).build()
    return dr, _execute(dr)


def _execute(dr: driver.Driver) -> pl.DataFrame:
    result = dr.execute(["out"], inputs=X)
    if dr.cache is not None:
        dr.cache.wait()
    return result


@pytest.mark.parametrize("cached", [False, True], ids=["uncached", "cached"])
@pytest.mark.parametrize("case", list(IN_PROCESS))
def test_a_change_in_process_is_seen(project, tmp_path, case, cached):
    source, change = IN_PROCESS[case]
    project.write("flow", source)
    (module,) = project.load()
    cache = tmp_path / "cache" if cached else None
    dr, first = _run(module, cache)
    assert_frame_equal(_execute(dr), first)  # replayed
    change(module)
    expected = oracle.evaluate(module, ["out"], X)
    assert not expected.equals(first), "the change must change the result"
    assert_frame_equal(_execute(dr), expected)  # the same driver
    assert_frame_equal(_run(module, cache)[1], expected)  # a new one


@pytest.mark.parametrize("case", list(ON_DISK))
def test_an_edit_on_disk_is_seen_by_a_new_process(project, tmp_path, case):
    source, old, new = ON_DISK[case]
    project.write("flow", source)
    (module,) = project.load()
    _run(module, tmp_path / "cache")
    project.edit("flow", old, new)
    (module,) = project.load()
    node_cache._CODE_MEMO.clear()  # as in a new process
    dr, result = _run(module, tmp_path / "cache")
    assert dr.cache is not None
    assert dr.cache.last_run["out"].status == "computed"
    assert_frame_equal(result, oracle.evaluate(module, ["out"], X))


def test_a_parameter_annotation_counts_in_the_stamp(project, tmp_path):
    """Annotations are in a function's source (so in its code fingerprint), not in its code
    object: a stamp must see them, or the fingerprint memo keeps the old key."""
    project.write("flow", "import typing\n\n\ndef out(x: typing.Any) -> int:\n    return 1\n")
    (module,) = project.load()
    before = call_stamp(module.out)
    project.edit("flow", "x: typing.Any", "x: int")
    (module,) = project.load()
    assert call_stamp(module.out) != before


def test_a_signed_zero_input_is_not_the_other_zero(project):
    project.write(
        "flow",
        "import polars as pl\n\n\n"
        "def out(x: pl.Series, k: float) -> pl.Series:\n    return x / k\n",
    )
    (module,) = project.load()
    dr = driver.Builder().with_modules(module).build()
    assert dr.execute(["out"], inputs={**X, "k": 0.0})["out"].to_list() == [np.inf] * 3
    assert dr.execute(["out"], inputs={**X, "k": -0.0})["out"].to_list() == [-np.inf] * 3


def test_stamps_of_helpers_sharing_helpers_stay_linear(project):
    """Two helpers per level, each calling both of the level below: walked as a tree, the
    stamp would visit 2^depth helpers."""
    depth = 24
    lines = ["def a0(x):\n    return x\n", "def b0(x):\n    return -x\n"]
    for level in range(1, depth + 1):
        below = f"a{level - 1}(x) + b{level - 1}(x)"
        lines.append(f"def a{level}(x):\n    return {below}\n")
        lines.append(f"def b{level}(x):\n    return {below} * 2\n")
    project.write("deep", "\n\n".join(lines))
    (module,) = project.load()
    stamp = call_stamp(getattr(module, f"a{depth}"))
    assert stamp is not None
    assert len(repr(stamp)) < 800 * depth
