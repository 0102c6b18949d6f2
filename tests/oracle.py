"""A naive, eager, node-by-node evaluator of Hamilton-style modules: the test oracle.

It shares no code with ``hamilton_fast`` on purpose. It does the obvious thing and nothing else:

1. every public function defined in the module is a node; its parameters name what it needs;
2. the nodes needed for the request are evaluated one at a time, in dependency order
   (``graphlib``), with real values: ``pl.Series`` for columns, Python values for scalars;
3. a function annotated with ``pl.Expr`` gets ``pl.col(name)`` for each ``pl.Expr`` parameter, and
   its returned expression is evaluated eagerly with ``frame.select(expr)`` on a ``pl.DataFrame``
   holding exactly the columns it asked for (scalars broadcast, as ``with_columns`` would do):
   every upstream node is therefore *materialized* before its consumers see it. A one-row result
   on a taller frame is an aggregate: an `ExprScalar`, broadcast wherever it is used;
4. the outputs become one frame the way Apache Hamilton's Polars result builder makes it
   (``pl.DataFrame(outputs)`` with ``outputs`` a dict): scalars broadcast, a name requested twice
   gives one column. Python values get the dtype ``pl.Series([value])`` gives them (so ``None`` is
   Null); an `ExprScalar` keeps its Polars dtype. One deliberate difference from Hamilton, which is
   hamilton_fast's contract too: a Python int broadcast next to columns is Int64 (Hamilton's
   builder makes it Int32 there, through Polars' dynamic int literal, but Int64 when alone).

Overrides replace a node's value and cut off everything upstream of it, as in Hamilton.

>>> import types
>>> mod = types.ModuleType("demo")
>>> exec("import polars as pl\\ndef b(a: pl.Series) -> pl.Series:\\n    return a * 2", mod.__dict__)
>>> evaluate(mod, ["b"], {"a": pl.Series([1.0, 2.0])})["b"].to_list()
[2.0, 4.0]
"""

from __future__ import annotations

import graphlib
import inspect
from typing import TYPE_CHECKING, Any, NamedTuple

import polars as pl

if TYPE_CHECKING:
    import types
    from collections.abc import Callable, Mapping, Sequence


class ExprScalar(NamedTuple):
    """The one-row result of an aggregate expression (``x.mean()``)."""

    series: pl.Series


def node_functions(module: types.ModuleType) -> dict[str, Callable[..., Any]]:
    """The module's nodes: public functions defined in the module itself (not imported ones)."""
    return {
        name: fn
        for name, fn in inspect.getmembers(module, inspect.isfunction)
        if not name.startswith("_") and fn.__module__ == module.__name__
    }


def evaluate(
    module: types.ModuleType,
    final_vars: Sequence[str],
    inputs: Mapping[str, Any],
    overrides: Mapping[str, Any] | None = None,
) -> pl.DataFrame:
    """Compute ``final_vars`` eagerly, one node at a time, and build the result frame."""
    functions = node_functions(module)
    given = {**inputs, **(overrides or {})}
    signatures = {
        name: inspect.signature(fn, eval_str=True)
        for name, fn in functions.items()
        if name not in given
    }
    dependencies = {name: list(sig.parameters) for name, sig in signatures.items()}

    needed: set[str] = set()
    to_visit = list(final_vars)
    while to_visit:
        name = to_visit.pop()
        if name not in needed:
            needed.add(name)
            to_visit.extend(dependencies.get(name, []))

    height = _row_count(given.values())
    values: dict[str, Any] = {}
    order = graphlib.TopologicalSorter({name: dependencies.get(name, []) for name in needed})
    for name in order.static_order():
        if name in given:
            values[name] = given[name]
        elif name in signatures:
            values[name] = _run_node(functions[name], signatures[name], values, height)
        else:
            msg = f"`{name}` is neither a function of the module nor an input"
            raise KeyError(msg)

    outputs = {name: values[name] for name in final_vars}
    result_height = height if any(isinstance(v, pl.Series) for v in outputs.values()) else 1
    return pl.DataFrame(
        [_as_column(value, result_height).alias(name) for name, value in outputs.items()]
    )


def _run_node(
    fn: Callable[..., Any], signature: inspect.Signature, values: dict[str, Any], height: int
) -> Any:
    expr_params = [
        name for name, param in signature.parameters.items() if param.annotation is pl.Expr
    ]
    kwargs = {
        name: pl.col(name) if name in expr_params else values[name] for name in signature.parameters
    }
    result = fn(**kwargs)
    if not isinstance(result, pl.Expr):
        return result
    frame = pl.DataFrame({name: _as_column(values[name], height) for name in expr_params})
    column = frame.select(result).to_series()
    return ExprScalar(column) if len(column) == 1 and height != 1 else column


def _as_column(value: Any, height: int) -> pl.Series:
    """A full-height column: a series as is, a scalar repeated."""
    if isinstance(value, pl.Series):
        return value
    if isinstance(value, ExprScalar):
        return value.series.new_from_index(0, height)
    return pl.Series([value]).new_from_index(0, height)


def _row_count(values: Any) -> int:
    lengths = {len(value) for value in values if isinstance(value, pl.Series)}
    if len(lengths) > 1:
        msg = f"input series have different lengths: {sorted(lengths)}"
        raise ValueError(msg)
    return lengths.pop() if lengths else 1
