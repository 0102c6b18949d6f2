"""Run a compiled request: one ``collect`` for all row spaces, then the result shape asked for.

Result kinds: ``"polars"`` (a DataFrame, scalars broadcast as Hamilton's Polars result builder
does), ``"dict"`` (each node's value), ``"lazy"`` (a LazyFrame) and ``"pandas"`` (through
Arrow).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Literal

import polars as pl

from hamilton_fast.errors import DataValidationError, NodeError, PlanError, ShapeError
from hamilton_fast.graph import Graph
from hamilton_fast.nodes import CheckOutcome
from hamilton_fast.planner.ir import Compiled, EngineName, judge_check

__all__ = ["ResultKind", "collect_outputs", "enforce_checks", "judge_checks", "shape_result"]

LOGGER = logging.getLogger("hamilton_fast.validation")

ResultKind = Literal["polars", "dict", "lazy", "pandas"]


def collect_outputs(
    compiled: Compiled, graph: Graph, engine: EngineName
) -> tuple[dict[int, pl.DataFrame], dict[str, pl.DataFrame]]:
    """Collect every row space's final query, and requested lazy frames, in one call."""
    gids = list(compiled.queries)
    lazy = sorted(compiled.lazy_frames)
    plans = [compiled.queries[g] for g in gids] + [compiled.values[n] for n in lazy]
    if not plans:
        return {}, {}
    try:
        if len(plans) == 1:  # the common case; collect_all adds a thread hop
            frames = [plans[0].collect(engine=engine)]
        else:
            frames = pl.collect_all(plans, engine=engine)
        for index, gid in enumerate(gids):
            tail = compiled.tails.get(gid)
            if tail is not None:  # element-wise layers, same bits on either engine (ir.Tail)
                frames[index] = tail.query(frames[index]).collect(engine="streaming")
            for name, series in compiled.as_given.items():
                if compiled.output_group[name] == gid:  # as given, not as flagged (Compiled)
                    frame = frames[index]  # collected just now: ours to change in place
                    frame.replace_column(frame.get_column_index(name), series.alias(name))
    except pl.exceptions.PolarsError as exc:
        raise _locate_failure(compiled, graph, exc) from exc
    return (
        dict(zip(gids, frames[: len(gids)], strict=True)),
        dict(zip(lazy, frames[len(gids) :], strict=True)),
    )


def _locate_failure(compiled: Compiled, graph: Graph, exc: Exception) -> Exception:
    """Name the node a failed query points at, when its message mentions one."""
    text = str(exc)
    if isinstance(exc, pl.exceptions.ShapeError):
        return ShapeError(
            f"columns of different lengths were combined while computing "
            f"{', '.join(f'`{o}`' for o in compiled.outputs)}: {text.splitlines()[0]}\n"
            "Hint: a node combines Series or frames of different heights; check the inputs' "
            "lengths, or join frames explicitly in a function returning a DataFrame."
        )
    suspects = [
        r.name for r in compiled.reports if r.kind in ("column", "scalar") and f'"{r.name}"' in text
    ]
    node = suspects[-1] if suspects else None
    if node is not None:
        return NodeError(
            f"`{node}` failed inside the query: {type(exc).__name__}: {text.splitlines()[0]}\n"
            f"  function: {graph.nodes[node].describe()}\n"
            "Hint: the Polars error is chained above; check the dtypes of the columns this "
            "function combines.",
            node=node,
        )
    return NodeError(
        f"the query failed: {type(exc).__name__}: {text.splitlines()[0] if text else ''}\n"
        f"  outputs: {', '.join(compiled.outputs)}\n"
        "Hint: run `dr.explain(...)` to see the plan; the Polars error is chained above.",
        node="",
    )


def _broadcastable(value: Any) -> bool:
    return (
        value is None
        or isinstance(value, (bool, int, float, str, bytes))
        or (hasattr(value, "dtype") and getattr(value, "shape", None) == ())
    )


def shape_result(
    compiled: Compiled,
    frames: Mapping[int, pl.DataFrame],
    kind: ResultKind,
    collected: Mapping[str, pl.DataFrame] | None = None,
) -> Any:
    """Turn collected frames and computed values into the requested result shape."""
    if collected:
        compiled = replace(compiled, values={**compiled.values, **collected})
    outputs = compiled.outputs
    if kind == "dict":
        result: dict[str, Any] = {}
        for name in outputs:
            if name in compiled.values:
                result[name] = compiled.values[name]
                continue
            series = frames[compiled.output_group[name]].get_column(name)
            if name in compiled.scalars:
                result[name] = series[0] if series.len() else None
            else:
                result[name] = series
        return result
    if len(outputs) == 1 and outputs[0] in compiled.values:
        value = compiled.values[outputs[0]]
        if isinstance(value, pl.LazyFrame):
            return value if kind == "lazy" else _finish(value.collect(), kind)
        if isinstance(value, pl.DataFrame):
            return value.lazy() if kind == "lazy" else _finish(value, kind)
    frame = _assemble(compiled, frames)
    if kind == "lazy":
        return frame.lazy()
    return _finish(frame, kind)


