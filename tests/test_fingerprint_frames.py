"""Fingerprints of numeric and temporal columns with nulls, checked against slow oracles.

The fast path reads a column's Arrow buffers: the null bitmap from Arrow's ``is_null``, values
with the slots under nulls filled with zero bits by Arrow (a bounded piece at a time), several
columns on threads. Every path must give what the obvious route gives (Polars' ``is_null`` and
``fill_null(0)``), whatever bytes sit under the nulls, however the column is sliced or
chunked, and whichever path the sizes choose.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
import xxhash
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hamilton_fast.cache.fingerprint as fp
from hamilton_fast.cache import UnfingerprintableError, fingerprint_frame
from tests.helpers import sorted_flags_aside

REPO = Path(__file__).resolve().parents[1]

# Polars dtype, the Arrow type it exports as, and the numpy type of its storage.
KINDS: dict[str, tuple[pl.DataType, pa.DataType, type[np.generic]]] = {
    "i8": (pl.Int8(), pa.int8(), np.int8),
    "u16": (pl.UInt16(), pa.uint16(), np.uint16),
    "i32": (pl.Int32(), pa.int32(), np.int32),
    "u32": (pl.UInt32(), pa.uint32(), np.uint32),
    "i64": (pl.Int64(), pa.int64(), np.int64),
    "u64": (pl.UInt64(), pa.uint64(), np.uint64),
    "f32": (pl.Float32(), pa.float32(), np.float32),
    "f64": (pl.Float64(), pa.float64(), np.float64),
    "date": (pl.Date(), pa.date32(), np.int32),
    "dtm": (pl.Datetime("us"), pa.timestamp("us"), np.int64),
    "dtm_tz": (pl.Datetime("ms", "UTC"), pa.timestamp("ms", tz="UTC"), np.int64),
    "dur": (pl.Duration("ns"), pa.duration("ns"), np.int64),
    "time": (pl.Time(), pa.time64("ns"), np.int64),
}

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def column(
    kind: str, values: np.ndarray[Any, Any], valid: np.ndarray[Any, Any], garbage: int | None
) -> pl.Series:
    """A Polars column straight from Arrow buffers, with chosen bytes under its nulls:
    ``garbage`` seeds random nonzero bytes there (``None`` leaves zeros)."""
    _, arrow_type, storage = KINDS[kind]
    data = np.ascontiguousarray(values, dtype=storage).copy()
    data[~valid] = 0
    if garbage is not None:
        noise = np.random.default_rng(garbage).integers(1, 256, data.nbytes, dtype=np.uint8)
        raw = data.view(np.uint8).reshape(len(data), -1)
        raw[~valid] = noise.reshape(raw.shape)[~valid]
    bitmap = np.packbits(valid, bitorder="little")
    buffers = [pa.py_buffer(bitmap.tobytes()), pa.py_buffer(data.tobytes())]
    arr = pa.Array.from_buffers(arrow_type, len(data), buffers)
    series = pl.from_arrow(arr)
    assert isinstance(series, pl.Series)
    return series.rename("x")


def hidden_bytes(series: pl.Series) -> bytes:
    """The bytes under a column's nulls, as stored (to check a test really plants some)."""
    parts = []
    for chunk in series.get_chunks():
        arr = chunk.to_arrow()
        width = arr.type.bit_width // 8
        raw = np.frombuffer(arr.buffers()[1], np.uint8)
        raw = raw[arr.offset * width : (arr.offset + len(arr)) * width].reshape(len(arr), width)
        parts.append(raw[arr.is_null().to_numpy(zero_copy_only=False)].tobytes())
    return b"".join(parts)


def reference_digests(series: pl.Series) -> tuple[bytes, bytes]:
    """What ``_fixed_width_digests`` must give, by the slow and obvious route: the null bitmap
    from ``is_null`` (least significant bit first, padded with zeros), the values from
    ``fill_null(0)`` on the physical column."""
    nulls = series.is_null().to_numpy()
    values = series.to_physical().fill_null(0).to_numpy()
    bitmap = np.packbits(nulls, bitorder="little")
    value_bytes = values.astype(values.dtype.newbyteorder("<")).tobytes()
    null_digest = xxhash.xxh3_128_digest(bitmap.tobytes()) if nulls.any() else b""
    return null_digest, xxhash.xxh3_128_digest(value_bytes)


def chunked(series: pl.Series, cuts: list[int]) -> pl.Series:
    bounds = [0, *sorted(cuts), series.len()]
    pieces = [series.slice(a, b - a) for a, b in zip(bounds, bounds[1:], strict=False)]
    return pl.concat(pieces, rechunk=False)


