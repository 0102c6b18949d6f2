"""Lower a request on a graph to Polars lazy queries, one per row space.

The compiler walks the needed nodes once, in topological order, and decides for each:

* **traced** (column or scalar): its expression joins the lazy query of its row space, in the
  ``with_columns`` layer one deeper than its deepest materialized dependency;
* **inlined**: a cheap element-wise node with a single element-wise consumer is substituted
  into that consumer instead of being materialized (DESIGN.md, correctness rule for inlining);
* **opaque**: the function runs for real at a *stage break*: the row space's query so far is
  collected (keeping only the columns still needed) and the function gets real Series;
* **value / frame**: inputs, config, and functions of Python values run directly; a frame
  (DataFrame or LazyFrame) becomes a row space whose extracted columns are projected, so
  Polars pushes the projection into the scan.

Traces are memoized per node, per dependency signature (which deps are columns, scalars or
which Python values) and per *call stamp* of the node's function (what it reads besides its
arguments: ``hamilton_fast.cache.stamps``), so repeated ``execute`` calls on one driver trace
nothing again until a constant, a helper or a global the function reads is reassigned. A node
without a stamp (it reads something mutable) is traced on every run, as Hamilton calls it.
"""

from __future__ import annotations

import itertools
import math
import numbers
import struct
import types
import typing
import warnings
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from hamilton_fast.errors import NodeError, PlanError, ShapeError
from hamilton_fast.expand.with_columns import AppendColumns
from hamilton_fast.graph import Graph, Node, NodeRole, ValueShape, describe_type
from hamilton_fast.nodes import CheckOutcome
from hamilton_fast.planner.exprs import is_streamable
from hamilton_fast.planner.ir import (
    Cached,
    Compiled,
    EngineName,
    NodeReport,
    PendingCheck,
    Recipe,
    Tail,
    judge_check,
)
from hamilton_fast.planner.sortedness import mark_sorted
from hamilton_fast.planner.trace import Opaque, Traced, trace_node

__all__ = ["TraceMemo", "compile_request", "run_function", "value_key"]

# Deepest chain of nodes substituted into one expression; deeper chains are materialized so
# expression trees stay shallow (Polars walks them recursively).
MAX_INLINE_DEPTH = 8

# Deepest stack of `with_columns` layers in one query. Polars executes and optimizes plans
# recursively; thousands of layers overflow a worker thread's stack (a 2,000-node chain of
# shifts crashed `collect_all`), so a deeper chain is collected in stages of this many layers.
MAX_LAYERS = 256

# Rows from which a row space's trailing element-wise layers run on the streaming engine (see
# ir.Tail). Below, the second collect's fixed cost (~0.2 ms) outweighs what it saves.
STREAMING_TAIL_MIN_ROWS = 100_000

TraceMemo = dict[Hashable, "Traced | Opaque"]


@dataclass
class _Group:
    """One row space: a lazy query under construction plus its pending layers."""

    gid: int
    lf: pl.LazyFrame
    height: int | None
    origin: str
    columns: set[str] = field(default_factory=set)
    layer_of: dict[str, int] = field(default_factory=dict)
    pending: list[dict[str, pl.Expr]] = field(default_factory=list)
    unplaced: set[str] = field(default_factory=set)  # traced, waiting for their consumer
    collected: pl.DataFrame | None = None
    log: list[tuple[Any, ...]] | None = None  # the compiler's replay log (see Recipe)
    # The source frame's own columns, carried under reserved names (see _carried) so that a
    # `@with_columns` append can rebuild the whole frame from this row space's query.
    frame_columns: tuple[str, ...] | None = None

    def place(self, name: str, expr: pl.Expr, deps: Sequence[str]) -> None:
        layer = 1 + max((self.layer_of.get(d, 0) for d in deps), default=0)
        while len(self.pending) < layer:
            self.pending.append({})
        self.pending[layer - 1][name] = expr
        self.layer_of[name] = layer
        self.columns.add(name)
        self.collected = None

    def flush(self) -> pl.LazyFrame:
        for layer in self.pending:
            exprs = list(layer.values())
            self.lf = self.lf.with_columns(exprs)
            if self.log is not None:
                self.log.append(("layer", self.gid, tuple(exprs)))
        if self.pending:
            self.collected = None
        self.pending = []
        self.layer_of = {}
        return self.lf


