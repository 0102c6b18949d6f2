"""The node cache as a run sees it: keys, hits, writes, and the report of the last run.

Before a run, every needed node gets a Merkle key (its code, decorator specs, type, and the
keys of its dependencies; inputs by their data). A requested node, or a node upstream of one,
whose key is stored becomes a *hit*: its stored column is memory-mapped into the query (pages
are read only where the query touches them), and nothing above it is computed or read. After
the collect, requested nodes that were computed are written in a background thread
(``NodeCache.wait`` joins it; so does interpreter exit).

Only requested nodes are stored: they are materialized anyway, so caching them costs a write
and no extra computation. Ask for the intermediate nodes you want to keep.
"""

from __future__ import annotations

import atexit
import threading
import typing
import warnings
from collections.abc import Hashable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from hamilton_fast.cache import code as code_module
from hamilton_fast.cache import fingerprint as fingerprint_module
from hamilton_fast.cache import libraries
from hamilton_fast.cache import store as store_module
from hamilton_fast.cache.fingerprint import (
    DiskValuesMemo,
    UnfingerprintableError,
    fingerprint_frame,
    fingerprint_frames,
    fingerprint_function,
    fingerprint_lazyframe,
    fingerprint_value,
    node_key_parts,
)
from hamilton_fast.cache.keys import key_of_parts
from hamilton_fast.cache.stamps import call_stamp
from hamilton_fast.cache.store import CacheStore, Entry, Verify
from hamilton_fast.errors import CacheError
from hamilton_fast.graph import Graph, NodeRole, describe_type
from hamilton_fast.nodes import Node
from hamilton_fast.planner.compile import run_function
from hamilton_fast.planner.ir import Cached, Compiled
from hamilton_fast.planner.sortedness import mark_sorted

__all__ = ["BEHAVIORS", "CachePlan", "NodeCache", "NodeStatus", "forget_process_memos"]

BEHAVIORS = ("default", "recompute", "disable", "ignore")
_SHAPE = "shape"  # extra entry in stored parts: how to read the value back

_CODE_MEMO: dict[Hashable, str] = {}
"""Code fingerprints by call stamp, shared by the drivers and threads of this process: a rerun
(a notebook cell, a script's next run in the same interpreter) re-takes only the stamps."""
_CODE_MEMO_LOCK = threading.Lock()
_CODE_MEMO_SIZE = 65_536


def forget_process_memos() -> None:
    """Forget what this process remembers about code and files, as a new process starts:
    parsed source files, code fingerprints, what code reads, which modules are library code
    and their versions, file fingerprints. The cache directory's own memos stay. For tests
    and benchmarks of reruns in a new process; results never depend on it."""
    with _CODE_MEMO_LOCK:
        _CODE_MEMO.clear()
    code_module.forget_memos()
    libraries.forget_memos()
    fingerprint_module.forget_memos()
    store_module.forget_memos()


@dataclass(frozen=True)
class NodeStatus:
    """What the cache did for one node in the last run."""

    name: str
    status: str  # hit, computed, not needed, input, override, uncacheable
    key: str | None
    size: int | None = None
    detail: str = ""


@dataclass
class CachePlan:
    """Keys and hits for one request (internal to a run)."""

    keys: dict[str, str | None]
    parts: dict[str, dict[str, str]]
    problems: dict[str, str]
    cached: dict[str, Cached]
    needed: set[str]
    computed: set[str]
    sources: dict[str, Any]  # frame-producing nodes called while keying (see prepare)
    overrides: frozenset[str] = frozenset()
    sizes: dict[str, int] = field(default_factory=dict)  # stored bytes of the hits
    stamps: dict[str, Hashable | None] = field(default_factory=dict)  # taken while keying


