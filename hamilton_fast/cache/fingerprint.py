"""Deterministic content fingerprints: frames, files, lazy plans, Python values and code.

Every fingerprint is a 32-character xxh3_128 hex digest of a canonical byte stream: each piece
is framed with a type tag and its length, so no two different values share a stream. Nothing
depends on ``id()``, memory addresses, ``PYTHONHASHSEED`` or the order of a ``dict``/``set``,
so a fingerprint is the same in another process, after a pickle round trip and on another day.
What cannot be fingerprinted that way raises :class:`UnfingerprintableError` rather than
silently giving a key that could return a stale result.

>>> import polars as pl
>>> a = pl.DataFrame({"x": [1, 2, 3, 4]}).slice(1, 2)
>>> fingerprint_frame(a) == fingerprint_frame(pl.DataFrame({"x": [2, 3]}))
True
>>> fingerprint_value(1) == fingerprint_value(1.0)
False
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import dataclasses
import datetime as dt
import decimal
import dis
import enum
import functools
import glob
import importlib
import importlib.metadata
import importlib.util
import inspect
import logging
import os
import pathlib
import re
import sys
import sysconfig
import textwrap
import threading
import time
import types
import zoneinfo
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa  # type: ignore[import-untyped]
import xxhash

from hamilton_fast.errors import CacheError

__all__ = [
    "FORMAT_VERSION",
    "UnfingerprintableError",
    "fingerprint_file",
    "fingerprint_frame",
    "fingerprint_function",
    "fingerprint_lazyframe",
    "fingerprint_value",
    "node_key",
    "node_key_parts",
]

FORMAT_VERSION = "1"
"""Bump when the canonical streams below change: every existing key then misses."""

_HINT = (
    'Hint: mark the node `@cache(behavior="disable")`, or pass a value that can be hashed '
    "(a frame, a scalar, a container of those, a dataclass or an enum)."
)


class UnfingerprintableError(CacheError, TypeError):
    """A value, plan or function has no deterministic fingerprint, so it cannot key a cache."""


# --------------------------------------------------------------------------------------------
# Framing


def _frame(tag: bytes, payload: bytes) -> bytes:
    return tag + len(payload).to_bytes(8, "little") + payload


def _combine(tag: bytes, *parts: bytes) -> bytes:
    """Digest of a tagged sequence of parts (each length-prefixed)."""
    h = xxhash.xxh3_128()
    h.update(_frame(b"T", tag))
    h.update(len(parts).to_bytes(8, "little"))
    for part in parts:
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return h.digest()


def _text(value: str) -> bytes:
    return value.encode("utf-8", "surrogatepass")


def _int(value: int) -> bytes:
    return str(value).encode()


# --------------------------------------------------------------------------------------------
# Frames and series

_FAST_INTEGERS = frozenset(
    {pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32, pl.UInt64}
)


def fingerprint_frame(value: pl.DataFrame | pl.Series) -> str:
    """Fingerprint of a frame's or series' content: names, dtypes, row count and values.

    Values are hashed logically (slice offsets, chunking and the bytes behind null slots do not
    matter); numeric columns without nulls hash their data buffers directly, at memory speed.
    Floats compare bitwise, so ``0.0`` and ``-0.0`` differ.

    >>> import polars as pl
    >>> s = pl.concat([pl.Series("x", [1.0]), pl.Series("x", [2.0])], rechunk=False)
    >>> fingerprint_frame(s) == fingerprint_frame(pl.Series("x", [1.0, 2.0]))
    True
    """
    return _frame_digest(value).hex()


def _frame_digest(value: pl.DataFrame | pl.Series) -> bytes:
    if isinstance(value, pl.Series):
        return _combine(b"series", _text(value.name), _column_digest(value))
    parts = [_int(value.height), _int(value.width)]
    for column in value.get_columns():
        parts.append(_text(column.name))
        parts.append(_column_digest(column))
    return _combine(b"frame", *parts)


def _column_digest(series: pl.Series) -> bytes:
    dtype = series.dtype
    _refuse_objects(dtype, series.name)
    header = (_text(str(dtype)), _int(series.len()), _int(series.null_count()))
    if _has_fast_path(dtype):
        return _combine(b"col-fixed", *header, *_fixed_width_digests(series.to_physical()))
    if dtype in (pl.Int128, pl.UInt128):  # Arrow has no 128-bit integers: hash the digits.
        series = series.cast(pl.String)
    return _combine(b"col-arrow", *header, _arrow_digest(series.to_arrow()))


_NULL_BLOCK_ROWS = 1 << 20


def _fixed_width_digests(physical: pl.Series) -> tuple[bytes, bytes]:
    """Digests of a numeric column's null positions and of its values, straight off the
    buffers; the bytes under null slots are arbitrary, so they are hashed as zeros.
    """
    h = xxhash.xxh3_128()
    if not physical.null_count():
        for chunk in physical.get_chunks():
            h.update(np.ascontiguousarray(chunk.to_numpy(allow_copy=False)).data)
        return b"", h.digest()
    positions = physical.is_null().arg_true().cast(pl.UInt64).to_numpy().astype("<u8")
    start = 0
    scratch: np.ndarray[Any, Any] | None = None
    for chunk in physical.get_chunks():
        arr = chunk.to_arrow()
        rows = len(arr)
        width = arr.type.bit_width // 8
        raw = np.frombuffer(arr.buffers()[1], dtype=np.uint8)
        data = raw[arr.offset * width : (arr.offset + rows) * width].reshape(rows, width)
        for first in range(0, rows, _NULL_BLOCK_ROWS):
            block = data[first : first + _NULL_BLOCK_ROWS]
            lo, hi = np.searchsorted(positions, [start + first, start + first + len(block)])
            if lo == hi:
                h.update(block.data)
                continue
            if scratch is None or scratch.shape[1] != width:
                scratch = np.empty((_NULL_BLOCK_ROWS, width), dtype=np.uint8)
            zeroed = scratch[: len(block)]
            np.copyto(zeroed, block)
            zeroed[(positions[lo:hi] - (start + first)).astype(np.intp)] = 0
            h.update(zeroed.data)
        start += rows
    return xxhash.xxh3_128_digest(positions.data), h.digest()


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
_OPEN_MEMOS: dict[tuple[int, str], Any] = {}
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
        stored = memo.get(resolved)
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


def _file_memo(memo_dir: Path | None) -> Any:
    if memo_dir is None:
        return None
    import diskcache  # type: ignore[import-untyped]

    key = (os.getpid(), str(Path(memo_dir).resolve()))
    with _MEMO_LOCK:
        memo = _OPEN_MEMOS.get(key)
        if memo is None:
            memo = diskcache.Cache(key[1], eviction_policy="none", statistics=False)
            _OPEN_MEMOS[key] = memo
    return memo


# --------------------------------------------------------------------------------------------
# Lazy frames and expressions


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


def _bare_frame_scan(lf: pl.LazyFrame) -> pl.DataFrame | None:
    """The frame a plan returns unchanged (``df.lazy()``, also sliced or projected), if any.

    Uses Polars' node traverser (the interface its GPU engine reads plans through) on the
    optimized plan; anything unexpected means "no fast path", never a wrong answer.
    """
    try:
        node = lf._ldf.visit().view_current_node()
        if type(node).__name__ != "DataFrameScan":
            return None
        if {name for name in dir(node) if not name.startswith("_")} != {
            "df",
            "projection",
            "selection",
        }:
            return None
        if node.selection is not None:
            return None
        frame = pl.DataFrame._from_pydf(node.df)
        if node.projection is not None:
            frame = frame.select(list(node.projection))
    except Exception:
        return None
    return frame


def _strip_plan_header(blob: bytes) -> bytes:
    """The MessagePack body after Polars' ``DSL_VERSION`` header (version and schema hash)."""
    magic = b"DSL_VERSION"
    if not blob.startswith(magic):
        raise UnfingerprintableError(
            f"polars {pl.__version__} serialized a plan in an unexpected format, so "
            "hamilton_fast cannot fingerprint it.\n" + _HINT
        )
    start = len(magic) + 4
    digest = blob[start : start + 64]
    if len(digest) != 64 or any(c not in b"0123456789abcdef" for c in digest):
        raise UnfingerprintableError(
            f"polars {pl.__version__} wrote an unexpected plan header, so hamilton_fast "
            "cannot fingerprint the plan.\n" + _HINT
        )
    return blob[start + 64 :]


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


