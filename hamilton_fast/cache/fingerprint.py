"""Deterministic content fingerprints: frames, files, lazy plans, Python values and code.

Every fingerprint is a 32-character xxh3_128 hex digest of a canonical byte stream: each piece
is framed with a type tag and its length, so no two different values share a stream. Nothing
depends on ``id()``, memory addresses, ``PYTHONHASHSEED`` or the order of a ``dict``/``set``,
so a fingerprint is the same in another process, after a pickle round trip and on another day.
What cannot be fingerprinted that way raises :class:`UnfingerprintableError` rather than
silently giving a key that could return a stale result.

This module is the public face, and hashes data itself: frames and series, files and Python
values. Behind it, :mod:`.plans` reads Polars' serialized plans, :mod:`.code` fingerprints
functions and classes (with :mod:`.libraries` telling library code from the user's),
:mod:`.keys` builds node keys, and :mod:`.canonical` holds the framing they all share.

>>> import polars as pl
>>> a = pl.DataFrame({"x": [1, 2, 3, 4]}).slice(1, 2)
>>> fingerprint_frame(a) == fingerprint_frame(pl.DataFrame({"x": [2, 3]}))
True
>>> fingerprint_value(1) == fingerprint_value(1.0)
False
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import decimal
import enum
import functools
import glob
import os
import pathlib
import re
import threading
import time
import types
import zoneinfo
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import polars as pl
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
import xxhash

from hamilton_fast.cache import plans
from hamilton_fast.cache.canonical import (
    _HINT,
    FORMAT_VERSION,
    MEMO_ERRORS,
    MEMO_TIMEOUT_SECONDS,
    UnfingerprintableError,
    _combine,
    _float_text,
    _int,
    _text,
    sorted_flag,
)
from hamilton_fast.cache.code import (
    _CodeFingerprinter,
    _normalized_source,  # noqa: F401  (tests reach it here)
)
from hamilton_fast.cache.keys import node_key, node_key_parts
from hamilton_fast.cache.libraries import (
    _is_library_module,
    _is_library_module_name,
    _library_token,
)
from hamilton_fast.cache.plans import (
    _bare_frame_scan,
    _decode_uint8_run,  # noqa: F401  (tests reach it here)
    _strip_plan_header,
)

__all__ = [
    "FORMAT_VERSION",
    "DiskValuesMemo",
    "UnfingerprintableError",
    "ValuesMemo",
    "fingerprint_file",
    "fingerprint_frame",
    "fingerprint_frames",
    "fingerprint_function",
    "fingerprint_lazyframe",
    "fingerprint_value",
    "node_key",
    "node_key_parts",
]


# --------------------------------------------------------------------------------------------
# Frames and series

_FAST_INTEGERS = frozenset(
    {pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32, pl.UInt64}
)


class ValuesMemo(Protocol):
    """Where columns' logical values digests are remembered under their raw ones (see
    :func:`fingerprint_frame`). Asked from the calling thread only, once per batch."""

    def get_many(self, raws: Sequence[bytes]) -> list[bytes | None]: ...

    def put_many(self, items: Sequence[tuple[bytes, bytes]]) -> None: ...


def fingerprint_frame(value: pl.DataFrame | pl.Series, memo: ValuesMemo | None = None) -> str:
    """Fingerprint of a frame's or series' content: names, dtypes, row count, values and
    Polars' sorted flags (by which Polars picks algorithms, so they can change last bits).

    Values are hashed logically (slice offsets, chunking and the bytes behind null slots do not
    matter); numeric columns without nulls hash their data buffers directly, at memory speed.
    Floats compare bitwise, so ``0.0`` and ``-0.0`` differ.

    A numeric column with nulls must count the bytes under its null slots as zeros, which
    takes a filled copy (about twice the time of hashing the buffer as it is). With ``memo``,
    the digest of the buffer as it is (with the null bitmap) is looked up first: equal raw
    bytes and bitmaps mean equal logical values, so the logical digest found under it is
    exact, and the same column seen again (a rerun) skips the copy.

    >>> import polars as pl
    >>> s = pl.concat([pl.Series("x", [3.0, 1.0]), pl.Series("x", [2.0])], rechunk=False)
    >>> fingerprint_frame(s) == fingerprint_frame(pl.Series("x", [3.0, 1.0, 2.0]))
    True
    >>> k = pl.Series("k", [1, 2, 3])
    >>> fingerprint_frame(k) == fingerprint_frame(k.set_sorted())
    False
    """
    return _frame_digest(value, memo).hex()


def fingerprint_frames(
    values: Sequence[pl.DataFrame | pl.Series], memo: ValuesMemo | None = None
) -> list[str]:
    """:func:`fingerprint_frame` of each value, their columns hashed together: a request's
    inputs are often many Series, each too small to be worth threads alone."""
    columns: list[pl.Series] = []
    for value in values:
        columns.extend([value] if isinstance(value, pl.Series) else value.get_columns())
    size = sum(int(value.estimated_size()) for value in values)
    digests = iter(_column_digests(columns, size, memo))
    return [_framed(value, digests).hex() for value in values]


def _frame_digest(value: pl.DataFrame | pl.Series, memo: ValuesMemo | None = None) -> bytes:
    columns = [value] if isinstance(value, pl.Series) else value.get_columns()
    return _framed(value, iter(_column_digests(columns, int(value.estimated_size()), memo)))


def _framed(value: pl.DataFrame | pl.Series, digests: Iterator[bytes]) -> bytes:
    """A frame's or series' digest from its columns' digests (taken in column order) and
    their sorted flags: Polars picks algorithms by a flag (a mean over a sorted key sums in
    another order), so equal values with other flags may give other last bits."""
    if isinstance(value, pl.Series):
        return _combine(b"series", _text(value.name), _sorted_flag(value), next(digests))
    parts = [_int(value.height), _int(value.width)]
    for column in value.get_columns():
        parts.append(_text(column.name))
        parts.append(_sorted_flag(column))
        parts.append(next(digests))
    return _combine(b"frame", *parts)


def _sorted_flag(series: pl.Series) -> bytes:
    return _text(sorted_flag(series))


_PARALLEL_BYTES = 1 << 25
_PARALLEL_COLUMN_BYTES = 6 << 20
"""Columns of 32 MiB and more in all, of 6 MiB on average, are hashed on two threads: the
hashing and null-filling run in xxhash and Arrow with the GIL released, a few calls per
column, and one core does not saturate memory bandwidth (ten 8 MB Float64 columns with 1%
nulls: 11 -> 7 ms). For smaller columns, starting the threads and handing the GIL back and
forth cost about what they save, or more (five 4 MB columns: 1.0 ms serial, 1.2 ms on a
standing pool, 1.3 ms on a new one)."""

_MAX_THREADS = 2
"""Beyond two threads, hashing is limited by memory bandwidth, not by cores."""


def _column_digests(
    columns: list[pl.Series], size: int, memo: ValuesMemo | None = None
) -> list[bytes]:
    """Each column's digest, big frames' on several threads.

    Each digest depends on its column alone, so the result does not depend on the threads,
    and the first failing column's error is the one raised. With ``memo``, a first pass hashes
    the buffers of columns with nulls as they are; ``memo`` is asked for those (on this
    thread only) and a second pass fills the null slots of the ones it does not know.
    """
    big = size >= _PARALLEL_BYTES and size >= len(columns) * _PARALLEL_COLUMN_BYTES
    threads = min(len(columns), _MAX_THREADS, _usable_cores()) if big else 1
    digest = functools.partial(_column_digest, defer=memo is not None)
    if threads < 2:
        return _finish_unfilled([digest(column) for column in columns], memo, _serially)
    # A pool per call, not a module-level one: nothing to go stale in a forked child.
    with ThreadPoolExecutor(threads, thread_name_prefix="hf-fingerprint") as pool:
        try:
            found = list(pool.map(digest, columns))  # submits every column first
        except RuntimeError:  # at interpreter exit (an atexit hook) no new threads start
            return _finish_unfilled([digest(column) for column in columns], memo, _serially)
        return _finish_unfilled(found, memo, lambda todo: list(pool.map(_Unfilled.fill, todo)))


@dataclasses.dataclass(frozen=True)
class _Unfilled:
    """A fixed-width column with nulls, its values digest not taken yet: the bytes under its
    null slots must count as zeros, which takes a filled copy. ``raw`` digests the buffers as
    they are, with the null bitmap: equal ``raw`` means equal logical values."""

    header: tuple[bytes, ...]
    arrays: list[Any]
    nulls: bytes
    raw: bytes

    def fill(self) -> tuple[bytes, bool]:
        """The values digest, and whether the buffers still hold what ``raw`` saw: a column
        sharing memory with a NumPy array can change between the two passes, and a memo
        must not learn a logical digest under the raw digest of other bytes."""
        values = _values_digest(self.arrays, fill=True)
        now = _raw_key(self.header, self.arrays, _null_bitmap_digest(self.arrays))
        return values, now == self.raw

    def digest(self, values: bytes) -> bytes:
        return _combine(b"col-fixed", *self.header, self.nulls, values)


def _raw_key(header: tuple[bytes, ...], arrays: list[Any], nulls: bytes) -> bytes:
    """Digest of a column's buffers as they are (the bytes under null slots included) and of
    its null bitmap (``nulls``, its digest): the key of a :class:`ValuesMemo`."""
    return _combine(b"raw-values", *header, nulls, _values_digest(arrays))


def _serially(todo: list[_Unfilled]) -> list[tuple[bytes, bool]]:
    return [column.fill() for column in todo]


def _finish_unfilled(
    found: list[bytes | _Unfilled],
    memo: ValuesMemo | None,
    fill: Callable[[list[_Unfilled]], list[tuple[bytes, bool]]],
) -> list[bytes]:
    """``found`` with each :class:`_Unfilled` column's digest, its values digest from ``memo``
    or else filled (and then remembered, if its bytes did not change meanwhile)."""
    unfilled = [(i, c) for i, c in enumerate(found) if isinstance(c, _Unfilled)]
    if not unfilled:
        return [c for c in found if isinstance(c, bytes)]
    remembered = memo.get_many([c.raw for _, c in unfilled]) if memo is not None else []
    known = {i: v for (i, _), v in zip(unfilled, remembered, strict=False) if v is not None}
    todo = [(i, c) for i, c in unfilled if i not in known]
    learned: list[tuple[bytes, bytes]] = []
    if todo:
        for (i, column), (values, unchanged) in zip(todo, fill([c for _, c in todo]), strict=True):
            known[i] = values
            if unchanged:
                learned.append((column.raw, values))
    if memo is not None:
        memo.put_many(learned)
    return [c if isinstance(c, bytes) else c.digest(known[i]) for i, c in enumerate(found)]


def _usable_cores() -> int:
    if hasattr(os, "sched_getaffinity"):  # the cores this process may run on (Linux)
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _column_digest(series: pl.Series, defer: bool = False) -> bytes | _Unfilled:
    """A column's digest; with ``defer``, a fixed-width column with nulls comes back as an
    :class:`_Unfilled` to be finished by :func:`_finish_unfilled`."""
    dtype = series.dtype
    _refuse_objects(dtype, series.name)
    header = (_text(str(dtype)), _int(series.len()), _int(series.null_count()))
    if _has_fast_path(dtype):
        if defer and series.null_count():
            arrays = _arrays(series)
            if len(series) * (arrays[0].type.bit_width // 8) >= _MEMO_MIN_BYTES:
                nulls = _null_bitmap_digest(arrays)
                return _Unfilled(header, arrays, nulls, _raw_key(header, arrays, nulls))
        return _combine(b"col-fixed", *header, *_fixed_width_digests(series))
    if dtype in (pl.Int128, pl.UInt128):  # Arrow has no 128-bit integers: hash the digits.
        series = series.cast(pl.String)
    return _combine(b"col-arrow", *header, _arrow_digest(series.to_arrow()))


_MEMO_MIN_BYTES = 1 << 18
"""Columns with nulls of 256 KiB and more go through a :class:`ValuesMemo`: below, filling
costs less than asking the memo (and remembering a record per small column)."""

_PIECE_ROWS = 1 << 20
"""Rows of a column with nulls filled at a time: the filled copy is bounded (8 MiB of
Float64 per thread) and its pages are reused by Arrow's allocator from piece to piece."""