class NodeCache:
    """``dr.cache``: the store, per-node behaviours, and what the last run did.

    Behaviours (Hamilton's names): ``default`` reads and writes; ``recompute`` always computes
    and overwrites; ``disable`` neither reads nor writes; ``ignore`` also leaves the node out
    of its dependents' keys (for values that do not change results, like a client object).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        default_behavior: str = "default",
        behaviors: Mapping[str, str] | None = None,
        verify: Verify = "stat",
    ) -> None:
        if default_behavior not in BEHAVIORS:
            raise CacheError(
                f"unknown cache behaviour {default_behavior!r}.\n"
                f"Hint: choose one of {', '.join(BEHAVIORS)}."
            )
        self.path = Path(path).absolute()  # as the store does: a later chdir changes nothing
        self.store = CacheStore(self.path, verify=verify)
        self.store.open()  # at build: a bad directory fails early, and runs skip ~3 ms
        self._values_memo = DiskValuesMemo(self.path)  # opened now too, for the same reason
        self.default_behavior = default_behavior
        self._behaviors = dict(behaviors or {})
        self._code: dict[str, str] = {}  # this run's code fingerprints, by node
        self._stamps: dict[str, Hashable | None] = {}  # this run's call stamps, by node
        self._last: dict[str, NodeStatus] = {}
        self._parts: dict[str, dict[str, str]] = {}
        self._writes: list[Future[Any]] = []
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    # -- behaviours --------------------------------------------------------------------------

    def behavior(self, node: Node) -> str:
        """A node's behaviour: the builder's lists first, then ``@cache``, then the default."""
        if node.name in self._behaviors:
            return self._behaviors[node.name]
        tagged = node.tags.get("cache.behavior")
        return str(tagged) if tagged else self.default_behavior

    def named_nodes(self) -> list[str]:
        """Nodes given a behaviour by name (checked against the graph by the driver)."""
        return sorted(self._behaviors)

    # -- keys --------------------------------------------------------------------------------

    def _code_of(self, node: Node) -> str:
        code = self._code.get(node.name)
        if code is None:
            if node.role is NodeRole.EXTRACTED:
                code = fingerprint_value(("extract", node.column, node.has_fill, node.fill_with))
            else:
                code = self._function_code(node)
            self._code[node.name] = code
        return code

    def _function_code(self, node: Node) -> str:
        """The code fingerprint of a node's function, reused in this process under an equal
        call stamp.

        A stamp (:mod:`hamilton_fast.cache.stamps`) covers everything a code fingerprint
        reads (code, defaults, closure, globals and helpers, decorator specs) at a fifth of
        the cost, so equal stamps mean equal fingerprints; code objects compare by content,
        so a rerun that reimports unchanged modules is served too.
        """
        fn = node.fn
        own = fn is not None and fn is node.origin
        stamp = call_stamp(fn) if fn is not None else None
        self._stamps[node.name] = stamp  # the planner's trace memo reuses it
        memo_key = (own, stamp)  # a function fingerprints otherwise as a wrapper's field
        if stamp is not None:
            with _CODE_MEMO_LOCK:
                known = _CODE_MEMO.get(memo_key)
            if known is not None:
                return known
        if fn is not None and own:
            code = fingerprint_function(fn, memo_dir=self.path)
        else:  # a decorator's wrapper: its fields, and the functions it calls
            code = fingerprint_value(fn, memo_dir=self.path, allow_code=True)
        if stamp is not None:
            with _CODE_MEMO_LOCK:
                if len(_CODE_MEMO) >= _CODE_MEMO_SIZE:
                    _CODE_MEMO.clear()  # stamps of code long replaced: let them go
                _CODE_MEMO[memo_key] = code
        return code

    def _input_key(self, value: Any) -> str:
        if isinstance(value, (pl.DataFrame, pl.Series)):
            return fingerprint_frame(value, self._values_memo)
        if isinstance(value, pl.LazyFrame):
            return fingerprint_lazyframe(value, memo_dir=self.path)
        return fingerprint_value(value, memo_dir=self.path)

    def _modifiers(self, node: Node, engine: str) -> str:
        tags = sorted((k, str(v)) for k, v in node.tags.items() if k != "module")
        checks = [f"{c.validator}:{c.importance}" for c in node.checks]
        return f"{describe_type(node.annotation)}|{tags}|{checks}|engine={engine}"

    def prepare(
        self,
        graph: Graph,
        outputs: Sequence[str],
        values: Mapping[str, Any],
        overrides: Mapping[str, Any],
        engine: str,
    ) -> CachePlan:
        """Keys for every needed node, and the hits that cut the computation short."""
        # Code fingerprints are taken afresh each run: a module constant, a mutable global or
        # a helper can be reassigned between two runs of one driver without any reimport.
        self._code.clear()
        self._stamps = {}
        needed = graph.upstream(outputs, stop_at=overrides)
        keys: dict[str, str | None] = {}
        parts: dict[str, dict[str, str]] = {}
        problems: dict[str, str] = {}
        sources: dict[str, Any] = {}
        order = graph.sorted(needed)
        batched = self._data_keys(graph, order, values, overrides)
        for name in order:
            node = graph.nodes[name]
            try:
                if name in overrides:
                    keys[name] = "override:" + (
                        batched.get(name) or self._input_key(overrides[name])
                    )
                elif node.role in (NodeRole.INPUT, NodeRole.CONFIG):
                    keys[name] = (
                        batched.get(name) or self._input_key(values[name])
                        if name in values
                        else "absent"
                    )
                elif _is_source(node, graph, sources, values):
                    # A loader: its result depends on files the key cannot see from the code,
                    # so it is called now (once; the run reuses the value) and its result, a
                    # plan over files, is fingerprinted by their content.
                    kwargs = {
                        # Inputs flagged as the planner would pass them (sortedness.py).
                        d.name: sources[d.name]
                        if d.name in sources
                        else mark_sorted(values[d.name])
                        for d in node.dependencies
                        if d.name in sources or d.name in values
                    }
                    sources[name] = run_function(node, kwargs)
                    read = {"data": fingerprint_value(sources[name], memo_dir=self.path)}
                    keys[name], parts[name] = self._function_key(graph, node, keys, engine, read)
                else:
                    keys[name], parts[name] = self._function_key(graph, node, keys, engine)
            except UnfingerprintableError as exc:
                keys[name] = None
                problems[name] = str(exc).splitlines()[0]
            if keys[name] is None and name not in problems:
                bad = [d.name for d in node.dependencies if keys.get(d.name, "") is None]
                problems[name] = f"its dependency `{bad[0]}` cannot be fingerprinted"
        given = {**overrides, **sources}
        cached, sizes = self._hits(graph, outputs, given, needed, keys)
        computed = graph.upstream(outputs, stop_at={*overrides, *cached}) - {*cached, *overrides}
        return CachePlan(
            keys,
            parts,
            problems,
            cached,
            needed,
            computed,
            sources,
            frozenset(overrides),
            sizes,
            self._stamps,
        )

    def _data_keys(
        self,
        graph: Graph,
        order: Sequence[str],
        values: Mapping[str, Any],
        overrides: Mapping[str, Any],
    ) -> dict[str, str]:
        """Fingerprints of the request's frame and series inputs and overrides, all their
        columns hashed together (on threads when they are big): inputs are often many Series,
        each too small to be worth threads alone. Empty if one of them cannot be
        fingerprinted: the keying loop then names it."""
        named: dict[str, pl.DataFrame | pl.Series] = {}
        for name in order:
            if name in overrides:
                value = overrides[name]
            elif graph.nodes[name].role in (NodeRole.INPUT, NodeRole.CONFIG) and name in values:
                value = values[name]
            else:
                continue
            if isinstance(value, (pl.DataFrame, pl.Series)):
                named[name] = value
        if len(named) < 2:
            return {}
        try:
            return dict(
                zip(named, fingerprint_frames(list(named.values()), self._values_memo), strict=True)
            )
        except UnfingerprintableError:
            return {}

    def _function_key(
        self,
        graph: Graph,
        node: Node,
        keys: Mapping[str, str | None],
        engine: str,
        bound: Mapping[str, str] | None = None,
    ) -> tuple[str | None, dict[str, str]]:
        dependency_keys: dict[str, str] = {}
        for dep in node.dependencies:
            if dep.name not in keys:
                continue  # an optional input's default: part of the code fingerprint
            if self.behavior(graph.nodes[dep.name]) == "ignore":
                continue
            key = keys[dep.name]
            if key is None:
                return None, {}
            dependency_keys[dep.name] = key
        code = self._code_of(node)
        modifiers = self._modifiers(node, engine)
        kind = node.role.value
        values = dict(bound or {})
        parts = node_key_parts(kind, node.name, code, modifiers, values, dependency_keys)
        return key_of_parts(parts), parts

    def _hits(
        self,
        graph: Graph,
        outputs: Sequence[str],
        overrides: Mapping[str, Any],
        needed: set[str],
        keys: Mapping[str, str | None],
    ) -> tuple[dict[str, Cached], dict[str, int]]:
        """The hits that cut the computation short, and their stored sizes."""
        # Below a node that is recomputed every run, a key cannot vouch for the data: the
        # recomputed value may differ while its code key stays the same.
        volatile = graph.downstream(
            n
            for n in needed
            if graph.nodes[n].role is NodeRole.FUNCTION
            and self.behavior(graph.nodes[n]) in ("recompute", "disable")
        )
        wanted: dict[str, str] = {}
        for name in needed - volatile:
            node = graph.nodes[name]
            key = keys.get(name)
            if (
                key is None
                or name in overrides
                or node.role in (NodeRole.INPUT, NodeRole.CONFIG)
                or self.behavior(node) != "default"
            ):
                continue
            wanted[name] = key
        found = self.store.lookup(wanted.values())
        candidates = {name: found[key] for name, key in wanted.items() if key in found}
        while True:
            used = graph.upstream(outputs, stop_at={*overrides, *candidates}) & set(candidates)
            cached: dict[str, Cached] = {}
            columns = [n for n in used if _shape(candidates[n]) == "column"]
            # Memory-mapped, zero-copy: pages are read only where the query touches them, and
            # the hits join one row space with the inputs instead of one scan each.
            mapped = self.store.map_columns([candidates[n] for n in columns])
            lost = [n for n in columns if candidates[n].key not in mapped]
            for name in columns:
                if name not in lost:
                    cached[name] = Cached("column", mapped[candidates[name].key])
            for name in graph.sorted(used - set(columns)):
                if lost:
                    break
                value = self._read(candidates[name])
                if value is None:
                    lost.append(name)
                else:
                    cached[name] = value
            if not lost:
                return cached, {n: candidates[n].size_bytes for n in cached}
            for name in lost:  # corrupted or vanished: recompute (the store warned)
                del candidates[name]

    def _read(self, entry: Entry) -> Cached | None:
        shape = _shape(entry)
        if entry.format == "ipc" and shape in ("scalar", "frame"):
            scan = self.store.scan(entry.key)  # verifies the file
            return None if scan is None else Cached(shape, scan)
        value = self.store.get(entry.key)
        if value is None and not self.store.contains(entry.key):
            return None  # corrupted and dropped (the store warned)
        return Cached("value", value)

    # -- after the run -----------------------------------------------------------------------

    def finish(
        self,
        graph: Graph,
        plan: CachePlan,
        compiled: Compiled,
        frames: Mapping[int, pl.DataFrame],
        collected: Mapping[str, pl.DataFrame],
    ) -> None:
        """Record the run's report and write the computed outputs in the background."""
        writes: list[tuple[str, str, Any, str | None, dict[str, str], bool]] = []
        for name in compiled.outputs:
            node = graph.nodes[name]
            key = plan.keys.get(name)
            if (
                name not in plan.computed
                or key is None
                or node.role in (NodeRole.INPUT, NodeRole.CONFIG)
                or self.behavior(node) not in ("default", "recompute")
            ):
                continue
            value: Any
            shape = "value"
            if name in compiled.output_group:
                series = frames[compiled.output_group[name]].get_column(name)
                if name in compiled.scalars:
                    shape, value = "scalar", series[:1]
                else:
                    shape, value = "column", series
            elif name in collected:
                shape, value = "frame", collected[name]
            else:
                value = compiled.values[name]
                if isinstance(value, pl.Series):
                    shape = "column"
                elif isinstance(value, (pl.DataFrame, pl.LazyFrame)):
                    shape = "frame"
            fmt = node.tags.get("cache.format")
            parts = {**plan.parts.get(name, {}), _SHAPE: shape}
            overwrite = self.behavior(node) == "recompute"
            writes.append((key, name, value, str(fmt) if fmt else None, parts, overwrite))
        self._report(graph, plan, compiled)
        if writes:
            future = self._executor().submit(self._write_all, writes)
            with self._lock:
                self._writes.append(future)

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hf-cache")
            atexit.register(self.wait)
        return self._pool

    def _write_all(
        self, writes: Iterable[tuple[str, str, Any, str | None, dict[str, str], bool]]
    ) -> None:
        for key, name, value, fmt, parts, overwrite in writes:
            try:
                self.store.put(key, name, value, fmt, parts=parts, overwrite=overwrite)  # type: ignore[arg-type]
            except CacheError as exc:
                warnings.warn(
                    f"`{name}` was computed but not cached: {str(exc).splitlines()[0]}",
                    CacheWriteWarning,
                    stacklevel=1,
                )

    def wait(self) -> None:
        """Block until the values of finished runs are written (called at exit too)."""
        with self._lock:
            pending, self._writes = self._writes, []
        for future in pending:
            future.result()

    def _report(self, graph: Graph, plan: CachePlan, compiled: Compiled) -> None:
        statuses: dict[str, NodeStatus] = {}
        requested = set(compiled.outputs)
        for name in graph.sorted(plan.needed):
            node = graph.nodes[name]
            key = plan.keys.get(name)
            if name in plan.overrides:
                status, detail = "override", "given in overrides=; not stored"
            elif node.role in (NodeRole.INPUT, NodeRole.CONFIG):
                status, detail = "input", ""
            elif name in plan.cached:
                status, detail = "hit", ""
            elif name in plan.sources:
                status = "computed"
                detail = "a loader: called every run, keyed by the data it reads"
            elif key is None:
                status, detail = "uncacheable", plan.problems.get(name, "")
            elif name in plan.computed:
                behavior = self.behavior(node)
                status = "computed"
                detail = "" if behavior == "default" else f"behavior={behavior}"
                if name not in requested:
                    detail = (detail + "; " if detail else "") + "not stored (not requested)"
            else:
                status, detail = "not needed", ""
            size = plan.sizes.get(name) if status == "hit" else None
            statuses[name] = NodeStatus(name, status, key, size, detail)
        self._last = statuses
        self._parts = plan.parts

    # -- what users call ---------------------------------------------------------------------

    @property
    def last_run(self) -> Mapping[str, NodeStatus]:
        """Per node: hit, computed, not needed, input or uncacheable, with key and size."""
        return dict(self._last)

    def status(self, node: str) -> NodeStatus:
        """The last run's status of one node."""
        try:
            return self._last[node]
        except KeyError:
            raise CacheError(
                f"`{node}` was not part of the last run.\n"
                "Hint: run `dr.execute([...])` with the node (or a node depending on it) first."
            ) from None

    def explain_miss(self, node: str) -> str:
        """Why ``node`` was recomputed in the last run: which part of its key changed."""
        status = self.status(node)
        if status.status == "hit":
            return f"`{node}` was a hit: it was read from the cache, not recomputed."
        if status.status != "computed":
            return f"`{node}` was {status.status}{': ' + status.detail if status.detail else ''}."
        behavior = status.detail
        if "behavior=" in behavior:
            return f"`{node}` was recomputed because its cache {behavior.split(';')[0]}."
        current = self._parts.get(node, {})
        previous = [e for e in self.store.entries(node) if e.key != status.key]
        if not previous:
            return (
                f"`{node}` has no earlier entry in the cache (first run, or it was cleared or "
                "pruned), so it was computed."
            )
        last = max(previous, key=lambda e: e.last_used)
        before = self._stored_parts(last)
        changed = sorted(k for k in set(current) | set(before) if current.get(k) != before.get(k))
        reasons = []
        for part in changed:
            if part.startswith("dependency:"):
                dep = part.split(":", 1)[1]
                why = ""
                if dep in self._last and self._last[dep].status == "computed":
                    why = " (" + self.explain_miss(dep).split(": ", 1)[-1].rstrip(".") + ")"
                elif dep in self._last and self._last[dep].status == "input":
                    why = " (its data changed)"
                reasons.append(f"its dependency `{dep}` changed{why}")
            elif part == "code":
                reasons.append("its code changed (the function, a helper, a constant or a default)")
            elif part == "modifiers":
                reasons.append("its decorators, tags or return type changed")
            else:
                reasons.append(f"{part} changed")
        if not reasons:
            return f"`{node}` was computed; an entry with an equal key was missing or corrupted."
        return f"`{node}` was recomputed: " + "; ".join(reasons) + "."

    @staticmethod
    def _stored_parts(entry: Entry, *, shape: bool = False) -> dict[str, str]:
        parts: dict[str, str] = dict(entry.parts)
        if not shape:
            parts.pop(_SHAPE, None)
        return parts

    def entries(self, node: str | None = None) -> list[Entry]:
        """Stored entries, all or one node's."""
        return self.store.entries(node)

    def size(self) -> int:
        """Bytes used by stored values."""
        return self.store.total_size()

    def clear(self, node: str | None = None) -> int:
        """Delete one node's entries, or everything; returns how many were removed."""
        self.wait()
        return self.store.clear(node)

    def prune(self, older_than_days: float) -> int:
        """Delete entries not used for ``older_than_days``; returns how many were removed."""
        self.wait()
        return self.store.prune(older_than_days)

    def verify(self, node: str | None = None) -> tuple[int, int]:
        """Re-hash every stored file (or ``node``'s); corrupt entries warn and are removed.

        Returns (entries checked, entries removed). Reads trust a file whose identity is
        unchanged since it was checksummed; this also catches rot below the file system.
        """
        self.wait()
        return self.store.verify_entries(node)

    def __repr__(self) -> str:
        counts: dict[str, int] = {}
        for status in self._last.values():
            counts[status.status] = counts.get(status.status, 0) + 1
        summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no run yet"
        return f"NodeCache({str(self.path)!r}; last run: {summary})"

    def table(self) -> str:
        """The last run as a table: node, status, size, key."""
        rows = [f"{'node':<32} {'status':<12} {'size':>10}  key"]
        for s in self._last.values():
            size = f"{s.size:,}" if s.size is not None else ""
            rows.append(f"{s.name:<32} {s.status:<12} {size:>10}  {(s.key or '')[:16]}")
        return "\n".join(rows)


