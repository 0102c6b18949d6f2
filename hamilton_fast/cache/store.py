"""The on-disk node cache: a diskcache index plus one value file per entry.

Layout under the cache directory::

    index/              diskcache (SQLite): key -> JSON record (node, kind, format, size,
                        created, last used, checksum, file name, key parts)
    values/<key>-<uid>.arrow   frames and series, Arrow IPC (feather v2), uncompressed
    values/<key>-<uid>.pkl     values stored with an explicit ``format="pickle"``

Scalars and small containers of them live in the index record itself, as typed JSON: no
pickle unless asked for. A write goes to a temporary file in ``values/``, is fsynced and
renamed into place, and only then is the index record added, so a process killed mid-write
leaves at most an unreferenced file (swept later by :meth:`CacheStore.prune` and
:meth:`CacheStore.clear`), never a record that reads back as valid. Value files are never
overwritten in place: each write has its own file name, and the first record added for a key
wins (``diskcache.Cache.add`` is atomic across processes), so concurrent writers of one key
cannot corrupt each other or pull a file from under a reader. Every record carries an xxh3
checksum of its value and the file's identity when it was last checksummed (size, mtime,
ctime, inode). A read re-hashes the file whenever that identity changed: any write to a
file through the file system moves its ctime, which no program can set back. So an unchanged
file is trusted without reading it (a warm rerun maps gigabytes in milliseconds), and
``verify="once"`` or ``"always"`` re-hash anyway, against the rare corruption below the file
system; ``hamilton-fast cache verify`` checks every entry. A corrupt or missing value warns
with :class:`CacheCorruptionWarning`, is removed, and reads as a miss.

>>> import tempfile, polars as pl
>>> with CacheStore(tempfile.mkdtemp()) as store:
...     _ = store.put("k1", "revenue", pl.DataFrame({"x": [1, 2]}))
...     store.get("k1").shape, store.get("missing")
((2, 1), None)
"""

from __future__ import annotations

import base64
import collections
import contextlib
import datetime as dt
import decimal
import functools
import json
import mmap
import os
import pathlib
import pickle
import re
import sqlite3
import tempfile
import threading
import time
import uuid
import warnings
import zoneinfo
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import diskcache  # type: ignore[import-untyped]
import numpy as np
import polars as pl
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.ipc  # type: ignore[import-untyped]
import xxhash

from hamilton_fast.cache.canonical import sorted_flag
from hamilton_fast.errors import CacheError

__all__ = ["CacheCorruptionWarning", "CacheStore", "Entry"]

Format = Literal["ipc", "json", "pickle"]
Kind = Literal["frame", "series", "scalar", "object"]
Verify = Literal["stat", "once", "always"]

_RECORD_VERSION = 1
_TOUCH_INTERVAL_SECONDS = 3600.0
_ORPHAN_GRACE_SECONDS = 600.0
_SAFE_KEY = re.compile(r"[0-9A-Za-z_-]{1,96}")
_EXTENSIONS = {"ipc": ".arrow", "pickle": ".pkl"}
# A file identity (size, mtime, ctime, inode) vouches for its content only when it was taken
# well after the file's mtime: within one tick of the file system's clock, a second write can
# leave the mtime unchanged (git's "racy clean" problem). Two seconds covers the coarsest
# clocks (FAT, some network file systems). Value files are written with their mtime dated
# back by more than that, so their first identity already vouches for them.
_RACY_NS = 2_000_000_000
_BACKDATE_NS = 10_000_000_000


class CacheCorruptionWarning(UserWarning):
    """A cache entry failed its checksum or lost its file; it was removed and is recomputed."""


@dataclass(frozen=True)
class Entry:
    """One cached node value, as the index describes it.

    ``kind`` is what the value is (``frame``, ``series``, ``scalar`` for JSON-encodable Python
    values, ``object`` for pickles); ``format`` how it is stored (``ipc``, ``json``,
    ``pickle``). ``path`` is the value file, None for values kept in the index (JSON).
    ``created`` and ``last_used`` are seconds since the epoch. ``parts`` are the named key
    parts the caller recorded (see ``fingerprint.node_key_parts``), for explaining misses.
    """

    key: str
    node: str
    kind: str
    format: str
    size_bytes: int
    created: float
    last_used: float
    checksum: str
    path: Path | None
    parts: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)
    # (size, mtime_ns, ctime_ns, inode, when taken in ns) of the file when it was last
    # checksummed; None for values kept in the index and for records from older versions.
    identity: tuple[int, ...] | None = field(default=None, hash=False, compare=False)
    # For a series of a fixed-width type: where its buffers lie in the file (see
    # ``_column_layout``), so a read maps them without parsing the IPC footer.
    layout: tuple[Any, ...] | None = field(default=None, hash=False, compare=False)
    # Columns Polars knew to be sorted when the value was stored ("asc" or "desc" by name):
    # IPC drops the flags, and a read restores them (see ``_sorted_flags``).
    sorted_columns: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)


class _Corrupt(Exception):
    """Internal: the value behind a record is unreadable (the reason is the message)."""