# Plan nodes that hold Python callables; the payloads themselves are recognised as pickles too.
_PYTHON_VARIANTS = frozenset({"AnonymousFunction", "OpaquePython", "PythonScan", "PythonUdf"})
_PICKLE_HEADERS = (b"\x80\x04\x95", b"\x80\x05\x95")
_IPC_KEYS = frozenset({"df", "Series"})
_ARRAY_FAST_MIN = 8
_ARRAY_BLOCK = 1 << 23


class _PlanScanner:
    """Walks Polars' MessagePack plan bytes without recursion and hashes them canonically.

    The stream is hashed as written, except that embedded Arrow IPC payloads (in-memory frames,
    Series literals) are replaced by their logical fingerprint, so chunking does not matter.
    Scan paths are collected; Python functions are refused.
    """

    def __init__(self, body: bytes, what: str) -> None:
        self.buf = memoryview(body)
        self.pos = 0
        self.what = what
        self.hasher = xxhash.xxh3_128()
        self.paths: list[str] = []
        # Frames: [is_map, remaining items, expecting a key, current key]
        self.stack: list[list[Any]] = []

    def digest(self) -> bytes:
        return self.hasher.digest()

    def run(self) -> None:
        size = len(self.buf)
        while self.pos < size:
            self._token()
        if self.stack:
            raise self._malformed()

    def _malformed(self) -> UnfingerprintableError:
        return UnfingerprintableError(
            f"polars {pl.__version__} serialized a {self.what} in a form hamilton_fast cannot "
            "read, so it cannot be fingerprinted.\n" + _HINT
        )

    def _keys(self) -> Iterator[str]:
        for frame in self.stack:
            if frame[0] and not frame[2] and isinstance(frame[3], str):
                yield frame[3]

    def _in_ipc_slot(self) -> bool:
        keys = list(self._keys())
        if not keys:
            return False
        return keys[-1] in _IPC_KEYS or (keys[0] == "dataframes" and keys[-1] == "value")

    def _raw(self, start: int) -> None:
        self.hasher.update(self.buf[start : self.pos])

    def _read(self, count: int) -> memoryview:
        if self.pos + count > len(self.buf):
            raise self._malformed()
        chunk = self.buf[self.pos : self.pos + count]
        self.pos += count
        return chunk

    def _uint(self, width: int) -> int:
        return int.from_bytes(self._read(width), "big")

    def _token(self) -> None:
        start = self.pos
        b = self._read(1)[0]
        if b <= 0x7F or b >= 0xE0 or b in (0xC0, 0xC2, 0xC3):
            self._raw(start)
            return self._done()
        if 0x80 <= b <= 0x8F or b in (0xDE, 0xDF):
            count = b & 0x0F if b <= 0x8F else self._uint(2 if b == 0xDE else 4)
            self._raw(start)
            return self._open(is_map=True, count=count)
        if 0x90 <= b <= 0x9F or b in (0xDC, 0xDD):
            count = b & 0x0F if b <= 0x9F else self._uint(2 if b == 0xDC else 4)
            if count >= _ARRAY_FAST_MIN and self._byte_array(start, count):
                return None
            self._raw(start)
            return self._open(is_map=False, count=count)
        if 0xA0 <= b <= 0xBF or b in (0xD9, 0xDA, 0xDB):
            length = b & 0x1F if b <= 0xBF else self._uint({0xD9: 1, 0xDA: 2, 0xDB: 4}[b])
            text = bytes(self._read(length)).decode("utf-8", "surrogateescape")
            self._raw(start)
            return self._string(text)
        if b in (0xC4, 0xC5, 0xC6):
            length = self._uint({0xC4: 1, 0xC5: 2, 0xC6: 4}[b])
            payload = self._read(length)
            return self._blob(start, bytes(payload))
        if b in (0xCA, 0xCB, 0xCC, 0xCD, 0xCE, 0xCF, 0xD0, 0xD1, 0xD2, 0xD3):
            width = {0xCA: 4, 0xCB: 8, 0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8}.get(b)
            self._read(width if width is not None else 1 << (b - 0xD0))
            self._raw(start)
            return self._done()
        if 0xD4 <= b <= 0xD8:  # fixext
            self._read(1 + (1 << (b - 0xD4)))
            self._raw(start)
            return self._done()
        if b in (0xC7, 0xC8, 0xC9):  # ext
            length = self._uint({0xC7: 1, 0xC8: 2, 0xC9: 4}[b])
            self._read(1 + length)
            self._raw(start)
            return self._done()
        raise self._malformed()

    def _open(self, *, is_map: bool, count: int) -> None:
        if count == 0:
            return self._done()
        self.stack.append([is_map, count, is_map, None])
        return None

    def _done(self) -> None:
        while self.stack:
            frame = self.stack[-1]
            if frame[0] and frame[2]:  # a key was read; its value comes next
                frame[2] = False
                return
            frame[1] -= 1
            if frame[0]:
                frame[2] = True
                frame[3] = None
            if frame[1] > 0:
                return
            self.stack.pop()

    def _string(self, text: str) -> None:
        top = self.stack[-1] if self.stack else None
        if top is not None and top[0] and top[2]:
            if text in _PYTHON_VARIANTS:
                raise self._python_function(f"`{text}` in its plan")
            top[3] = text
        elif "Paths" in self._keys():
            self.paths.append(text)
        self._done()

    def _byte_array(self, start: int, count: int) -> bool:
        """Consume an array of ``count`` uint8 items at once (how Polars writes raw bytes)."""
        pieces: list[np.ndarray[Any, Any]] = []
        pos = self.pos
        remaining = count
        while remaining:
            step = min(remaining, _ARRAY_BLOCK)
            decoded = _decode_uint8_run(self.buf, pos, step)
            if decoded is None:
                return False
            values, pos = decoded
            pieces.append(values)
            remaining -= step
        self.pos = pos
        payload = np.concatenate(pieces).tobytes() if len(pieces) > 1 else pieces[0].tobytes()
        self._blob(start, payload)
        return True

    def _python_function(self, where: str) -> UnfingerprintableError:
        return UnfingerprintableError(
            f"A {self.what} contains a Python function ({where}); its pickled form does not "
            "change when the function's code does, so the plan has no trustworthy fingerprint.\n"
            "Hint: express the step with native Polars expressions, or mark the node "
            '`@cache(behavior="disable")`.'
        )

    def _blob(self, start: int, payload: bytes) -> None:
        head = payload[:32]
        if head.startswith(b"PLPY") or any(marker in head for marker in _PICKLE_HEADERS):
            raise self._python_function("a pickled callable in its plan")
        logical = _ipc_digest(payload) if self._in_ipc_slot() else None
        if logical is None:
            self._raw(start)
        else:
            self.hasher.update(_frame(b"ipc", logical))
        self._done()


