"""Modules + config -> an immutable, validated :class:`Graph` of nodes.

Hamilton's rules, faithfully: every public function defined in a given module is a node named
after the function (``@config`` variants lose their ``__suffix``); each parameter is an edge to
the node of the same name, or an external input when no node provides it (optional when it has
a default); config keys are nodes too. Every problem found is reported at once.

All traversals are iterative, so a 100,000-node chain builds without touching the recursion
limit.
"""

from __future__ import annotations

import difflib
import inspect
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hamilton_fast.errors import GraphError, UnknownNodeError, format_problems
from hamilton_fast.expand import ExpansionProblem, expand_function
from hamilton_fast.function_modifiers.base import ModifierSpec, modifiers_of
from hamilton_fast.nodes import (
    Dependency,
    Node,
    NodeRole,
    ValueShape,
    describe_type,
    shape_of_type,
    short_path,
    types_match,
)

__all__ = [
    "Dependency",
    "Graph",
    "Node",
    "NodeRole",
    "ValueShape",
    "build_graph",
    "describe_type",
    "shape_of_type",
    "short_path",
    "types_match",
]


@dataclass(frozen=True, eq=False)
class Graph:
    """An immutable, validated DAG. ``order`` is a topological order of all node names."""

    nodes: Mapping[str, Node]
    consumers: Mapping[str, tuple[str, ...]]
    order: tuple[str, ...]
    config: Mapping[str, Any]
    modules: tuple[types.ModuleType, ...]

    @property
    def position(self) -> Mapping[str, int]:
        """Topological position of each node (computed once, cached on the instance)."""
        cached: dict[str, int] | None = self.__dict__.get("_position")
        if cached is None:
            cached = {name: i for i, name in enumerate(self.order)}
            object.__setattr__(self, "_position", cached)
        return cached

    def __getitem__(self, name: str) -> Node:
        try:
            return self.nodes[name]
        except KeyError:
            raise self.unknown(name) from None

    def unknown(self, name: str, what: str = "node") -> UnknownNodeError:
        """An error for a name that is not a node, with the closest names as a hint."""
        close = difflib.get_close_matches(name, list(self.nodes), n=3, cutoff=0.6)
        hint = (
            "did you mean " + " or ".join(f"`{c}`" for c in close) + "?"
            if close
            else "list the available names with `dr.list_available_variables()`."
        )
        return UnknownNodeError(
            f"`{name}` is not a {what} of this dataflow.\n"
            f"  modules: {', '.join(m.__name__ for m in self.modules) or '(none)'}\n"
            f"Hint: {hint}"
        )

    def upstream(self, names: Iterable[str], stop_at: Iterable[str] = ()) -> set[str]:
        """``names`` and every node they depend on; nodes in ``stop_at`` are not expanded."""
        stops = set(stop_at)
        seen: set[str] = set()
        stack = list(names)
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            if name in stops:
                continue
            stack.extend(d.name for d in self[name].dependencies)
        return seen

    def downstream(self, names: Iterable[str]) -> set[str]:
        """``names`` and every node that depends on them."""
        seen: set[str] = set()
        stack = list(names)
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            stack.extend(self.consumers.get(name, ()))
        return seen

    def sorted(self, names: Iterable[str]) -> list[str]:
        """``names`` in topological order."""
        position = self.position
        return sorted(names, key=position.__getitem__)


# -- building --------------------------------------------------------------------------------


def _module_functions(module: types.ModuleType) -> list[Callable[..., Any]]:
    """Public functions defined in ``module`` itself (Hamilton's rule), in name order."""
    found: list[Callable[..., Any]] = []
    seen: set[int] = set()
    for attr, value in sorted(vars(module).items()):
        if attr.startswith("_") or not inspect.isfunction(value):
            continue
        if value.__name__.startswith("_") or value.__module__ != module.__name__:
            continue
        if id(value) in seen:
            continue
        seen.add(id(value))
        found.append(value)
    return found