@dataclass
class _Slot:
    """What the compiler knows about a node's value."""

    kind: str  # column, scalar, value, frame
    group: _Group | None = None
    value: Any = None
    pending_expr: Traced | None = None  # an unplaced traced node, waiting for its consumer
    pending_deps: tuple[str, ...] = ()
    memo_key: Hashable = None
    depth: int = 0
    extract_group: _Group | None = None  # for a frame: the row space of its extracted columns


def run_function(node: Node, kwargs: Mapping[str, Any]) -> Any:
    """Call a node's function for real; a failure becomes a NodeError naming the node."""
    assert node.fn is not None
    try:
        return node.fn(**kwargs)
    except Exception as exc:
        raise NodeError(
            f"`{node.name}` failed: {type(exc).__name__}: {exc}\n"
            f"  function: {node.describe()}\n"
            "Hint: the original exception is chained above; fix the function or its inputs.",
            node=node.name,
        ) from exc


def value_key(value: Any) -> Hashable:
    """A memo key for a Python value passed to a traced function, or None if it has none."""
    if isinstance(value, float):  # -0.0 == 0.0, but x / -0.0 is -inf; NaNs differ by sign
        return ("float", struct.pack("<d", value) if math.isnan(value) else value.hex())
    if value is None or isinstance(value, (bool, int, str, bytes)):
        return (type(value).__name__, value)
    if isinstance(value, tuple):
        parts = [value_key(v) for v in value]
        return None if any(p is None for p in parts) else ("tuple", *parts)
    return None


