"""Questions the planner asks about a traced Polars expression.

Inlining a node's expression into its consumer is only safe where the consumer uses it
element-wise (see DESIGN.md, "Correctness rule for inlining"): under a window, an aggregation,
a sort or a shift, the inlined expression would see a different set of rows. Polars'
``meta.is_row_separable`` treats ``x - x.mean()`` as separable, which is not what we need, so
the planner walks the serialized expression tree itself and accepts only node types and
functions on a short allow list. Anything unknown counts as not element-wise: the planner then
materializes instead of inlining, which costs a little speed and never correctness.
"""

from __future__ import annotations

import io
import json
from typing import Any

import polars as pl

__all__ = ["is_elementwise", "is_streamable", "serialized", "with_python_int_semantics"]

# Expression node types that map row i of their inputs to row i of their output.
_ELEMENTWISE_NODES = frozenset(
    {"Column", "Literal", "BinaryExpr", "Ternary", "Cast", "Alias", "KeepName", "RenameAlias"}
)

# Function names (the "function" field of a Function node) known to be element-wise.
_ELEMENTWISE_FUNCTIONS = frozenset(
    {
        "Abs",
        "Negate",
        "Sign",
        "Sqrt",
        "Cbrt",
        "Exp",
        "Log",
        "Log1p",
        "Pow",
        "Round",
        "RoundSF",
        "Floor",
        "Ceil",
        "Clip",
        "FillNull",
        "IsNull",
        "IsNotNull",
        "IsNan",
        "IsNotNan",
        "IsFinite",
        "IsInfinite",
        "Not",
        "Trigonometry",
        "Atan2",
        "Degrees",
        "Radians",
        "Coalesce",
        "IsIn",
        "IsBetween",
        "Boolean",
        "MaxHorizontal",
        "MinHorizontal",
        "SumHorizontal",
        "MeanHorizontal",
        "AllHorizontal",
        "AnyHorizontal",
        "Reciprocal",
        "ToPhysical",
        "Mod",
        "FloorDivide",
        "Truediv",
    }
)


# Boolean functions come as one family, ``{"Boolean": "IsUnique"}``: only these members are
# element-wise (``any``, ``is_unique``, ``is_duplicated``, ``is_first_distinct`` read the
# whole column).
_ELEMENTWISE_BOOLEAN = frozenset(
    {
        "IsNull",
        "IsNotNull",
        "IsFinite",
        "IsInfinite",
        "IsNan",
        "IsNotNan",
        "IsBetween",
        "IsIn",
        "AllHorizontal",
        "AnyHorizontal",
        "Not",
    }
)


def _function_name(function: Any) -> str:
    """``"Abs"`` or ``{"Clip": {...}}`` -> the function's name; ``{"Boolean": "IsNull"}`` ->
    ``"Boolean.IsNull"``."""
    if isinstance(function, str):
        return function
    if isinstance(function, dict) and len(function) == 1:
        ((name, body),) = function.items()
        if name == "Boolean":
            return f"Boolean.{_function_name(body)}"
        return str(name)
    return "?"


def _is_scalar_placeholder(body: Any) -> bool:
    """``pl.col(name).first()``: how a materialized scalar node is read (a broadcast value)."""
    return (
        isinstance(body, dict)
        and set(body) == {"First"}
        and isinstance(body["First"], dict)
        and set(body["First"]) == {"Column"}
    )


def _walk(node: Any, *, broadcasts: bool = True) -> bool:
    """Whether the serialized expression ``node`` is element-wise; ``broadcasts=False`` also
    refuses what reads a value from elsewhere (a scalar read back, a literal Series)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if not isinstance(item, dict) or len(item) != 1:
            return False
        ((kind, body),) = item.items()
        if kind == "Agg" and broadcasts and _is_scalar_placeholder(body):
            continue
        if kind not in _ELEMENTWISE_NODES and kind != "Function":
            return False
        if kind == "Literal":
            if not broadcasts and not (isinstance(body, dict) and set(body) <= {"Dyn", "Scalar"}):
                return False
            continue
        if kind == "Column":
            continue
        if kind == "Function":
            name = _function_name(body.get("function"))
            family, _, member = name.partition(".")
            if family == "Boolean" and member not in _ELEMENTWISE_BOOLEAN:
                return False
            if family != "Boolean" and name not in _ELEMENTWISE_FUNCTIONS:
                return False
            stack.extend(body.get("input", []))
        elif kind == "BinaryExpr":
            stack.extend((body["left"], body["right"]))
        elif kind == "Ternary":
            stack.extend((body["predicate"], body["truthy"], body["falsy"]))
        elif kind == "Cast":
            stack.append(body["expr"])
        elif isinstance(body, list) and body:
            stack.append(body[0])
        elif isinstance(body, dict) and "expr" in body:
            stack.append(body["expr"])
        else:
            return False
    return True


def serialized(expr: pl.Expr) -> str | None:
    """The expression as Polars' JSON, or None when it cannot be serialized (Python UDFs)."""
    try:
        return expr.meta.serialize(format="json")
    except Exception:  # Python UDFs need cloudpickle to serialize
        return None


