"""Tracing: call a node's function with placeholder expressions and read what comes back.

A column dependency is passed as ``pl.col(name)``, a scalar node as ``pl.col(name).first()``
(it is stored broadcast), a Python value as itself. When the function returns an expression
that keeps the number of rows (or reduces to one value) and reads only its declared columns,
the node is *traced*: it runs inside the query. Anything else (an exception, a Python value,
an expression that changes the row count) makes it *opaque*: it runs for real, on real
values, exactly as Apache Hamilton would run it, and the reason is kept for ``explain``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from hamilton_fast.errors import PlanError
from hamilton_fast.graph import Node
from hamilton_fast.planner.exprs import is_elementwise, serialized, with_python_int_semantics

__all__ = ["Opaque", "Traced", "trace_node"]


@dataclass(frozen=True)
class Traced:
    """A node expressed as a Polars expression, aliased to the node's name."""

    expr: pl.Expr
    scalar: bool
    elementwise: bool


@dataclass(frozen=True)
class Opaque:
    """A node that cannot run inside the query; ``reason`` says why, for ``explain``."""

    reason: str


def _describe_exception(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def trace_node(
    node: Node,
    args: Mapping[str, Any],
    declared_columns: frozenset[str] | None,
) -> Traced | Opaque:
    """Trace ``node`` with ``args`` (placeholders and values) as its keyword arguments.

    ``declared_columns`` are the columns the placeholders read; when given, an expression that
    reads any other column is a user error (it would silently depend on a column the graph does
    not know about). Pass ``None`` when the placeholders are inlined expressions.

    Raises:
        PlanError: the traced expression reads a column the function did not declare.
    """
    assert node.fn is not None
    try:
        result = node.fn(**args)
    except Exception as exc:
        return Opaque(f"calling it on expressions raised {_describe_exception(exc)}")
    if not isinstance(result, pl.Expr):
        return Opaque(
            f"it returns {type(result).__name__} when given expressions, not an expression"
        )
    try:
        length_preserving = result.meta.is_length_preserving()
        scalar = result.meta.is_scalar()
        roots = result.meta.root_names()
    except Exception as exc:  # a malformed expression: let the real call decide
        return Opaque(f"its expression cannot be analysed: {_describe_exception(exc)}")
    if not (length_preserving or scalar):
        return Opaque("its expression changes the number of rows (filter, head, unique, ...)")
    if declared_columns is not None:
        undeclared = sorted(set(roots) - declared_columns)
        if undeclared:
            cols = ", ".join(f"`{c}`" for c in undeclared)
            raise PlanError(
                f"`{node.name}` reads column {cols}, which is not one of its parameters.\n"
                f"  function: {node.describe()}\n"
                f"Hint: add {cols} as a parameter (`{undeclared[0]}: pl.Expr`) instead of "
                f'`pl.col("{undeclared[0]}")`, so the graph knows the dependency.'
            )
        if not roots and not scalar:
            raise PlanError(
                f"`{node.name}` returns an expression that reads no column, so it has no rows "
                f"of its own.\n  function: {node.describe()}\n"
                "Hint: build it from one of its column parameters (e.g. "
                "`pl.int_range(pl.len())` -> `x.cum_count()`)."
            )
    text = serialized(result)  # once, for both questions below
    elementwise = is_elementwise(result, text)
    if any(d.annotation is pl.Series for d in node.dependencies):
        result = with_python_int_semantics(result, text)
    return Traced(result.alias(node.name), scalar=scalar, elementwise=elementwise)