class _Compiler:
    def __init__(
        self,
        graph: Graph,
        outputs: Sequence[str],
        values: Mapping[str, Any],
        overrides: Mapping[str, Any],
        memo: TraceMemo,
        stamp_of: Callable[[str], Hashable | None],
        engine: EngineName,
        cached: Mapping[str, Cached] | None = None,
    ) -> None:
        self.graph = graph
        self.cached = dict(cached or {})
        self.outputs = tuple(dict.fromkeys(outputs))
        self.requested = set(self.outputs)
        self.given = values  # inputs and config
        self.marked: dict[str, Any] = {}  # given values as the computation reads them
        self.overrides = overrides
        self.memo = memo
        self.stamp_of = stamp_of
        self.engine = engine
        self.slots: dict[str, _Slot] = {}
        self.reports: dict[str, NodeReport] = {}
        self.gids = itertools.count()
        self.stage_breaks = 0
        self.log: list[tuple[Any, ...]] = []
        self.replayable = True  # false once a step depended on data (see Recipe)
        self.breaking = False  # inside stage_break: placing nodes must not start another
        cut = {*overrides, *self.cached}
        needed = graph.upstream(self.outputs, stop_at=cut)
        self.order = graph.sorted(needed)
        self.position = {name: i for i, name in enumerate(self.order)}
        self.consumers: dict[str, list[str]] = {name: [] for name in self.order}
        for name in self.order:
            if name in cut:
                continue
            for dep in graph.nodes[name].dependencies:
                if dep.name in self.consumers:
                    self.consumers[dep.name].append(name)
        self.last_use = {
            name: max((self.position[c] for c in cons), default=-1)
            for name, cons in self.consumers.items()
        }

    # -- sources ---------------------------------------------------------------------------

    def seed_series(self) -> None:
        """Put Series inputs and overrides of equal length into one eager row space each."""
        by_height: dict[int, list[pl.Series]] = {}
        for name in self.order:
            hit = self.cached.get(name)
            if hit is not None and hit.kind == "column" and isinstance(hit.value, pl.Series):
                value: Any = hit.value  # a memory-mapped cached column: a row space like inputs
            else:
                value = self._given_value(name)
            if isinstance(value, pl.Series):
                named = value if value.name == name else value.alias(name)
                by_height.setdefault(value.len(), []).append(named)
        for height, series in by_height.items():
            names = ", ".join(f"`{s.name}`" for s in series[:3])
            group = _Group(
                next(self.gids),
                pl.DataFrame(series).lazy(),
                height,
                origin=f"Series {names}{' ...' if len(series) > 3 else ''} ({height} rows)",
                columns={s.name for s in series},
                log=self.log,
            )
            self.log.append(("series", group.gid, tuple(s.name for s in series)))
            for s in series:
                self.slots[s.name] = _Slot("column", group=group)

    def _given_value(self, name: str) -> Any:
        if name in self.overrides:
            return self.overrides[name]
        node = self.graph.nodes[name]
        if node.role in (NodeRole.INPUT, NodeRole.CONFIG) and name in self.given:
            if not self.consumers.get(name):  # read by no computation: as given
                return self.given[name]
            if name not in self.marked:  # sorted columns flagged for Polars (sortedness.py)
                self.marked[name] = mark_sorted(self.given[name])
            return self.marked[name]
        return _MISSING

    def _frame_group(self, frame_node: str, frame: pl.DataFrame | pl.LazyFrame) -> _Group:
        """A row space for a frame's extracted columns, projected to the ones needed."""
        wanted = [
            c for c in self.consumers[frame_node] if self.graph.nodes[c].role is NodeRole.EXTRACTED
        ]
        lf = frame.lazy()
        schema = lf.collect_schema()
        exprs: list[pl.Expr] = []
        for name in wanted:
            node = self.graph.nodes[name]
            column = node.column or name
            if column in schema:
                exprs.append(pl.col(column).alias(name))
            elif node.has_fill:
                exprs.append(pl.lit(node.fill_with).alias(name))
            else:
                available = ", ".join(list(schema)[:12])
                raise PlanError(
                    f"`{name}` is extracted from `{frame_node}`, but the frame it returned has "
                    f"no column `{column}`.\n  function: {self.graph.nodes[frame_node].describe()}"
                    f"\n  columns: {available}{' ...' if len(schema) > 12 else ''}\n"
                    f"Hint: check the column name, or pass fill_with= to @extract_columns."
                )
        height = frame.height if isinstance(frame, pl.DataFrame) else None
        carried: tuple[str, ...] | None = None
        if any(
            isinstance(self.graph.nodes[c].fn, AppendColumns) for c in self.consumers[frame_node]
        ):
            carried = tuple(schema.names())
            exprs.extend(pl.col(c).alias(_carried(c)) for c in carried)
        return _Group(
            next(self.gids),
            lf.select(exprs),
            height,
            origin=f"frame `{frame_node}`",
            columns=set(wanted),
            frame_columns=carried,
        )

    # -- groups ----------------------------------------------------------------------------

    def merge(self, groups: list[_Group], node: str) -> _Group:
        """Combine row spaces horizontally; their heights must agree."""
        unique = list({id(g): g for g in groups}.values())
        if len(unique) == 1:
            return unique[0]
        heights = {g.height for g in unique if g.height is not None}
        if len(heights) > 1:
            raise self._shape_error(node, unique)
        target = unique[0]
        target.flush()
        frames = [target.lf]
        for other in unique[1:]:
            frames.append(other.flush())
            target.columns |= other.columns
            target.unplaced |= other.unplaced
            for name in other.columns | other.unplaced:
                self.slots[name].group = target
        target.lf = pl.concat(frames, how="horizontal")
        target.frame_columns = None
        self.log.append(("concat", target.gid, tuple(g.gid for g in unique[1:])))
        target.height = next(iter(heights), None)
        target.origin = " + ".join(g.origin for g in unique)
        target.collected = None
        for other in unique[1:]:
            other.columns = set()
            other.unplaced = set()
        return target

    def _shape_error(self, node: str, groups: Sequence[_Group]) -> ShapeError:
        facts = "\n".join(
            f"  {g.origin}: {g.height if g.height is not None else 'unknown'} rows" for g in groups
        )
        described = self.graph.nodes[node].describe() if node in self.graph.nodes else f"`{node}`"
        return ShapeError(
            f"`{node}` combines columns of different lengths.\n{facts}\n  node: {described}\n"
            "Hint: columns can only be combined row by row when they come from frames of the "
            "same height; join the frames in a function returning a DataFrame first."
        )

    def stage_break(self, group: _Group, extra: Sequence[str] = ()) -> pl.DataFrame:
        """Collect a row space's query so far, keeping only what later nodes still need."""
        self.breaking = True
        try:
            for name in sorted(group.unplaced):
                self.materialize(name)
        finally:
            self.breaking = False
        if group.collected is not None and not group.pending:
            return group.collected
        here = self.current
        keep = [
            c
            for c in sorted(group.columns)
            if c in self.requested
            or self.last_use.get(c, -1) >= here
            or c in extra
            or self.graph.nodes[c].checks
        ]
        lf = group.flush().select(keep)
        self.stage_breaks += 1
        self.replayable = False
        try:
            df = lf.collect(engine=self.engine)
        except pl.exceptions.ShapeError as exc:
            raise self._shape_error(self.order[here], [group]) from exc
        group.lf = df.lazy()
        group.height = df.height
        group.frame_columns = None  # the keep-select above dropped the carried columns
        group.columns = set(keep)
        group.collected = df
        return df

    # -- placement -------------------------------------------------------------------------

    def materialize(self, name: str) -> None:
        """Place a pending traced node into its row space's layers."""
        slot = self.slots[name]
        if slot.pending_expr is None:
            return
        for dep in slot.pending_deps:
            self.materialize(dep)
        assert slot.group is not None
        slot.group.unplaced.discard(name)
        slot.group.place(name, slot.pending_expr.expr, slot.pending_deps)
        slot.pending_expr = None
        if len(slot.group.pending) >= MAX_LAYERS and not self.breaking:
            self.stage_break(slot.group)

    def real_value(self, name: str) -> Any:
        """The node's actual value (collecting its row space if it is a column or scalar)."""
        slot = self.slots[name]
        if slot.kind in ("value", "frame"):
            return slot.value
        self.materialize(name)
        assert slot.group is not None
        df = self.stage_break(slot.group, extra=(name,))
        series = df.get_column(name)
        if slot.kind == "scalar":
            return series[0] if series.len() else None
        return series

    # -- the walk --------------------------------------------------------------------------

    def run(self) -> Compiled:
        self.seed_series()
        for index, name in enumerate(self.order):
            self.current = index
            self.visit(name)
        return self.finish()

    def visit(self, name: str) -> None:
        node = self.graph.nodes[name]
        if name in self.cached:
            self._from_cache(name, self.cached[name])
            return
        given = self._given_value(name)
        if name in self.slots:  # a Series input or override, seeded already
            kind = "override" if name in self.overrides else node.role.value
            self.reports[name] = NodeReport(name, kind, "Series")
            return
        if given is not _MISSING:
            kind = "override" if name in self.overrides else node.role.value
            self._set_value(name, given, kind)
            return
        if node.role in (NodeRole.INPUT, NodeRole.CONFIG):
            return  # an optional input that was not given: consumers use their defaults
        if node.role is NodeRole.EXTRACTED:
            self._extract(node)
            return
        self._function(node)

    def _from_cache(self, name: str, cached: Cached) -> None:
        """A cache hit: a mapped column is seeded with the inputs, a scalar joins as a scan."""
        self.replayable = False
        if name in self.slots:  # a memory-mapped column, seeded with the inputs
            self.reports[name] = NodeReport(name, "cached", "column, read from the cache")
            return
        if cached.kind in ("column", "scalar"):
            assert isinstance(cached.value, pl.LazyFrame)
            group = _Group(
                next(self.gids),
                cached.value.select(pl.first().alias(name)),
                None,
                origin=f"cached `{name}`",
                columns={name},
                log=self.log,
            )
            self.slots[name] = _Slot(cached.kind, group=group)
        elif cached.kind == "frame":
            self.slots[name] = _Slot("frame", value=cached.value)
        else:
            self.slots[name] = _Slot("value", value=cached.value)
        self.reports[name] = NodeReport(name, "cached", f"{cached.kind}, read from the cache")

    def _set_value(self, name: str, value: Any, kind: str) -> None:
        if isinstance(value, (pl.DataFrame, pl.LazyFrame)):
            self.replayable = False
            self.slots[name] = _Slot("frame", value=value)
            self.reports[name] = NodeReport(name, kind, type(value).__name__)
        elif isinstance(value, pl.Series):
            group = _Group(
                next(self.gids),
                pl.DataFrame([value.alias(name)]).lazy(),
                value.len(),
                origin=f"`{name}` ({value.len()} rows)",
                columns={name},
                log=self.log,
            )
            self.log.append(("series", group.gid, (name,)))
            self.slots[name] = _Slot("column", group=group)
            self.reports[name] = NodeReport(name, kind, "Series")
        else:
            self.slots[name] = _Slot("value", value=value)
            self.reports[name] = NodeReport(name, kind, type(value).__name__)

    def _extract(self, node: Node) -> None:
        (source,) = node.dependencies
        slot = self.slots[source.name]
        if slot.kind != "frame":
            raise PlanError(
                f"`{node.name}` is extracted from `{source.name}`, which produced "
                f"{type(slot.value).__name__}, not a frame.\n  function: {node.describe()}\n"
                "Hint: return a pl.DataFrame or pl.LazyFrame from the decorated function."
            )
        if slot.extract_group is None:
            slot.extract_group = self._frame_group(source.name, slot.value)
        self.slots[node.name] = _Slot("column", group=slot.extract_group)
        self.reports[node.name] = NodeReport(node.name, "column", f"from `{source.name}`")

    def _args(self, node: Node) -> list[tuple[str, _Slot]]:
        """The (dependency, slot) pairs a call passes; optional inputs not given are left out."""
        return [(d.name, self.slots[d.name]) for d in node.dependencies if d.name in self.slots]

    def _append_in_query(self, node: Node) -> bool:
        """``@with_columns``' append node as part of its frame's query, when it can be."""
        fn = node.fn
        assert isinstance(fn, AppendColumns)
        frame = self.slots.get(fn.frame)
        group = frame.extract_group if frame is not None else None
        if group is None or group.frame_columns is None:
            return False
        for _, dep in fn.columns:
            slot = self.slots.get(dep)
            if slot is None or slot.kind not in ("column", "scalar") or slot.group is not group:
                return False
        for _, dep in fn.columns:
            self.materialize(dep)
        written = dict(fn.columns)
        exprs = [pl.col(written.get(c, _carried(c))).alias(c) for c in group.frame_columns] + [
            pl.col(dep).alias(c) for c, dep in fn.columns if c not in group.frame_columns
        ]
        self.replayable = False
        self.slots[node.name] = _Slot("frame", value=group.flush().select(exprs))
        self.reports[node.name] = NodeReport(node.name, "frame", "appended inside the query")
        return True

    def _function(self, node: Node) -> None:
        if isinstance(node.fn, AppendColumns) and self._append_in_query(node):
            return
        args = self._args(node)
        column_deps = [(d, s) for d, s in args if s.kind in ("column", "scalar")]
        if not column_deps:
            self._call(node, args)
            return
        groups = [s.group for _, s in column_deps if s.kind == "column" and s.group is not None]
        if groups:
            home = self.merge(groups, node.name)
        else:
            home = next(s.group for _, s in column_deps if s.group is not None)
        if not _traceable(node.annotation):
            # A frame, array, model...: tracing would only call the function one extra time
            # (with side effects); run it once, for real, as Hamilton does.
            reason = f"it returns {describe_type(node.annotation)}, not a column or a scalar"
            self._opaque(node, args, reason, home)
            return
        # A scalar from another row space enters as its value.
        for dep, slot in column_deps:
            if slot.group is not home and slot.kind == "scalar":
                self.slots[dep] = _Slot("value", value=self.real_value(dep))
        args = self._args(node)
        first = self._trace(node, args, inline=False)
        if isinstance(first, Opaque) and any(s.kind == "scalar" for _, s in args):
            # Perhaps it needs the scalars as real Python values (a window size, a branch).
            for dep, slot in args:
                if slot.kind == "scalar":
                    self.slots[dep] = _Slot("value", value=self.real_value(dep))
            args = self._args(node)
            if any(s.kind in ("column", "scalar") for _, s in args):
                first = self._trace(node, args, inline=False)
            else:
                self._call(node, args)
                return
        if isinstance(first, Opaque):
            self._opaque(node, args, first.reason, home)
            return
        traced = first
        inline = [
            d
            for d, s in args
            if s.pending_expr is not None
            and first.elementwise
            and s.depth < MAX_INLINE_DEPTH
            and (s.pending_expr.elementwise or s.pending_expr.scalar)
        ]
        for dep, slot in args:
            if slot.pending_expr is not None and dep not in inline:
                self.materialize(dep)
        depth = 0
        if inline:
            second = self._trace(node, args, inline=True)
            if isinstance(second, Traced):
                traced = second
                depth = 1 + max(self.slots[d].depth for d in inline)
                for dep in inline:
                    self.reports[dep] = NodeReport(
                        dep, self.reports[dep].kind, f"inlined into `{node.name}`"
                    )
            else:
                for dep in inline:
                    self.materialize(dep)
        # An inlined dependency's own inputs become this node's inputs.
        placed_deps = tuple(
            dict.fromkeys(
                [d for d, s in args if s.kind in ("column", "scalar") and d not in inline]
                + [p for d in inline for p in self.slots[d].pending_deps]
            )
        )
        slot = _Slot(
            "scalar" if traced.scalar else "column",
            group=home,
            pending_expr=traced,
            pending_deps=placed_deps,
            memo_key=self._memo_key(node, args, inline=bool(inline)),
            depth=depth,
        )
        self.slots[node.name] = slot
        home.unplaced.add(node.name)
        self.reports[node.name] = NodeReport(
            node.name, slot.kind, "traced" if not inline else "traced, with inlined deps"
        )
        consumers = self.consumers[node.name]
        if node.name in self.requested or len(consumers) != 1 or node.checks:
            self.materialize(node.name)  # checked nodes too: their check reads the column

    def _memo_key(self, node: Node, args: list[tuple[str, _Slot]], inline: bool) -> Hashable:
        stamp = self.stamp_of(node.name)
        if stamp is None:
            return None  # its function reads state that may change between runs
        parts: list[Hashable] = [node.name, inline, stamp]
        for dep, slot in args:
            if slot.kind == "value":
                key = value_key(slot.value)
                if key is None:
                    return None
                parts.append((dep, "v", key))
            elif inline and slot.pending_expr is not None:
                if slot.memo_key is None:
                    return None
                parts.append((dep, "i", slot.memo_key))
            else:
                parts.append((dep, slot.kind))
        return tuple(parts)

    def _trace(self, node: Node, args: list[tuple[str, _Slot]], inline: bool) -> Traced | Opaque:
        key = self._memo_key(node, args, inline)
        if key is not None and key in self.memo:
            return self.memo[key]
        kwargs: dict[str, Any] = {}
        declared: set[str] = set()
        for dep, slot in args:
            if slot.kind in {"value", "frame"}:
                kwargs[dep] = slot.value
            elif inline and slot.pending_expr is not None:
                kwargs[dep] = slot.pending_expr.expr
            elif slot.kind == "scalar":
                kwargs[dep] = pl.col(dep).first()
                declared.add(dep)
            else:
                kwargs[dep] = pl.col(dep)
                declared.add(dep)
        result = trace_node(node, kwargs, None if inline else frozenset(declared))
        if key is not None:
            self.memo[key] = result
        return result

    def _opaque(self, node: Node, args: list[tuple[str, _Slot]], reason: str, home: _Group) -> None:
        self.replayable = False
        kwargs = {dep: self.real_value(dep) for dep, _ in args}
        result = run_function(node, kwargs)
        self._store_result(node, result, f"opaque: {reason}", home)

    def _call(self, node: Node, args: list[tuple[str, _Slot]]) -> None:
        self.replayable = False
        kwargs = {dep: self.real_value(dep) for dep, _ in args}
        framed = [d for d, v in kwargs.items() if isinstance(v, (pl.DataFrame, pl.LazyFrame))]
        if framed and node.shape is ValueShape.FRAME:
            result = _call_lazily(node, kwargs, framed)
            if result is not _MISSING:
                self._store_result(node, result, "called on lazy frames (inside the query)", None)
                return
        annotations = {d.name: d.annotation for d in node.dependencies}
        for dep in framed:
            # Our own laziness must not leak into a function that asked for a DataFrame.
            if isinstance(kwargs[dep], pl.LazyFrame) and annotations.get(dep) is pl.DataFrame:
                kwargs[dep] = kwargs[dep].collect(engine=self.engine)
        result = run_function(node, kwargs)
        self._store_result(node, result, "called", None)

    def _store_result(self, node: Node, result: Any, how: str, home: _Group | None) -> None:
        name = node.name
        if isinstance(result, pl.Expr):
            raise PlanError(
                f"`{name}` returned an expression, but its inputs are not columns, so there is "
                f"no frame to evaluate it in.\n  function: {node.describe()}\n"
                "Hint: take a column parameter, or return a Python value or a Series."
            )
        if isinstance(result, pl.Series) or (
            node.shape.value == "column" and _is_array_like(result)
        ):
            series = (result if isinstance(result, pl.Series) else pl.Series(result)).alias(name)
            if home is not None and home.height == series.len():
                self.stage_break(home)
                home.lf = home.lf.with_columns(series)
                home.columns.add(name)
                home.collected = None
                self.slots[name] = _Slot("column", group=home)
            else:
                self._set_value(name, series, "column")
            kind = "opaque" if how.startswith("opaque") else "column"
            self.reports[name] = NodeReport(name, kind, how)
            return
        self._set_value(name, result, "value")
        if how.startswith("opaque"):
            kind = "opaque"
        elif isinstance(result, (pl.DataFrame, pl.LazyFrame)):
            kind = "frame"
        else:
            kind = "value"
        self.reports[name] = NodeReport(name, kind, how)

    # -- results ---------------------------------------------------------------------------

    def _plan_checks(
        self, extra: dict[int, tuple[_Group, list[pl.Expr]]]
    ) -> tuple[list[PendingCheck], list[CheckOutcome]]:
        """Summaries of checks join their node's final query; values are judged right away."""
        pending: list[PendingCheck] = []
        decided: list[CheckOutcome] = []
        for name in self.order:
            node = self.graph.nodes[name]
            if (
                not node.checks
                or name in self.overrides
                or name in self.cached
                or name not in self.slots
            ):
                continue
            slot = self.slots[name]
            for index, check in enumerate(node.checks):
                if slot.kind in ("column", "scalar"):
                    self.materialize(name)
                    assert slot.group is not None
                    column = f"__check__{name}__{index}"
                    source = pl.col(name)
                    expr = check.summary(source) if check.summary is not None else source
                    extra.setdefault(slot.group.gid, (slot.group, []))[1].append(expr.alias(column))
                    pending.append(PendingCheck(name, check, slot.group.gid, column))
                else:
                    value = slot.value
                    if check.summary is not None and isinstance(value, pl.Series):
                        value = value.to_frame(name).select(check.summary(pl.col(name))).item()
                    decided.append(judge_check(name, check, value))
        return pending, decided

    def finish(self) -> Compiled:
        columns: list[str] = []
        values: dict[str, Any] = {}
        # Requested inputs come back as given, whatever flags the computation read them with.
        as_given = {
            name: self.given[name]
            for name in self.outputs
            if name in self.marked and self.marked[name] is not self.given[name]
        }
        for name in self.outputs:
            slot = self.slots[name]
            if slot.kind in ("column", "scalar"):
                self.materialize(name)
                columns.append(name)
            else:
                values[name] = as_given.get(name, slot.value)
        by_group: dict[int, tuple[_Group, list[str]]] = {}
        for name in columns:
            group = self.slots[name].group
            assert group is not None
            by_group.setdefault(group.gid, (group, []))[1].append(name)
        extra: dict[int, tuple[_Group, list[pl.Expr]]] = {}
        pending_checks, decided = self._plan_checks(extra)
        queries: dict[int, pl.LazyFrame] = {}
        tails: dict[int, Tail] = {}
        for gid in dict.fromkeys([*by_group, *extra]):
            group = by_group[gid][0] if gid in by_group else extra[gid][0]
            names = by_group[gid][1] if gid in by_group else []
            summaries = extra[gid][1] if gid in extra else []
            final = [*names, *summaries]
            tail = None if summaries else self._streaming_tail(group, names)
            if tail is not None:
                tails[gid], reads = tail
                queries[gid] = group.flush().select(reads)
                self.log.append(("select", gid, reads))
                continue
            queries[gid] = group.flush().select(final)
            self.log.append(("select", gid, tuple(final)))
        output_group = {name: gid for gid, (_, names) in by_group.items() for name in names}
        scalars = frozenset(n for n in columns if self.slots[n].kind == "scalar")
        python_scalars = frozenset(
            n for n in scalars if self.graph.nodes[n].annotation in (int, float)
        )
        return Compiled(
            outputs=self.outputs,
            queries=queries,
            output_group=output_group,
            values=values,
            scalars=scalars,
            python_scalars=python_scalars,
            reports=tuple(self.reports[n] for n in self.order if n in self.reports),
            stage_breaks=self.stage_breaks,
            lazy_frames=frozenset(
                n
                for n, v in values.items()
                if isinstance(v, pl.LazyFrame) and self.graph.nodes[n].annotation is pl.DataFrame
            ),
            pending_checks=tuple(pending_checks),
            check_outcomes=tuple(decided),
            recipe=Recipe(tuple(self.log)) if self.replayable and not decided else None,
            tails=tails,
            as_given={
                name: value
                for name, value in as_given.items()
                if name in output_group and isinstance(value, pl.Series)
            },
        )

    def _streaming_tail(
        self, group: _Group, names: Sequence[str]
    ) -> tuple[Tail, tuple[str, ...]] | None:
        """Split off the group's trailing element-wise layers (see ir.Tail), if worth it.

        Returns the tail and the columns the rest of the query must give it; the tail's layers
        are taken off ``group.pending``. Checks read summaries (reductions) in the final
        select, so a group with checks is never split (the caller sees to that).
        """
        if self.engine != "in-memory" or (group.height or 0) < STREAMING_TAIL_MIN_ROWS:
            return None
        split = len(group.pending)
        while split > 0 and all(is_streamable(e) for e in group.pending[split - 1].values()):
            split -= 1
        if split == len(group.pending):
            return None
        layers = group.pending[split:]
        group.pending = group.pending[:split]
        made = {name for layer in layers for name in layer}
        reads = {n for n in names if n not in made}
        for layer in layers:
            for expr in layer.values():
                reads.update(r for r in expr.meta.root_names() if r not in made)
        ordered = tuple(sorted(reads))  # a fixed order: the same plan on every run
        return Tail(tuple(tuple(layer.values()) for layer in layers), tuple(names)), ordered


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()


