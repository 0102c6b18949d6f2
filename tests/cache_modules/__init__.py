"""Helpers for the node-cache run tests: dataflow packages edited on disk, result comparison.

A :class:`Project` owns a directory of dataflow modules. Module names get a unique prefix so
tests never share entries in ``sys.modules``; sources refer to sibling modules as ``<name>``
(``import <helpers> as helpers``), which :meth:`Project.write` expands. After each edit the
modules are re-imported in the order they were first written (helpers before their users),
as a user rerunning a script would see them.
"""

from __future__ import annotations

import importlib
import itertools
import linecache
import os
import sys
import textwrap
import types
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from polars.testing import assert_frame_equal, assert_series_equal

from hamilton_fast import base, driver

__all__ = [
    "FUNCTION_STATUSES",
    "Project",
    "assert_results_equal",
    "run_cached",
    "run_uncached",
    "statuses",
]

_counter = itertools.count()

FUNCTION_STATUSES = ("hit", "computed", "not needed", "uncacheable", "override")


class Project:
    """Dataflow modules on disk, rewritten and re-imported between runs."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.prefix = f"hfc{os.getpid()}_{next(_counter)}_"
        self.sources: dict[str, str] = {}
        self.modules: dict[str, types.ModuleType] = {}
        self._last_mtime_ns: dict[str, int] = {}
        if str(self.directory) not in sys.path:
            sys.path.insert(0, str(self.directory))

    def name(self, short: str) -> str:
        """The importable name of module ``short``."""
        return self.prefix + short

    def path(self, short: str) -> Path:
        return self.directory / f"{self.name(short)}.py"

    def render(self, source: str) -> str:
        text = textwrap.dedent(source)
        for short in self.sources:
            text = text.replace(f"<{short}>", self.name(short))
        return text

    def write(self, short: str, source: str) -> None:
        """Write module ``short`` (not imported until :meth:`load`)."""
        self.sources[short] = source
        path = self.path(short)
        path.write_text(self.render(source))
        # A rewrite within one timestamp tick with the same size would look untouched to the
        # import system and to linecache (which inspect.getsource reads): move mtime forward.
        mtime = max(path.stat().st_mtime_ns, self._last_mtime_ns.get(short, 0) + 10_000_000)
        os.utime(path, ns=(mtime, mtime))
        self._last_mtime_ns[short] = mtime

    def edit(self, short: str, old: str, new: str) -> None:
        """Replace ``old`` (which must occur exactly once) in module ``short``."""
        source = self.sources[short]
        assert source.count(old) == 1, f"{old!r} occurs {source.count(old)} times in {short}"
        self.write(short, source.replace(old, new))

    def load(self) -> list[types.ModuleType]:
        """(Re)import every module, in the order they were first written."""
        importlib.invalidate_caches()
        linecache.checkcache()
        for short in self.sources:
            module = self.modules.get(short)
            if module is None:
                self.modules[short] = importlib.import_module(self.name(short))
            else:
                self.modules[short] = importlib.reload(module)
        return list(self.modules.values())

    def close(self) -> None:
        for short in self.sources:
            sys.modules.pop(self.name(short), None)
        if str(self.directory) in sys.path:
            sys.path.remove(str(self.directory))


def _builder(
    modules: Iterable[types.ModuleType],
    config: Mapping[str, Any] | None,
    adapter: Any,
) -> driver.Builder:
    builder = driver.Builder().with_modules(*modules)
    if config:
        builder = builder.with_config(config)
    if adapter is not None:
        builder = builder.with_adapters(adapter)
    return builder


def run_uncached(
    modules: Iterable[types.ModuleType],
    outputs: list[str],
    inputs: Mapping[str, Any] | None = None,
    *,
    config: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
    adapter: Any = None,
) -> Any:
    """The oracle: the same request on a driver without a cache."""
    dr = _builder(modules, config, adapter).build()
    return dr.execute(outputs, inputs=dict(inputs or {}), overrides=overrides)


def run_cached(
    modules: Iterable[types.ModuleType],
    cache_dir: Path,
    outputs: list[str],
    inputs: Mapping[str, Any] | None = None,
    *,
    config: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
    adapter: Any = None,
    check: bool = True,
    **cache_options: Any,
) -> tuple[driver.Driver, Any]:
    """Build a new cached driver, run the request, wait for the writes.

    With ``check``, the result is compared with :func:`run_uncached` on the same request.
    """
    dr = _builder(modules, config, adapter).with_cache(cache_dir, **cache_options).build()
    result = dr.execute(outputs, inputs=dict(inputs or {}), overrides=overrides)
    assert dr.cache is not None
    dr.cache.wait()
    if check:
        expected = run_uncached(
            modules, outputs, inputs, config=config, overrides=overrides, adapter=adapter
        )
        assert_results_equal(result, expected)
    return dr, result


def statuses(dr: driver.Driver) -> dict[str, str]:
    """The last run's status of every node that is not an input."""
    assert dr.cache is not None
    return {n: s.status for n, s in dr.cache.last_run.items() if s.status != "input"}


def _materialize(value: Any) -> Any:
    return value.collect() if isinstance(value, pl.LazyFrame) else value


def assert_results_equal(actual: Any, expected: Any) -> None:
    """Exact equality of two ``execute`` results (frames, dicts of values, lazy frames), with
    the columns' sorted flags."""
    actual, expected = _materialize(actual), _materialize(expected)
    assert type(actual) is type(expected), (type(actual), type(expected))
    if isinstance(expected, pl.DataFrame):
        assert_frame_equal(actual, expected, check_exact=True)
        # Sorted flags too: Polars picks algorithms by them, so a later query on the result
        # could differ in its last bits.
        assert actual.flags == expected.flags
    elif isinstance(expected, pl.Series):
        assert_series_equal(actual, expected, check_exact=True)
        assert actual.flags == expected.flags
    elif isinstance(expected, dict):
        assert list(actual) == list(expected)
        for name in expected:
            try:
                assert_results_equal(actual[name], expected[name])
            except AssertionError as exc:
                raise AssertionError(f"results differ for `{name}`: {exc}") from exc
    elif isinstance(expected, np.ndarray):
        np.testing.assert_array_equal(actual, expected, strict=True)
    elif hasattr(expected, "equals") and not isinstance(expected, (int, float, str)):
        assert expected.equals(actual)
    elif isinstance(expected, float) and expected != expected:  # NaN
        assert actual != actual
    else:
        assert actual == expected


DICT_RESULT = base.DictResult()