def is_elementwise(expr: pl.Expr, text: str | None = None) -> bool:
    """True when ``expr`` maps each row to the same row, reading no other rows.

    >>> is_elementwise((pl.col("a") + 1).abs())
    True
    >>> is_elementwise(pl.col("a") - pl.col("a").mean())
    False
    >>> is_elementwise(pl.col("a").shift(1))
    False
    >>> is_elementwise(pl.col("a").is_null()), is_elementwise(pl.col("a").is_duplicated())
    (True, False)
    >>> is_elementwise(pl.col("a") - pl.col("a_mean").first())  # a scalar node, read back
    True
    """
    text = text if text is not None else serialized(expr)
    return text is not None and _walk(json.loads(text))


def is_streamable(expr: pl.Expr) -> bool:
    """True when ``expr`` is element-wise over its own row only (no scalar read back, no
    literal Series): evaluated morsel by morsel it gives the same rows and bits as whole.

    >>> is_streamable(pl.col("a") * 2.0 + pl.col("b").fill_null(0.0))
    True
    >>> is_streamable(pl.col("a") - pl.col("a_mean").first())
    False
    """
    text = serialized(expr)
    return text is not None and _walk(json.loads(text), broadcasts=False)


# Aggregations that return Polars' unsigned index type, where a `pl.Series` method returns a
# Python int: `s.len() - 3` is -2 in Python but wraps around to 4294967294 in UInt32.
_INDEX_AGGS = frozenset({"Count", "NUnique"})
_INDEX_FUNCTIONS = frozenset({"NullCount", "ArgMax", "ArgMin", "ApproxNUnique"})
_COMPARISONS = frozenset(
    {"Eq", "EqValidity", "NotEq", "NotEqValidity", "Lt", "LtEq", "Gt", "GtEq", "And", "Or", "Xor"}
)
_INT64 = {"Literal": "Int64"}


def _is_boolean(node: Any) -> bool:
    if not isinstance(node, dict) or len(node) != 1:
        return False
    ((kind, body),) = node.items()
    if kind == "BinaryExpr":
        return body.get("op") in _COMPARISONS
    if kind == "Function":
        function = body.get("function")
        return isinstance(function, dict) and "Boolean" in function
    return False


def _returns_index(node: Any) -> bool:
    if node == "Len":
        return True
    if not isinstance(node, dict) or len(node) != 1:
        return False
    ((kind, body),) = node.items()
    if kind == "Agg" and isinstance(body, dict) and len(body) == 1:
        ((agg, inner),) = body.items()
        return agg in _INDEX_AGGS or (agg == "Sum" and _is_boolean(inner))
    if kind == "Function":
        return _function_name(body.get("function")) in _INDEX_FUNCTIONS
    return False


def _cast_index_results(node: Any) -> Any:
    if isinstance(node, list):
        return [_cast_index_results(item) for item in node]
    if isinstance(node, dict):
        rebuilt = {key: _cast_index_results(value) for key, value in node.items()}
        if _returns_index(node):
            return {"Cast": {"expr": rebuilt, "dtype": _INT64, "options": "Strict"}}
        return rebuilt
    if _returns_index(node):
        return {"Cast": {"expr": node, "dtype": _INT64, "options": "Strict"}}
    return node


def with_python_int_semantics(expr: pl.Expr, text: str | None = None) -> pl.Expr:
    """Cast counts, lengths and arg-extrema to Int64, as a Series method's Python int would be.

    Used for functions annotated with ``pl.Series``: Apache Hamilton runs them eagerly, where
    ``s.len()`` is a Python int, so ``s.len() - 3`` may be negative.

    >>> pl.select(with_python_int_semantics(pl.lit([1, 2]).explode().len() - 3)).item()
    -1
    """
    text = text if text is not None else serialized(expr)
    if text is None:
        return expr
    if not any(marker in text for marker in ('"Len"', "Count", "NUnique", "Arg", '"Sum"')):
        return expr
    rewritten = _cast_index_results(json.loads(text))
    return pl.Expr.deserialize(io.StringIO(json.dumps(rewritten)), format="json")