class _Builder:
    """Collects nodes and problems; :meth:`finish` validates and freezes the graph."""

    def __init__(self, config: Mapping[str, Any], allow_overrides: bool) -> None:
        self.config = config
        self.allow_overrides = allow_overrides
        self.nodes: dict[str, Node] = {}
        self.problems: list[str] = []

    def add(self, node: Node) -> None:
        previous = self.nodes.get(node.name)
        if previous is not None:
            if self.allow_overrides and previous.module != node.module:
                pass  # later modules win, as with Hamilton's allow_module_overrides
            else:
                same_module = previous.module == node.module
                hint = (
                    "give the variants `@config.when(...)` conditions that exclude each other."
                    if same_module
                    else "rename one of them, or build with "
                    "`Builder().allow_module_overrides()` so the later module wins."
                )
                self.problems.append(
                    f"GraphError: `{node.name}` is defined twice.\n"
                    f"  first:  {previous.describe()} (module {previous.module})\n"
                    f"  second: {node.describe()} (module {node.module})\n"
                    f"Hint: {hint}"
                )
                return
        self.nodes[node.name] = node

    def add_function(
        self,
        fn: Callable[..., Any],
        module: types.ModuleType,
        remote: tuple[tuple[ModifierSpec, Callable[..., Any]], ...] = (),
    ) -> None:
        try:
            expansion = expand_function(
                fn, module.__name__, self.config, remote, build_nodes=_nodes_of
            )
        except ExpansionProblem as problem:
            self.problems.append(str(problem))
            return
        for node in expansion.nodes:
            self.add(node)

    def link(self) -> None:
        """Create input and config nodes for unmatched parameters, and type-check every edge."""
        # A config node has the type its consumers ask for (Any when nothing reads it), as in
        # Hamilton; its value is checked against each consumer at execute time.
        asked: dict[str, Any] = {}
        for node in self.nodes.values():
            for dep in node.dependencies:
                asked.setdefault(dep.name, dep.annotation)
        for key in self.config:
            if key not in self.nodes:
                self.nodes[key] = Node(
                    name=key, annotation=asked.get(key, Any), role=NodeRole.CONFIG
                )
        inputs: dict[str, list[tuple[Node, Dependency]]] = {}
        for node in list(self.nodes.values()):
            for dep in node.dependencies:
                provider = self.nodes.get(dep.name)
                if provider is None:
                    inputs.setdefault(dep.name, []).append((node, dep))
                elif provider.role is NodeRole.CONFIG:
                    continue  # config values are checked against their consumers at execute
                elif not types_match(provider.annotation, dep.annotation):
                    self.problems.append(
                        f"GraphError: type mismatch on edge `{dep.name}` -> `{node.name}`: "
                        f"`{dep.name}` returns {describe_type(provider.annotation)}, but "
                        f"`{node.name}` asks for {describe_type(dep.annotation)}.\n"
                        f"  provider: {provider.describe()}\n  consumer: {node.describe()}\n"
                        f"Hint: change the annotation of `{dep.name}` in one of them so the two "
                        "agree."
                    )
        for name, uses in inputs.items():
            annotation = uses[0][1].annotation
            for node, dep in uses[1:]:
                if not (
                    types_match(dep.annotation, annotation)
                    or types_match(annotation, dep.annotation)
                ):
                    self.problems.append(
                        f"GraphError: external input `{name}` is asked for as two types: "
                        f"{describe_type(annotation)} by `{uses[0][0].name}` and "
                        f"{describe_type(dep.annotation)} by `{node.name}`.\n"
                        f"  {uses[0][0].describe()}\n  {node.describe()}\n"
                        "Hint: annotate the parameter the same way in both functions."
                    )
            self.nodes[name] = Node(
                name=name, annotation=annotation, role=NodeRole.INPUT, origin=None
            )

    def topological_order(self) -> tuple[str, ...]:
        """Kahn's algorithm; nodes left over lie on or behind a cycle, which is reported."""
        indegree = dict.fromkeys(self.nodes, 0)
        consumers: dict[str, list[str]] = {name: [] for name in self.nodes}
        for node in self.nodes.values():
            for dep in node.dependencies:
                indegree[node.name] += 1
                consumers[dep.name].append(node.name)
        ready = [name for name, degree in indegree.items() if degree == 0]
        order: list[str] = []
        while ready:
            name = ready.pop()
            order.append(name)
            for consumer in consumers[name]:
                indegree[consumer] -= 1
                if indegree[consumer] == 0:
                    ready.append(consumer)
        if len(order) < len(self.nodes):
            cycle = self._find_cycle({n for n, d in indegree.items() if d > 0})
            path = " -> ".join(f"`{n}`" for n in [*cycle, cycle[0]])
            lines = "\n".join(f"  {self.nodes[n].describe()}" for n in cycle)
            self.problems.append(
                f"GraphError: the functions form a cycle: {path}.\n{lines}\n"
                "Hint: a node cannot depend on itself through others; split one function or "
                "rename a parameter that should name a different node."
            )
        return tuple(order)

    def _find_cycle(self, stuck: set[str]) -> list[str]:
        """Walk dependency edges inside ``stuck`` until a node repeats."""
        start = min(stuck)
        path: list[str] = []
        index: dict[str, int] = {}
        current = start
        while current not in index:
            index[current] = len(path)
            path.append(current)
            current = next(d.name for d in self.nodes[current].dependencies if d.name in stuck)
        return path[index[current] :]


