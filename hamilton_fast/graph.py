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
import os
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import polars as pl

from hamilton_fast.errors import GraphError, UnknownNodeError, format_problems
from hamilton_fast.function_modifiers.base import location_of, modifiers_of
from hamilton_fast.function_modifiers.configuration import ConfigSpec
from hamilton_fast.function_modifiers.expanders import ExtractColumnsSpec

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


class NodeRole(Enum):
    """Where a node's value comes from."""

    FUNCTION = "function"  # a user function computes it
    EXTRACTED = "extracted"  # a column of a frame node (@extract_columns)
    INPUT = "input"  # passed in `inputs=` at execute time
    CONFIG = "config"  # a key of the driver's config


class ValueShape(Enum):
    """What kind of value a type annotation promises; the planner starts from this."""

    COLUMN = "column"  # pl.Series / pl.Expr: one value per row
    FRAME = "frame"  # pl.DataFrame / pl.LazyFrame: a row space of its own
    VALUE = "value"  # anything else: a Python value (scalar, dict, model, ...)


@dataclass(frozen=True)
class Dependency:
    """One parameter of a node's function: the node it names and the type it asks for."""

    name: str
    annotation: Any
    has_default: bool = False
    default: Any = None


@dataclass(frozen=True, eq=False)
class Node:
    """One node of the graph.

    ``fn`` is called with the dependency values as keyword arguments (absent for inputs and
    config). ``origin`` is the user function the node comes from; ``column`` names the column an
    EXTRACTED node reads from its single dependency.
    """

    name: str
    annotation: Any
    role: NodeRole
    dependencies: tuple[Dependency, ...] = ()
    fn: Callable[..., Any] | None = None
    origin: Callable[..., Any] | None = None
    column: str | None = None
    fill_with: Any = None
    has_fill: bool = False
    tags: Mapping[str, Any] = field(default_factory=dict)
    doc: str = ""
    module: str | None = None

    @property
    def shape(self) -> ValueShape:
        return shape_of_type(self.annotation)

    @property
    def location(self) -> str:
        """``file:line`` of the originating function (empty for inputs and config)."""
        return short_path(location_of(self.origin)) if self.origin is not None else ""

    @property
    def signature(self) -> str:
        """``name(a: pl.Series, b: float)`` as the user wrote it, for messages."""
        fn_name = self.origin.__name__ if self.origin is not None else self.name
        params = ", ".join(f"{d.name}: {describe_type(d.annotation)}" for d in self.dependencies)
        return f"{fn_name}({params})"

    def describe(self) -> str:
        """One line naming the node's function and where it is defined."""
        if self.role is NodeRole.INPUT:
            return f"`{self.name}` (external input)"
        if self.role is NodeRole.CONFIG:
            return f"`{self.name}` (config)"
        return f"{self.signature} at {self.location}"


def short_path(location: str) -> str:
    """A location relative to the working directory when it is below it."""
    path, sep, line = location.rpartition(":")
    if not sep:
        return location
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return location
    return f"{rel if not rel.startswith('..') else path}:{line}"


_COLUMN_TYPES: tuple[type, ...] = (pl.Series, pl.Expr)
_FRAME_TYPES: tuple[type, ...] = (pl.DataFrame, pl.LazyFrame)


def shape_of_type(annotation: Any) -> ValueShape:
    """Classify an annotation: column (Series/Expr), frame (DataFrame/LazyFrame) or value."""
    if annotation in _COLUMN_TYPES:
        return ValueShape.COLUMN
    if annotation in _FRAME_TYPES:
        return ValueShape.FRAME
    return ValueShape.VALUE


def describe_type(annotation: Any) -> str:
    """``pl.Series`` rather than ``<class 'polars.series.series.Series'>``."""
    if isinstance(annotation, type):
        module = annotation.__module__
        if module.startswith("polars"):
            return f"pl.{annotation.__name__}"
        if module == "builtins":
            return annotation.__name__
        return f"{module}.{annotation.__qualname__}"
    return repr(annotation).replace("typing.", "")


def types_match(provided: Any, required: Any) -> bool:
    """Can a node of type ``provided`` feed a parameter annotated ``required``?

    Hamilton's rule (equal, ``Any``, subclass, member of a union, same generic origin), plus:
    ``pl.Series`` and ``pl.Expr`` are interchangeable, since both denote a column node.
    """
    if required is Any or provided is Any or provided == required:
        return True
    if provided in _COLUMN_TYPES and required in _COLUMN_TYPES:
        return True
    if isinstance(required, typing.TypeVar) or isinstance(provided, typing.TypeVar):
        return bool(required == provided)
    required_origin = typing.get_origin(required)
    if required_origin in (typing.Union, types.UnionType):
        return any(types_match(provided, arg) for arg in typing.get_args(required))
    provided_origin = typing.get_origin(provided)
    if provided_origin in (typing.Union, types.UnionType):
        return all(types_match(arg, required) for arg in typing.get_args(provided))
    if required_origin is not None or provided_origin is not None:
        left = provided_origin or provided
        right = required_origin or required
        if typing.get_args(required) and typing.get_args(provided):
            return bool(provided == required)
        return isinstance(left, type) and isinstance(right, type) and issubclass(left, right)
    return (
        isinstance(provided, type) and isinstance(required, type) and issubclass(provided, required)
    )


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


