"""Expansion of the Polars ``@with_columns`` decorators, with Apache Hamilton's node names.

For ``@with_columns(module, columns_to_pass=["a", "b"], select=["a_plus_b"])`` on
``final_df(initial_df: pl.DataFrame)`` the nodes are, in namespace ``final_df`` (``namespace=``,
default the function name):

* ``final_df.a``, ``final_df.b``: the passed columns, read from ``initial_df`` (extracted
  columns, so the planner projects them out of the frame's query);
* ``final_df.<fn>``: the module's functions, tagged ``hamilton.non_final_node``, pruned to those
  ``select`` needs;
* ``final_df._append``: ``initial_df.with_columns(a_plus_b=...)``, an :class:`AppendColumns`;
* ``final_df``: the function itself, reading ``final_df._append`` instead of ``initial_df``.

With ``on_input="initial_df"`` nothing is extracted: the functions read the frame themselves.
An expression function that takes no column parameter (``def a_from_df() -> pl.Expr: return
pl.col("a") / 100``, Hamilton's documented ``on_input`` style) reads the frame's columns
directly; it is wrapped in :class:`ReadsFrame`, which evaluates it against the frame.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import polars as pl

from hamilton_fast.expand.core import Bound
from hamilton_fast.expand.recursive import (
    build_subdag_nodes,
    namespaced,
    subdag_problem,
)
from hamilton_fast.expand.registry import ExpansionContext, register
from hamilton_fast.function_modifiers.recursive import WithColumnsSpec
from hamilton_fast.nodes import (
    Dependency,
    Node,
    NodeRole,
    ValueShape,
    describe_type,
    shape_of_type,
    types_match,
)

__all__ = ["APPEND_NODE", "AppendColumns", "ReadsFrame"]

APPEND_NODE = "_append"  # Hamilton's name for the node that appends the columns

_DECORATOR = "with_columns"


@dataclass(frozen=True)
class AppendColumns:
    """``frame.with_columns(column=value, ...)``: the ``_append`` node of ``@with_columns``.

    ``frame`` is the dependency holding the frame; ``columns`` pairs each column name written
    into the frame with the dependency holding its values. Existing columns are replaced in
    place, new ones appended in order, as ``DataFrame.with_columns`` does.
    """

    frame: str
    columns: tuple[tuple[str, str], ...]

    def __call__(self, **kwargs: Any) -> Any:
        frame = kwargs[self.frame]
        return frame.with_columns(
            **{column: _as_column(kwargs[dep]) for column, dep in self.columns}
        )


def _as_column(value: Any) -> Any:
    """A scalar node's Python value as a literal of the dtype its Series would have.

    Apache Hamilton appends an aggregate expression (``a.sum()``: Int64); a bare Python int
    would become a dynamic Int32 literal.
    """
    if isinstance(value, (pl.Series, pl.Expr)):
        return value
    return pl.lit(value, dtype=pl.Series([value]).dtype)


# Keyword under which ReadsFrame receives the frame when the function does not take it itself.
_FRAME_KEYWORD = "__with_columns_frame__"


@dataclass(frozen=True)
class ReadsFrame:
    """Evaluate an expression function that reads columns of the frame directly.

    ``fn`` returns a ``pl.Expr`` built from ``pl.col(...)`` of the frame's columns; the result is
    that expression evaluated against the frame (broadcast to its height, as ``with_columns``
    does; an aggregate gives its scalar). ``keyword`` is the argument the frame arrives in;
    ``passes_frame`` says whether ``fn`` takes it too.
    """

    fn: Callable[..., Any]
    keyword: str
    passes_frame: bool

    def __call__(self, **kwargs: Any) -> Any:
        frame = kwargs[self.keyword] if self.passes_frame else kwargs.pop(self.keyword)
        result = self.fn(**kwargs)
        if not isinstance(result, pl.Expr):
            return result
        if result.meta.is_scalar():  # an aggregate: a scalar node, as when traced
            return frame.lazy().select(result).collect().item()
        column = "__with_columns_value__"
        return frame.lazy().with_columns(result.alias(column)).select(column).collect()[column]


def _problem(fn: Callable[..., Any], message: str, hint: str) -> Exception:
    return subdag_problem(fn, _DECORATOR, message, hint)


def _frame_parameter(spec: WithColumnsSpec, node: Node, fn: Callable[..., Any]) -> Dependency:
    name = spec.on_input or next(iter(inspect.signature(fn).parameters))
    by_name = {d.name: d for d in node.dependencies}
    if name not in by_name:
        raise _problem(
            fn,
            f"the frame parameter `{name}` is not a dependency of the node (another decorator "
            "filled it)",
            f"let `{name}` come from the dataflow, or name another parameter with on_input=.",
        )
    dep = by_name[name]
    if not types_match(spec.frame_type, dep.annotation):
        other = "h_polars_lazyframe" if spec.frame_type is pl.DataFrame else "h_polars"
        raise _problem(
            fn,
            f"the frame parameter `{name}` is annotated {describe_type(dep.annotation)}, but "
            f"this with_columns works on {describe_type(spec.frame_type)}",
            f"annotate `{name}: {describe_type(spec.frame_type)}`, or use "
            f"hamilton_fast.plugins.{other}.with_columns for "
            f"{describe_type(pl.LazyFrame if spec.frame_type is pl.DataFrame else pl.DataFrame)}.",
        )
    return dep


def _config_for(
    spec: WithColumnsSpec, config: Mapping[str, Any], fn: Callable[..., Any]
) -> Mapping[str, Any]:
    if spec.config_required is None:
        return config
    missing = [k for k in spec.config_required if k not in config]
    if missing:
        raise _problem(
            fn,
            f"config_required names {', '.join(f'`{k}`' for k in missing)}, which the config "
            "does not have",
            f"add {', '.join(f'`{k}`' for k in missing)} to with_config({{...}}).",
        )
    return {k: config[k] for k in spec.config_required}


def _reads_frame(node: Node, frame: Dependency) -> Node:
    """An expression function with no column parameter reads the frame itself: give it the frame."""
    if node.fn is None or node.annotation is not pl.Expr:
        return node
    if any(shape_of_type(d.annotation) is ValueShape.COLUMN for d in node.dependencies):
        return node
    takes_frame = any(d.name == frame.name for d in node.dependencies)
    if takes_frame:
        return replace(node, fn=ReadsFrame(node.fn, frame.name, passes_frame=True))
    fn = Bound(
        ReadsFrame(node.fn, _FRAME_KEYWORD, passes_frame=False),
        sources=((_FRAME_KEYWORD, frame.name),),
        passthrough=tuple(d.name for d in node.dependencies),
    )
    return replace(node, dependencies=(*node.dependencies, frame), fn=fn)


def _prune(nodes: list[Node], select: tuple[str, ...] | None) -> list[Node]:
    """The nodes ``select`` needs (all of them when ``select`` is None), in their order."""
    if select is None:
        return nodes
    by_name = {n.name: n for n in nodes}
    needed: set[str] = set()
    stack = [s for s in select if s in by_name]
    while stack:
        name = stack.pop()
        if name in needed:
            continue
        needed.add(name)
        stack.extend(d.name for d in by_name[name].dependencies if d.name in by_name)
    return [n for n in nodes if n.name in needed]


def _with_columns(spec: WithColumnsSpec, node: Node, ctx: ExpansionContext) -> list[Node]:
    fn = ctx.fn
    namespace = spec.namespace or ctx.name or fn.__name__
    frame = _frame_parameter(spec, node, fn)
    frame_dep = Dependency(frame.name, spec.frame_type)
    passed = [
        Node(
            name=column,
            annotation=spec.column_type,
            role=NodeRole.EXTRACTED,
            dependencies=(frame_dep,),
            origin=fn,
            column=column,
            module=ctx.module,
        )
        for column in spec.columns_to_pass or ()
    ]
    config = _config_for(spec, ctx.config, fn)
    functions = build_subdag_nodes(fn, _DECORATOR, spec.load_from, config, ctx)
    functions = [_reads_frame(n, frame_dep) for n in functions]
    generated = passed + functions
    names = [n.name for n in generated]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        listed = ", ".join(f"`{n}`" for n in twice)
        raise _problem(
            fn,
            f"{listed} {'is' if len(twice) == 1 else 'are'} both passed in columns_to_pass and "
            "computed by a function",
            "columns_to_pass only adds new columns; to replace a column, use "
            f'on_input="{frame.name}" and select the function that recomputes it.',
        )
    if spec.select is not None:
        unknown = [s for s in spec.select if s not in names]
        if unknown:
            raise _problem(
                fn,
                f"select names {', '.join(f'`{u}`' for u in unknown)}, which "
                f"{'is' if len(unknown) == 1 else 'are'} neither passed nor computed",
                f"the columns available are {', '.join(f'`{n}`' for n in names) or '(none)'}.",
            )
    kept = _prune(generated, spec.select)
    by_name = {n.name: n for n in kept}
    select = (
        spec.select
        if spec.select is not None
        else tuple(n.name for n in kept if n.annotation is spec.column_type)
    )
    not_columns = [s for s in select if by_name[s].shape is not ValueShape.COLUMN]
    if not_columns:
        bad = by_name[not_columns[0]]
        raise _problem(
            fn,
            f"select names `{bad.name}`, which returns {describe_type(bad.annotation)}, not a "
            "column",
            f"select only functions returning {describe_type(spec.column_type)}; "
            f"`{bad.name}` can still be used by them.",
        )
    nodes = namespaced(kept, namespace)
    append = Node(
        name=f"{namespace}.{APPEND_NODE}",
        annotation=spec.frame_type,
        role=NodeRole.FUNCTION,
        dependencies=(
            *(Dependency(f"{namespace}.{s}", spec.column_type) for s in select),
            frame_dep,
        ),
        fn=AppendColumns(frame.name, tuple((s, f"{namespace}.{s}") for s in select)),
        origin=fn,
        module=ctx.module,
    )
    rewired = _read_frame_from(node, frame.name, append.name)
    return [*nodes, append, rewired]


def _read_frame_from(node: Node, frame: str, source: str) -> Node:
    """``node`` with its parameter ``frame`` filled from the node ``source``."""
    deps = tuple(replace(d, name=source) if d.name == frame else d for d in node.dependencies)
    assert node.fn is not None
    bound = Bound(
        node.fn,
        sources=tuple(
            (old.name, new.name) for old, new in zip(node.dependencies, deps, strict=True)
        ),
    )
    return replace(node, dependencies=deps, fn=bound)


@register("inject", WithColumnsSpec)
def _inject_with_columns(spec: WithColumnsSpec, node: Node, ctx: ExpansionContext) -> list[Node]:
    return _with_columns(spec, node, ctx)