def _remote_specs(
    modules: Sequence[types.ModuleType],
) -> dict[int, list[tuple[ModifierSpec, Callable[..., Any]]]]:
    """Specs declared on one function that transform another (``@mutate``), by target id.

    Private functions count here: a mutating function is usually ``_``-prefixed so it is not a
    node itself.
    """
    found: dict[int, list[tuple[ModifierSpec, Callable[..., Any]]]] = {}
    for module in modules:
        for _, value in sorted(vars(module).items()):
            if not inspect.isfunction(value) or value.__module__ != module.__name__:
                continue
            for spec in modifiers_of(value):
                for target in spec.remote_targets():
                    found.setdefault(id(inspect.unwrap(target)), []).append((spec, value))
    return found


def _add_modules(builder: _Builder, modules: Sequence[types.ModuleType]) -> None:
    remote = _remote_specs(modules)
    for module in modules:
        if not isinstance(module, types.ModuleType):
            raise GraphError(
                f"with_modules() takes modules, got {type(module).__name__} {module!r}.\n"
                "Hint: pass the imported module object: `import features; "
                "Builder().with_modules(features)`."
            )
        for fn in _module_functions(module):
            builder.add_function(fn, module, tuple(remote.get(id(fn), ())))


def _nodes_of(modules: Sequence[Any], config: Mapping[str, Any]) -> list[Node]:
    """The unlinked nodes of ``modules`` under ``config`` (for ``@subdag``)."""
    builder = _Builder(dict(config), allow_overrides=False)
    _add_modules(builder, modules)
    if builder.problems:
        raise GraphError(format_problems(builder.problems))
    return list(builder.nodes.values())


def build_graph(
    modules: Sequence[types.ModuleType],
    config: Mapping[str, Any] | None = None,
    *,
    allow_module_overrides: bool = False,
) -> Graph:
    """Build and validate the graph of ``modules`` under ``config``.

    Raises:
        GraphError: with every problem found (missing annotations, duplicates, type mismatches
            on edges, cycles), each naming the function and its file:line.
    """
    cfg = dict(config or {})
    builder = _Builder(cfg, allow_module_overrides)
    _add_modules(builder, modules)
    builder.link()
    order = builder.topological_order()
    if builder.problems:
        raise GraphError(format_problems(builder.problems))
    consumers: dict[str, list[str]] = {name: [] for name in builder.nodes}
    for node in builder.nodes.values():
        for dep in node.dependencies:
            consumers[dep.name].append(node.name)
    return Graph(
        nodes=dict(builder.nodes),
        consumers={k: tuple(v) for k, v in consumers.items()},
        order=order,
        config=cfg,
        modules=tuple(modules),
    )