_SCALAR_TYPES = (int, float, bool, complex, str)


def _carried(column: str) -> str:
    return f"__frame_column__{column}"


def _traceable(annotation: Any) -> bool:
    """Can a function with this return annotation give a Polars expression? Columns (Series,
    Expr), Python scalars (an aggregate), ``Any``, and unions/optionals of those."""
    if annotation is Any or annotation in (pl.Series, pl.Expr) or annotation in _SCALAR_TYPES:
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return all(_traceable(a) or a is type(None) for a in typing.get_args(annotation))
    return isinstance(annotation, type) and issubclass(annotation, numbers.Number)


def _call_lazily(node: Node, kwargs: Mapping[str, Any], framed: Sequence[str]) -> Any:
    """Call a frame function with its frames as LazyFrames, so its work joins the query.

    Most DataFrame code (select, with_columns, filter, join, group_by) reads the same on a
    LazyFrame. Anything that needs data (``df.height``, ``df["a"]``, ``len(df)``), or a
    schema lookup Polars warns about, fails here, and the caller runs the function eagerly.
    """
    assert node.fn is not None
    lazy = {
        k: (v.lazy() if k in framed and isinstance(v, pl.DataFrame) else v)
        for k, v in kwargs.items()
    }
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pl.exceptions.PerformanceWarning)
            result = node.fn(**lazy)
    except Exception:
        return _MISSING
    return result if isinstance(result, (pl.DataFrame, pl.LazyFrame)) else _MISSING


def _is_array_like(value: Any) -> bool:
    return hasattr(value, "__array__") or isinstance(value, list)


def compile_request(
    graph: Graph,
    outputs: Sequence[str],
    values: Mapping[str, Any],
    overrides: Mapping[str, Any],
    memo: TraceMemo,
    stamp_of: Callable[[str], Hashable | None],
    engine: EngineName,
    cached: Mapping[str, Cached] | None = None,
) -> Compiled:
    """Lower ``outputs`` of ``graph`` given input/config ``values`` and ``overrides``.

    ``memo`` keeps traces between calls; ``stamp_of(name)`` is the call stamp of a node's
    function (a node without one is traced afresh). ``cached`` holds cache hits: each is used
    like an override (its upstream is not computed).
    """
    return _Compiler(graph, outputs, values, overrides, memo, stamp_of, engine, cached).run()
