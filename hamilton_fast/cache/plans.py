"""Polars' serialized plans, read canonically: the scanner behind lazy-frame and expression
fingerprints.

A LazyFrame or an expression serializes to MessagePack (after a ``DSL_VERSION`` header).
:class:`_PlanScanner` walks those bytes without recursion and hashes them as written, except
that embedded Arrow IPC payloads (in-memory frames, Series literals) count by their content, as
the caller's ``frame_digest`` sees it; along the way it collects the paths the plan scans and
refuses Python functions. :func:`_bare_frame_scan` spots ``df.lazy()``, which needs no
serializing at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import polars as pl
import xxhash

from hamilton_fast.cache.canonical import _HINT, UnfingerprintableError, _frame


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


# Plan nodes that hold Python callables; the payloads themselves are recognised as pickles too.
_PYTHON_VARIANTS = frozenset({"AnonymousFunction", "OpaquePython", "PythonScan", "PythonUdf"})
_PICKLE_HEADERS = (b"\x80\x04\x95", b"\x80\x05\x95")
_IPC_KEYS = frozenset({"df", "Series"})
_ARRAY_FAST_MIN = 8
_ARRAY_BLOCK = 1 << 23


class _PlanScanner:
    """Walks Polars' MessagePack plan bytes without recursion and hashes them canonically.

    The stream is hashed as written, except that embedded Arrow IPC payloads (in-memory frames,
    Series literals) are replaced by their logical fingerprint (``frame_digest`` of the decoded
    frame), so chunking does not matter. Scan paths are collected; Python functions are refused.
    """

    def __init__(
        self, body: bytes, what: str, *, frame_digest: Callable[[pl.DataFrame], bytes]
    ) -> None:
        self.buf = memoryview(body)
        self.pos = 0
        self.what = what
        self.frame_digest = frame_digest
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
        logical = _ipc_digest(payload, self.frame_digest) if self._in_ipc_slot() else None
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


def _ipc_digest(payload: bytes, frame_digest: Callable[[pl.DataFrame], bytes]) -> bytes | None:
    """Logical fingerprint of an Arrow IPC stream (frames and Series inside plans)."""
    if not payload.startswith(b"\xff\xff\xff\xff"):
        return None
    try:
        frame = pl.read_ipc_stream(payload)
    except Exception:
        return None
    return frame_digest(frame)