def _decode_uint8_run(buf: memoryview, pos: int, count: int) -> tuple[Any, int] | None:
    """Decode ``count`` MessagePack uint8 items (fixint or 0xCC-prefixed) starting at ``pos``.

    Vectorized: bytes >= 0x80 only occur as an 0xCC marker followed by its payload (>= 0x80),
    so taken in order they pair up, marker first. Pair ``k`` at offset ``m`` is item
    ``m - k``. Returns None if any of the ``count`` items is not a uint8.
    """
    window = np.frombuffer(buf, dtype=np.uint8, count=min(2 * count, len(buf) - pos), offset=pos)
    high = np.flatnonzero(window >= 0x80)
    markers = high[0::2]
    inside = int(np.searchsorted(markers - np.arange(len(markers)), count))
    end = count + inside
    if end > len(window):
        return None
    markers = markers[:inside]
    payloads = high[1::2][:inside]
    if len(payloads) < inside or not (payloads == markers + 1).all():
        return None
    if not (window[markers] == 0xCC).all():
        return None
    keep = np.ones(end, dtype=bool)
    keep[markers] = False
    return window[:end][keep], pos + end


def _ipc_digest(payload: bytes) -> bytes | None:
    """Logical fingerprint of an Arrow IPC stream (frames and Series inside plans)."""
    if not payload.startswith(b"\xff\xff\xff\xff"):
        return None
    try:
        frame = pl.read_ipc_stream(payload)
    except Exception:
        return None
    return _frame_digest(frame)


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


