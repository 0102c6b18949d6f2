"""Expansion of ``@subdag`` and ``@parameterized_subdag``: modules replayed into a namespace.

Apache Hamilton's rules, node for node:

* every node the subdag's functions produce (under the subdag's config) is renamed
  ``namespace.node`` and tagged ``hamilton.non_final_node``;
* a dependency is renamed with it when it names a node of the subdag, a key of ``inputs=`` or a
  key of ``config=``; any other dependency (an outer node, a driver input, a driver config key)
  keeps its name, so the subdag reads it from the outer dataflow;
* ``inputs=`` become nodes ``namespace.key``: a ``value()`` a constant node, a ``source()`` an
  identity node reading the outer node (only when the subdag uses that key);
* each ``config=`` entry becomes a constant node ``namespace.key``;
* the decorated function becomes the final node (``final_node_name``, default the function
  name), reading its parameters from the namespace unless they are ``external_inputs``.

Generated nodes only rename arguments (:class:`~hamilton_fast.expand.core.Bound`) or pass
values through, so the planner traces them into the query like the original functions.
"""

from __future__ import annotations

import textwrap
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from hamilton_fast.errors import GraphError
from hamilton_fast.expand.core import Bound, ExpansionProblem, _function_node
from hamilton_fast.expand.registry import ExpansionContext, register
from hamilton_fast.function_modifiers.base import location_of
from hamilton_fast.function_modifiers.dependencies import ConfigDependency, LiteralDependency
from hamilton_fast.function_modifiers.recursive import ParameterizedSubdagSpec, SubdagSpec
from hamilton_fast.nodes import Dependency, Node, NodeRole, short_path

__all__ = [
    "NON_FINAL_TAG",
    "Constant",
    "Identity",
    "build_subdag_nodes",
    "namespaced",
    "namespaced_parameters",
    "subdag_problem",
]

# Apache Hamilton's tag for nodes a decorator generates that are not the function's own output;
# node transformers and `@tag` without a target skip them.
NON_FINAL_TAG = "hamilton.non_final_node"


@dataclass(frozen=True)
class Constant:
    """A node function returning a fixed value (``inputs={"k": value(3)}``, subdag config)."""

    value: Any

    def __call__(self) -> Any:
        return self.value


@dataclass(frozen=True)
class Identity:
    """A node function passing the value of one dependency through (``source("raw")``)."""

    source: str

    def __call__(self, **kwargs: Any) -> Any:
        return kwargs[self.source]


def subdag_problem(
    fn: Callable[..., Any], decorator: str, message: str, hint: str
) -> ExpansionProblem:
    """A problem with one decorated function, in the GraphError message shape."""
    return ExpansionProblem(
        f"GraphError: @{decorator} on `{fn.__name__}`: {message}\n"
        f"  function: {fn.__name__} at {short_path(location_of(fn))}\n"
        f"Hint: {hint}"
    )


def _as_modules(load_from: Sequence[Any]) -> list[types.ModuleType]:
    """Modules as given; loose functions grouped into stand-in modules named like their own."""
    modules: list[types.ModuleType] = []
    loose: dict[str, types.ModuleType] = {}
    for item in load_from:
        if isinstance(item, types.ModuleType):
            modules.append(item)
            continue
        module_name = getattr(item, "__module__", None) or "__main__"
        holder = loose.get(module_name)
        if holder is None:
            holder = types.ModuleType(module_name)
            loose[module_name] = holder
            modules.append(holder)
        setattr(holder, item.__name__, item)
    return modules


def build_subdag_nodes(
    fn: Callable[..., Any],
    decorator: str,
    load_from: Sequence[Any],
    config: Mapping[str, Any],
    ctx: ExpansionContext,
) -> list[Node]:
    """The nodes of ``load_from`` under ``config``, each tagged as not final."""
    if ctx.build_nodes is None:
        raise subdag_problem(
            fn,
            decorator,
            "graph building did not provide a way to build the subdag's modules",
            "build the dataflow through hamilton_fast.driver.Builder (or graph.build_graph).",
        )
    try:
        nodes = ctx.build_nodes(_as_modules(load_from), config)
    except GraphError as exc:
        raise subdag_problem(
            fn,
            decorator,
            "the functions it replays do not form a valid dataflow:\n"
            + textwrap.indent(str(exc), "    "),
            "fix the problems listed above in the subdag's modules.",
        ) from exc
    return [replace(n, tags={**n.tags, NON_FINAL_TAG: True}) for n in nodes]