def _shape(entry: Entry) -> str:
    """How a node's value was stored: column, scalar, frame or value (see ``finish``)."""
    shape = entry.parts.get(_SHAPE, "value")
    if entry.format != "ipc" and shape != "value":
        return "value"
    return shape


def _mentions_frame(annotation: Any) -> bool:
    if annotation in (pl.DataFrame, pl.LazyFrame):
        return True
    return any(_mentions_frame(a) for a in typing.get_args(annotation))


def _is_source(
    node: Node, graph: Graph, sources: Mapping[str, Any], values: Mapping[str, Any]
) -> bool:
    """A loader: a function making frames from paths and settings, whose result depends on
    files its key cannot see. Also a lazy plan built only on loaders (a join of two scans).

    Functions of data already fingerprinted (frame or Series inputs, computed nodes) are not
    sources, and neither is eager work on a loader's result (it is keyed by that result).
    """
    if node.role is not NodeRole.FUNCTION or not _mentions_frame(node.annotation):
        return False
    on_sources = False
    for dep in node.dependencies:
        if dep.name in sources:
            on_sources = True
            continue
        if graph.nodes[dep.name].role not in (NodeRole.INPUT, NodeRole.CONFIG):
            return False
        if isinstance(values.get(dep.name), (pl.DataFrame, pl.LazyFrame, pl.Series)):
            return False
    return not on_sources or node.annotation is pl.LazyFrame


class CacheWriteWarning(UserWarning):
    """A computed value could not be stored (it is still returned)."""