_MODIFIERS_ATTRIBUTE = "__hamilton_fast_modifiers__"


class _Fingerprinter:
    """One fingerprinting pass; remembers functions already seen and cuts cycles."""

    def __init__(self, memo_dir: Path | None, *, code_aware: bool) -> None:
        self.memo_dir = memo_dir
        self.code_aware = code_aware
        self.active: set[int] = set()
        self.done: dict[int, tuple[Any, bytes]] = {}

    # values ------------------------------------------------------------------------------

    def value(self, obj: Any) -> bytes:
        if obj is None:
            return _combine(b"none")
        kind = type(obj)
        if isinstance(obj, enum.Enum):
            return self._enum_member(obj)
        if kind is bool:
            return _combine(b"bool", b"1" if obj else b"0")
        if kind is int:
            return _combine(b"int", _int(obj))
        if kind is float:
            return _combine(b"float", obj.hex().encode())
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
            return _combine(b"complex", obj.real.hex().encode(), obj.imag.hex().encode())
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
        return _combine(b"enum", _text(_qualified(type(obj))), _text(obj.name), payload)

    def _ndarray(self, arr: np.ndarray[Any, Any]) -> bytes:
        header = (_text(arr.dtype.str), _text(repr(arr.dtype.descr)), _text(repr(arr.shape)))
        if arr.dtype.hasobject:
            return _combine(b"ndarray-obj", *header, *(self.value(x) for x in arr.ravel()))
        data = np.ascontiguousarray(arr)
        flat = data.reshape(-1).view(np.uint8)
        return _combine(b"ndarray", *header, xxhash.xxh3_128_digest(flat.data))

    # code ---------------------------------------------------------------------------------

    def _code_object(self, obj: Any) -> bytes | None:
        """Digest of functions, classes, modules and the like; None when ``obj`` is none."""
        if isinstance(obj, types.ModuleType):
            return self._module(obj)
        if isinstance(obj, functools.partial):
            return _combine(
                b"partial",
                self.value(obj.func),
                self.value(obj.args),
                self.value(dict(obj.keywords)),
            )
        if isinstance(obj, types.MethodType):
            return _combine(b"method", self.value(obj.__func__), self.value(obj.__self__))
        if isinstance(obj, staticmethod | classmethod):
            return _combine(b"descriptor", self.value(obj.__func__))
        if isinstance(obj, property):
            return _combine(b"property", self.value(obj.fget), self.value(obj.fset))
        if isinstance(obj, logging.Logger):  # logging does not change a result
            return _combine(b"logger", _text(obj.name))
        if isinstance(obj, types.FunctionType):
            return self._function(obj)
        if isinstance(obj, type):
            return self._class(obj)
        if isinstance(obj, _BUILTIN_CALLABLES):
            module = _str_attribute(obj, "__module__") or type(obj).__module__
            return _library_token(obj, module)
        if isinstance(obj, types.CodeType):
            return _bytecode_digest(obj, None, self)
        module = type(obj).__module__
        # Stateless library callables: numpy ufuncs, Polars' API objects (``pl.col``). Other
        # callable instances (a fitted model) carry state and stay unfingerprintable.
        if isinstance(obj, np.ufunc) or (callable(obj) and module.partition(".")[0] == "polars"):
            return _library_token(obj, module)
        if module in ("typing", "types", "typing_extensions"):  # Optional[int], list[str]
            return _combine(b"typing", _text(repr(obj)))
        return None

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

    def _function(self, fn: types.FunctionType) -> bytes:
        if _is_library_module_name(fn.__module__):
            if not fn.__closure__ and not fn.__defaults__ and not fn.__kwdefaults__:
                return _library_token(fn, fn.__module__)
            # A closure made by library code (a decorator factory, a predicate built from
            # arguments) carries the user's values: the code counts by version, they by value.
            return _combine(
                b"library-closure",
                _library_token(fn, fn.__module__),
                self.value(fn.__defaults__),
                self.value(fn.__kwdefaults__),
                *(self._cell(cell) for cell in fn.__closure__ or ()),
            )
        marker = id(fn)
        if marker in self.active:
            return _combine(b"recursive", _text(fn.__module__ or ""), _text(fn.__qualname__))
        seen = self.done.get(marker)
        if seen is not None and seen[0] is fn:
            return seen[1]
        self.active.add(marker)
        try:
            digest = self._function_parts(fn)
        finally:
            self.active.discard(marker)
        self.done[marker] = (fn, digest)
        return digest

    def _function_parts(self, fn: types.FunctionType) -> bytes:
        code = fn.__code__
        parts = [_text(fn.__qualname__), _source_or_bytecode(fn, self)]
        with _reading(fn, "its default arguments"):
            parts.append(self.value(fn.__defaults__))
            parts.append(self.value(fn.__kwdefaults__))
        for name, cell in zip(code.co_freevars, fn.__closure__ or (), strict=True):
            with _reading(fn, f"the closure variable `{name}`"):
                parts.append(_text(name))
                parts.append(self._cell(cell))
        parts.append(self._globals_read(fn))
        with _reading(fn, "its decorator specs"):
            specs = getattr(fn, _MODIFIERS_ATTRIBUTE, ())
            # A spec holding every output's arguments (@parameterize) would tie each output's
            # key to its siblings'; the node's own arguments are in its wrapper's fields.
            parts.append(self.value(tuple(s for s in specs if not getattr(s, "per_output", False))))
        wrapped = getattr(fn, "__wrapped__", None)
        if wrapped is not None:
            with _reading(fn, "the function it wraps"):
                parts.append(self.value(wrapped))
        return _combine(b"function", *parts)

    def _cell(self, cell: types.CellType) -> bytes:
        try:
            contents = cell.cell_contents
        except ValueError:  # an empty cell: the variable was never assigned
            return b"<empty cell>"
        return self.value(contents)

    def _globals_read(self, fn: types.FunctionType) -> bytes:
        parts: list[bytes] = []
        namespace = fn.__globals__
        for name, chain in sorted(_global_reads(fn.__code__)):
            dotted = name + "".join("." + attr for attr in chain)
            parts.append(_text(dotted))
            if name in namespace:
                with _reading(fn, f"the global `{dotted}`"):
                    parts.append(self._resolved(namespace[name], chain))
            elif hasattr(builtins, name):
                parts.append(_combine(b"builtin", _text(name)))
            else:
                parts.append(b"<undefined>")
        for module_name, level, attrs in sorted(_imports(fn.__code__)):
            module = _import_for(fn, module_name, level)
            parts.append(_text(f"import {'.' * level}{module_name}"))
            if not attrs:
                with _reading(fn, f"the module `{module_name}` it imports"):
                    parts.append(self.value(module))
            for attr in attrs:
                parts.append(_text(attr))
                with _reading(fn, f"`{attr}` imported from `{module_name}`"):
                    parts.append(self._resolved(module, (attr,)))
        return _combine(b"globals", *parts)

    def _resolved(self, obj: Any, chain: tuple[str, ...]) -> bytes:
        """Digest of ``obj.chain...``, following the chain while it walks through user modules.

        ``helpers.clean(x)`` depends on ``helpers.clean`` only, not on the rest of ``helpers``;
        a library module (``pl.col``) counts by name and version, whatever is read off it.
        """
        for position, attr in enumerate(chain):
            if not isinstance(obj, types.ModuleType) or _is_library_module(obj):
                break
            if not hasattr(obj, attr):
                return _combine(b"missing", _text(".".join(chain[: position + 1])))
            obj = getattr(obj, attr)
        return self.value(obj)

    def _class(self, cls: type) -> bytes:
        if _is_library_module_name(cls.__module__):
            return _library_token(cls, cls.__module__)
        marker = id(cls)
        if marker in self.active:
            return _combine(b"recursive", _text(cls.__module__), _text(cls.__qualname__))
        self.active.add(marker)
        try:
            parts = [_text(cls.__qualname__)]
            parts.extend(self.value(base) for base in cls.__bases__ if base is not object)
            skip = set(_CLASS_NOISE)
            if dataclasses.is_dataclass(cls):
                skip |= _DATACLASS_GENERATED
                params = getattr(cls, "__dataclass_params__", None)
                parts.append(_text(repr(params)))
                for field in dataclasses.fields(cls):
                    parts.append(_text(f"{field.name}: {field.type!r}"))
                    parts.append(self.value(_field_default(field)))
            if issubclass(cls, enum.Enum):
                for member in cls:
                    parts.append(self.value(member))
                skip |= set(vars(cls)) - {n for n, v in vars(cls).items() if callable(v)}
            for name in sorted(vars(cls)):
                if name in skip:
                    continue
                parts.append(_text(name))
                parts.append(self.value(vars(cls)[name]))
            return _combine(b"class", *parts)
        except UnfingerprintableError as exc:
            raise UnfingerprintableError(
                f"Class `{cls.__qualname__}` cannot be fingerprinted: "
                f"{str(exc).splitlines()[0]}\n" + _HINT
            ) from None
        finally:
            self.active.discard(marker)


