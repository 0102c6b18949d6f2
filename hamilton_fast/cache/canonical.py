"""Canonical byte streams: the framing every fingerprint and node key is built from.

Each piece of a stream is framed with a type tag and its length, so no two different values
share a stream, and the stream is digested with xxh3_128. What cannot be written as such a
stream raises :class:`UnfingerprintableError` rather than silently giving a key that could
return a stale result.

>>> _combine(b"seq", b"ab", b"c") == _combine(b"seq", b"a", b"bc")
False
"""

from __future__ import annotations

import math
import sqlite3
import struct
from typing import TYPE_CHECKING

import diskcache  # type: ignore[import-untyped]
import xxhash

from hamilton_fast.errors import CacheError

if TYPE_CHECKING:
    import polars as pl

FORMAT_VERSION = "2"
"""Bump when a canonical stream built from these pieces changes, or what a stored value carries
(2: the columns' sorted flags): every existing key then misses."""

_HINT = (
    'Hint: mark the node `@cache(behavior="disable")`, or pass a value that can be hashed '
    "(a frame, a scalar, a container of those, a dataclass or an enum)."
)


class UnfingerprintableError(CacheError, TypeError):
    """A value, plan or function has no deterministic fingerprint, so it cannot key a cache."""


MEMO_ERRORS = (OSError, sqlite3.Error, diskcache.Timeout)
"""What the optional memos in a cache directory (file, values and source digests) may raise
when damaged, read-only or busy: reading one then costs a recomputation, writing one is
skipped, and the run goes on."""

MEMO_TIMEOUT_SECONDS = 2.0
"""How long a memo waits for another process's write lock (diskcache's default: 60 s)."""


# --------------------------------------------------------------------------------------------
# Framing


def _frame(tag: bytes, payload: bytes) -> bytes:
    return tag + len(payload).to_bytes(8, "little") + payload


def _combine(tag: bytes, *parts: bytes) -> bytes:
    """Digest of a tagged sequence of parts (each length-prefixed)."""
    # One call over the joined stream (the same bytes, so the same digest, as feeding them
    # piece by piece): code fingerprints combine hundreds of small parts per run.
    pieces = [_frame(b"T", tag), len(parts).to_bytes(8, "little")]
    for part in parts:
        pieces.append(len(part).to_bytes(8, "little"))
        pieces.append(part)
    return xxhash.xxh3_128_digest(b"".join(pieces))


def _text(value: str) -> bytes:
    return value.encode("utf-8", "surrogatepass")


def _float_text(value: float) -> str:
    """A float exactly: its hex (``-0.0`` is not ``0.0``), or for a NaN its bits, since every
    NaN prints as ``nan`` whatever its sign (``math.copysign`` and ``np.signbit`` tell)."""
    return "nan:" + struct.pack("<d", value).hex() if math.isnan(value) else value.hex()


def _int(value: int) -> bytes:
    return str(value).encode()


def sorted_flag(series: pl.Series) -> str:
    """Polars' sorted flag of a column: "asc", "desc" or "" (none). Polars picks algorithms by
    it (a mean over a key it knows sorted sums by slices: other last bits), so fingerprints
    count it and cache entries keep it."""
    flags = series.flags
    return "asc" if flags["SORTED_ASC"] else "desc" if flags["SORTED_DESC"] else ""