def namespaced(nodes: Iterable[Node], namespace: str, also: Iterable[str] = ()) -> list[Node]:
    """``nodes`` renamed ``namespace.name``, with their dependencies on each other (and on the
    names in ``also``) renamed too; other dependencies keep their names."""
    nodes = list(nodes)
    inside = {n.name for n in nodes} | set(also)

    def rename(name: str) -> str:
        return f"{namespace}.{name}" if name in inside else name

    out: list[Node] = []
    for node in nodes:
        deps = tuple(replace(d, name=rename(d.name)) for d in node.dependencies)
        fn = node.fn
        if fn is not None and any(d.name in inside for d in node.dependencies):
            fn = Bound(fn, sources=tuple((d.name, rename(d.name)) for d in node.dependencies))
        out.append(replace(node, name=f"{namespace}.{node.name}", dependencies=deps, fn=fn))
    return out


def _resolve_config(
    fn: Callable[..., Any], spec: SubdagSpec, outer: Mapping[str, Any], decorator: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(config the subdag is built with, the subdag's own config entries with their values)."""
    own: dict[str, Any] = {}
    lookups: dict[str, str] = {}
    for key, item in spec.config:
        if isinstance(item, ConfigDependency):
            lookups[key] = item.key
        elif isinstance(item, LiteralDependency):
            own[key] = item.value
        else:
            own[key] = item
    resolved = {**outer, **own}
    for key, source_key in lookups.items():
        if source_key not in resolved:
            raise subdag_problem(
                fn,
                decorator,
                f'config `{key}` reads configuration("{source_key}"), which is not in the config',
                f"add `{source_key}` to the driver's with_config({{...}}), or to config= of the "
                "subdag.",
            )
        resolved[key] = own[key] = resolved[source_key]
    return resolved, {key: own[key] for key, _ in spec.config}


def _subdag(spec: SubdagSpec, ctx: ExpansionContext, decorator: str) -> list[Node]:
    fn = ctx.fn
    name = ctx.name or fn.__name__
    namespace = spec.namespace or name
    config, own_config = _resolve_config(fn, spec, ctx.config, decorator)
    inner = build_subdag_nodes(fn, decorator, spec.load_from, config, ctx)
    inner_names = {n.name for n in inner}
    computed = sorted(inner_names & {key for key, _ in spec.inputs})
    if computed:
        names = ", ".join(f"`{c}`" for c in computed)
        raise subdag_problem(
            fn,
            decorator,
            f"inputs= fills {names}, which the subdag computes itself",
            "inputs= feeds the subdag's external inputs only; remove the entry, or drop the "
            "function computing it from the subdag's modules.",
        )
    keys = [key for key, _ in spec.inputs] + [key for key, _ in spec.config]
    nodes = namespaced(inner, namespace, also=keys)
    asked: dict[str, Any] = {}
    for node in nodes:
        for needed in node.dependencies:
            asked[needed.name] = needed.annotation
    meta: dict[str, Any] = {"origin": fn, "module": ctx.module, "tags": {NON_FINAL_TAG: True}}
    for key, dep in spec.inputs:
        input_name = f"{namespace}.{key}"
        if isinstance(dep, LiteralDependency):
            nodes.append(
                Node(input_name, type(dep.value), NodeRole.FUNCTION, fn=Constant(dep.value), **meta)
            )
        elif input_name in asked:  # Hamilton adds a source only where the subdag reads it
            annotation = asked[input_name]
            nodes.append(
                Node(
                    input_name,
                    annotation,
                    NodeRole.FUNCTION,
                    dependencies=(Dependency(dep.source, annotation),),
                    fn=Identity(dep.source),
                    **meta,
                )
            )
    for key, value in own_config.items():
        nodes.append(
            Node(f"{namespace}.{key}", type(value), NodeRole.FUNCTION, fn=Constant(value), **meta)
        )
    final = _function_node(fn, spec.final_node_name or name, ctx.module)
    external = set(spec.external_inputs)
    nodes.append(namespaced_parameters(final, namespace, keep=external))
    return nodes


def namespaced_parameters(node: Node, namespace: str, keep: set[str]) -> Node:
    """``node`` reading each dependency from ``namespace.dependency``, except those in ``keep``."""

    def rename(name: str) -> str:
        return name if name in keep else f"{namespace}.{name}"

    deps = tuple(replace(d, name=rename(d.name)) for d in node.dependencies)
    if node.fn is None or all(d.name in keep for d in node.dependencies):
        return replace(node, dependencies=deps)
    bound = Bound(node.fn, sources=tuple((d.name, rename(d.name)) for d in node.dependencies))
    return replace(node, dependencies=deps, fn=bound)


@register("create", SubdagSpec)
def _create_subdag(spec: SubdagSpec, ctx: ExpansionContext) -> list[Node]:
    return _subdag(spec, ctx, "subdag")


@register("create", ParameterizedSubdagSpec)
def _create_parameterized_subdag(
    spec: ParameterizedSubdagSpec, ctx: ExpansionContext
) -> list[Node]:
    nodes: list[Node] = []
    for one in spec.subdags:
        nodes.extend(_subdag(one, ctx, "parameterized_subdag"))
    return nodes