_CLASS_NOISE = frozenset(
    {
        "__dict__",
        "__weakref__",
        "__module__",
        "__doc__",
        "__qualname__",
        "__firstlineno__",
        "__static_attributes__",
        "__annotations__",
        "__parameters__",
        "__orig_bases__",
        "__slots__",
        "__abstractmethods__",
        "_abc_impl",
    }
)
_DATACLASS_GENERATED = frozenset(
    {
        "__init__",
        "__repr__",
        "__eq__",
        "__hash__",
        "__setattr__",
        "__delattr__",
        "__lt__",
        "__le__",
        "__gt__",
        "__ge__",
        "__match_args__",
        "__dataclass_fields__",
        "__dataclass_params__",
        "__getstate__",
        "__setstate__",
        "__replace__",
    }
)


def _field_default(field: dataclasses.Field[Any]) -> Any:
    if field.default is not dataclasses.MISSING:
        return ("default", field.default)
    if field.default_factory is not dataclasses.MISSING:
        return ("factory", field.default_factory)
    return ("required",)


@contextlib.contextmanager
def _reading(fn: types.FunctionType, what: str) -> Iterator[None]:
    """Say which function, and which of the things it reads, has no fingerprint."""
    try:
        yield
    except UnfingerprintableError as exc:
        first, _, rest = str(exc).partition("\n")
        if first.startswith(("Function `", "Class `")):  # the innermost culprit speaks
            facts = rest.rsplit("\nHint:", 1)
            detail = f"  reached from: `{fn.__qualname__}` ({_location(fn)}), via {what}"
            raise UnfingerprintableError(
                f"{first}\n{facts[0]}\n{detail}\nHint:{facts[1]}"
                if len(facts) == 2
                else f"{first}\n{rest}\n{detail}"
            ) from None
        raise UnfingerprintableError(
            f"Function `{fn.__qualname__}` cannot be fingerprinted: it reads {what}, and "
            f"{first[0].lower()}{first[1:]}\n  defined at: {_location(fn)}\n{rest}"
        ) from None


