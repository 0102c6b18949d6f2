"""Content-hashed node caching: fingerprints (xxhash) and the on-disk store (diskcache + IPC).

The only users of xxhash and diskcache in the package. :mod:`.fingerprint` turns frames, files,
lazy plans, Python values and functions into deterministic digests and builds node keys from
them (behind it: :mod:`.plans` for Polars' serialized plans, :mod:`.code` and :mod:`.libraries`
for functions, :mod:`.keys` for node keys, :mod:`.canonical` for the framing they share);
:mod:`.store` keeps node values under those keys, crash-safe and shareable between processes.
"""

from __future__ import annotations

from hamilton_fast.cache.fingerprint import (
    FORMAT_VERSION,
    UnfingerprintableError,
    fingerprint_file,
    fingerprint_frame,
    fingerprint_function,
    fingerprint_lazyframe,
    fingerprint_value,
    node_key,
    node_key_parts,
)
from hamilton_fast.cache.store import CacheCorruptionWarning, CacheStore, Entry

__all__ = [
    "FORMAT_VERSION",
    "CacheCorruptionWarning",
    "CacheStore",
    "Entry",
    "UnfingerprintableError",
    "fingerprint_file",
    "fingerprint_frame",
    "fingerprint_function",
    "fingerprint_lazyframe",
    "fingerprint_value",
    "node_key",
    "node_key_parts",
]
