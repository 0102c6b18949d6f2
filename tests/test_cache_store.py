"""The cache store: exact round trips, crash safety, sharing between processes, corruption."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import zoneinfo
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal, assert_series_equal

import hamilton_fast.cache.store as store_module
from hamilton_fast.cache import CacheCorruptionWarning, CacheStore, Entry, node_cache
from hamilton_fast.errors import CacheError

REPO = Path(__file__).resolve().parents[1]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, days: float) -> None:
        self.now += days * 86400.0


@dataclasses.dataclass
class Fitted:
    """A Python object that is neither a frame nor JSON: pickled only on request."""

    weights: list[float]


@pytest.fixture
def store(tmp_path: Path):
    with CacheStore(tmp_path / "cache") as opened:
        yield opened


def sample_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "i": [1, None, 3],
            "f": [1.5, float("nan"), -0.0],
            "s": ["a", None, "a much longer string than twelve bytes"],
            "b": [True, None, False],
            "d": [dt.date(2020, 1, 1), None, dt.date(2021, 2, 3)],
            "t": pl.Series([dt.datetime(2020, 1, 1, 12)] * 3).dt.replace_time_zone("UTC"),
            "l": [[1, 2], None, []],
            "st": [{"x": 1, "y": "p"}, None, {"x": None, "y": "q"}],
            "c": pl.Series(["u", "v", "u"], dtype=pl.Categorical),
            "e": pl.Series(["lo", "hi", "lo"], dtype=pl.Enum(["lo", "hi"])),
            "dec": pl.Series([decimal.Decimal("1.25"), None, decimal.Decimal("-3.50")]),
        }
    )


# --------------------------------------------------------------------------------------------
# Round trips


def test_frame_round_trip_get_and_scan(store: CacheStore) -> None:
    frame = sample_frame()
    entry = store.put("k-frame", "features", frame, parts={"code": "c1"})
    assert isinstance(entry, Entry)
    assert (entry.node, entry.kind, entry.format) == ("features", "frame", "ipc")
    assert entry.path is not None
    assert entry.path.parent == store.values_dir
    assert entry.size_bytes == entry.path.stat().st_size
    assert entry.parts == {"code": "c1"}
    assert_frame_equal(store.get("k-frame"), frame)
    scanned = store.scan("k-frame")
    assert isinstance(scanned, pl.LazyFrame)
    assert_frame_equal(scanned.collect(), frame)
    assert_frame_equal(scanned.select(pl.col("i").sum()).collect(), frame.select(pl.col("i").sum()))
    # The file is plain Arrow IPC (feather v2), uncompressed: other readers can map it.
    import pyarrow.feather as feather

    assert feather.read_table(entry.path, memory_map=True).num_rows == 3


def test_sliced_and_lazy_frames_are_stored_as_their_rows(store: CacheStore) -> None:
    frame = pl.DataFrame({"a": np.arange(100), "b": np.arange(100) * 0.5})
    store.put("k-slice", "part", frame.slice(10, 5))
    assert_frame_equal(store.get("k-slice"), frame.slice(10, 5))
    lazy = frame.lazy().filter(pl.col("a") % 7 == 0).with_columns(c=pl.col("b") * 2)
    entry = store.put("k-lazy", "lazy_node", lazy)
    assert entry.kind == "frame"
    assert_frame_equal(store.get("k-lazy"), lazy.collect())


@pytest.mark.parametrize("name", ["revenue", ""])
def test_series_round_trip_keeps_name_and_dtype(store: CacheStore, name: str) -> None:
    series = pl.Series(name, [1.0, None, 3.5], dtype=pl.Float32)
    entry = store.put("k-series", "revenue", series)
    assert entry.kind == "series"
    back = store.get("k-series")
    assert isinstance(back, pl.Series)
    assert_series_equal(back, series)
    assert_frame_equal(store.scan("k-series").collect(), series.to_frame())


def _flags(value: pl.DataFrame | pl.Series) -> dict[str, str | None]:
    frame = value.to_frame() if isinstance(value, pl.Series) else value
    return {
        c.name: "asc" if c.flags["SORTED_ASC"] else "desc" if c.flags["SORTED_DESC"] else None
        for c in frame.get_columns()
    }


def test_sorted_flags_come_back_on_every_read_path(store: CacheStore) -> None:
    # IPC drops Polars' sorted flags; a hit must carry the flags the computed value had,
    # since later queries choose their algorithms (and float summation order) by them.
    ascending = pl.Series("k", [1, 1, 2, 5]).set_sorted()
    descending = pl.Series("d", [4.0, 3.0, None, None]).set_sorted(descending=True)
    plain = pl.Series("p", [1, 2, 3, 4])  # sorted, but Polars was never told
    frame = pl.DataFrame([ascending, descending, plain])
    store.put("k-asc", "asc", ascending)
    store.put("k-desc", "desc", descending)
    store.put("k-plain", "plain", plain)
    store.put("k-frame", "frame", frame)
    store.put("k-lazy", "lazy", pl.DataFrame({"x": [3, 1, 2]}).lazy().sort("x"))
    expected = {
        "k-asc": {"k": "asc"},
        "k-desc": {"d": "desc"},
        "k-plain": {"p": None},
        "k-frame": {"k": "asc", "d": "desc", "p": None},
        "k-lazy": {"x": "asc"},
    }
    mapped = store.map_columns(store.lookup(["k-asc", "k-desc", "k-plain"]).values())
    for key, flags in expected.items():
        got = store.get(key)
        assert _flags(got) == flags, key
        scanned = store.scan(key)
        assert scanned is not None
        assert _flags(scanned.collect()) == flags, key
        if key in mapped:
            assert _flags(mapped[key]) == flags, key
    assert_series_equal(store.get("k-desc"), descending)
    assert_frame_equal(store.get("k-frame"), frame)


SCALARS = [
    None,
    True,
    False,
    0,
    -7,
    2**100,
    1.5,
    -0.0,
    float("inf"),
    "text with ünïcode",
    "",
    b"\x00\xffraw",
    3 + 4j,
    decimal.Decimal("1.50"),
    dt.date(2024, 2, 29),
    dt.datetime(2024, 2, 29, 13, 14, 15, 161718),
    dt.datetime(2024, 3, 31, 2, 30, tzinfo=zoneinfo.ZoneInfo("Europe/Paris")),
    dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    dt.datetime(2024, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=-5), "EST")),
    dt.time(23, 59, 59, 999999),
    dt.timedelta(days=-2, seconds=5, microseconds=7),
    Path("data/input.parquet"),
    np.float32(0.1),
    np.int16(-3),
    np.datetime64("2024-01-01T00:00", "m"),
    [1, "two", 3.0],
    (1, (2, 3)),
    {"window": 7, "weights": [0.5, 0.5], 3: None},
    {1, 2, 3},
    frozenset({"a"}),
]


@pytest.mark.parametrize("value", SCALARS, ids=[repr(v)[:30] for v in SCALARS])
def test_scalar_round_trip_is_exact(store: CacheStore, value: object) -> None:
    entry = store.put("k-scalar", "param", value)
    assert (entry.kind, entry.format, entry.path) == ("scalar", "json", None)
    back = store.get("k-scalar")
    assert type(back) is type(value)
    assert repr(back) == repr(value)
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        assert back.utcoffset() == value.utcoffset()
        assert back.tzname() == value.tzname()


def test_nan_round_trips(store: CacheStore) -> None:
    store.put("k-nan", "param", float("nan"))
    assert np.isnan(store.get("k-nan"))


def test_pickle_only_when_asked(store: CacheStore) -> None:
    model = Fitted([0.1, 0.2])
    with pytest.raises(CacheError) as info:
        store.put("k-model", "model", model)
    message = str(info.value)
    assert message.startswith("Cannot cache the value of `model`: a `")
    assert "Fitted` is not a frame, series or JSON-encodable value." in message
    assert 'Hint: mark the node `@cache(format="pickle")`' in message
    assert not store.contains("k-model")
    assert list(store.values_dir.iterdir()) == []

    entry = store.put("k-model", "model", model, format="pickle")
    assert (entry.kind, entry.format) == ("object", "pickle")
    assert store.get("k-model") == model
    with pytest.raises(CacheError, match=r"holds a object stored as pickle"):
        store.scan("k-model")


def test_scalars_cannot_be_scanned(store: CacheStore) -> None:
    store.put("k-int", "n", 3)
    with pytest.raises(CacheError, match=r"Cache entry for `n` holds a scalar stored as json"):
        store.scan("k-int")


def test_unknown_format_and_bad_key(store: CacheStore) -> None:
    with pytest.raises(CacheError, match="Unknown cache format 'csv' for `n`"):
        store.put("k", "n", 1, format="csv")
    with pytest.raises(CacheError, match="only holds frames and series"):
        store.put("k", "n", 1, format="ipc")
    with pytest.raises(CacheError, match="non-empty string"):
        store.put("", "n", 1)
    odd_key = "../../etc/passwd"
    entry = store.put(odd_key, "n", pl.DataFrame({"a": [1]}))
    assert entry.path is not None
    assert entry.path.parent == store.values_dir


def test_object_columns_need_pickle(store: CacheStore) -> None:
    frame = pl.DataFrame({"model": pl.Series([Fitted([1.0])], dtype=pl.Object)})
    with pytest.raises(CacheError, match=r"column `model` holds Python objects"):
        store.put("k-objects", "models", frame)
    assert not store.contains("k-objects")


def test_directory_problems_are_cache_errors(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    with pytest.raises(CacheError, match=r"Cannot use `.*file` as a cache directory"):
        CacheStore(not_a_dir)


def test_relative_cache_path_survives_a_chdir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with CacheStore("relative_cache") as store:
        store.put("k", "n", pl.DataFrame({"a": [1, 2]}))
        lazy = store.scan("k")
        monkeypatch.chdir("/")
        assert_frame_equal(lazy.collect(), pl.DataFrame({"a": [1, 2]}))


def test_entry_cleared_while_being_read_is_a_quiet_miss(store: CacheStore) -> None:
    entry = store.put("k", "n", pl.DataFrame({"a": [1]}))
    assert store.clear("n") == 1  # another process clears it before our read finishes
    store._drop_corrupt(entry, "value file missing")  # no warning: nothing is corrupt


def test_misses_return_none(store: CacheStore) -> None:
    assert store.get("nope") is None
    assert store.scan("nope") is None
    assert store.entry("nope") is None
    assert not store.contains("nope")
    assert "nope" not in store


def test_first_writer_wins_unless_overwrite(store: CacheStore) -> None:
    first = store.put("k", "n", pl.DataFrame({"a": [1]}))
    second = store.put("k", "n", pl.DataFrame({"a": [2]}))
    assert second.path == first.path
    assert_frame_equal(store.get("k"), pl.DataFrame({"a": [1]}))
    replaced = store.put("k", "n", pl.DataFrame({"a": [3]}), overwrite=True)
    assert replaced.path != first.path
    assert_frame_equal(store.get("k"), pl.DataFrame({"a": [3]}))
    assert first.path is not None
    assert first.path.exists()  # a reader may still be scanning it: swept later


# --------------------------------------------------------------------------------------------
# Inspection and clean-up


def test_entries_total_size_and_clear_per_node(store: CacheStore) -> None:
    store.put("a1", "alpha", pl.DataFrame({"x": np.arange(1000)}))
    store.put("a2", "alpha", pl.DataFrame({"x": np.arange(10)}))
    store.put("b1", "beta", pl.Series("y", [1.0, 2.0]))
    store.put("c1", "gamma", {"k": 1})
    entries = store.entries()
    assert [e.key for e in entries] == ["a1", "a2", "b1", "c1"]
    assert [e.key for e in store.entries("alpha")] == ["a1", "a2"]
    assert len(store) == 4
    files = sum(p.stat().st_size for p in store.values_dir.iterdir())
    json_size = store.entry("c1").size_bytes
    assert store.total_size() == files + json_size

    assert store.clear("alpha") == 2
    assert store.get("a1") is None
    assert {e.key for e in store.entries()} == {"b1", "c1"}
    assert len(list(store.values_dir.iterdir())) == 1
    assert store.clear("nobody") == 0
    assert store.clear() == 2
    assert store.entries() == []
    assert store.total_size() == 0
    assert list(store.values_dir.iterdir()) == []


def test_prune_by_last_use(tmp_path: Path) -> None:
    clock = FakeClock()
    with CacheStore(tmp_path / "cache", clock=clock) as store:
        store.put("old", "n", pl.DataFrame({"a": [1]}))
        store.put("used", "n", pl.DataFrame({"a": [2]}))
        store.put("json", "p", 5)
        clock.advance(10)
        assert store.get("used") is not None  # touches last_used
        assert store.entry("used").last_used == clock.now
        assert store.entry("old").last_used < clock.now
        clock.advance(5)
    with CacheStore(tmp_path / "cache", clock=clock) as store:
        assert store.prune(older_than_days=12) == 2
        assert [e.key for e in store.entries()] == ["used"]
        assert store.prune(older_than_days=1) == 1
        assert store.entries() == []


def test_prune_sweeps_orphans_left_by_crashed_writers(
    store: CacheStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.put("kept", "n", pl.DataFrame({"a": [1]}))
    orphan = store.values_dir / "deadbeef-0000000000000000.arrow"
    orphan.write_bytes(b"complete file whose index record was never written")
    partial = store.values_dir / ".tmp-abc.part"
    partial.write_bytes(b"half")
    assert store.prune(older_than_days=30) == 0
    assert orphan.exists()  # too young: it could belong to a writer in progress
    monkeypatch.setattr(store_module, "_ORPHAN_GRACE_SECONDS", -1.0)
    assert store.prune(older_than_days=30) == 0
    assert not orphan.exists()
    assert not partial.exists()
    assert store.get("kept") is not None


# --------------------------------------------------------------------------------------------
# Corruption


def corrupt_store(tmp_path: Path) -> tuple[CacheStore, Path]:
    store = CacheStore(tmp_path / "cache")
    entry = store.put("k-corrupt", "features", sample_frame())
    assert entry.path is not None
    store.close()
    return CacheStore(tmp_path / "cache"), entry.path


def test_truncated_file_warns_and_misses(tmp_path: Path) -> None:
    store, path = corrupt_store(tmp_path)
    with open(path, "r+b") as handle:
        handle.truncate(path.stat().st_size // 2)
    with pytest.warns(CacheCorruptionWarning, match=r"Cache entry for `features` is unusable"):
        assert store.get("k-corrupt") is None
    assert not store.contains("k-corrupt")
    assert not path.exists()
    store.close()


def test_flipped_byte_warns_and_misses(tmp_path: Path) -> None:
    store, path = corrupt_store(tmp_path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.warns(CacheCorruptionWarning, match=r"checksum mismatch(.|\n)*key: k-corrupt"):
        assert store.scan("k-corrupt") is None
    assert store.get("k-corrupt") is None  # gone: a plain miss now, no second warning
    store.close()


def test_missing_file_warns_and_misses(tmp_path: Path) -> None:
    store, path = corrupt_store(tmp_path)
    path.unlink()
    with pytest.warns(CacheCorruptionWarning, match="value file missing"):
        assert store.get("k-corrupt") is None
    store.close()


def test_corrupted_json_value_warns_and_misses(store: CacheStore) -> None:
    store.put("k-json", "param", {"a": 1})
    index = store._index
    record = json.loads(index.get("k-json"))
    record["value"] = record["value"].replace("1", "2")
    index.set("k-json", json.dumps(record))
    with pytest.warns(CacheCorruptionWarning, match="`param`"):
        assert store.get("k-json") is None


def test_verify_once_is_rechecked_when_the_file_changes(store: CacheStore) -> None:
    entry = store.put("k", "n", pl.DataFrame({"a": np.arange(1000)}))
    assert store.get("k") is not None  # verified and remembered
    assert entry.path is not None
    data = bytearray(entry.path.read_bytes())
    data[-200] ^= 0x01
    os.unlink(entry.path)  # a new inode, as any rewrite gives
    entry.path.write_bytes(bytes(data))
    with pytest.warns(CacheCorruptionWarning):
        assert store.get("k") is None


def count_hashes(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Record every full checksum of a value file the store computes."""
    hashed: list[Path] = []
    original = store_module._checksum_file

    def counting(path: Path) -> str:
        hashed.append(Path(path))
        return original(path)

    monkeypatch.setattr(store_module, "_checksum_file", counting)
    return hashed