def _finish(frame: pl.DataFrame, kind: ResultKind) -> Any:
    if kind == "pandas":
        return frame.to_pandas()
    return frame


def _as_python_dtype(series: pl.Series) -> pl.Series:
    """The dtype a Python int, float or None becomes in a DataFrame (as Hamilton's builder)."""
    if series.len() and series.null_count() == series.len():
        return series.cast(pl.Null)  # the aggregate of nothing: Python's None
    if series.dtype.is_integer():
        return series.cast(pl.Int64)
    if series.dtype == pl.Float32:
        return series.cast(pl.Float64)
    return series


def _assemble(compiled: Compiled, frames: Mapping[int, pl.DataFrame]) -> pl.DataFrame:
    """One frame in output order; scalars and Python values broadcast to its height."""
    groups = set(compiled.output_group.values())
    if len(groups) == 1 and not compiled.values and not compiled.python_scalars:
        # The common case: one query selected the outputs in order (checks trail them).
        frame = frames[next(iter(groups))]
        if frame.width != len(compiled.outputs):
            frame = frame.select(compiled.outputs)
        if any(n not in compiled.scalars for n in compiled.outputs):
            return frame  # (scalars alone make one row, built below)
    column_groups = {
        compiled.output_group[n]
        for n in compiled.outputs
        if n in compiled.output_group and n not in compiled.scalars
    }
    heights = {frames[g].height for g in column_groups}
    if len(heights) > 1:
        facts = "\n".join(
            f"  {', '.join(f'`{n}`' for n in frames[g].columns)}: {frames[g].height} rows"
            for g in column_groups
        )
        raise ShapeError(
            f"the requested columns have different lengths and cannot form one DataFrame.\n"
            f"{facts}\n"
            "Hint: request them in separate calls, or ask for a dict result "
            "(`base.DictResult()`), which keeps each value as it is."
        )
    height = next(iter(heights), 1)
    columns: list[pl.Series] = []
    for name in compiled.outputs:
        if name in compiled.values:
            value = compiled.values[name]
            if isinstance(value, pl.Series):
                if value.len() != height:
                    raise ShapeError(
                        f"`{name}` has {value.len()} rows, the other outputs {height}.\n"
                        "Hint: ask for a dict result to keep values of different lengths."
                    )
                columns.append(value.alias(name))
            elif _broadcastable(value):
                columns.append(pl.Series(name, [value]).new_from_index(0, height))
            else:
                raise PlanError(
                    f"`{name}` is a {type(value).__name__}, which a DataFrame result cannot hold."
                    "\nHint: ask for a dict result (`base.DictResult()`) to get it as it is."
                )
            continue
        series = frames[compiled.output_group[name]].get_column(name)
        if name in compiled.python_scalars:
            series = _as_python_dtype(series)
        if name in compiled.scalars and series.len() != height:
            first = series[0] if series.len() else None
            series = pl.Series(name, [first], dtype=series.dtype).new_from_index(0, height)
        columns.append(series)
    return pl.DataFrame(columns)


def judge_checks(
    compiled: Compiled, frames: Mapping[int, pl.DataFrame]
) -> tuple[CheckOutcome, ...]:
    """Every check of the run: those decided during planning, then those read from the query."""
    outcomes = list(compiled.check_outcomes)
    for pending in compiled.pending_checks:
        frame = frames[pending.group]
        value: Any
        if pending.check.summary is not None:
            # A summary is broadcast; read one row (a full column copy costs ~50 ms at 10M).
            value = frame.slice(0, 1).get_column(pending.column)[0] if frame.height else None
        else:
            value = frame.get_column(pending.column).alias(pending.node)
        outcomes.append(judge_check(pending.node, pending.check, value))
    return tuple(outcomes)


def enforce_checks(outcomes: tuple[CheckOutcome, ...]) -> None:
    """Log failed ``warn`` checks; raise one error listing every failed ``fail`` check."""
    failures = []
    for outcome in outcomes:
        if outcome.passes:
            continue
        text = f"`{outcome.node}` failed {outcome.validator}: {outcome.message}"
        if outcome.importance == "fail":
            failures.append(text)
        else:
            LOGGER.warning(text)
    if failures:
        raise DataValidationError(
            "data validation failed:\n  "
            + "\n  ".join(failures)
            + '\nHint: fix the data or the function; use importance="warn" to log instead '
            "of failing. `dr.validation_results` has every outcome.",
            outcomes=outcomes,
        )