def _strip_suffix(name: str) -> str:
    head, sep, _ = name.rpartition("__")
    return head if sep and head else name


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

    def add_function(self, fn: Callable[..., Any], module: types.ModuleType) -> None:
        specs = modifiers_of(fn)
        name = fn.__name__
        for spec in specs:
            if isinstance(spec, ConfigSpec):
                try:
                    keep = bool(spec.resolves(self.config))
                except Exception as exc:  # a user-written resolver
                    self.problems.append(
                        f"GraphError: @config condition {spec.description} on `{fn.__name__}` "
                        f"raised {type(exc).__name__}: {exc}\n  at {short_path(location_of(fn))}\n"
                        "Hint: make the condition handle a missing key (use cfg.get(key))."
                    )
                    return
                if not keep:
                    return
                name = spec.target_name or _strip_suffix(fn.__name__)
        hints = self._type_hints(fn)
        if hints is None:
            return
        signature = inspect.signature(fn)
        dependencies: list[Dependency] = []
        missing: list[str] = []
        for param in signature.parameters.values():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                self.problems.append(
                    f"GraphError: `{name}` takes *{param.name}; nodes need named parameters.\n"
                    f"  at {short_path(location_of(fn))}\n"
                    "Hint: list each dependency as its own parameter."
                )
                return
            if param.name not in hints:
                missing.append(param.name)
                continue
            has_default = param.default is not inspect.Parameter.empty
            dependencies.append(
                Dependency(
                    param.name,
                    hints[param.name],
                    has_default,
                    param.default if has_default else None,
                )
            )
        if "return" not in hints:
            missing.append("return")
        if missing:
            what = ", ".join("the return value" if m == "return" else f"`{m}`" for m in missing)
            self.problems.append(
                f"GraphError: `{name}` has no type annotation for {what}.\n"
                f"  at {fn.__name__}{signature} {short_path(location_of(fn))}\n"
                "Hint: annotate every parameter and the return, e.g. "
                "`def spend_per_signup(spend: pl.Series, signups: pl.Series) -> pl.Series:`."
            )
            return
        base = Node(
            name=name,
            annotation=hints["return"],
            role=NodeRole.FUNCTION,
            dependencies=tuple(dependencies),
            fn=fn,
            origin=fn,
            doc=inspect.getdoc(fn) or "",
            module=module.__name__,
        )
        self.add(base)
        for spec in specs:
            if isinstance(spec, ExtractColumnsSpec):
                self._extract(base, spec)

    def _extract(self, base: Node, spec: ExtractColumnsSpec) -> None:
        if base.shape is not ValueShape.FRAME:
            self.problems.append(
                f"GraphError: @extract_columns on `{base.name}` needs a function returning "
                f"pl.DataFrame or pl.LazyFrame, but it is annotated "
                f"{describe_type(base.annotation)}.\n  at {base.location}\n"
                "Hint: annotate the return as `-> pl.DataFrame` (or `pl.LazyFrame`)."
            )
            return
        for column, doc in zip(spec.columns, spec.docs, strict=True):
            self.add(
                Node(
                    name=column,
                    annotation=pl.Series,
                    role=NodeRole.EXTRACTED,
                    dependencies=(Dependency(base.name, base.annotation),),
                    origin=base.origin,
                    column=column,
                    fill_with=spec.fill_with,
                    has_fill=spec.has_fill,
                    doc=doc,
                    module=base.module,
                )
            )

    def _type_hints(self, fn: Callable[..., Any]) -> dict[str, Any] | None:
        try:
            return typing.get_type_hints(fn)
        except Exception as exc:
            self.problems.append(
                f"GraphError: the annotations of `{fn.__name__}` cannot be resolved: "
                f"{type(exc).__name__}: {exc}\n  at {short_path(location_of(fn))}\n"
                "Hint: import every type used in an annotation at module level."
            )
            return None

    def link(self) -> None:
        """Create input and config nodes for unmatched parameters, and type-check every edge."""
        for key, value in self.config.items():
            if key not in self.nodes:
                self.nodes[key] = Node(name=key, annotation=type(value), role=NodeRole.CONFIG)
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
    for module in modules:
        if not isinstance(module, types.ModuleType):
            raise GraphError(
                f"with_modules() takes modules, got {type(module).__name__} {module!r}.\n"
                "Hint: pass the imported module object: `import features; "
                "Builder().with_modules(features)`."
            )
        for fn in _module_functions(module):
            builder.add_function(fn, module)
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