_UNSIGNED = {1: pa.uint8(), 2: pa.uint16(), 4: pa.uint32(), 8: pa.uint64()}


def _fixed_width_digests(series: pl.Series) -> tuple[bytes, bytes]:
    """Digests of a numeric or temporal column's nulls (its null bitmap) and of its values,
    straight off the Arrow buffers; the bytes under null slots are arbitrary, so they count
    as zeros."""
    arrays = _arrays(series)
    if not series.null_count():
        return b"", _values_digest(arrays)
    return _null_bitmap_digest(arrays), _values_digest(arrays, fill=True)


def _arrays(series: pl.Series) -> list[Any]:
    if series.n_chunks() > 1:
        return [chunk.to_arrow() for chunk in series.get_chunks()]
    return [series.to_arrow()]


def _values_digest(arrays: list[Any], fill: bool = False) -> bytes:
    """xxh3 of fixed-width arrays' value bytes, row after row; with ``fill``, the bytes under
    null slots (arbitrary) as zeros, which takes a filled copy of pieces with nulls.

    ``to_arrow`` exposes the physical buffers without ``to_physical`` (an expression that
    costs more than hashing a short column), and a slice as a buffer offset. Each step is one
    Arrow or xxhash call that releases the GIL, so columns hash well side by side on threads.
    """
    values = xxhash.xxh3_128()
    for arr in arrays:
        width = arr.type.bit_width // 8
        step = _PIECE_ROWS if fill else max(len(arr), 1)
        for first in range(0, len(arr), step):
            piece = arr.slice(first, step) if len(arr) > step else arr
            if fill and piece.null_count:
                # As unsigned integers of the same width, so every type fills with zero bits.
                piece = pc.fill_null(piece.view(_UNSIGNED[width]), 0)
            data = np.frombuffer(
                piece.buffers()[1], f"<u{width}", count=len(piece), offset=piece.offset * width
            )
            values.update(data.data)
    return values.digest()


