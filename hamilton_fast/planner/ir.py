"""The planner's output, as frozen data: what a request compiles to.

:class:`Compiled` holds the final queries (one per row space), how each node was computed
(:class:`NodeReport`), the checks to judge after the collect, and, when the request needed no
data-dependent step, the :class:`Recipe` that rebuilds the queries for new inputs of the same
shape. The executor and the driver read these; only the compiler builds them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import polars as pl

from hamilton_fast.nodes import Check, CheckOutcome

__all__ = [
    "Cached",
    "Compiled",
    "EngineName",
    "NodeReport",
    "PendingCheck",
    "Recipe",
    "Tail",
    "judge_check",
]

EngineName = Literal["auto", "in-memory", "streaming", "gpu"]


@dataclass(frozen=True)
class NodeReport:
    """How one node was computed: ``kind`` and a human-readable ``detail``."""

    name: str
    kind: str  # input, config, override, frame, column, scalar, value, opaque
    detail: str


@dataclass(frozen=True)
class Recipe:
    """How to rebuild a request's final queries from new inputs, without planning again.

    Recorded when a request needed no data-dependent step (no stage break, no function
    called on real values): then the queries depend only on the inputs' shape, and the
    driver replays ``ops`` on new Series inputs of the same shape. Ops:
    ``("series", gid, names)`` a row space from Series inputs; ``("layer", gid, exprs)``
    a ``with_columns``; ``("concat", gid, other_gids)`` a horizontal merge;
    ``("select", gid, exprs)`` the final query of ``gid``.
    """

    ops: tuple[tuple[Any, ...], ...]

    def replay(self, values: Mapping[str, Any]) -> dict[int, pl.LazyFrame]:
        """The final queries, built from ``values`` (inputs, config and overrides)."""
        frames: dict[int, pl.LazyFrame] = {}
        queries: dict[int, pl.LazyFrame] = {}
        for op, gid, arg in self.ops:
            if op == "series":
                frames[gid] = pl.DataFrame([values[n].alias(n) for n in arg]).lazy()
            elif op == "layer":
                frames[gid] = frames[gid].with_columns(arg)
            elif op == "concat":
                frames[gid] = pl.concat([frames[gid], *(frames[g] for g in arg)], how="horizontal")
            else:
                queries[gid] = frames[gid].select(arg)
        return queries


@dataclass(frozen=True)
class Cached:
    """A node value read from the node cache: a memory-mapped Series for columns, a scan for
    scalars and frames, the value itself otherwise."""

    kind: str  # column, scalar, frame, value
    value: Any


@dataclass(frozen=True)
class PendingCheck:
    """A check whose summary is a column of a final query (read after the collect)."""

    node: str
    check: Check
    group: int
    column: str


@dataclass(frozen=True)
class Tail:
    """Element-wise layers that finish a row space's query on the streaming engine.

    The in-memory engine materializes every intermediate of an expression in fresh memory;
    the streaming engine evaluates element-wise work morsel by morsel, in cache. Element-wise
    expressions give the same rows, in the same order, with the same bits on either engine, so
    a query's trailing element-wise layers run there: ``layers`` (one ``with_columns`` each)
    over the collected rest of the query, then the ``select`` of ``final``.
    """

    layers: tuple[tuple[pl.Expr, ...], ...]
    final: tuple[str, ...]

    def query(self, frame: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
        lf = frame.lazy()
        for layer in self.layers:
            lf = lf.with_columns(layer)
        return lf.select(self.final)


@dataclass(frozen=True)
class Compiled:
    """The lowered request: final queries per row space and what happened to each node."""

    outputs: tuple[str, ...]
    queries: Mapping[int, pl.LazyFrame]  # group id -> final select of its requested columns
    output_group: Mapping[str, int]  # requested column/scalar -> group id
    values: Mapping[str, Any]  # requested values and frames, computed already
    scalars: frozenset[str]
    # Scalars of functions annotated with a Python type: Apache Hamilton hands on the Python
    # value, so results use the dtype Polars gives a Python int/float (Int64/Float64).
    python_scalars: frozenset[str]
    reports: tuple[NodeReport, ...]
    stage_breaks: int
    # Requested frames computed lazily for a function annotated pl.DataFrame: collected with
    # the queries, so the result has the type the function promised.
    lazy_frames: frozenset[str] = frozenset()
    pending_checks: tuple[PendingCheck, ...] = ()
    check_outcomes: tuple[CheckOutcome, ...] = ()  # checks already decided (opaque values)
    recipe: Recipe | None = None  # set when the queries can be rebuilt from new inputs
    # Row spaces whose query ends in element-wise layers run on the streaming engine (see
    # Tail); their ``queries`` entry is the rest, selecting what the tail reads.
    tails: Mapping[int, Tail] = field(default_factory=dict)
    # Requested Series inputs that a computation read with Polars' sorted flag set (see
    # sortedness.py), as the user gave them: the result holds them unchanged.
    as_given: Mapping[str, pl.Series] = field(default_factory=dict)


def judge_check(node: str, check: Check, value: Any) -> CheckOutcome:
    """Apply a check's judge to its summary (or value)."""
    passes, message, diagnostics = check.judge(value)
    return CheckOutcome(node, check.validator, check.importance, passes, message, diagnostics)