class CacheStore:
    """Node values on disk, keyed by node keys, shared safely between processes.

    ``verify`` says when a value file's checksum is recomputed on read. ``"stat"`` (the
    default): when the file's identity (size, mtime, ctime, inode) differs from the one
    recorded when it was last checksummed, by this or any process. ``"once"``: also the first
    time this store reads each file. ``"always"``: on every read (about 25 ms per 100 MB from
    the page cache). ``durable=False`` skips the fsyncs (a killed process still leaves no half
    entry; only an OS crash or power loss could). ``clock`` is for tests.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        verify: Verify = "stat",
        durable: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if verify not in ("stat", "once", "always"):
            raise CacheError(
                f"verify must be 'stat', 'once' or 'always', got {verify!r}.\n"
                "Hint: 'stat' (the default) re-hashes files that changed; 'always' every read."
            )
        self.path = Path(path).absolute()  # scans are collected later, maybe after a chdir
        self.values_dir = self.path / "values"
        try:
            self.values_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheError(
                f"Cannot use `{self.path}` as a cache directory: {exc.strerror or exc}.\n"
                "Hint: pass a directory path you can write to, e.g. "
                '`with_cache(path=".hamilton_fast_cache")`.'
            ) from exc
        self.verify = verify
        self.durable = durable
        self._clock = clock
        self._lock = threading.Lock()
        self._verified: dict[str, tuple[tuple[int, ...], str]] = {}
        self._index_pid = -1
        self._index_cache: Any = None

    # lifecycle ------------------------------------------------------------------------------

    @property
    def _index(self) -> Any:
        if self._index_pid != os.getpid():  # after a fork, open our own connection
            self._index_cache = diskcache.Cache(
                str(self.path / "index"), eviction_policy="none", statistics=False
            )
            self._index_pid = os.getpid()
        return self._index_cache

    def open(self) -> None:
        """Open the index now rather than at first use (it reopens after a fork)."""
        try:
            self._index  # noqa: B018 - the property opens it
        except (OSError, sqlite3.Error) as exc:
            raise CacheError(
                f"Cannot open the cache index in `{self.path}`: {exc}.\n"
                "Hint: pass a directory you can write to; if the index is damaged, delete "
                f"`{self.path / 'index'}` (the stored values are then recomputed)."
            ) from exc

    def close(self) -> None:
        """Close the index connection (the store reopens it if used again)."""
        if self._index_cache is not None and self._index_pid == os.getpid():
            self._index_cache.close()
        self._index_cache = None
        self._index_pid = -1

    def __enter__(self) -> CacheStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"CacheStore({str(self.path)!r})"

    def __len__(self) -> int:
        return len(self.entries())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.contains(key)

    # writing --------------------------------------------------------------------------------

    def put(
        self,
        key: str,
        node: str,
        value: Any,
        format: Format | None = None,
        *,
        parts: Mapping[str, str] | None = None,
        overwrite: bool = False,
    ) -> Entry:
        """Store ``value`` for ``node`` under ``key`` and return its entry.

        Frames and series go to Arrow IPC (a LazyFrame is collected first); scalars, dates,
        decimals and lists/tuples/dicts/sets of them to typed JSON; anything else only with
        ``format="pickle"``. If ``key`` already has an entry, that entry is kept and returned
        (keys are content-derived, so both values are the same) unless ``overwrite=True``, as
        a forced recompute wants; the replaced file stays until the next prune or clear, so
        readers holding it are not disturbed.
        """
        _check_key(key)
        if not overwrite:
            existing = self._record(key)
            if existing is not None:
                return _entry(self, key, existing)
        kind, fmt = _classify(node, value, format)
        now = self._clock()
        record: dict[str, Any] = {
            "v": _RECORD_VERSION,
            "node": node,
            "kind": kind,
            "format": fmt,
            "created": now,
            "last_used": now,
            "parts": dict(parts or {}),
        }
        file_path: Path | None = None
        if fmt == "json":
            payload = json.dumps(_to_json(value), separators=(",", ":"), ensure_ascii=False)
            record.update(
                value=payload,
                file=None,
                size=len(payload.encode("utf-8", "surrogatepass")),
                checksum=_checksum_text(payload),
            )
        else:
            file_path, checksum, flags = self._write_file(key, node, kind, fmt, value)
            identity = _identity(file_path)
            record.update(
                file=file_path.name, size=identity[0], checksum=checksum, stat=list(identity)
            )
            if kind == "series":
                record["layout"] = _column_layout(file_path)
            if flags:
                record["sorted"] = flags
        text = json.dumps(record, separators=(",", ":"))
        index = self._index
        if overwrite:
            index.set(key, text)
        elif not index.add(key, text):
            winner = self._record(key)
            if winner is not None:  # another process stored this key first: keep theirs
                if file_path is not None:
                    _remove(file_path)
                return _entry(self, key, winner)
            index.set(key, text)  # theirs was cleared meanwhile, or unreadable
        return _entry(self, key, record)

    def _write_file(
        self, key: str, node: str, kind: str, fmt: str, value: Any
    ) -> tuple[Path, str, dict[str, str]]:
        """Write the value file atomically; returns its path, checksum and sorted columns."""
        final = self.values_dir / f"{_file_stem(key)}-{uuid.uuid4().hex[:16]}{_EXTENSIONS[fmt]}"
        handle, temporary = tempfile.mkstemp(dir=self.values_dir, prefix=".tmp-", suffix=".part")
        os.close(handle)
        try:
            flags = _write_value(temporary, kind, fmt, value)
            checksum = _checksum_file(Path(temporary))
            # Dated back past the racy window, so the identity recorded below vouches for the
            # content at once: any later write moves the mtime to "now", which differs.
            now = time.time_ns()
            os.utime(temporary, ns=(now, now - _BACKDATE_NS))
            if self.durable:
                _fsync_path(temporary)
            os.replace(temporary, final)
            if self.durable:
                _fsync_path(self.values_dir)
        except BaseException as exc:
            _remove(Path(temporary))
            if isinstance(exc, CacheError | KeyboardInterrupt | SystemExit):
                raise
            raise CacheError(
                f"Could not store the value of `{node}` in the cache: {exc}\n"
                f"  key: {key}\n  directory: {self.values_dir}\n"
                'Hint: check the disk, or mark the node `@cache(behavior="disable")`.'
            ) from exc
        return final, checksum, flags

    # reading --------------------------------------------------------------------------------

    def contains(self, key: str) -> bool:
        """Whether ``key`` has an entry (the value is not read; :meth:`get` may still miss)."""
        return self._record(key) is not None

    def entry(self, key: str) -> Entry | None:
        """The entry for ``key``, without reading or verifying its value."""
        record = self._record(key)
        return None if record is None else _entry(self, key, record)

    def lookup(self, keys: Iterable[str]) -> dict[str, Entry]:
        """The entries of those ``keys`` that have one (one index read each)."""
        wanted = list(dict.fromkeys(keys))
        texts = self._index_texts(wanted)
        found: dict[str, Entry] = {}
        for key in wanted:
            record = _parse_record(texts[key] if key in texts else self._index.get(key))
            if record is not None:
                found[key] = _entry(self, key, record)
        return found

    def _index_texts(self, keys: Sequence[str]) -> dict[str, Any]:
        """Index values of many keys in one SQL query per 500 keys.

        diskcache reads one key per query; a warm rerun asks for hundreds at once. This uses
        diskcache's table and decoder (``_sql``, ``_disk.fetch``, stable since 2016). Every key
        asked for is in the answer (None when it has no record); if those internals ever
        change, the answer is empty and the caller falls back to one ``get`` per key.
        """
        index = self._index
        texts: dict[str, Any] = dict.fromkeys(keys)
        try:
            for start in range(0, len(keys), 500):
                batch = keys[start : start + 500]
                rows = index._sql(
                    "SELECT key, mode, filename, value FROM Cache WHERE raw = 1 AND key IN "
                    f"({','.join('?' * len(batch))}) "
                    "AND (expire_time IS NULL OR expire_time > ?)",
                    (*batch, time.time()),
                ).fetchall()
                for key, mode, filename, value in rows:
                    texts[key] = index._disk.fetch(mode, filename, value, False)
        except (AttributeError, TypeError, ValueError, OSError, sqlite3.Error):
            return {}
        return texts

    def map_columns(self, entries: Iterable[Entry]) -> dict[str, pl.Series]:
        """Stored series, memory-mapped.

        Zero-copy: pages are read only where a query touches them. Each file is verified as
        :meth:`scan` does; a corrupt or vanished entry warns, is removed, and is missing from
        the result (the caller recomputes it). Keyed by entry key; the series keep their
        stored names.
        """
        columns: list[tuple[Entry, Any, Any]] = []
        identities: dict[str, tuple[Entry, tuple[int, ...]]] = {}
        result: dict[str, pl.Series] = {}
        read: list[Entry] = []
        vouched: dict[str, tuple[int, ...]] = {}
        for entry in entries:
            if entry.kind != "series" or entry.format != "ipc":
                raise CacheError(
                    f"Cache entry for `{entry.node}` holds a {entry.kind} stored as "
                    f"{entry.format}, not a series; it cannot be mapped as a column.\n"
                    f"  key: {entry.key}\n"
                    "Hint: read it with `CacheStore.get` or `CacheStore.scan`."
                )
            remembered = self._remembered_column(entry)
            if remembered is not None:
                result[entry.key] = remembered
                read.append(entry)
                continue
            try:
                identity, current, field_, column = self._map_verified(entry)
            except _Corrupt as exc:
                self._drop_corrupt(entry, str(exc))
                continue
            if identity is not None:
                identities[entry.key] = (entry, identity)
            vouched[entry.key] = current
            columns.append((entry, field_, column))
            read.append(entry)
        self._note_reads(read, identities)
        # One Arrow table per height, one conversion each: converting column by column costs
        # about as much as mapping the files.
        by_height: dict[int, list[tuple[Entry, Any, Any]]] = {}
        for item in columns:
            by_height.setdefault(len(item[2]), []).append(item)
        for group in by_height.values():
            # Placeholder names: two entries may store series of the same name.
            schema = pa.schema(
                [
                    pa.field(str(i), column.type) if f is None else f.with_name(str(i))
                    for i, (_, (_, f), column) in enumerate(group)
                ]
            )
            table = pa.Table.from_arrays([c for _, _, c in group], schema=schema)
            frame = pl.from_arrow(table, rechunk=False)
            assert isinstance(frame, pl.DataFrame)
            for (entry, (name, _), _), column in zip(group, frame.get_columns(), strict=True):
                named = column.alias(name)
                flags = entry.sorted_columns
                result[entry.key] = _restore_sorted(named, flags) if flags else named
                _remember_column(entry, vouched[entry.key], result[entry.key])
        return result

    def _remembered_column(self, entry: Entry) -> pl.Series | None:
        """The series this process mapped from ``entry``'s file before, if the file is still
        the one checksummed (its identity vouches for it, as a read in ``"stat"`` mode asks);
        None otherwise, and for the other modes, which re-hash."""
        if self.verify != "stat" or entry.path is None:
            return None
        name = str(entry.path)
        with _MAPPED_LOCK:
            known = _MAPPED.get(name)
        if known is None or known[0] != entry.checksum:
            return None
        try:
            info = os.stat(name)
        except OSError:
            return None  # the full read reports it
        current = (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)
        if known[1] != current or not _vouches(entry.identity, (*current, time.time_ns())):
            return None
        with _MAPPED_LOCK:
            _MAPPED.move_to_end(name)
        return known[2]

    def get(self, key: str) -> Any | None:
        """The stored value (eager), or None on a miss or a corrupted entry (with a warning)."""
        record = self._record(key)
        if record is None:
            return None
        entry = _entry(self, key, record)
        try:
            value, identity = self._read(entry, record)
        except _Corrupt as exc:
            self._drop_corrupt(entry, str(exc))
            return None
        self._note_reads([entry], {} if identity is None else {key: (entry, identity)})
        return value

    def scan(self, key: str) -> pl.LazyFrame | None:
        """A lazy scan of a stored frame or series (one column), or None on a miss.

        The file is verified first; the scan reads it when the query is collected.
        """
        record = self._record(key)
        if record is None:
            return None
        entry = _entry(self, key, record)
        if entry.format != "ipc" or entry.path is None:
            raise CacheError(
                f"Cache entry for `{entry.node}` holds a {entry.kind} stored as {entry.format}, "
                "which cannot be scanned lazily.\n"
                f"  key: {key}\n"
                "Hint: read it with `CacheStore.get`."
            )
        try:
            identity = self._verify_file(entry)
        except _Corrupt as exc:
            self._drop_corrupt(entry, str(exc))
            return None
        self._note_reads([entry], {} if identity is None else {key: (entry, identity)})
        scan = pl.scan_ipc(entry.path)
        if not entry.sorted_columns:
            return scan
        return scan.with_columns(
            pl.col(name).set_sorted(descending=how == "desc")
            for name, how in entry.sorted_columns.items()
        )

    def _map_verified(
        self, entry: Entry
    ) -> tuple[tuple[int, ...] | None, tuple[int, ...], Any, Any]:
        """Open, verify (by the open file's stat) and map one series file: (identity worth
        recording, the file's (size, mtime, ctime, inode) as mapped, field, column)."""
        assert entry.path is not None
        try:
            descriptor = os.open(entry.path, os.O_RDONLY)
        except FileNotFoundError as exc:
            raise _Corrupt("value file missing") from exc
        try:
            info = os.fstat(descriptor)
            identity = self._verify_file(entry, info=info)
            field_, column = _map_single_column(entry, descriptor)
        finally:
            os.close(descriptor)
        current = (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)
        return identity, current, field_, column

    def _read(self, entry: Entry, record: Mapping[str, Any]) -> tuple[Any, tuple[int, ...] | None]:
        if entry.format == "json":
            payload = record.get("value")
            if not isinstance(payload, str) or _checksum_text(payload) != entry.checksum:
                raise _Corrupt("checksum mismatch")
            try:
                return _from_json(json.loads(payload)), None
            except (ValueError, KeyError, TypeError) as exc:
                raise _Corrupt(f"undecodable value: {exc}") from exc
        identity = self._verify_file(entry)
        assert entry.path is not None
        try:
            if entry.format == "pickle":
                return pickle.loads(entry.path.read_bytes()), identity
            frame = pl.read_ipc(entry.path)
        except FileNotFoundError as exc:
            raise _Corrupt("value file missing") from exc
        except Exception as exc:
            raise _Corrupt(f"unreadable value file: {exc}") from exc
        if entry.sorted_columns:
            frame = frame.with_columns(
                _restore_sorted(frame.get_column(name), entry.sorted_columns)
                for name in entry.sorted_columns
                if name in frame.columns
            )
        return (frame.to_series(0) if entry.kind == "series" else frame), identity

    def _verify_file(
        self, entry: Entry, *, force: bool = False, info: os.stat_result | None = None
    ) -> tuple[int, ...] | None:
        """Check the value file; re-hash it unless its identity vouches for it.

        ``info`` is the file's stat when the caller has it open already. Returns the file's
        identity when it was re-hashed and that identity is worth recording in the index
        (settled, and not the one recorded), else None.
        """
        path = entry.path
        if path is None:
            raise _Corrupt("record names no value file")
        if info is None:
            try:
                info = os.stat(path)
            except FileNotFoundError as exc:
                raise _Corrupt("value file missing") from exc
        if info.st_size != entry.size_bytes:
            raise _Corrupt(f"size {info.st_size} bytes, expected {entry.size_bytes}")
        identity = (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino, time.time_ns())
        if not force and self.verify == "stat" and _vouches(entry.identity, identity):
            return None
        name = str(path)
        if not force and self.verify != "always":
            with self._lock:
                seen = self._verified.get(name)
            if seen is not None and seen[1] == entry.checksum and _vouches(seen[0], identity):
                return None
        try:
            actual = _checksum_file(path)
        except FileNotFoundError as exc:
            raise _Corrupt("value file missing") from exc
        if actual != entry.checksum:
            raise _Corrupt("checksum mismatch")
        with self._lock:
            self._verified[name] = (identity, entry.checksum)
        if _settled(identity) and not _vouches(entry.identity, identity):
            return identity
        return None

    def _record(self, key: str) -> dict[str, Any] | None:
        return _parse_record(self._index.get(key))

    def _note_reads(
        self,
        entries: Sequence[Entry],
        identities: Mapping[str, tuple[Entry, tuple[int, ...]]],
    ) -> None:
        """Record uses (at most once an hour per entry, since pruning counts in days) and the
        identities of files just re-hashed, in one index transaction.

        Both are bookkeeping: if the index is busy or read-only, the read still succeeds.
        """
        now = self._clock()
        stale = {e.key: e for e in entries if now - e.last_used >= _TOUCH_INTERVAL_SECONDS}
        if not stale and not identities:
            return
        index = self._index
        try:
            with index.transact():
                for key in {*stale, *identities}:
                    entry = stale[key] if key in stale else identities[key][0]
                    current = self._record(key)
                    if current is None or current.get("file") != _file_name(entry):
                        continue  # cleared or replaced meanwhile
                    if key in stale:
                        current["last_used"] = now
                    if key in identities:
                        current["stat"] = list(identities[key][1])
                    index.set(key, json.dumps(current, separators=(",", ":")))
        except (diskcache.Timeout, sqlite3.Error):
            pass

    def _drop_corrupt(self, entry: Entry, reason: str) -> None:
        key = entry.key
        current = self._record(key)
        if current is None or current.get("file") != _file_name(entry):
            return  # cleared or replaced while we read it: a plain miss, nothing is corrupt
        warnings.warn(
            f"Cache entry for `{entry.node}` is unusable ({reason}); it was removed and the "
            "node will be recomputed.\n"
            f"  key: {key}\n"
            f"  file: {entry.path if entry.path is not None else '(in the index)'}\n"
            "Hint: nothing to do if this is rare; if it repeats, check the disk holding "
            f"{self.path}.",
            CacheCorruptionWarning,
            stacklevel=3,
        )
        self._remove_if_same(key, current)

    def verify_entries(self, node: str | None = None) -> tuple[int, int]:
        """Re-hash every value file (or ``node``'s), whatever its identity says.

        Corrupt entries warn and are removed, as on a read. Returns (entries checked, entries
        removed as corrupt).
        """
        checked = removed = 0
        identities: dict[str, tuple[Entry, tuple[int, ...]]] = {}
        for entry in self.entries(node):
            checked += 1
            try:
                if entry.format == "json":  # the value is in the record: read it again
                    record = self._record(entry.key)
                    if record is not None:
                        self._read(entry, record)
                    continue
                identity = self._verify_file(entry, force=True)
            except _Corrupt as exc:
                self._drop_corrupt(entry, str(exc))
                removed += 1
                continue
            if identity is not None:
                identities[entry.key] = (entry, identity)
        self._note_reads([], identities)  # one transaction for all re-hashed files
        return checked, removed

    # inspection and clean-up ----------------------------------------------------------------

    def entries(self, node: str | None = None) -> list[Entry]:
        """All entries (or those of ``node``), oldest first."""
        found: list[Entry] = []
        for key in list(self._index):
            if not isinstance(key, str):
                continue
            record = self._record(key)
            if record is None or (node is not None and record.get("node") != node):
                continue
            found.append(_entry(self, key, record))
        found.sort(key=lambda e: (e.created, e.key))
        return found

    def total_size(self) -> int:
        """Bytes held by all entries' values."""
        return sum(entry.size_bytes for entry in self.entries())

    def clear(self, node: str | None = None) -> int:
        """Remove the entries of ``node``, or all entries; returns how many were removed."""
        removed = 0
        for entry in self.entries(node):
            record = self._record(entry.key)
            if record is not None and self._remove_if_same(entry.key, record):
                removed += 1
        if node is None:
            self._sweep_orphans()
        return removed

    def prune(self, older_than_days: float) -> int:
        """Remove entries not used for ``older_than_days`` days; returns how many."""
        cutoff = self._clock() - older_than_days * 86400.0
        removed = 0
        for entry in self.entries():
            if entry.last_used >= cutoff:
                continue
            record = self._record(entry.key)
            if record is not None and self._remove_if_same(entry.key, record):
                removed += 1
        self._sweep_orphans()
        return removed

    def _remove_if_same(self, key: str, record: Mapping[str, Any]) -> bool:
        """Delete ``key`` if it still points at ``record``'s file, then the file itself."""
        index = self._index
        with index.transact():
            current = self._record(key)
            if current is None or current.get("file") != record.get("file"):
                return False
            index.delete(key)
        file_name = record.get("file")
        if isinstance(file_name, str):
            _forget_column(self.values_dir / file_name)
            _remove(self.values_dir / file_name)
        return True

    def _sweep_orphans(self) -> None:
        """Delete value files no entry references: leftovers of killed writers and overwrites.

        Only files older than a grace period, so a concurrent writer's file that is complete
        but not yet indexed is left alone.
        """
        referenced = {entry.path.name for entry in self.entries() if entry.path is not None}
        cutoff = time.time() - _ORPHAN_GRACE_SECONDS
        for candidate in self.values_dir.iterdir():
            if candidate.name in referenced:
                continue
            with contextlib.suppress(OSError):
                if candidate.is_file() and candidate.stat().st_mtime < cutoff:
                    candidate.unlink()


# --------------------------------------------------------------------------------------------
# Helpers

_MAPPED_MAX = 4096
_MAPPED: collections.OrderedDict[str, tuple[str, tuple[int, ...], pl.Series]] = (
    collections.OrderedDict()
)
"""Series this process mapped from value files, by file path: (checksum, the file's (size,
mtime, ctime, inode) when mapped, series). A warm rerun asks for the same files again: one
``stat`` each then tells that the file is still the one mapped (value files are never written
in place: a write makes a new file, and any write would move the mtime and ctime), instead of
opening, mapping and converting it again (a sixth of the forecast's warm rerun). Least
recently used first out (4,096 files); an entry removed by this process forgets its file, so
that its disk space is freed with the mapping; a file another process removes stays mapped
(its space held) until it is pushed out or this process ends."""
_MAPPED_LOCK = threading.Lock()


def _remember_column(entry: Entry, current: tuple[int, ...], series: pl.Series) -> None:
    if entry.path is None:
        return
    with _MAPPED_LOCK:
        _MAPPED[str(entry.path)] = (entry.checksum, current, series)
        _MAPPED.move_to_end(str(entry.path))
        while len(_MAPPED) > _MAPPED_MAX:
            _MAPPED.popitem(last=False)


def _forget_column(path: Path) -> None:
    with _MAPPED_LOCK:
        _MAPPED.pop(str(path), None)


def forget_memos() -> None:
    """Forget the series this process mapped (what a new process would not know)."""
    with _MAPPED_LOCK:
        _MAPPED.clear()


def _parse_record(text: Any) -> dict[str, Any] | None:
    """An index record from its JSON text; None for anything else (a miss)."""
    if not isinstance(text, str):
        return None
    try:
        record = json.loads(text)
    except ValueError:
        return None
    if not isinstance(record, dict) or record.get("v") != _RECORD_VERSION:
        return None
    return record


def _entry(store: CacheStore, key: str, record: Mapping[str, Any]) -> Entry:
    file_name = record.get("file")
    parts = record.get("parts")  # freshly decoded JSON: nobody else holds it
    stat = record.get("stat")
    identity = (
        tuple(stat)
        if isinstance(stat, list) and len(stat) == 5 and all(type(v) is int for v in stat)
        else None
    )
    return Entry(
        key=key,
        node=str(record.get("node", "")),
        kind=str(record.get("kind", "")),
        format=str(record.get("format", "")),
        size_bytes=int(record.get("size", 0)),
        created=float(record.get("created", 0.0)),
        last_used=float(record.get("last_used", 0.0)),
        checksum=str(record.get("checksum", "")),
        path=store.values_dir / file_name if isinstance(file_name, str) else None,
        parts=parts if isinstance(parts, dict) else {},
        identity=identity,
        layout=tuple(layout) if isinstance(layout := record.get("layout"), list) else None,
        sorted_columns=flags if isinstance(flags := record.get("sorted"), dict) else {},
    )


def _sorted_flags(frame: pl.DataFrame) -> dict[str, str]:
    """The columns of a frame that Polars knows to be sorted, by name.

    The flag is part of what a value is to the rest of a query: Polars picks its algorithms by
    it (a sorted partition key groups by slices, and a mean over slices sums in another order
    than over gathered rows, so the last bits differ). A cached value must come back with the
    flags the computed one had, or a cached run differs from an uncached one.
    """
    return {c.name: flag for c in frame.get_columns() if (flag := sorted_flag(c))}


def _restore_sorted(series: pl.Series, flags: Mapping[str, str]) -> pl.Series:
    how = flags.get(series.name)
    return series if how is None else series.set_sorted(descending=how == "desc")


def _file_name(entry: Entry) -> str | None:
    return None if entry.path is None else entry.path.name


def _identity(path: Path) -> tuple[int, int, int, int, int]:
    """(size, mtime_ns, ctime_ns, inode, now_ns): what a file is, and when we looked."""
    info = os.stat(path)
    return (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino, time.time_ns())


def _settled(identity: tuple[int, ...]) -> bool:
    """Taken long enough after the file's mtime that a later write would move the mtime."""
    return identity[4] - identity[1] >= _RACY_NS


def _vouches(recorded: tuple[int, ...] | None, current: tuple[int, ...]) -> bool:
    """Whether a recorded identity proves the file unchanged since it was checksummed."""
    return recorded is not None and recorded[:4] == current[:4] and _settled(recorded)


_LAYOUT_VERSION = 1


def _column_layout(path: Path) -> list[Any] | None:
    """Where a one-column IPC file's buffers lie, for a fixed-width type; else None.

    ``[version, name, type, length, null count, [[offset, size] or None, ...]]``, offsets from
    the start of the file. The file's checksum vouches for these as for the rest of it.
    """
    with open(path, "rb") as handle:
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    base = pa.py_buffer(mapped)  # the mapping is released with the last buffer into it
    try:
        reader = pa.ipc.open_file(pa.BufferReader(base))
        if reader.num_record_batches != 1 or len(reader.schema) != 1:
            return None
        field_ = reader.schema.field(0)
        kind = field_.type
        if field_.metadata or not (
            pa.types.is_integer(kind)
            or pa.types.is_floating(kind)
            or pa.types.is_boolean(kind)
            or pa.types.is_date(kind)
            or pa.types.is_time(kind)
            or pa.types.is_duration(kind)
            or (pa.types.is_timestamp(kind) and kind.tz is None)
        ):
            return None
        try:
            if _arrow_type(str(kind)) != kind:
                return None
        except (KeyError, ValueError, pa.ArrowException):  # no alias for this type
            return None
        column = reader.get_batch(0).column(0)
        if column.offset:
            return None
        buffers = [
            None if b is None else [b.address - base.address, b.size] for b in column.buffers()
        ]
        return [_LAYOUT_VERSION, field_.name, str(kind), len(column), column.null_count, buffers]
    except pa.ArrowException:
        return None


@functools.lru_cache(maxsize=64)
def _arrow_type(name: str) -> Any:
    return pa.type_for_alias(name)


def _map_single_column(entry: Entry, descriptor: int) -> tuple[tuple[str, Any], Any]:
    """The one column of an Arrow IPC value file open as ``descriptor``, memory-mapped:
    ((name, its field when it has more than a name and type), array or chunked array). The
    mapping outlives the descriptor."""
    try:
        mapped = mmap.mmap(descriptor, 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError) as exc:
        raise _Corrupt(f"unreadable value file: {exc}") from exc
    layout = entry.layout
    if layout is not None and len(layout) == 6 and layout[0] == _LAYOUT_VERSION:
        # Straight from the recorded buffer positions: no footer to parse (a third of the cost
        # of a read). The mapping lives as long as Arrow, then Polars, holds these buffers.
        _, name, type_name, length, null_count, spans = layout
        base = pa.py_buffer(mapped)
        try:
            if any(s is not None and s[0] + s[1] > base.size for s in spans):
                raise _Corrupt("a buffer lies past the end of the file")
            buffers = [None if span is None else base.slice(*span) for span in spans]
            kind = _arrow_type(type_name)
            array = pa.Array.from_buffers(kind, length, buffers, null_count)
            array.validate()
        except (pa.ArrowException, TypeError, ValueError) as exc:
            raise _Corrupt(f"unreadable value file: {exc}") from exc
        return (name, None), array
    try:
        # The mapping lives as long as Arrow (and then Polars) holds buffers into it.
        reader = pa.ipc.open_file(pa.BufferReader(pa.py_buffer(mapped)))
        schema = reader.schema
        if len(schema) != 1:
            raise _Corrupt(f"expected one column, found {len(schema)}")
        chunks = [reader.get_batch(i).column(0) for i in range(reader.num_record_batches)]
        field_ = schema.field(0)
        return (field_.name, field_), pa.chunked_array(chunks, type=field_.type)
    except (pa.ArrowException, OSError) as exc:
        raise _Corrupt(f"unreadable value file: {exc}") from exc


def _check_key(key: str) -> None:
    if not isinstance(key, str) or not key:
        raise CacheError(
            f"A cache key must be a non-empty string, got {key!r}.\n"
            "Hint: build keys with `hamilton_fast.cache.node_key`."
        )


def _file_stem(key: str) -> str:
    return key if _SAFE_KEY.fullmatch(key) else xxhash.xxh3_128_hexdigest(key.encode())


def _classify(node: str, value: Any, format: Format | None) -> tuple[Kind, Format]:
    if format not in (None, "ipc", "json", "pickle"):
        raise CacheError(
            f"Unknown cache format {format!r} for `{node}`.\n"
            'Hint: use format="ipc", "json" or "pickle", or leave it out.'
        )
    if format == "pickle":
        return "object", "pickle"
    if isinstance(value, pl.DataFrame | pl.LazyFrame | pl.Series) and format in (None, "ipc"):
        schema = (
            {value.name: value.dtype}
            if isinstance(value, pl.Series)
            else value.collect_schema()
            if isinstance(value, pl.LazyFrame)
            else value.schema
        )
        objects = [name for name, dtype in schema.items() if _holds_objects(dtype)]
        if objects:
            raise CacheError(
                f"Cannot cache the value of `{node}`: column `{objects[0]}` holds Python objects "
                "(dtype Object), which Arrow IPC cannot store.\n"
                'Hint: mark the node `@cache(format="pickle")`, or `@cache(behavior="disable")`.'
            )
        return ("series" if isinstance(value, pl.Series) else "frame"), "ipc"
    if format in (None, "json"):
        try:
            _to_json(value)
        except _NotJsonable as exc:
            problem = str(exc)
        else:
            return "scalar", "json"
    else:
        problem = f"format {format!r} only holds frames and series"
    raise CacheError(
        f"Cannot cache the value of `{node}`: a `{type(value).__module__}."
        f"{type(value).__qualname__}` is not a frame, series or JSON-encodable value.\n"
        f"  detail: {problem}\n"
        'Hint: mark the node `@cache(format="pickle")` to store it with pickle, or '
        '`@cache(behavior="disable")` to not cache it.'
    )


def _holds_objects(dtype: Any) -> bool:
    pending = [dtype]
    while pending:
        current = pending.pop()
        if isinstance(current, pl.Object):
            return True
        if isinstance(current, pl.List | pl.Array):
            pending.append(current.inner)
        elif isinstance(current, pl.Struct):
            pending.extend(field.dtype for field in current.fields)
    return False


def _write_value(path: str, kind: str, fmt: str, value: Any) -> dict[str, str]:
    """Write ``value`` to ``path``; returns its sorted columns (see ``_sorted_flags``)."""
    if fmt == "pickle":
        with open(path, "wb") as handle:
            pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
        return {}
    if isinstance(value, pl.LazyFrame):
        # Collected, not sunk: the sorted flags the user's own `collect()` would give exist
        # only on the collected frame (the default engine, as a plain `collect()` uses).
        value = value.collect()
    frame = value.to_frame() if isinstance(value, pl.Series) else value
    # One record batch: a memory-mapped read then gives one chunk per column, which Polars
    # takes over far faster than Polars' default of a batch per 125,000 rows.
    frame.write_ipc(path, compression="uncompressed", record_batch_size=max(frame.height, 1))
    return _sorted_flags(frame)


def _fsync_path(path: str | Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _checksum_file(path: Path) -> str:
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size == 0:
            return xxhash.xxh3_128_hexdigest(b"")
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            return xxhash.xxh3_128_hexdigest(mapped)


def _checksum_text(text: str) -> str:
    return xxhash.xxh3_128_hexdigest(text.encode("utf-8", "surrogatepass"))


# --------------------------------------------------------------------------------------------
# Typed JSON for scalars: exact round trips, no pickle


class _NotJsonable(Exception):
    pass


def _to_json(value: Any) -> Any:
    kind = type(value)
    if value is None:
        return {"t": "none"}
    if kind is bool:
        return {"t": "bool", "v": value}
    if kind is int:
        return {"t": "int", "v": str(value)}
    if kind is float:
        return {"t": "float", "v": value.hex()}
    if kind is str:
        return {"t": "str", "v": value}
    if kind is bytes:
        return {"t": "bytes", "v": base64.b64encode(value).decode()}
    if kind is complex:
        return {"t": "complex", "re": value.real.hex(), "im": value.imag.hex()}
    if kind is decimal.Decimal:
        return {"t": "decimal", "v": str(value)}
    if kind is dt.datetime:
        return {"t": "datetime", "v": value.replace(tzinfo=None).isoformat(), **_tz_json(value)}
    if kind is dt.date:
        return {"t": "date", "v": value.isoformat()}
    if kind is dt.time:
        if value.tzinfo is not None:
            raise _NotJsonable("a time of day with a time zone")
        return {"t": "time", "v": value.isoformat(), "fold": value.fold}
    if kind is dt.timedelta:
        return {"t": "timedelta", "v": [value.days, value.seconds, value.microseconds]}
    if isinstance(value, pathlib.PurePath) and kind.__module__ == "pathlib":
        return {"t": "path", "cls": kind.__name__, "v": str(value)}
    if isinstance(value, np.generic) and not value.dtype.hasobject:
        return {
            "t": "np",
            "dtype": value.dtype.str,
            "v": base64.b64encode(value.tobytes()).decode(),
        }
    if kind in (list, tuple, set, frozenset):
        return {"t": kind.__name__, "v": [_to_json(item) for item in value]}
    if kind is dict:
        return {"t": "dict", "v": [[_to_json(k), _to_json(v)] for k, v in value.items()]}
    raise _NotJsonable(f"`{kind.__module__}.{kind.__qualname__}` has no exact JSON form")


def _tz_json(value: dt.datetime) -> dict[str, Any]:
    tz = value.tzinfo
    if tz is None:
        return {"fold": value.fold}
    if isinstance(tz, zoneinfo.ZoneInfo):
        return {"fold": value.fold, "zone": tz.key}
    if type(tz) is dt.timezone:
        offset = tz.utcoffset(None)
        name = tz.tzname(None)
        default = dt.timezone(offset).tzname(None)
        return {
            "fold": value.fold,
            "offset": offset.total_seconds(),
            "tzname": None if name == default or tz is dt.UTC else name,
            "utc": tz is dt.UTC,
        }
    raise _NotJsonable(f"a datetime with a `{type(tz).__qualname__}` time zone")


def _from_json(obj: Any) -> Any:
    tag = obj["t"]
    if tag == "none":
        return None
    if tag in ("bool", "str"):
        return obj["v"]
    if tag == "int":
        return int(obj["v"])
    if tag == "float":
        return float.fromhex(obj["v"])
    if tag == "bytes":
        return base64.b64decode(obj["v"])
    if tag == "complex":
        return complex(float.fromhex(obj["re"]), float.fromhex(obj["im"]))
    if tag == "decimal":
        return decimal.Decimal(obj["v"])
    if tag == "datetime":
        naive = dt.datetime.fromisoformat(obj["v"]).replace(fold=obj["fold"])
        if "zone" in obj:
            return naive.replace(tzinfo=zoneinfo.ZoneInfo(obj["zone"]))
        if "offset" in obj:
            if obj["utc"]:
                return naive.replace(tzinfo=dt.UTC)
            delta = dt.timedelta(seconds=obj["offset"])
            zone = dt.timezone(delta, obj["tzname"]) if obj["tzname"] else dt.timezone(delta)
            return naive.replace(tzinfo=zone)
        return naive
    if tag == "date":
        return dt.date.fromisoformat(obj["v"])
    if tag == "time":
        return dt.time.fromisoformat(obj["v"]).replace(fold=obj["fold"])
    if tag == "timedelta":
        days, seconds, micros = obj["v"]
        return dt.timedelta(days=days, seconds=seconds, microseconds=micros)
    if tag == "path":
        return getattr(pathlib, obj["cls"])(obj["v"])
    if tag == "np":
        raw = base64.b64decode(obj["v"])
        return np.frombuffer(raw, dtype=np.dtype(obj["dtype"]))[0]
    if tag in ("list", "tuple", "set", "frozenset"):
        items = [_from_json(item) for item in obj["v"]]
        return {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}[tag](items)
    if tag == "dict":
        return {_from_json(k): _from_json(v) for k, v in obj["v"]}
    raise KeyError(tag)