def _null_bitmap_digest(arrays: list[Any]) -> bytes:
    """Digest of where the nulls are: the column's null bitmap, least significant bit first,
    whatever the slice offsets and chunking, with the bits past the end zero."""
    missing = [pc.is_null(arr) for arr in arrays]
    mask = missing[0] if len(missing) == 1 else pa.concat_arrays(missing)
    return xxhash.xxh3_128_digest(_packed_bits(mask).data)


def _packed_bits(mask: Any) -> np.ndarray[Any, Any]:
    """The bits of a boolean Arrow array (without nulls) packed from its first row, least
    significant bit first, the bits past its end zero."""
    rows = len(mask)
    skip, shift = divmod(mask.offset, 8)
    raw = np.frombuffer(mask.buffers()[1], np.uint8, count=(shift + rows + 7) // 8, offset=skip)
    if shift:  # Arrow's kernels return masks starting on a byte; realign one that does not
        return np.packbits(
            np.unpackbits(raw, bitorder="little")[shift : shift + rows], bitorder="little"
        )
    packed = raw.copy()
    if rows % 8:
        packed[-1] &= (1 << rows % 8) - 1
    return packed


def _has_fast_path(dtype: pl.DataType) -> bool:
    return (
        dtype in _FAST_INTEGERS
        or dtype in (pl.Float32, pl.Float64)
        or isinstance(dtype, pl.Date | pl.Datetime | pl.Duration | pl.Time)
    )


def _refuse_objects(dtype: pl.DataType, name: str) -> None:
    pending: list[Any] = [dtype]
    while pending:
        current = pending.pop()
        if isinstance(current, pl.Object):
            raise UnfingerprintableError(
                f"Column `{name}` has dtype Object (arbitrary Python objects), which has no "
                "content fingerprint.\n"
                f"  dtype: {dtype}\n" + _HINT
            )
        if isinstance(current, pl.List | pl.Array):
            pending.append(current.inner)
        elif isinstance(current, pl.Struct):
            pending.extend(field.dtype for field in current.fields)


def _arrow_digest(arr: Any) -> bytes:
    """Canonical digest of one Arrow array (offset, nulls and nesting handled logically)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    kind = arr.type
    if isinstance(arr, pa.ExtensionArray):
        return _combine(b"ext", _text(str(kind)), _arrow_digest(arr.storage))
    if pa.types.is_dictionary(kind):
        return _arrow_digest(arr.dictionary_decode())
    if pa.types.is_string_view(kind):
        arr = arr.cast(pa.large_string())
    elif pa.types.is_binary_view(kind):
        arr = arr.cast(pa.large_binary())
    elif pa.types.is_map(kind):
        entries = pa.struct([kind.key_field, kind.item_field])
        arr = arr.cast(pa.large_list(pa.field("entries", entries, nullable=False)))
    elif pa.types.is_list_view(kind) or pa.types.is_large_list_view(kind):
        arr = arr.cast(pa.large_list(kind.value_field))
    kind = arr.type
    n = len(arr)
    null_mask: np.ndarray[Any, Any] | None = None
    parts: list[bytes] = [_int(n)]
    if arr.null_count:
        null_mask = arr.is_null().to_numpy(zero_copy_only=False)
        parts.append(np.flatnonzero(null_mask).astype("<u8").tobytes())
    if pa.types.is_null(kind):
        return _combine(b"a-null", *parts)
    if pa.types.is_boolean(kind):
        values = arr.fill_null(False) if null_mask is not None else arr
        bools = values.to_numpy(zero_copy_only=False).astype(np.uint8)
        return _combine(b"a-bool", *parts, xxhash.xxh3_128_digest(bools))
    if _is_fixed_width(kind):
        width = kind.byte_width if pa.types.is_fixed_size_binary(kind) else kind.bit_width // 8
        buffer = arr.buffers()[1]
        raw = np.frombuffer(buffer, dtype=np.uint8) if buffer is not None else np.empty(0, np.uint8)
        data = raw[arr.offset * width : (arr.offset + n) * width]
        if null_mask is not None:  # the bytes behind a null slot are arbitrary
            data = data.copy().reshape(n, width)
            data[null_mask] = 0
        return _combine(b"a-fixed", _int(width), *parts, xxhash.xxh3_128_digest(data.tobytes()))
    if pa.types.is_large_string(kind) or pa.types.is_string(kind):
        return _combine(b"a-utf8", *parts, *_varbinary(arr, null_mask, ""))
    if pa.types.is_large_binary(kind) or pa.types.is_binary(kind):
        return _combine(b"a-bin", *parts, *_varbinary(arr, null_mask, b""))
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        lengths = _lengths(arr, null_mask)
        return _combine(b"a-list", *parts, lengths, _arrow_digest(arr.flatten()))
    if pa.types.is_fixed_size_list(kind):
        return _combine(b"a-fsl", _int(kind.list_size), *parts, _arrow_digest(arr.flatten()))
    if pa.types.is_struct(kind):
        children = arr.flatten()  # the struct's offset and validity pushed into each field
        for i, child in enumerate(children):
            parts.append(_text(kind.field(i).name))
            parts.append(_arrow_digest(child))
        return _combine(b"a-struct", *parts)
    raise UnfingerprintableError(
        f"Arrow type `{kind}` has no content fingerprint in hamilton_fast.\n" + _HINT
    )


def _is_fixed_width(kind: Any) -> bool:
    return bool(
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_temporal(kind)
        or pa.types.is_decimal(kind)
        or pa.types.is_fixed_size_binary(kind)
    )


def _offsets(arr: Any) -> np.ndarray[Any, Any]:
    large = pa.types.is_large_string(arr.type) or pa.types.is_large_binary(arr.type)
    large = large or pa.types.is_large_list(arr.type)
    dtype = np.int64 if large else np.int32
    buffer = arr.buffers()[1]
    if buffer is None:
        return np.zeros(1, dtype=np.int64)
    offsets = np.frombuffer(buffer, dtype=dtype)
    return offsets[arr.offset : arr.offset + len(arr) + 1].astype(np.int64)


def _lengths(arr: Any, null_mask: np.ndarray[Any, Any] | None) -> bytes:
    lengths = np.diff(_offsets(arr))
    if null_mask is not None:
        lengths[null_mask] = 0
    return xxhash.xxh3_128_digest(lengths.astype("<i8").tobytes())


def _varbinary(arr: Any, null_mask: np.ndarray[Any, Any] | None, empty: str | bytes) -> list[bytes]:
    if null_mask is not None:  # a null slot may still point at bytes: make it empty
        arr = arr.fill_null(empty)
    offsets = _offsets(arr)
    lengths = np.diff(offsets).astype("<i8")
    buffer = arr.buffers()[2]
    data = b"" if buffer is None else memoryview(buffer)[int(offsets[0]) : int(offsets[-1])]
    return [xxhash.xxh3_128_digest(lengths.tobytes()), xxhash.xxh3_128_digest(data)]


# --------------------------------------------------------------------------------------------
# Files

_MEMO_LOCK = threading.Lock()
_PROCESS_FILE_MEMO: dict[str, tuple[tuple[int, int, int, int], str]] = {}
_OPEN_MEMOS: dict[tuple[int, str | Path], Any] = {}  # None: could not be opened
_READ_BLOCK = 8 * 1024 * 1024
_RACY_SECONDS = 2.0


def fingerprint_file(path: str | os.PathLike[str], memo_dir: Path | None = None) -> str:
    """Content fingerprint of a file, memoized by its stat so an untouched file is not re-read.

    The memo (a small diskcache under ``memo_dir``, else this process only) is keyed by the
    resolved path and checked against size, ``mtime_ns``, ``ctime_ns`` and inode: copies that
    preserve the mtime (``cp -p``, ``rsync -t``) still change the ctime. A file modified in the
    last two seconds is re-hashed every time, since a same-size rewrite within one timestamp
    tick would otherwise look untouched. Touching a file without changing it re-hashes it and
    gives the same fingerprint.
    """
    resolved = str(Path(path).resolve())
    try:
        info = os.stat(resolved)
    except OSError as exc:
        raise UnfingerprintableError(
            f"File `{path}` cannot be fingerprinted: {exc.strerror or exc}.\n"
            "Hint: check the path, or pass the data itself instead of a path."
        ) from exc
    stamp = (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)
    memo = _file_memo(memo_dir)
    with _MEMO_LOCK:
        known = _PROCESS_FILE_MEMO.get(resolved)
    if known is None and memo is not None:
        try:
            stored = memo.get(resolved)
        except MEMO_ERRORS:  # an unreadable memo costs a re-hash
            stored = None
        if isinstance(stored, tuple) and len(stored) == 2 and len(stored[0]) == 4:
            size, mtime, ctime, inode = (int(x) for x in stored[0])
            known = ((size, mtime, ctime, inode), str(stored[1]))
    if known is not None and known[0] == stamp:
        return known[1]
    digest = _hash_file_content(resolved)
    if time.time() - info.st_mtime_ns / 1e9 > _RACY_SECONDS:
        with _MEMO_LOCK:
            _PROCESS_FILE_MEMO[resolved] = (stamp, digest)
        if memo is not None:
            with contextlib.suppress(*MEMO_ERRORS):
                memo.set(resolved, (stamp, digest))
    return digest


def _hash_file_content(path: str) -> str:
    h = xxhash.xxh3_128()
    buffer = bytearray(_READ_BLOCK)
    view = memoryview(buffer)
    size = 0
    with open(path, "rb") as handle:
        while count := handle.readinto(buffer):
            h.update(view[:count])
            size += count
    return _combine(b"file", _int(size), h.digest()).hex()


def forget_memos() -> None:
    """Forget the file fingerprints this process remembers (the memo directories' stay)."""
    with _MEMO_LOCK:
        _PROCESS_FILE_MEMO.clear()


def _file_memo(memo_dir: Path | None) -> Any:
    """The memo diskcache at the root of ``memo_dir``, shared by this process's threads; None
    without a directory, or when it cannot be opened (damaged, read-only): the memos are
    optional, so that costs recomputations, never the run."""
    if memo_dir is None:
        return None
    import diskcache  # type: ignore[import-untyped]

    # Asked once per function fingerprinted: an absolute path skips resolving (a relative one
    # may mean another directory after a chdir).
    given = (os.getpid(), memo_dir)
    if given in _OPEN_MEMOS:
        return _OPEN_MEMOS[given]
    key = (os.getpid(), str(Path(memo_dir).resolve()))
    with _MEMO_LOCK:
        if key in _OPEN_MEMOS:
            memo = _OPEN_MEMOS[key]
        else:
            try:
                memo = diskcache.Cache(
                    key[1],
                    eviction_policy="none",
                    statistics=False,
                    timeout=MEMO_TIMEOUT_SECONDS,
                )
            except MEMO_ERRORS:
                memo = None
            _OPEN_MEMOS[key] = memo
        if Path(memo_dir).is_absolute():
            _OPEN_MEMOS[given] = memo
    return memo


_VALUES_MEMO_SECONDS = 30 * 86400.0


class DiskValuesMemo:
    """A :class:`ValuesMemo` kept beside the file fingerprints under ``memo_dir`` (a small
    diskcache shared by processes), so a rerun in a new process also skips filling the null
    slots of inputs it has seen. Each record carries a checksum (a damaged one is not used)
    and expires 30 days after it was written; a memo that cannot be read or written costs
    fills, never the run."""

    def __init__(self, memo_dir: Path) -> None:
        self._memo = _file_memo(memo_dir)

    def get_many(self, raws: Sequence[bytes]) -> list[bytes | None]:
        memo = self._memo
        found: list[bytes | None] = []
        for raw in raws:
            try:
                record = None if memo is None else memo.get("values:" + raw.hex())
            except MEMO_ERRORS:
                record = None
            if not isinstance(record, bytes) or len(record) != 24:
                found.append(None)
            elif xxhash.xxh64_digest(raw + record[:16]) != record[16:]:
                found.append(None)  # damaged
            else:
                found.append(record[:16])
        return found

    def put_many(self, items: Sequence[tuple[bytes, bytes]]) -> None:
        memo = self._memo
        if memo is None or not items:
            return
        with contextlib.suppress(*MEMO_ERRORS), memo.transact():  # one write transaction
            for raw, digest in items:
                record = digest + xxhash.xxh64_digest(raw + digest)
                memo.set("values:" + raw.hex(), record, expire=_VALUES_MEMO_SECONDS)


# --------------------------------------------------------------------------------------------
# Lazy frames and expressions


_PlanScanner = functools.partial(plans._PlanScanner, frame_digest=_frame_digest)
"""The plan scanner, with embedded frames and Series counted as :func:`fingerprint_frame` does."""


def fingerprint_lazyframe(lf: pl.LazyFrame, memo_dir: Path | None = None) -> str:
    """Fingerprint of what a LazyFrame computes: its logical plan plus every file it scans.

    The plan comes from Polars' binary serialization (MessagePack); in-memory frames inside it
    are fingerprinted by their data, scanned files by :func:`fingerprint_file` (globs and
    directories expanded). ``df.lazy()`` (after optimization, a bare scan of an in-memory
    frame) takes a fast path that hashes the frame directly. Python UDFs, Python scans and
    cloud paths raise :class:`UnfingerprintableError`: their pickled or remote content does not
    tell whether the result changed.
    """
    direct = _bare_frame_scan(lf)
    if direct is not None:
        return _combine(b"lazy-frame", _frame_digest(direct)).hex()
    try:
        blob = lf.serialize(format="binary")
    except Exception as exc:
        said = str(exc).strip().splitlines()[-1] if str(exc).strip() else repr(exc)
        likely = " (a Python function in it?)" if "python" in said.lower() else ""
        raise UnfingerprintableError(
            f"A LazyFrame's plan cannot be serialized{likely}, so it has no deterministic "
            f"fingerprint.\n  polars said: {said}\n" + _HINT
        ) from exc
    body = _strip_plan_header(blob)
    scanner = _PlanScanner(body, what="LazyFrame")
    scanner.run()
    parts = [_text(pl.__version__), blob[: len(blob) - len(body)], scanner.digest()]
    for source in scanner.paths:
        parts.extend(_scanned_files(source, memo_dir))
    return _combine(b"lazy-plan", *parts).hex()


def _scanned_files(source: str, memo_dir: Path | None) -> list[bytes]:
    if "://" in source:
        raise UnfingerprintableError(
            f"A LazyFrame scans `{source}`, a remote location whose content hamilton_fast "
            "cannot fingerprint.\n" + _HINT
        )
    path = Path(source).expanduser()
    if path.exists():
        matches = [str(path)]
    elif glob.has_magic(source):
        matches = sorted(glob.glob(str(path), recursive=True))
    else:
        return [_text(source), b"<missing>"]
    parts: list[bytes] = [_text(source)]
    for match in matches:
        candidate = Path(match)
        if candidate.is_dir():
            files = sorted(p for p in candidate.rglob("*") if p.is_file())
        else:
            files = [candidate]
        for file in files:
            parts.append(_text(str(file)))
            parts.append(fingerprint_file(file, memo_dir).encode())
    return parts


def _expr_digest(expr: pl.Expr) -> bytes:
    try:
        blob = expr.meta.serialize(format="binary")
    except Exception as exc:
        raise UnfingerprintableError(
            "A Polars expression cannot be serialized, so it has no deterministic "
            f"fingerprint.\n  expression: {str(expr)[:200]}\n" + _HINT
        ) from exc
    scanner = _PlanScanner(blob, what="expression")
    scanner.run()
    return _combine(b"expr", _text(pl.__version__), scanner.digest())


# --------------------------------------------------------------------------------------------
# Python values and code


def fingerprint_value(value: Any, *, memo_dir: Path | None = None, allow_code: bool = False) -> str:
    """Fingerprint of a Python value: scalars, containers, dataclasses, enums, numpy, Polars.

    ``1``, ``1.0`` and ``True`` differ; a ``dict`` or ``set`` does not depend on its order (an
    ``OrderedDict``, such as a Polars schema, does). Anything else raises
    :class:`UnfingerprintableError` naming the type. With ``allow_code=True`` functions,
    classes and modules inside the value count by their code, as in
    :func:`fingerprint_function` (for decorator specs that hold a predicate, say).

    >>> fingerprint_value({"a": 1, "b": 2}) == fingerprint_value({"b": 2, "a": 1})
    True
    """
    return _Fingerprinter(memo_dir, code_aware=allow_code).value(value).hex()


def fingerprint_function(fn: Callable[..., Any], *, memo_dir: Path | None = None) -> str:
    """Code fingerprint of a function: it changes whenever the function's result could.

    It covers the body (its AST, so comments, docstrings and formatting do not count), default
    arguments, closure variables, the module-level values it reads, the helper functions it
    calls (recursively, also in other user modules; cycles are cut), and the hamilton_fast
    decorator specs recorded on it. Library modules (``pl``, ``np``) count by name and version.
    Without source (a lambda typed in a REPL), or when the file on disk no longer matches the
    running code, the bytecode is used instead.
    """
    return _Fingerprinter(memo_dir, code_aware=True).value(fn).hex()


class _Fingerprinter(_CodeFingerprinter):
    """One fingerprinting pass; remembers functions already seen and cuts cycles.

    Values are hashed here; functions, classes and the like by the code half it inherits.
    """

    def __init__(self, memo_dir: Path | None, *, code_aware: bool) -> None:
        self.memo_dir = memo_dir
        self.code_aware = code_aware
        self.active: set[int] = set()
        self.done: dict[int, tuple[Any, bytes]] = {}

    def _definitions_memo(self) -> Any:
        return _file_memo(self.memo_dir)

    # values ------------------------------------------------------------------------------

    def value(self, obj: Any) -> bytes:
        if obj is None:
            return _combine(b"none")
        kind = type(obj)
        # Exact types first: what a function's fingerprint reads most (its helpers, decorator
        # specs, defaults) skips the isinstance chain below. Same digests as through it.
        if kind is types.FunctionType and self.code_aware:
            return self._function(obj)
        if kind is tuple or kind is list or kind is dict:
            return self._container(obj)
        if isinstance(obj, enum.Enum):
            return self._enum_member(obj)
        if kind is bool:
            return _combine(b"bool", b"1" if obj else b"0")
        if kind is int:
            return _combine(b"int", _int(obj))
        if kind is float:
            return _combine(b"float", _float_text(obj).encode())
        if kind is str:
            return _combine(b"str", _text(obj))
        if kind is bytes:
            return _combine(b"bytes", obj)
        if isinstance(obj, pl.Series | pl.DataFrame):
            return _frame_digest(obj)
        if isinstance(obj, pl.LazyFrame):
            return bytes.fromhex(fingerprint_lazyframe(obj, self.memo_dir))
        if isinstance(obj, pl.Expr):
            return _expr_digest(obj)
        if isinstance(obj, pl.DataType) or (isinstance(obj, type) and issubclass(obj, pl.DataType)):
            return _combine(b"pl-dtype", _text(repr(obj)))
        if isinstance(obj, np.ndarray):
            return self._ndarray(obj)
        if isinstance(obj, np.generic):
            return _combine(b"np-scalar", _text(obj.dtype.str), obj.tobytes())
        if isinstance(obj, int | float | str | bytes):  # subclasses of the builtins
            base: Any = next(t for t in (int, float, str, bytes) if isinstance(obj, t))
            return _combine(b"subclass", _text(_qualified(kind)), self.value(base(obj)))
        if isinstance(obj, complex):
            return _combine(
                b"complex", _float_text(obj.real).encode(), _float_text(obj.imag).encode()
            )
        if isinstance(obj, bytearray | memoryview):
            return _combine(b"bytearray", bytes(obj))
        if isinstance(obj, dt.datetime):
            return _combine(b"datetime", _text(obj.isoformat()), _int(obj.fold), _tz_token(obj))
        if isinstance(obj, dt.date):
            return _combine(b"date", _text(obj.isoformat()))
        if isinstance(obj, dt.time):
            return _combine(b"time", _text(obj.isoformat()), _int(obj.fold), _tz_token(obj))
        if isinstance(obj, dt.timedelta):
            return _combine(b"timedelta", _int(obj.days), _int(obj.seconds), _int(obj.microseconds))
        if isinstance(obj, decimal.Decimal):
            return _combine(b"decimal", _text(str(obj)))
        if isinstance(obj, pathlib.PurePath):
            return _combine(b"path", _text(_qualified(kind)), _text(str(obj)))
        if isinstance(obj, re.Pattern):
            return _combine(b"regex", self.value(obj.pattern), _int(obj.flags))
        if isinstance(obj, range):
            return _combine(b"range", _int(obj.start), _int(obj.stop), _int(obj.step))
        if obj is Ellipsis:
            return _combine(b"ellipsis")
        if isinstance(obj, tuple | list | dict | set | frozenset):
            return self._container(obj)
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            return self._dataclass(obj)
        if self.code_aware:
            code_digest = self._code_object(obj)
            if code_digest is not None:
                return code_digest
        raise UnfingerprintableError(
            f"A value of type `{_qualified(kind)}` has no deterministic fingerprint.\n"
            f"  value: {_short_repr(obj)}\n" + _HINT
        )

    def _guard(self, obj: Any) -> int:
        marker = id(obj)  # only to detect cycles while walking; never part of a digest
        if marker in self.active:
            raise UnfingerprintableError(
                f"A value of type `{_qualified(type(obj))}` contains itself, so it has no "
                "fingerprint.\n" + _HINT
            )
        self.active.add(marker)
        return marker

    def _container(self, obj: Any) -> bytes:
        marker = self._guard(obj)
        try:
            kind = type(obj)
            label = _text(_qualified(kind))
            if isinstance(obj, dict):
                pairs = [self.value(k) + self.value(v) for k, v in obj.items()]
                if not isinstance(obj, OrderedDict):
                    pairs.sort()
                return _combine(b"dict", label, *pairs)
            if isinstance(obj, set | frozenset):
                return _combine(b"set", label, *sorted(self.value(item) for item in obj))
            items = [self.value(item) for item in obj]
            fields = getattr(kind, "_fields", None)
            if isinstance(obj, tuple) and isinstance(fields, tuple):
                items.insert(0, _text(",".join(map(str, fields))))
            return _combine(b"seq", label, *items)
        finally:
            self.active.discard(marker)

    def _dataclass(self, obj: Any) -> bytes:
        marker = self._guard(obj)
        try:
            parts = [_text(_qualified(type(obj)))]
            for field in dataclasses.fields(obj):
                parts.append(_text(field.name))
                parts.append(self.value(getattr(obj, field.name)))
            return _combine(b"dataclass", *parts)
        finally:
            self.active.discard(marker)

    def _enum_member(self, obj: enum.Enum) -> bytes:
        try:
            payload = self.value(obj.value)
        except UnfingerprintableError:
            payload = b""
        kind = type(obj)
        if not self.code_aware or _is_library_module_name(kind.__module__):
            return _combine(b"enum", _text(_qualified(kind)), _text(obj.name), payload)
        # Read by code: the user's enum's methods (and what they read) count, as a class's do.
        return _combine(b"user-enum", self._class(kind), _text(obj.name), payload)

    def _ndarray(self, arr: np.ndarray[Any, Any]) -> bytes:
        header = (_text(arr.dtype.str), _text(repr(arr.dtype.descr)), _text(repr(arr.shape)))
        if arr.dtype.hasobject:
            return _combine(b"ndarray-obj", *header, *(self.value(x) for x in arr.ravel()))
        data = np.ascontiguousarray(arr)
        flat = data.reshape(-1).view(np.uint8)
        return _combine(b"ndarray", *header, xxhash.xxh3_128_digest(flat.data))

    def _module(self, module: types.ModuleType) -> bytes:
        if _is_library_module(module):
            return _library_token(module, module.__name__)
        source = getattr(module, "__file__", None)
        if source is None:
            raise UnfingerprintableError(
                f"Module `{module.__name__}` is used as a value but has no file to fingerprint."
                "\n" + _HINT
            )
        return _combine(b"user-module", _text(module.__name__), fingerprint_file(source).encode())


def _qualified(kind: type) -> str:
    return f"{kind.__module__}.{kind.__qualname__}"


def _short_repr(obj: Any) -> str:
    try:
        text = repr(obj)
    except Exception:
        text = f"<{type(obj).__name__}>"
    return text if len(text) <= 120 else text[:117] + "..."


def _tz_token(value: dt.datetime | dt.time) -> bytes:
    tz = value.tzinfo
    if tz is None:
        return b""
    if isinstance(tz, zoneinfo.ZoneInfo):
        return _text(f"zoneinfo:{tz.key}")
    if isinstance(tz, dt.timezone):
        return _text(f"timezone:{tz!r}")
    name = str(tz)
    if " at 0x" in name:
        raise UnfingerprintableError(
            f"A time zone of type `{_qualified(type(tz))}` has no deterministic name.\n"
            "Hint: use zoneinfo.ZoneInfo or datetime.timezone."
        )
    return _text(f"{_qualified(type(tz))}:{name}")