@contextmanager
def tuned(**values: int) -> Iterator[None]:
    """The fingerprint module with some size thresholds changed (to reach every path)."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in values.items():
            assert hasattr(fp, name), name
            patch.setattr(fp, name, value)
        yield


PATHS: dict[str, dict[str, int]] = {
    "default": {},
    # Columns filled and hashed in pieces of a few rows.
    "pieces": {"_PIECE_ROWS": 16},
}


# --------------------------------------------------------------------------------------------
# Null bitmaps at any offset


@SETTINGS
@given(
    st.integers(0, 2**32 - 1),
    st.sampled_from([0.0, 0.002, 0.05, 0.5, 0.97, 1.0]),
    st.integers(1, 700),
    st.integers(0, 70),
)
def test_packed_bits_of_a_sliced_mask(seed: int, rate: float, nbits: int, offset: int) -> None:
    rng = np.random.default_rng(seed)
    offset = min(offset, nbits - 1)
    rows = int(rng.integers(1, nbits - offset + 1))
    bits = rng.random(nbits) < rate
    mask = pa.array(bits).slice(offset, rows)
    expected = np.packbits(bits[offset : offset + rows], bitorder="little")
    np.testing.assert_array_equal(fp._packed_bits(mask), expected)


# --------------------------------------------------------------------------------------------
# Column digests against the oracle


@st.composite
def columns_with_nulls(draw: st.DrawFn) -> tuple[str, np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    kind = draw(st.sampled_from(sorted(KINDS)))
    rows = draw(st.integers(1, 300))
    seed = draw(st.integers(0, 2**32 - 1))
    null_rate = draw(st.sampled_from([0.0, 0.01, 0.1, 0.5, 1.0]))
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 100_000, rows)
    valid = rng.random(rows) >= null_rate
    return kind, values, valid


@SETTINGS
@given(
    columns_with_nulls(),
    st.integers(0, 2**32 - 1),
    st.lists(st.integers(0, 300), max_size=4),
    st.integers(0, 40),
    st.sampled_from(sorted(PATHS)),
)
def test_bytes_under_nulls_never_count(
    case: tuple[str, np.ndarray[Any, Any], np.ndarray[Any, Any]],
    garbage: int,
    cuts: list[int],
    trim: int,
    path: str,
) -> None:
    kind, values, valid = case
    clean = column(kind, values, valid, garbage=None)
    dirty = column(kind, values, valid, garbage=garbage)
    other = column(kind, values, valid, garbage=garbage + 1)
    if not valid.all():
        assert hidden_bytes(dirty) != hidden_bytes(clean)  # the test plants something
    # The same rows again, from a slice at an odd offset and in independent chunks.
    rows = len(values)
    start = min(trim, rows)
    window = pl.concat([dirty, other], rechunk=True).slice(start, rows - start)
    window_clean = clean.slice(start, rows - start)
    split = chunked(other, [c for c in cuts if c <= rows])
    with tuned(**PATHS[path]), sorted_flags_aside():
        expected = reference_digests(clean)
        for series in (clean, dirty, other, split):
            assert fp._fixed_width_digests(series) == expected
            assert fingerprint_frame(series) == fingerprint_frame(clean)
        assert fp._fixed_width_digests(window) == reference_digests(window_clean)
        assert fingerprint_frame(window) == fingerprint_frame(window_clean)
        assert fingerprint_frame(split.to_frame()) == fingerprint_frame(clean.to_frame())


BIG_ROWS = 200_000 + 4_321


@pytest.mark.parametrize("null_rate", [0.0005, 0.01, 0.3])
@pytest.mark.parametrize("kind", ["i8", "u16", "f32", "f64", "date", "dtm", "time"])
def test_long_columns_match_the_reference(kind: str, null_rate: float) -> None:
    rng = np.random.default_rng(zlib.crc32(f"{kind}{null_rate}".encode()))
    values = rng.integers(0, 120, BIG_ROWS)
    valid = rng.random(BIG_ROWS) >= null_rate
    clean = column(kind, values, valid, garbage=None)
    dirty = column(kind, values, valid, garbage=1)
    assert hidden_bytes(dirty) != hidden_bytes(clean)
    expected = reference_digests(clean)
    fresh = fingerprint_frame(clean)
    layouts = {
        "whole": dirty,
        "chunks": chunked(dirty, [1, 70_001, 131_075]),
        "slice": pl.concat([dirty.head(77), dirty], rechunk=True).slice(77, BIG_ROWS),
        "chunks+slice": chunked(pl.concat([dirty.head(5), dirty]), [3, 99_999]).slice(5, BIG_ROWS),
    }
    for name, series in layouts.items():
        for piece_rows in (fp._PIECE_ROWS, 65_536, 4_099):  # whole, several pieces, many
            with tuned(_PIECE_ROWS=piece_rows):
                assert fp._fixed_width_digests(series) == expected, (name, piece_rows)
                assert fingerprint_frame(series) == fresh, (name, piece_rows)
    # A slice that is not the whole column matches the same rows built fresh.
    part = dirty.slice(65_531, 70_013)
    assert fp._fixed_width_digests(part) == reference_digests(clean.slice(65_531, 70_013))


def test_zeros_under_some_nulls_only() -> None:
    """The first nulls hide zeros and later ones values (or the reverse)."""
    rng = np.random.default_rng(3)
    rows = 2 * 65_536 + 999
    values = rng.integers(1, 1_000, rows)
    valid = rng.random(rows) >= 0.02
    clean = column("i64", values, valid, garbage=None)
    nulls = np.flatnonzero(~valid)
    half = nulls[len(nulls) // 2]
    hidden = rng.integers(1, 1_000, rows)
    for dirty_rows in (np.arange(rows) >= half, np.arange(rows) < half):
        stored = np.where(valid, values, np.where(dirty_rows, hidden, 0))
        arr = pa.Array.from_buffers(
            pa.int64(),
            rows,
            [
                pa.py_buffer(np.packbits(valid, bitorder="little").tobytes()),
                pa.py_buffer(stored.astype(np.int64).tobytes()),
            ],
        )
        series = pl.from_arrow(arr)
        assert isinstance(series, pl.Series)
        series = series.rename("x")
        assert hidden_bytes(series) != hidden_bytes(clean)
        assert fp._fixed_width_digests(series) == reference_digests(clean)
        assert fingerprint_frame(series) == fingerprint_frame(clean)


def test_negative_zero_under_a_null_is_hidden() -> None:
    valid = np.array([True, False, True])
    values = np.array([1.5, 0.0, 2.5])
    clean = column("f64", values, valid, garbage=None)
    negative = pl.Series("x", [1.5, -0.0, 2.5]).scatter(1, None)
    assert hidden_bytes(negative) != hidden_bytes(clean)
    assert fingerprint_frame(negative) == fingerprint_frame(clean)
    assert fingerprint_frame(pl.Series("x", [1.5, -0.0, 2.5])) != fingerprint_frame(
        pl.Series("x", [1.5, 0.0, 2.5])
    )


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_null_is_not_a_zero(kind: str) -> None:
    piece = 64
    rows = 2 * piece + 17
    values = np.zeros(rows, dtype=np.int64)
    all_valid = np.ones(rows, dtype=bool)
    zeros = column(kind, values, all_valid, garbage=None)
    with tuned(_PIECE_ROWS=piece):
        digests = {fingerprint_frame(zeros)}
        # One null, at piece edges and elsewhere: each a different column.
        for row in (0, 1, piece - 1, piece, rows - 1):
            valid = all_valid.copy()
            valid[row] = False
            digests.add(fingerprint_frame(column(kind, values, valid, garbage=None)))
    assert len(digests) == 6
    short = column(kind, np.array([1, 0, 2]), np.array([True, True, True]), garbage=None)
    nulled = column(kind, np.array([1, 0, 2]), np.array([True, False, True]), garbage=None)
    assert fingerprint_frame(short) != fingerprint_frame(nulled)


def test_empty_and_all_null_columns() -> None:
    for kind, (dtype, _, _) in KINDS.items():
        empty = pl.Series("x", [], dtype=dtype)
        assert fp._fixed_width_digests(empty) == reference_digests(empty)
        nothing = np.zeros(70, dtype=np.int64)
        none_valid = np.zeros(70, dtype=bool)
        a = column(kind, nothing, none_valid, garbage=5)
        b = column(kind, nothing, none_valid, garbage=6)
        fresh = pl.Series("x", [None] * 70, dtype=dtype)
        assert fingerprint_frame(a) == fingerprint_frame(b) == fingerprint_frame(fresh), kind
        assert fp._fixed_width_digests(a) == reference_digests(fresh)
        assert fingerprint_frame(fresh) != fingerprint_frame(fresh.head(69))


# --------------------------------------------------------------------------------------------
# Frames: names, dtypes, threads


def mixed_frame(rows: int) -> pl.DataFrame:
    rng = np.random.default_rng(11)
    valid = rng.random(rows) >= 0.01
    return pl.DataFrame(
        [
            column("f64", rng.integers(0, 50, rows), valid, garbage=2).rename("a"),
            column("i32", rng.integers(0, 50, rows), valid, garbage=3).rename("b"),
            pl.Series("c", rng.integers(0, 9, rows)).cast(pl.String),
            column("date", rng.integers(0, 50, rows), ~valid, garbage=4).rename("d"),
            pl.Series("e", rng.random(rows)),
        ]
    )


def test_names_and_dtypes_count() -> None:
    frame = mixed_frame(500)
    before = fingerprint_frame(frame)
    assert fingerprint_frame(frame.rename({"a": "z"})) != before
    assert fingerprint_frame(frame.select(pl.all().exclude("b"), pl.col("b"))) != before
    assert fingerprint_frame(frame.with_columns(pl.col("b").cast(pl.UInt32))) != before
    assert fingerprint_frame(frame.with_columns(pl.col("d").cast(pl.Int32))) != before
    assert fingerprint_frame(frame.with_columns(pl.col("a").cast(pl.Int64))) != before
    dtm = frame.with_columns(pl.col("b").cast(pl.Int64).cast(pl.Datetime("us")))
    assert fingerprint_frame(dtm) != fingerprint_frame(dtm.with_columns(pl.col("b").cast(pl.Int64)))


def test_threads_give_the_serial_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = mixed_frame(20_000)
    serial = fingerprint_frame(frame)
    workers: set[str] = set()
    real: Callable[..., Any] = fp._column_digest

    def recording(series: pl.Series, defer: bool = False) -> Any:
        workers.add(threading.current_thread().name)
        return real(series, defer)

    monkeypatch.setattr(fp, "_column_digest", recording)
    monkeypatch.setattr(fp, "_PARALLEL_BYTES", 0)
    monkeypatch.setattr(fp, "_PARALLEL_COLUMN_BYTES", 0)
    monkeypatch.setattr(fp, "_usable_cores", lambda: 4)
    assert fingerprint_frame(frame) == serial
    assert any(name.startswith("hf-fingerprint") for name in workers)
    # A column that cannot be fingerprinted fails the frame, naming the first such column.
    blobs = frame.with_columns(
        pl.Series("c", [object()] * frame.height, dtype=pl.Object),
        pl.Series("e", [object()] * frame.height, dtype=pl.Object),
    )
    with pytest.raises(UnfingerprintableError, match=r"Column `c` has dtype Object"):
        fingerprint_frame(blobs)


def test_big_frames_use_threads_only_for_big_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    pools: list[int] = []
    real = fp.ThreadPoolExecutor

    def counting(workers: int, **kwargs: Any) -> Any:
        pools.append(workers)
        return real(workers, **kwargs)

    monkeypatch.setattr(fp, "ThreadPoolExecutor", counting)
    monkeypatch.setattr(fp, "_usable_cores", lambda: 2)
    fingerprint_frame(pl.DataFrame({f"x{i}": np.zeros(10) for i in range(50)}))
    assert pools == []  # small frame: no threads
    monkeypatch.setattr(fp, "_PARALLEL_BYTES", 1_000)
    fingerprint_frame(pl.DataFrame({f"x{i}": np.zeros(10) for i in range(50)}))
    assert pools == []  # many small columns: still none
    monkeypatch.setattr(fp, "_PARALLEL_COLUMN_BYTES", 1_000)
    frame = pl.DataFrame({f"x{i}": np.zeros(1_000) for i in range(5)})
    threaded = fingerprint_frame(frame)
    assert pools == [2]

    class Exiting(real):  # type: ignore[misc, valid-type]
        def submit(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("cannot schedule new futures after interpreter shutdown")

    # In an atexit hook no thread starts: the columns are hashed here instead.
    monkeypatch.setattr(fp, "ThreadPoolExecutor", Exiting)
    assert fingerprint_frame(frame) == threaded
    monkeypatch.setattr(fp, "_PARALLEL_BYTES", 1 << 40)
    assert fingerprint_frame(frame) == threaded


# --------------------------------------------------------------------------------------------
# The memo of logical digests under raw ones


class DictMemo:
    """A ValuesMemo in a dict, counting what it is asked."""

    def __init__(self) -> None:
        self.records: dict[bytes, bytes] = {}
        self.asked = 0

    def get_many(self, raws: Sequence[bytes]) -> list[bytes | None]:
        self.asked += len(raws)
        return [self.records.get(raw) for raw in raws]

    def put_many(self, items: Sequence[tuple[bytes, bytes]]) -> None:
        self.records.update(items)


@pytest.fixture
def every_column_memoized(monkeypatch: pytest.MonkeyPatch) -> None:
    """The memo for columns of any size (by default only for 256 KiB and more)."""
    monkeypatch.setattr(fp, "_MEMO_MIN_BYTES", 0)


def dirty_frame(rows: int, garbage: int | None) -> pl.DataFrame:
    """Columns of several kinds with nulls and ``garbage`` under them, one without nulls."""
    rng = np.random.default_rng(11)
    values = rng.integers(0, 10_000, rows)
    valid = rng.random(rows) >= 0.05
    columns = [column(kind, values, valid, garbage).rename(kind) for kind in sorted(KINDS)]
    return pl.DataFrame([*columns, pl.Series("full", values)])


@pytest.mark.usefixtures("every_column_memoized")
@pytest.mark.parametrize("threads", [False, True])
def test_memo_gives_the_digest_without_it(monkeypatch: pytest.MonkeyPatch, threads: bool) -> None:
    if threads:
        monkeypatch.setattr(fp, "_PARALLEL_BYTES", 0)
        monkeypatch.setattr(fp, "_PARALLEL_COLUMN_BYTES", 0)
        monkeypatch.setattr(fp, "_usable_cores", lambda: 2)
    frame = dirty_frame(5_000, garbage=1)
    expected = fingerprint_frame(dirty_frame(5_000, garbage=None))
    memo = DictMemo()
    assert fingerprint_frame(frame, memo) == expected  # learns
    assert len(memo.records) == len(KINDS)  # the columns with nulls, and only those
    assert fingerprint_frame(frame, memo) == expected  # knows
    assert fp.fingerprint_frames([frame, frame["f64"]], memo) == [
        expected,
        fingerprint_frame(frame["f64"]),
    ]
    # Other bytes under the nulls: other raw digests, the same logical ones.
    assert fingerprint_frame(dirty_frame(5_000, garbage=2), memo) == expected
    assert len(memo.records) == 2 * len(KINDS)
    assert set(memo.records.values()) == {fp._fixed_width_digests(frame[kind])[1] for kind in KINDS}


def with_bytes(stored: list[int], valid: list[bool]) -> pl.Series:
    """An Int64 column with exactly these bytes in its data buffer, nulls where not valid."""
    bitmap = np.packbits(np.array(valid), bitorder="little").tobytes()
    data = np.array(stored, dtype=np.int64).tobytes()
    arr = pa.Array.from_buffers(pa.int64(), len(stored), [pa.py_buffer(bitmap), pa.py_buffer(data)])
    series = pl.from_arrow(arr)
    assert isinstance(series, pl.Series)
    return series.rename("x")


@pytest.mark.usefixtures("every_column_memoized")
def test_the_memo_key_holds_where_the_nulls_are() -> None:
    """Equal bytes and null counts, nulls elsewhere: other logical values, other raw keys."""
    a = with_bytes([0, 5, 7], [True, False, True])  # [0, None, 7]
    b = with_bytes([0, 5, 7], [False, True, True])  # [None, 5, 7]
    c = with_bytes([0, 0, 7], [False, True, True])  # [None, 0, 7]
    memo = DictMemo()
    assert fingerprint_frame(a, memo) == fingerprint_frame(a)
    assert fingerprint_frame(b, memo) == fingerprint_frame(b) != fingerprint_frame(c)


@pytest.mark.usefixtures("every_column_memoized")
def test_memo_spares_the_fill_and_not_the_values(monkeypatch: pytest.MonkeyPatch) -> None:
    values = np.arange(1_000, dtype=np.float64)
    valid = np.ones(1_000, dtype=bool)
    valid[::7] = False
    series = column("f64", values, valid, garbage=3)
    memo = DictMemo()
    before = fingerprint_frame(series, memo)

    def no_fill(self: Any) -> bytes:
        raise AssertionError("filled a column the memo knows")

    with monkeypatch.context() as patch:
        patch.setattr(fp._Unfilled, "fill", no_fill)
        assert fingerprint_frame(series, memo) == before
    # A value changed in place (a Series over a NumPy array shares its memory), in a valid
    # slot: a new digest; under a null: the same one.
    shared = np.where(valid, values, 0.0)
    series = pl.Series("x", shared).scatter(np.flatnonzero(~valid), None)
    assert fingerprint_frame(series, memo) == before
    changed = series.to_numpy().copy()
    changed[1] += 1.0
    edited = pl.Series("x", changed).scatter(np.flatnonzero(~valid), None)
    assert fingerprint_frame(edited, memo) == fingerprint_frame(edited) != before


@pytest.mark.usefixtures("every_column_memoized")
def test_bytes_changed_between_the_passes_are_not_learned(monkeypatch: pytest.MonkeyPatch) -> None:
    """A column over a NumPy array the caller writes to while it is hashed: whatever digest
    that run gets, the memo must not learn the new bytes' logical digest under the old bytes'
    raw digest (a later run over the old bytes would get the new values' key)."""
    data = np.arange(100, dtype=np.int64)
    valid = np.ones(100, dtype=bool)
    valid[::3] = False
    bitmap = np.packbits(valid, bitorder="little").tobytes()
    arr = pa.Array.from_buffers(pa.int64(), 100, [pa.py_buffer(bitmap), pa.py_buffer(data)])
    series = pl.from_arrow(arr)
    assert isinstance(series, pl.Series)
    assert series.to_arrow().buffers()[1].address == data.ctypes.data  # shares the array
    real_fill = fp._Unfilled.fill

    def writing_fill(self: Any) -> tuple[bytes, bool]:
        data[1] += 1000  # between the raw pass and the fill (a valid slot)
        return real_fill(self)

    memo = DictMemo()
    with monkeypatch.context() as patch:
        patch.setattr(fp._Unfilled, "fill", writing_fill)
        fingerprint_frame(series, memo)
    assert memo.records == {}  # the write reached the column: nothing learned
    data[1] -= 1000
    assert fingerprint_frame(series, memo) == fingerprint_frame(series)


def test_small_columns_skip_the_memo() -> None:
    frame = dirty_frame(3_000, garbage=6)  # 24 KB columns: filling costs less than asking
    memo = DictMemo()
    assert fingerprint_frame(frame, memo) == fingerprint_frame(frame)
    assert memo.asked == 0
    big = dirty_frame(40_000, garbage=6).select("f64", "i64")  # 320 KB each
    assert fingerprint_frame(big, memo) == fingerprint_frame(big)
    assert memo.asked == 2


@pytest.mark.usefixtures("every_column_memoized")
def test_disk_memo_is_shared_and_checked(tmp_path: Path) -> None:
    frame = dirty_frame(3_000, garbage=4)
    expected = fingerprint_frame(frame)
    first = fp.DiskValuesMemo(tmp_path)
    assert fingerprint_frame(frame, first) == expected
    raw = fp._column_digest(frame["f64"], defer=True)
    assert isinstance(raw, fp._Unfilled)
    stored = fp.DiskValuesMemo(tmp_path).get_many([raw.raw])
    assert stored == [fp._fixed_width_digests(frame["f64"])[1]]
    # A damaged record is not used (and the answer is still right).
    key = "values:" + raw.raw.hex()
    record = fp._file_memo(tmp_path).get(key)
    fp._file_memo(tmp_path).set(key, bytes([record[0] ^ 1]) + record[1:])
    assert fp.DiskValuesMemo(tmp_path).get_many([raw.raw]) == [None]
    assert fingerprint_frame(frame, fp.DiskValuesMemo(tmp_path)) == expected
    fp._file_memo(tmp_path).set(key, b"short")
    assert fp.DiskValuesMemo(tmp_path).get_many([raw.raw]) == [None]


PROBE = """
import numpy as np, polars as pl
from hamilton_fast.cache import fingerprint_frame

def digests():
    rng = np.random.default_rng(5)
    rows = 150_000
    a = pl.Series("a", rng.normal(size=rows))
    b = pl.Series("b", rng.integers(0, 9, rows))
    frame = pl.DataFrame([
        a.scatter(np.flatnonzero(rng.random(rows) < 0.01), None),
        b.scatter(np.flatnonzero(rng.random(rows) < 0.3), None),
    ])
    return [fingerprint_frame(frame), fingerprint_frame(frame.slice(3, 100_000))]
"""


def test_digests_are_the_same_in_another_process() -> None:
    script = PROBE + "\nimport json\nprint(json.dumps(digests()))\n"
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "PYTHONHASHSEED": "99", "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    namespace: dict[str, Any] = {}
    exec(PROBE, namespace)
    assert json.loads(result.stdout) == namespace["digests"]()