def flip_in_place(path: Path, keep_mtime: bool) -> None:
    """Flip one byte without changing size or inode, optionally putting the mtime back."""
    info = path.stat()
    with open(path, "r+b") as handle:
        handle.seek(info.st_size // 2)
        byte = handle.read(1)
        handle.seek(info.st_size // 2)
        handle.write(bytes([byte[0] ^ 0x01]))
    if keep_mtime:
        os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))


def test_an_unchanged_file_is_trusted_by_its_recorded_identity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "cache"
    hashed = count_hashes(monkeypatch)
    series = pl.Series("s", [1.5, None, 3.0])
    with CacheStore(path) as store:
        store.put("k", "n", sample_frame())
        entry = store.put("s", "series", series)
    assert len(hashed) == 2  # once each, while writing
    hashed.clear()
    for _ in range(2):
        with CacheStore(path) as store:  # a new process each time: nothing in memory
            assert_frame_equal(store.get("k"), sample_frame())
            assert_frame_equal(store.scan("k").collect(), sample_frame())
            assert_series_equal(store.map_columns([entry])["s"], series)
            with pytest.raises(CacheError, match="cannot be mapped as a column"):
                store.map_columns(store.lookup(["k"]).values())
    assert hashed == []


def test_an_entry_without_a_recorded_identity_is_hashed_once_then_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Records written before identities were kept, or a file copied to a new disk.
    path = tmp_path / "cache"
    with CacheStore(path) as store:
        entry = store.put("k", "n", sample_frame())
        record = json.loads(store._index.get("k"))
        del record["stat"]
        store._index.set("k", json.dumps(record))
    hashed = count_hashes(monkeypatch)
    for _ in range(3):
        with CacheStore(path) as store:
            assert_frame_equal(store.get("k"), sample_frame())
    assert hashed == [entry.path]