def _location(fn: types.FunctionType) -> str:
    return f"{fn.__code__.co_filename}:{fn.__code__.co_firstlineno}"


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


# library detection ---------------------------------------------------------------------------


@functools.cache
def _library_roots() -> tuple[str, ...]:
    roots: set[str] = set()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            roots.add(os.path.realpath(path))
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}:
        for name in ("site-packages", "dist-packages"):
            roots.update(os.path.realpath(p) for p in glob.glob(f"{prefix}/lib*/python*/{name}"))
    return tuple(sorted(root.rstrip(os.sep) + os.sep for root in roots))


@functools.cache
def _stdlib_root() -> str:
    return os.path.realpath(sysconfig.get_paths()["stdlib"]).rstrip(os.sep) + os.sep


def _is_library_module(module: types.ModuleType) -> bool:
    """Installed or standard-library code (counted by version), as opposed to the user's.

    hamilton_fast itself counts as a library even when installed in development mode: user
    code calling it depends on its version, not on its internals.
    """
    name = module.__name__
    if name in sys.builtin_module_names or name.partition(".")[0] == "hamilton_fast":
        return True
    origin = getattr(getattr(module, "__spec__", None), "origin", None)
    if origin in ("built-in", "frozen"):
        return True
    location = getattr(module, "__file__", None)
    if location is None:
        search = list(getattr(module, "__path__", None) or ())
        if not search:
            return False  # __main__ of a REPL or notebook, or a module made at run time
        location = search[0]
    return _is_library_path(location)


@functools.lru_cache(maxsize=4096)
def _is_library_path(location: str) -> bool:
    real = os.path.realpath(location)
    return any(real.startswith(root) for root in _library_roots())


def _is_library_module_name(name: str | None) -> bool:
    if not name:
        return False
    module = sys.modules.get(name)
    if module is None:
        return name in sys.builtin_module_names or name == "builtins"
    return _is_library_module(module)


@functools.cache
def _package_version(top: str) -> str:
    module = sys.modules.get(top)
    version = getattr(module, "__version__", None)
    if isinstance(version, str):
        return version
    location = getattr(module, "__file__", None) or ""
    if top in sys.builtin_module_names or os.path.realpath(location).startswith(_stdlib_root()):
        return f"python-{sys.version_info.major}.{sys.version_info.minor}"
    distributions = importlib.metadata.packages_distributions().get(top, [])
    for distribution in distributions:
        try:
            return importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "unknown"


_BUILTIN_CALLABLES = (
    types.BuiltinFunctionType,
    types.BuiltinMethodType,
    types.MethodWrapperType,
    types.WrapperDescriptorType,
    types.MethodDescriptorType,
    types.ClassMethodDescriptorType,
)


def _str_attribute(obj: Any, name: str) -> str | None:
    """``obj.name`` if it is a string (``pl.col.__name__`` is an expression, not a name)."""
    try:
        value = getattr(obj, name, None)
    except Exception:
        return None
    return value if isinstance(value, str) else None


def _library_token(obj: Any, module: str | None) -> bytes:
    module = module or "builtins"
    top = module.split(".")[0]
    name = (
        _str_attribute(obj, "__qualname__")
        or _str_attribute(obj, "__name__")
        or type(obj).__qualname__
    )
    return _combine(b"library", _text(module), _text(name), _text(_package_version(top)))


# source and bytecode --------------------------------------------------------------------------

_NAME_LOADS = frozenset(
    {"LOAD_GLOBAL", "LOAD_NAME", "LOAD_DEREF", "LOAD_FAST", "LOAD_CLOSURE", "LOAD_CLASSDEREF"}
)
_NAME_LOADS_EXTRA = frozenset(
    {
        "LOAD_FAST_CHECK",
        "LOAD_FAST_AND_CLEAR",
        "LOAD_FROM_DICT_OR_DEREF",
        "LOAD_FROM_DICT_OR_GLOBALS",
    }
)
_NAME_STORES = frozenset({"STORE_GLOBAL", "STORE_NAME", "STORE_DEREF", "STORE_FAST"})
_NAME_DELETES = frozenset({"DELETE_GLOBAL", "DELETE_NAME", "DELETE_DEREF", "DELETE_FAST"})
_SHAPE_IGNORED = frozenset(
    {"NOP", "RESUME", "CACHE", "EXTENDED_ARG", "COPY_FREE_VARS", "MAKE_CELL", "PUSH_NULL"}
)
_FUTURE_FLAGS = 0
for _feature in ("nested_scopes", "generators", "division", "absolute_import", "with_statement"):
    _FUTURE_FLAGS |= getattr(__import__("__future__"), _feature).compiler_flag
for _feature in ("print_function", "unicode_literals", "barry_as_FLUFL", "generator_stop"):
    _FUTURE_FLAGS |= getattr(__import__("__future__"), _feature).compiler_flag
_FUTURE_FLAGS |= __import__("__future__").annotations.compiler_flag


