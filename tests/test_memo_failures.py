"""The memos at the root of a cache directory (file, values and source digests) are optional:
damaged, read-only or busy, they cost recomputations, never the run.

The root diskcache (``cache.db``) is opened at build (``DiskValuesMemo``) and asked by every
code fingerprint (``_definitions_memo``); a write to it while another process holds its lock
raises ``diskcache.Timeout``, which is not an ``sqlite3.Error``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import diskcache  # type: ignore[import-untyped]
import polars as pl
import pytest

import hamilton_fast.cache.code as code_module
from hamilton_fast.cache import fingerprint as fp
from hamilton_fast.cache import fingerprint_function
from hamilton_fast.cache.node_cache import NodeCache, forget_process_memos
from tests.cache_modules import DICT_RESULT, Project, run_cached, statuses


def node_function(x: pl.Series) -> pl.Series:
    return x * 2


def damaged_root(tmp_path: Path) -> Path:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "cache.db").write_bytes(b"not a database, a damaged or foreign file " * 64)
    return cache


def test_a_damaged_root_memo_does_not_fail_the_build(tmp_path: Path) -> None:
    cache = damaged_root(tmp_path)
    node_cache = NodeCache(cache)  # the store itself (index/, values/) is fine
    assert node_cache.path == cache


def test_a_damaged_root_memo_does_not_fail_a_code_fingerprint(tmp_path: Path) -> None:
    cache = damaged_root(tmp_path)
    forget_process_memos()
    assert fingerprint_function(node_function, memo_dir=cache) == fingerprint_function(
        node_function
    )


@pytest.fixture
def busy_memo(tmp_path: Path) -> Iterator[diskcache.Cache]:
    """The root memo while another process holds its write lock (a long transaction); a short
    timeout stands for diskcache's 60 s."""
    memo = diskcache.Cache(str(tmp_path / "memo"), timeout=0.05)
    other = sqlite3.connect(str(tmp_path / "memo" / "cache.db"), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield memo
    finally:
        other.execute("ROLLBACK")
        other.close()
        memo.close()


def test_a_busy_values_memo_costs_the_write_not_the_run(
    tmp_path: Path, busy_memo: diskcache.Cache, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fp, "_MEMO_MIN_BYTES", 0)
    memo = fp.DiskValuesMemo(tmp_path / "unused")
    memo._memo = busy_memo
    series = pl.Series("x", [1.0, None, 3.0])
    learned: list[int] = []
    real = fp.DiskValuesMemo.put_many

    def counting(self: fp.DiskValuesMemo, items: Any) -> None:
        learned.append(len(items))
        real(self, items)

    monkeypatch.setattr(fp.DiskValuesMemo, "put_many", counting)
    assert fp.fingerprint_frame(series, memo) == fp.fingerprint_frame(series)
    assert learned == [1]  # it tried to remember, and the busy lock only cost that


def test_an_unreadable_memo_costs_the_read_not_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fp, "_MEMO_MIN_BYTES", 0)

    class Broken:
        def get(self, key: str) -> Any:
            raise sqlite3.OperationalError("disk I/O error")

        def transact(self) -> Any:
            raise OSError(28, "No space left on device")

    memo = fp.DiskValuesMemo(tmp_path)
    memo._memo = Broken()
    series = pl.Series("x", [1.0, None, 3.0])
    assert memo.get_many([b"raw"]) == [None]
    assert fp.fingerprint_frame(series, memo) == fp.fingerprint_frame(series)


def test_a_busy_source_memo_costs_the_write_not_the_run(busy_memo: diskcache.Cache) -> None:
    source = code_module._load_source_file(__file__, Path(__file__).read_bytes())
    code_module._remember_source(busy_memo, b"\x00" * 16, source)


FLOW = """
import polars as pl


def doubled(x: pl.Series) -> pl.Series:
    return x * 2


def total(doubled: pl.Series) -> float:
    return doubled.sum()
"""


def test_runs_and_hits_with_a_damaged_root_memo(tmp_path: Path) -> None:
    """The store (index and values) is intact, the memo beside it is not: runs still store and
    hit, with results equal to an uncached run's."""
    cache = damaged_root(tmp_path)
    project = Project(tmp_path / "flows")
    try:
        project.write("flow", FLOW)
        modules = project.load()
        inputs = {"x": pl.Series("x", [1.0, None, 3.0] * 50_000)}  # big enough for the memo
        forget_process_memos()
        first, _ = run_cached(modules, cache, ["doubled", "total"], inputs, adapter=DICT_RESULT)
        forget_process_memos()
        second, _ = run_cached(modules, cache, ["doubled", "total"], inputs, adapter=DICT_RESULT)
    finally:
        project.close()
    assert statuses(first) == {"doubled": "computed", "total": "computed"}
    assert statuses(second) == {"doubled": "hit", "total": "hit"}