@pytest.mark.parametrize("keep_mtime", [False, True])
def test_a_file_changed_in_place_is_rehashed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keep_mtime: bool
) -> None:
    path = tmp_path / "cache"
    with CacheStore(path) as store:
        entry = store.put("k", "n", sample_frame())
        assert store.get("k") is not None
    assert entry.path is not None
    time.sleep(0.01)  # a tick of the file system clock, for ctime
    flip_in_place(entry.path, keep_mtime)  # ctime moves even when mtime is put back
    with CacheStore(path) as store, pytest.warns(CacheCorruptionWarning, match="checksum"):
        assert store.get("k") is None


def test_a_recently_changed_file_is_rehashed_until_it_settles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fresh mtime vouches for nothing: a second write within the same tick of the file
    # system's clock could leave every timestamp as it was.
    path = tmp_path / "cache"
    with CacheStore(path) as store:
        entry = store.put("k", "n", sample_frame())
    assert entry.path is not None
    os.utime(entry.path)  # mtime: now (content unchanged)
    hashed = count_hashes(monkeypatch)
    with CacheStore(path) as store:
        assert store.get("k") is not None
        assert store.get("k") is not None
    assert len(hashed) == 2
    monkeypatch.setattr(store_module, "_RACY_NS", 0)  # as if two seconds had passed
    with CacheStore(path) as store:
        assert store.get("k") is not None  # hashed, and now its identity is recorded
    with CacheStore(path) as store:
        assert store.get("k") is not None
    assert len(hashed) == 3