@functools.lru_cache(maxsize=8192)
def _global_reads(code: types.CodeType) -> frozenset[tuple[str, tuple[str, ...]]]:
    """Global names a code object (and its nested code) loads, with attributes read off them."""
    found: set[tuple[str, tuple[str, ...]]] = set()
    for current in _walk_code(code):
        instructions = list(dis.get_instructions(current))
        for i, ins in enumerate(instructions):
            if ins.opname not in ("LOAD_GLOBAL", "LOAD_NAME", "LOAD_FROM_DICT_OR_GLOBALS"):
                continue
            chain: list[str] = []
            for follow in instructions[i + 1 :]:
                if follow.opname not in ("LOAD_ATTR", "LOAD_METHOD"):
                    break
                chain.append(str(follow.argval))
            found.add((str(ins.argval), tuple(chain)))
    return frozenset(found)


@functools.lru_cache(maxsize=8192)
def _imports(code: types.CodeType) -> frozenset[tuple[str, int, tuple[str, ...]]]:
    """``import``s inside a function body: (module, level, names taken with ``from``)."""
    found: set[tuple[str, int, tuple[str, ...]]] = set()
    for current in _walk_code(code):
        instructions = list(dis.get_instructions(current))
        for i, ins in enumerate(instructions):
            if ins.opname != "IMPORT_NAME":
                continue
            level = 0
            if i >= 2 and instructions[i - 2].opname == "LOAD_CONST":
                level = int(instructions[i - 2].argval or 0)
            names: list[str] = []
            for follow in instructions[i + 1 :]:
                if follow.opname == "IMPORT_FROM":
                    names.append(str(follow.argval))
                elif follow.opname not in (
                    "STORE_FAST",
                    "STORE_NAME",
                    "STORE_DEREF",
                    "STORE_GLOBAL",
                ):
                    break
            found.add((str(ins.argval), level, tuple(names)))
    return frozenset(found)


def _import_for(fn: types.FunctionType, name: str, level: int) -> types.ModuleType:
    try:
        absolute = (
            importlib.util.resolve_name("." * level + name, fn.__globals__.get("__package__"))
            if level
            else name
        )
        module = sys.modules.get(absolute)
        return module if module is not None else importlib.import_module(absolute)
    except Exception as exc:
        raise UnfingerprintableError(
            f"Function `{fn.__qualname__}` imports `{'.' * level}{name}`, which cannot be "
            f"imported to fingerprint it ({exc}).\n  defined at: {_location(fn)}\n" + _HINT
        ) from exc


def _walk_code(code: types.CodeType) -> Iterator[types.CodeType]:
    pending = [code]
    while pending:
        current = pending.pop()
        yield current
        pending.extend(c for c in current.co_consts if isinstance(c, types.CodeType))


def _source_or_bytecode(fn: types.FunctionType, fp: _Fingerprinter) -> bytes:
    normalized = _normalized_source(fn.__code__)
    if normalized is not None:
        return _combine(b"ast", normalized)
    return _bytecode_digest(fn.__code__, fn.__doc__, fp)


_SOURCE_MEMO: dict[tuple[types.CodeType, int, int], bytes | None] = {}


def _normalized_source(code: types.CodeType) -> bytes | None:
    """AST dump of a function's source, or None when there is no trustworthy source.

    Finding a function's lines tokenizes its file, so the answer is remembered per code object
    for as long as the file's size and mtime stay the same.
    """
    try:
        info = os.stat(code.co_filename)
    except (OSError, ValueError):
        stamp = None
    else:
        stamp = (code, info.st_mtime_ns, info.st_size)
        with _MEMO_LOCK:
            if stamp in _SOURCE_MEMO:
                return _SOURCE_MEMO[stamp]
    try:
        lines, _ = inspect.getsourcelines(code)
    except (OSError, TypeError, IndexError):
        normalized = None
    else:
        normalized = _normalized_source_of(code, textwrap.dedent("".join(lines)))
    if stamp is not None:
        with _MEMO_LOCK:
            if len(_SOURCE_MEMO) > 16384:
                _SOURCE_MEMO.clear()
            _SOURCE_MEMO[stamp] = normalized
    return normalized


@functools.lru_cache(maxsize=4096)
def _normalized_source_of(code: types.CodeType, source: str) -> bytes | None:
    try:
        tree = ast.parse(source)
    except SyntaxError:  # a lambda in the middle of a statement: not a parseable snippet
        return None
    for node in ast.walk(tree):
        if code.co_name == "<lambda>":
            if not isinstance(node, ast.Lambda):
                continue
        elif not (
            isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == code.co_name
        ):
            continue
        if _source_matches(node, code):
            _strip_docstrings(node)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                # Decorators count through the specs they attach (see _function_parts), so
                # that @parameterize's arguments for one output leave the others' keys alone.
                node.decorator_list = []
            return _text(ast.dump(node, annotate_fields=True, include_attributes=False))
    return None


def _source_matches(node: ast.AST, code: types.CodeType) -> bool:
    """Whether the source compiles to the running code (the file may have been edited).

    The snippet is compiled inside the scopes it came from (an enclosing function holding its
    free variables, the class of a method), so closures, ``super()`` and name mangling come
    out as in the original.
    """
    statement: ast.stmt = ast.Expr(value=node) if isinstance(node, ast.Lambda) else node  # type: ignore[assignment]
    path = getattr(code, "co_qualname", code.co_name).split(".")
    if len(path) >= 2 and path[-2] != "<locals>":
        statement = ast.ClassDef(
            name=path[-2],
            bases=[],
            keywords=[],
            body=[statement],
            decorator_list=[],
            **_EMPTY_TYPE_PARAMS,
        )
    free = [name for name in code.co_freevars if name != "__class__"]
    if free:
        assign = [
            ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=ast.Constant(value=None))
            for name in free
        ]
        arguments = ast.arguments(
            posonlyargs=[],
            args=[],
            vararg=None,
            kwonlyargs=[],
            kw_defaults=[],
            kwarg=None,
            defaults=[],
        )
        statement = ast.FunctionDef(
            name="_fingerprint_scope_",
            args=arguments,
            body=[*assign, statement],
            decorator_list=[],
            returns=None,
            **_EMPTY_TYPE_PARAMS,
        )
    module = ast.fix_missing_locations(ast.Module(body=[statement], type_ignores=[]))
    try:
        compiled = compile(
            module, code.co_filename, "exec", flags=code.co_flags & _FUTURE_FLAGS, dont_inherit=True
        )
    except (SyntaxError, ValueError, TypeError):
        return False
    target = _code_shape(code)
    return any(
        candidate.co_name == code.co_name and _code_shape(candidate) == target
        for candidate in _walk_code(compiled)
    )


_EMPTY_TYPE_PARAMS: dict[str, Any] = (
    {"type_params": []} if "type_params" in ast.FunctionDef._fields else {}
)


def _code_shape(code: types.CodeType) -> tuple[Any, ...]:
    """The instructions, names and constants of code, blind to scopes and line numbers."""
    shape: list[Any] = [code.co_argcount, code.co_kwonlyargcount, code.co_posonlyargcount]
    for ins in dis.get_instructions(code):
        op = ins.opname
        if op in _SHAPE_IGNORED:
            continue
        if op in _NAME_LOADS or op in _NAME_LOADS_EXTRA:
            shape.append(("LOAD", str(ins.argval)))
        elif op in _NAME_STORES:
            shape.append(("STORE", str(ins.argval)))
        elif op in _NAME_DELETES:
            shape.append(("DELETE", str(ins.argval)))
        elif op in ("LOAD_ATTR", "LOAD_METHOD"):  # 3.11 picks by how the name was imported
            shape.append(("ATTR", str(ins.argval)))
        elif op == "LOAD_CONST" and isinstance(ins.argval, types.CodeType):
            shape.append(("CODE", _code_shape(ins.argval)))
        elif op == "LOAD_CONST":
            shape.append(("CONST", type(ins.argval).__name__, repr(ins.argval)))
        elif ins.opcode in dis.hasjrel or ins.opcode in dis.hasjabs:
            shape.append((op,))  # targets move when scope opcodes differ
        else:
            shape.append((op, repr(ins.argval)))
    return tuple(shape)


def _strip_docstrings(root: ast.AST) -> None:
    for node in ast.walk(root):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        body = node.body
        first = body[0] if body else None
        if (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]


def _bytecode_digest(code: types.CodeType, docstring: str | None, fp: _Fingerprinter) -> bytes:
    """Digest of code without source: instructions and constants, never line numbers."""
    consts: list[bytes] = []
    for position, const in enumerate(code.co_consts):
        if isinstance(const, types.CodeType):
            consts.append(_bytecode_digest(const, None, fp))
        elif position == 0 and docstring is not None and const == docstring:
            consts.append(b"<docstring>")
        else:
            consts.append(fp.value(const))
    return _combine(
        b"bytecode",
        _text(f"python-{sys.version_info.major}.{sys.version_info.minor}"),
        _text(code.co_name),
        _int(code.co_argcount),
        _int(code.co_posonlyargcount),
        _int(code.co_kwonlyargcount),
        _int(code.co_flags),
        code.co_code,
        _text(",".join(code.co_names)),
        _text(",".join(code.co_varnames)),
        _text(",".join(code.co_freevars)),
        _text(",".join(code.co_cellvars)),
        bytes(getattr(code, "co_exceptiontable", b"")),
        *consts,
    )


# --------------------------------------------------------------------------------------------
# Keys


def node_key_parts(
    kind: str,
    name: str,
    code: str,
    modifiers: str,
    bound_values: Mapping[str, str],
    dependency_keys: Mapping[str, str],
) -> dict[str, str]:
    """The named parts a node's key is built from, so a miss can say which one changed."""
    parts = {
        "format": FORMAT_VERSION,
        "polars": pl.__version__,
        "kind": kind,
        "name": name,
        "code": code,
        "modifiers": modifiers,
    }
    for key in sorted(bound_values):
        parts[f"value:{key}"] = bound_values[key]
    for key in sorted(dependency_keys):
        parts[f"dependency:{key}"] = dependency_keys[key]
    return parts


def node_key(
    kind: str,
    name: str,
    code: str,
    modifiers: str,
    bound_values: Mapping[str, str],
    dependency_keys: Mapping[str, str],
) -> str:
    """A node's cache key, Merkle style: every part length-prefixed, in a fixed order.

    >>> a = node_key("column", "x", "c0de", "", {"n": "1"}, {"y": "k1", "z": "k2"})
    >>> a == node_key("column", "x", "c0de", "", {"n": "1"}, {"z": "k2", "y": "k1"})
    True
    >>> a == node_key("column", "x", "c0de", "", {"n": "1"}, {"y": "k1", "z": "k3"})
    False
    """
    h = xxhash.xxh3_128()
    for label, value in node_key_parts(
        kind, name, code, modifiers, bound_values, dependency_keys
    ).items():
        h.update(_frame(b"K", _text(label)))
        h.update(_frame(b"V", _text(value)))
    return h.hexdigest()