def test_verify_always_rehashes_every_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "cache"
    with CacheStore(path) as store:
        store.put("k", "n", sample_frame())
    hashed = count_hashes(monkeypatch)
    with CacheStore(path, verify="always") as store:
        for _ in range(3):
            assert store.get("k") is not None
    assert len(hashed) == 3
    with pytest.raises(CacheError, match="verify must be"):
        CacheStore(path, verify="sometimes")  # type: ignore[arg-type]


def test_verify_entries_finds_what_identities_cannot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Rot below the file system keeps the file's identity: only a full re-hash sees it. Here
    # the recorded checksum is altered instead of the disk, to the same effect.
    path = tmp_path / "cache"
    with CacheStore(path) as store:
        store.put("good", "a", sample_frame())
        store.put("rotten", "b", sample_frame())
        store.put("json", "c", {"x": 1})
    with CacheStore(path) as store:
        assert store.get("good") is not None
        assert store.get("rotten") is not None
        record = json.loads(store._index.get("rotten"))
        record["checksum"] = "0" * 32
        store._index.set("rotten", json.dumps(record))
    with CacheStore(path) as store:
        assert store.get("rotten") is not None  # trusted by its identity
        with pytest.warns(CacheCorruptionWarning, match="`b`"):
            assert store.verify_entries() == (3, 1)
        assert not store.contains("rotten")
        assert store.verify_entries() == (2, 0)


def test_map_columns_reads_series_zero_copy_and_drops_corrupt_ones(tmp_path: Path) -> None:
    path = tmp_path / "cache"
    long = pl.Series("x", np.arange(100_000, dtype=np.float64)).scatter([3, 7], None)
    short = pl.Series("label", ["a", None, "c"])
    day = pl.Series("day", [dt.date(2024, 1, 1), None], dtype=pl.Date)
    with CacheStore(path) as store:
        entries = [
            store.put("k1", "x", long),
            store.put("k2", "label", short),
            store.put("k3", "day", day),
            store.put("k4", "bad", long.alias("bad")),
        ]
    assert entries[3].path is not None
    entries[3].path.write_bytes(entries[3].path.read_bytes()[:-100])
    with CacheStore(path) as store, pytest.warns(CacheCorruptionWarning, match="`bad`"):
        columns = store.map_columns(entries)
    assert sorted(columns) == ["k1", "k2", "k3"]
    assert_series_equal(columns["k1"], long)
    assert_series_equal(columns["k2"], short)
    assert_series_equal(columns["k3"], day)


def test_a_file_mapped_before_is_reused_only_while_it_is_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_module.forget_memos()
    path = tmp_path / "cache"
    values = pl.Series("x", np.arange(50_000, dtype=np.float64))
    with CacheStore(path) as store:
        entry = store.put("k1", "x", values)
        other = store.put("k2", "y", values.alias("y"))
    assert entry.path is not None
    opened: list[str] = []
    real_map = store_module._map_single_column

    def counting(entry: Entry, descriptor: int) -> Any:
        opened.append(entry.key)
        return real_map(entry, descriptor)

    monkeypatch.setattr(store_module, "_map_single_column", counting)
    with CacheStore(path) as store:  # another store object, as a rebuilt driver has
        first = store.map_columns([entry, other])
        again = store.map_columns(store.lookup(["k1", "k2"]).values())
    assert opened == ["k1", "k2"]  # the second read reused both mappings
    assert_series_equal(again["k1"], values)
    assert_series_equal(again["k2"], first["k2"])

    # Bytes changed in place (same size): the identity moves, so the file is checksummed.
    data = bytearray(entry.path.read_bytes())
    data[-200] ^= 0xFF
    entry.path.write_bytes(bytes(data))
    with CacheStore(path) as store, pytest.warns(CacheCorruptionWarning, match="`x`"):
        assert "k1" not in store.map_columns([entry])  # checksummed, not remembered

    # Re-hashing modes never take a remembered mapping.
    with CacheStore(path, verify="always") as store:
        assert_series_equal(store.map_columns([other])["k2"], values.alias("y"))
    assert opened[-1] == "k2"

    # Clearing forgets the mapping (its disk space is freed with it); so does a new process.
    with CacheStore(path) as store:
        store.map_columns([other])
        assert other.path is not None
        assert str(other.path) in store_module._MAPPED
        store.clear("y")
        assert str(other.path) not in store_module._MAPPED
        entry = store.put("k3", "z", values.alias("z"))
        store.map_columns([entry])
    assert str(entry.path) in store_module._MAPPED
    node_cache.forget_process_memos()
    assert not store_module._MAPPED


# --------------------------------------------------------------------------------------------
# Crash safety and concurrency

WRITER = """
import sys
import numpy as np, polars as pl
from hamilton_fast.cache import CacheStore

store = CacheStore(sys.argv[1])
start = int(sys.argv[2])
rows = 1_000_000
for i in range(start, start + 10_000):
    frame = pl.DataFrame({"x": np.arange(rows, dtype=np.int64) + i, "y": np.full(rows, float(i))})
    store.put(f"k{i:06d}", f"node{i % 3}", frame)
    store.put(f"s{i:06d}", "scalar", {"i": i, "tag": "x" * 1000})
    print(i, flush=True)
"""


def check_store_is_valid(path: Path) -> int:
    rows = 1_000_000
    with CacheStore(path) as store:
        entries = store.entries()
        for entry in entries:
            value = store.get(entry.key)  # a corruption warning would fail the test
            assert value is not None, entry
            i = int(entry.key[1:])
            if entry.key.startswith("s"):
                assert value == {"i": i, "tag": "x" * 1000}
                continue
            assert value.height == rows
            assert value["x"][0] == i
            assert value["x"][rows - 1] == i + rows - 1
            assert (value["y"] == float(i)).all()
    return len(entries)


def kill_writers_at(tmp_path: Path, delays: list[float]) -> None:
    cache = tmp_path / "cache"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    start = 0
    for delay in delays:
        writer = subprocess.Popen(
            [sys.executable, str(script), str(cache), str(start)],
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        assert writer.stdout is not None
        for _ in range(2):  # let it finish a couple of writes, then kill it mid-way
            assert writer.stdout.readline()
        time.sleep(delay)
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
        writer.stdout.close()
        start += 1000
        assert check_store_is_valid(cache) >= 4


def test_killed_writer_never_leaves_an_entry_that_reads_back_wrong(tmp_path: Path) -> None:
    kill_writers_at(tmp_path, [0.0, 0.013, 0.041])


@pytest.mark.slow
def test_killed_writers_at_many_moments(tmp_path: Path) -> None:
    kill_writers_at(tmp_path, [i * 0.0037 for i in range(40)])


CRASHER = """
import os, sys, time
import polars as pl
import hamilton_fast.cache.store as store_module
from hamilton_fast.cache import CacheStore

point = sys.argv[2]

def stall(*args, **kwargs):
    print("at crash point", flush=True)
    time.sleep(60)

if point == "before-rename":
    store_module.os.replace = stall
else:  # the file is in place under its final name; the index record is next
    store_module._checksum_file = stall
store = CacheStore(sys.argv[1])
store.put("doomed", "victim", pl.DataFrame({"a": list(range(1000))}))
"""


@pytest.mark.parametrize("point", ["before-rename", "before-index"])
def test_crash_between_file_and_index_leaves_no_entry(
    tmp_path: Path, point: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "crasher.py"
    script.write_text(CRASHER)
    cache = tmp_path / "cache"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, str(script), str(cache), point], stdout=subprocess.PIPE, env=env, text=True
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "at crash point"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    process.stdout.close()
    leftovers = list((cache / "values").iterdir())
    assert len(leftovers) == 1  # the half-done write, by name never taken for a value
    with CacheStore(cache) as store:
        assert store.entries() == []
        assert store.get("doomed") is None
        monkeypatch.setattr(store_module, "_ORPHAN_GRACE_SECONDS", -1.0)
        store.prune(older_than_days=365)
        assert list(store.values_dir.iterdir()) == []
        store.put("doomed", "victim", pl.DataFrame({"a": [1]}))  # a rerun stores it fine
        assert_frame_equal(store.get("doomed"), pl.DataFrame({"a": [1]}))


def run_workers(tmp_path: Path, source: str, count: int) -> list[subprocess.CompletedProcess[str]]:
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent(source))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    processes = [
        subprocess.Popen(
            [sys.executable, "-W", "error", str(script), str(tmp_path / "cache"), str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        for n in range(count)
    ]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        results.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
    return results


WORKER = """
import sys
import numpy as np, polars as pl
from polars.testing import assert_frame_equal
from hamilton_fast.cache import CacheStore

def expected(k):
    return pl.DataFrame({"k": np.full(200_000, k), "v": np.arange(200_000) * (k + 1.0)})

store = CacheStore(sys.argv[1])
me = int(sys.argv[2])
order = list(range(12))
order = order[(me * 3) % 12:] + order[: (me * 3) % 12]
for round in range(3):
    for k in order:
        store.put(f"frame{k}", f"node{k}", expected(k))
        store.put(f"value{k}", "param", [k, str(k)])
        got = store.get(f"frame{k}")
        assert got is not None
        assert_frame_equal(got, expected(k))
        assert_frame_equal(store.scan(f"frame{k}").collect(), expected(k))
        assert store.get(f"value{k}") == [k, str(k)]
print("ok")
"""


@pytest.mark.parametrize("count", [4, pytest.param(12, marks=pytest.mark.slow)])
def test_processes_share_one_cache_directory(tmp_path: Path, count: int) -> None:
    results = run_workers(tmp_path, WORKER, count=count)
    for result in results:
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "ok"
        assert result.stderr == ""
    with CacheStore(tmp_path / "cache") as store:
        assert len(store.entries()) == 24
        for k in range(12):
            frame = store.get(f"frame{k}")
            assert frame is not None
            assert frame["k"][0] == k
        # Losing writers removed their files: one file per frame entry, nothing else.
        assert len(list(store.values_dir.iterdir())) == 12


def test_lookup_reads_many_records_at_once_and_falls_back_per_key(
    store: CacheStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    big_parts = {f"dependency:n{i}": "f" * 32 for i in range(2000)}  # > diskcache's 32 KB
    store.put("small", "a", pl.Series("a", [1, 2]))
    store.put("big", "b", pl.Series("b", [3]), parts=big_parts)
    store.put("json", "c", 1.5)
    keys = ["small", "big", "json", "missing", "small"]
    batched = store.lookup(keys)
    assert sorted(batched) == ["big", "json", "small"]
    assert batched["big"].parts == big_parts
    assert batched == {k: store.entry(k) for k in batched}
    original = type(store._index)._sql

    def no_batches(self: Any) -> Any:
        sql = original.__get__(self)

        def guarded(query: str, *args: Any) -> Any:
            if " IN (" in query:  # as if diskcache's table had changed
                raise sqlite3.OperationalError("no such column: key")
            return sql(query, *args)

        return guarded

    monkeypatch.setattr(type(store._index), "_sql", property(no_batches))
    assert store._index_texts(keys) == {}  # no batch, and no error
    assert store.lookup(keys) == batched


LAYOUT_SERIES = [
    pl.Series("f64", [1.5, None, -0.0, float("nan")]),
    pl.Series("f32", [1.5, None, 3.0], dtype=pl.Float32),
    pl.Series("i8", [1, None, -128], dtype=pl.Int8),
    pl.Series("u64", [2**64 - 1, None, 0], dtype=pl.UInt64),
    pl.Series("flag", [True, None, False, True, True, False, False, True, True]),
    pl.Series("day", [dt.date(2024, 2, 29), None], dtype=pl.Date),
    pl.Series("at", [dt.datetime(2024, 1, 1, 12, 30, 15, 123456), None]),
    pl.Series("at_ms", [dt.datetime(2024, 1, 1), None], dtype=pl.Datetime("ms")),
    pl.Series("span", [dt.timedelta(days=1, microseconds=7), None]),
    pl.Series("clock", [dt.time(23, 59, 59, 999999), None]),
]
NO_LAYOUT_SERIES = [
    pl.Series("text", ["a", None, "a much longer string than twelve bytes"]),
    pl.Series("zoned", [dt.datetime(2024, 1, 1)]).dt.replace_time_zone("Europe/Paris"),
    pl.Series("cat", ["x", "y", None], dtype=pl.Categorical),
    pl.Series("nested", [[1, 2], None, []]),
    pl.Series("money", [decimal.Decimal("1.25"), None], dtype=pl.Decimal(10, 2)),
    pl.Series("empty", [], dtype=pl.Float64),  # no record batch to point into
]


def test_map_columns_reads_recorded_layouts_and_falls_back_to_the_ipc_footer(
    tmp_path: Path,
) -> None:
    path = tmp_path / "cache"
    with CacheStore(path) as store:
        entries = [store.put(f"k-{s.name}", s.name, s) for s in [*LAYOUT_SERIES, *NO_LAYOUT_SERIES]]
    for entry, series in zip(entries, [*LAYOUT_SERIES, *NO_LAYOUT_SERIES], strict=True):
        assert (entry.layout is not None) == any(series is s for s in LAYOUT_SERIES), entry.node
    with CacheStore(path) as store:
        columns = store.map_columns(store.lookup(e.key for e in entries).values())
        for series in [*LAYOUT_SERIES, *NO_LAYOUT_SERIES]:
            assert_series_equal(columns[f"k-{series.name}"], series)
            assert_series_equal(store.get(f"k-{series.name}"), series)


def test_a_layout_pointing_past_the_file_is_treated_as_corrupt(store: CacheStore) -> None:
    entry = store.put("k", "x", pl.Series("x", [1.0, 2.0, None]))
    record = json.loads(store._index.get("k"))
    record["layout"][5][1][0] += 10_000  # the values buffer, moved past the end
    store._index.set("k", json.dumps(record))
    with pytest.warns(CacheCorruptionWarning, match="past the end"):
        assert store.map_columns(store.lookup(["k"]).values()) == {}
    assert entry.path is not None
    assert not entry.path.exists()


def test_lookup_of_missing_keys_costs_no_query_per_key(
    store: CacheStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.put("present", "a", pl.Series("a", [1.0]))
    gets: list[str] = []
    original = type(store._index).get

    def counting(self: Any, key: str, *args: Any, **kwargs: Any) -> Any:
        gets.append(key)
        return original(self, key, *args, **kwargs)

    monkeypatch.setattr(type(store._index), "get", counting)
    found = store.lookup(["present", *(f"absent-{i}" for i in range(50))])
    assert sorted(found) == ["present"]
    assert gets == []  # a cold run asks for every node: one batch answers the misses too
