"""The driver: Hamilton's ``Builder``/``Driver`` API over graph -> plan -> execute.

Example:
    >>> import polars as pl
    >>> from hamilton_fast import ad_hoc_utils, driver
    >>> def doubled(x: pl.Series) -> pl.Series:
    ...     return x * 2
    >>> module = ad_hoc_utils.create_temporary_module(doubled)
    >>> dr = driver.Builder().with_modules(module).build()
    >>> dr.execute(["doubled"], inputs={"x": pl.Series([1, 2])})["doubled"].to_list()
    [2, 4]
"""

from __future__ import annotations

import dataclasses
import importlib.util
import types
import typing
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from hamilton_fast.cache.node_cache import BEHAVIORS, CachePlan, NodeCache
from hamilton_fast.cache.stamps import call_stamp
from hamilton_fast.cache.store import Verify
from hamilton_fast.errors import CacheError, GraphError, InputError, format_problems
from hamilton_fast.execute import (
    ResultKind,
    collect_outputs,
    enforce_checks,
    judge_checks,
    shape_result,
)
from hamilton_fast.graph import Graph, NodeRole, build_graph, describe_type
from hamilton_fast.nodes import CheckOutcome
from hamilton_fast.planner.compile import TraceMemo, compile_request, value_key
from hamilton_fast.planner.ir import Compiled, EngineName
from hamilton_fast.planner.sortedness import mark_sorted

__all__ = ["ENGINES", "Builder", "Driver", "Variable"]


def _overrides_as_given(
    compiled: Compiled, given: Mapping[str, Any], marked: Mapping[str, Any]
) -> Compiled:
    """``compiled`` returning the requested overrides the driver flagged sorted (for the
    query) as the objects the user passed."""
    changed = {n: given[n] for n in compiled.outputs if n in given and marked[n] is not given[n]}
    if not changed:
        return compiled
    return dataclasses.replace(
        compiled,
        as_given={
            **compiled.as_given,
            **{
                n: v
                for n, v in changed.items()
                if n in compiled.output_group and isinstance(v, pl.Series)
            },
        },
        values={**compiled.values, **{n: v for n, v in changed.items() if n in compiled.values}},
    )


ENGINES = ("in-memory", "streaming", "gpu", "auto")
_MAX_MEMO_PER_NODE = 8
"""Traces kept per node before the memo is cleared (stale stamps leave entries behind)."""


@dataclass(frozen=True)
class Variable:
    """A node as ``list_available_variables`` reports it (Hamilton's fields)."""

    name: str
    type: Any
    tags: Mapping[str, Any]
    is_external_input: bool
    originating_functions: tuple[Callable[..., Any], ...] | None
    documentation: str = ""
    kind: str = ""


def _result_kind(adapter: Any) -> ResultKind:
    kind = getattr(adapter, "result_kind", None)
    if kind is None:
        builder = getattr(adapter, "result_builder", None)
        kind = getattr(builder, "result_kind", None)
    if kind not in ("polars", "dict", "lazy", "pandas"):
        raise GraphError(
            f"adapter {type(adapter).__name__} is not supported by hamilton_fast.\n"
            "Hint: use base.SimplePythonGraphAdapter with base.DictResult(), "
            "base.PandasDataFrameResult(), h_polars.PolarsDataFrameResult() or "
            "h_polars_lazyframe.PolarsLazyFrameResult()."
        )
    return typing.cast("ResultKind", kind)


def _check_engine(engine: str) -> EngineName:
    if engine not in ENGINES:
        raise GraphError(f"unknown engine {engine!r}.\nHint: choose one of {', '.join(ENGINES)}.")
    if engine == "gpu" and importlib.util.find_spec("cudf_polars") is None:
        raise GraphError(
            "engine 'gpu' needs the `cudf_polars` package, which is not installed.\n"
            "Hint: `pip install 'polars[gpu]'` on a machine with an NVIDIA GPU, or use "
            "engine='in-memory'."
        )
    return typing.cast("EngineName", engine)


def _value_matches(annotation: Any, value: Any) -> bool:
    """Runtime check of an input value against the annotation of a parameter it feeds."""
    if annotation is Any or isinstance(annotation, typing.TypeVar):
        return True
    if annotation in (pl.Series, pl.Expr):
        return isinstance(value, pl.Series)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_value_matches(a, value) for a in typing.get_args(annotation))
    if origin is typing.Literal:
        return value in typing.get_args(annotation)
    if origin is not None:
        return isinstance(origin, type) and isinstance(value, origin)
    if isinstance(annotation, type):
        if annotation is float and isinstance(value, int) and not isinstance(value, bool):
            return False  # Hamilton is strict here too
        return isinstance(value, annotation)
    return True


class Driver:
    """Runs requested nodes of a dataflow as one optimized Polars query.

    ``Driver(config, *modules, adapter=None)`` is Hamilton's legacy constructor; prefer
    :class:`Builder`. The default result is a ``pl.DataFrame``.
    """

    def __init__(
        self,
        config: Mapping[str, Any] | None,
        *modules: types.ModuleType,
        adapter: Any = None,
        allow_module_overrides: bool = False,
        engine: str = "in-memory",
        cache: NodeCache | None = None,
    ) -> None:
        self.config: dict[str, Any] = dict(config or {})
        self.modules = tuple(modules)
        self.engine: EngineName = _check_engine(engine)
        self.result_kind: ResultKind = "polars" if adapter is None else _result_kind(adapter)
        self.graph: Graph = build_graph(
            self.modules, self.config, allow_module_overrides=allow_module_overrides
        )
        self._memo: TraceMemo = {}
        self.cache: NodeCache | None = cache
        if cache is not None:
            for name in cache.named_nodes():
                if name not in self.graph.nodes:
                    raise self.graph.unknown(name, what="node named in with_cache()")
        self._cache_plan: CachePlan | None = None
        # Plans reusable for a request of the same shape (see planner.compile.Recipe).
        self._recipes: dict[Hashable, tuple[Compiled, dict[str, Hashable | None]]] = {}
        self._needed_inputs: dict[Hashable, tuple[str, ...]] = {}
        self._needed_functions: dict[Hashable, tuple[tuple[str, Callable[..., Any]], ...]] = {}
        self.last_compiled: Compiled | None = None  # how the last execute/explain ran each node
        self.validation_results: tuple[CheckOutcome, ...] = ()  # @check_output, last execute

    # -- requests --------------------------------------------------------------------------

    def _final_names(self, final_vars: Sequence[str | Callable[..., Any] | Variable]) -> list[str]:
        if isinstance(final_vars, str):
            raise GraphError(
                f"final_vars must be a list of names, got the string {final_vars!r}.\n"
                f'Hint: dr.execute(["{final_vars}"]).'
            )
        names: list[str] = []
        for item in final_vars:
            if isinstance(item, str):
                names.append(item)
            elif isinstance(item, Variable):
                names.append(item.name)
            elif callable(item):
                origin = [
                    n.name
                    for n in self.graph.nodes.values()
                    if n.origin is item and n.role is NodeRole.FUNCTION
                ]
                if not origin:
                    raise self.graph.unknown(getattr(item, "__name__", repr(item)))
                names.extend(origin)
            else:
                raise GraphError(
                    f"final_vars contains {item!r}, which is not a node name or a function.\n"
                    "Hint: pass node names as strings."
                )
        unknown = [n for n in names if n not in self.graph.nodes]
        if len(unknown) == 1:
            raise self.graph.unknown(unknown[0])
        if unknown:
            raise GraphError(format_problems([str(self.graph.unknown(n)) for n in unknown]))
        return names

    def _check_request(
        self, names: Sequence[str], inputs: Mapping[str, Any], overrides: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Validate overrides and inputs for a request; return the values for inputs/config."""
        graph = self.graph
        unknown = [o for o in overrides if o not in graph.nodes]
        if unknown:
            raise graph.unknown(unknown[0], what="node that can be overridden")
        values = {**self.config, **inputs}
        needed = graph.upstream(names, stop_at=overrides)
        problems: list[str] = []
        for name in graph.sorted(needed):
            node = graph.nodes[name]
            if node.role not in (NodeRole.INPUT, NodeRole.CONFIG) or name in overrides:
                continue
            consumers = [
                graph.nodes[c] for c in graph.consumers[name] if c in needed and c not in overrides
            ]
            if name not in values:
                required_by = [
                    c
                    for c in consumers
                    if not any(d.name == name and d.has_default for d in c.dependencies)
                ]
                if required_by or name in names:
                    lines = "\n".join(f"  required by: {c.describe()}" for c in required_by)
                    problems.append(
                        f"InputError: `{name}` is needed, but no function or input provides it."
                        f"\n{lines}\n"
                        f"Hint: pass `{name}` in inputs= (or config), or add a function "
                        f"`def {name}(...) -> {describe_type(node.annotation)}`."
                    )
                continue
            value = values[name]
            for consumer in consumers:
                dep = next(d for d in consumer.dependencies if d.name == name)
                if not _value_matches(dep.annotation, value):
                    problems.append(
                        f"InputError: input `{name}` should be {describe_type(dep.annotation)}, "
                        f"but got {type(value).__name__} ({_short_repr(value)}).\n"
                        f"  required by: {consumer.describe()}\n"
                        f"Hint: pass a {describe_type(dep.annotation)} for `{name}`, or change "
                        "the parameter's annotation."
                    )
                    break
        if problems:
            raise InputError(format_problems(problems))
        return values

    def _compile(
        self,
        final_vars: Sequence[str | Callable[..., Any] | Variable],
        inputs: Mapping[str, Any] | None,
        overrides: Mapping[str, Any] | None,
    ) -> Compiled:
        names = self._final_names(final_vars)
        # Overrides are few: flagged here, before keying (requested ones come back as given,
        # see _overrides_as_given). Inputs and config are flagged by the planner, and only
        # those a computation reads (a rerun served from the cache reads none).
        given_overrides = dict(overrides or {})
        overrides = {name: mark_sorted(value) for name, value in given_overrides.items()}
        inputs = dict(inputs or {})
        if len(self._memo) > _MAX_MEMO_PER_NODE * len(self.graph.nodes):
            self._memo.clear()  # traces under stamps that changed since: never asked again
        if self.cache is not None:
            values = self._check_request(names, inputs, overrides)
            plan = self.cache.prepare(self.graph, names, values, overrides, self.engine)
            compiled = compile_request(
                self.graph,
                names,
                values,
                {**overrides, **plan.sources},
                self._memo,
                # The stamps the cache took while keying; only traced nodes are asked.
                lambda name: plan.stamps[name] if name in plan.stamps else self._stamp_of(name),
                self.engine,
                plan.cached,
            )
            self._cache_plan = plan
            self.last_compiled = _overrides_as_given(compiled, given_overrides, overrides)
            return self.last_compiled
        key = self._request_key(names, inputs, overrides)
        stamps = self._stamps(names, overrides)
        found = self._recipes.get(key) if key is not None else None
        # A recipe replays traced expressions: only while every function it traced reads
        # the same constants, helpers and globals as when it was recorded.
        template = found[0] if found is not None and found[1] == stamps else None
        if template is not None and template.recipe is not None:
            # Same request shape as before: rebuild the queries, skip planning and checks.
            given = {**self.config, **inputs}
            marked = {name: mark_sorted(value) for name, value in given.items()}
            current = {**marked, **overrides}  # flagged as the planner flags them
            compiled = dataclasses.replace(
                template,
                queries=template.recipe.replay(current),
                values={n: {**given, **overrides}[n] for n in template.values},
                as_given={  # requested ones come back as given
                    n: given[n]
                    for n in template.output_group
                    if n in given and n not in overrides and marked[n] is not given[n]
                },
            )
        else:
            values = self._check_request(names, inputs, overrides)
            compiled = compile_request(
                self.graph, names, values, overrides, self._memo, stamps.get, self.engine
            )
            if key is not None and compiled.recipe is not None and None not in stamps.values():
                self._recipes[key] = (compiled, stamps)
        self.last_compiled = _overrides_as_given(compiled, given_overrides, overrides)
        return self.last_compiled

    def _stamps(self, names: list[str], overrides: Mapping[str, Any]) -> dict[str, Hashable | None]:
        """Call stamps of the needed nodes' functions: what each reads besides its arguments.

        Traces and recipes are reused only under equal stamps, so a constant, helper or global
        reassigned between two runs of this driver is seen, as Hamilton calls every function.
        """
        shape = (tuple(names), tuple(sorted(overrides)))
        functions = self._needed_functions.get(shape)
        if functions is None:
            graph = self.graph
            upstream = graph.upstream(names, stop_at=overrides)
            found: list[tuple[str, Callable[..., Any]]] = []
            for name in graph.sorted(upstream):
                fn = graph.nodes[name].fn
                if fn is not None and name not in overrides:
                    found.append((name, fn))
            functions = tuple(found)
            self._needed_functions[shape] = functions
        return {name: call_stamp(fn) for name, fn in functions}

    def _stamp_of(self, name: str) -> Hashable | None:
        fn = self.graph.nodes[name].fn
        return None if fn is None else call_stamp(fn)

    def _request_key(
        self, names: list[str], inputs: Mapping[str, Any], overrides: Mapping[str, Any]
    ) -> Hashable | None:
        """The request's shape: outputs, and each needed input's kind (Series dtype and
        length, or the Python value itself). None when an input has no such key."""
        shape = (tuple(names), tuple(sorted(overrides)))
        needed = self._needed_inputs.get(shape)
        if needed is None:
            graph = self.graph
            upstream = graph.upstream(names, stop_at=overrides)
            needed = tuple(
                n
                for n in graph.sorted(upstream)
                if n in overrides or graph.nodes[n].role in (NodeRole.INPUT, NodeRole.CONFIG)
            )
            self._needed_inputs[shape] = needed
        parts: list[Hashable] = []
        for name in needed:
            if name in overrides:
                value = overrides[name]
            elif name in inputs:
                value = inputs[name]
            elif name in self.config:
                value = self.config[name]
            else:
                parts.append((name, "absent"))
                continue
            if isinstance(value, pl.Series):
                parts.append((name, "series", str(value.dtype), value.len()))
            else:
                key = value_key(value)
                if key is None:
                    return None
                parts.append((name, key))
        return (shape, tuple(parts))

    def execute(
        self,
        final_vars: Sequence[str | Callable[..., Any] | Variable],
        overrides: Mapping[str, Any] | None = None,
        display_graph: bool = False,
        inputs: Mapping[str, Any] | None = None,
    ) -> Any:
        """Compute ``final_vars`` and return them in the driver's result shape.

        Overrides replace a node's value and cut off everything upstream of it.
        """
        del display_graph  # Hamilton's legacy flag; use visualize_execution instead
        compiled = self._compile(final_vars, inputs, overrides)
        frames, collected = collect_outputs(compiled, self.graph, self.engine)
        self.validation_results = judge_checks(compiled, frames)
        enforce_checks(self.validation_results)
        result = shape_result(compiled, frames, self.result_kind, collected)
        if self.cache is not None and self._cache_plan is not None:
            self.cache.finish(self.graph, self._cache_plan, compiled, frames, collected)
        return result

    def explain(
        self,
        final_vars: Sequence[str | Callable[..., Any] | Variable],
        inputs: Mapping[str, Any] | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> str:
        """The optimized Polars plan ``execute`` would run, and which nodes run outside it.

        Opaque nodes before the final query are executed to build it (they are stage breaks).
        """
        compiled = self._compile(final_vars, inputs, overrides)
        lines = [
            f"hamilton_fast plan for {', '.join(compiled.outputs)}",
            f"engine: {self.engine}; {len(compiled.queries) + len(compiled.lazy_frames)} final "
            f"quer{'y' if len(compiled.queries) + len(compiled.lazy_frames) == 1 else 'ies'}; "
            f"{compiled.stage_breaks} stage break(s) before it",
            "",
        ]
        for number, (gid, query) in enumerate(compiled.queries.items(), start=1):
            outs = [n for n, g in compiled.output_group.items() if g == gid]
            lines.append(f"Query {number} (outputs: {', '.join(outs)}):")
            lines.append(query.explain(engine=self.engine))
            tail = compiled.tails.get(gid)
            if tail is not None:
                empty = pl.LazyFrame(schema=query.collect_schema())
                lines.append(
                    f"then its last {len(tail.layers)} layer(s), element-wise, on the streaming "
                    "engine (same rows and bits, computed in cache-sized morsels):"
                )
                lines.append(tail.query(empty).explain(engine="streaming"))
            lines.append("")
        for name in sorted(compiled.lazy_frames):
            lines.append(f"Frame `{name}`:")
            lines.append(compiled.values[name].explain(engine=self.engine))
            lines.append("")
        lines.append("Nodes:")
        width = max((len(r.name) for r in compiled.reports), default=4)
        lines.extend(f"  {r.name:<{width}}  {r.kind:<8}  {r.detail}" for r in compiled.reports)
        opaque = [r for r in compiled.reports if r.kind == "opaque"]
        lines.append("")
        if opaque:
            lines.append("Opaque nodes (run in Python outside the query):")
            lines.extend(f"  {r.name}: {r.detail.removeprefix('opaque: ')}" for r in opaque)
        else:
            lines.append("Opaque nodes: none; every function node runs inside the query.")
        return "\n".join(lines)

    def validate_execution(
        self,
        final_vars: Sequence[str | Callable[..., Any] | Variable],
        overrides: Mapping[str, Any] | None = None,
        inputs: Mapping[str, Any] | None = None,
    ) -> None:
        """Raise if ``execute`` would fail for missing or mistyped inputs or unknown names."""
        names = self._final_names(final_vars)
        self._check_request(names, dict(inputs or {}), dict(overrides or {}))

    # -- introspection ---------------------------------------------------------------------

    def _variable(self, name: str) -> Variable:
        node = self.graph.nodes[name]
        external = node.role in (NodeRole.INPUT, NodeRole.CONFIG)
        origins: tuple[Callable[..., Any], ...] | None
        if external:
            origins = tuple(
                dict.fromkeys(
                    self.graph.nodes[c].origin  # type: ignore[misc]
                    for c in self.graph.consumers[name]
                    if self.graph.nodes[c].origin is not None
                )
            )
        else:
            origins = (node.origin,) if node.origin is not None else None
        return Variable(
            name=name,
            type=node.annotation,
            tags=dict(node.tags),
            is_external_input=external,
            originating_functions=origins,
            documentation=node.doc,
            kind=node.shape.value if not external else node.role.value,
        )

    def list_available_variables(
        self, *, tag_filter: Mapping[str, str | list[str] | None] | None = None
    ) -> list[Variable]:
        """Every node, optionally filtered by tags (Hamilton's matching rules)."""
        if tag_filter:
            for value in tag_filter.values():
                if not (
                    value is None or isinstance(value, str) or (isinstance(value, list) and value)
                ):
                    raise GraphError(
                        f"tag_filter values must be a string, a non-empty list or None, got "
                        f"{value!r}.\nHint: {{'team': 'growth'}} or {{'team': ['a', 'b']}}."
                    )
        result = []
        for name in sorted(self.graph.nodes):
            if tag_filter and not _matches(self.graph.nodes[name].tags, tag_filter):
                continue
            result.append(self._variable(name))
        return result

    def what_is_upstream_of(self, *node_names: str) -> list[Variable]:
        """Nodes the given ones depend on, the given ones included."""
        for name in node_names:
            self.graph[name]
        return [self._variable(n) for n in self.graph.sorted(self.graph.upstream(node_names))]

    def what_is_downstream_of(self, *node_names: str) -> list[Variable]:
        """Nodes that depend on the given ones, the given ones included."""
        for name in node_names:
            self.graph[name]
        return [self._variable(n) for n in self.graph.sorted(self.graph.downstream(node_names))]

    # -- pictures --------------------------------------------------------------------------

    def display_all_functions(
        self,
        output_file_path: str | None = None,
        render_kwargs: dict[str, Any] | None = None,
        graphviz_kwargs: dict[str, Any] | None = None,
        show_legend: bool = True,
        orient: str = "LR",
        hide_inputs: bool = False,
        keep_dot: bool = False,
    ) -> Any:
        """The whole DAG as a ``hamilton_fast.viz.DagPicture`` (``.dot``, ``.render(path)``).

        ``output_file_path`` ending in ``.dot`` writes DOT (no graphviz needed); ``.png``,
        ``.svg`` ... call graphviz's ``dot`` program (no suffix: ``.png``, as in Hamilton).
        """
        from hamilton_fast import viz

        return viz.graph_picture(
            self,
            output_file_path=output_file_path,
            render_kwargs=render_kwargs,
            graphviz_kwargs=graphviz_kwargs,
            show_legend=show_legend,
            orient=orient,
            hide_inputs=hide_inputs,
            keep_dot=keep_dot,
        )

    def visualize_execution(
        self,
        final_vars: Sequence[str | Callable[..., Any] | Variable],
        output_file_path: str | None = None,
        render_kwargs: dict[str, Any] | None = None,
        inputs: Mapping[str, Any] | None = None,
        graphviz_kwargs: dict[str, Any] | None = None,
        overrides: Mapping[str, Any] | None = None,
        show_legend: bool = True,
        orient: str = "LR",
        hide_inputs: bool = False,
        bypass_validation: bool = False,
        keep_dot: bool = False,
        show_unused: bool = True,
    ) -> Any:
        """A request drawn on the DAG: outputs marked, each node styled by how it will run.

        The request is planned as ``explain`` plans it (opaque functions before the final query
        run); ``bypass_validation=True`` draws from annotations alone, without inputs.
        ``show_unused=False`` leaves out nodes the request does not need.
        """
        from hamilton_fast import viz

        names = self._final_names(final_vars)
        reports = None
        if not bypass_validation:
            try:
                reports = self._compile(names, inputs, overrides).reports
            except InputError as exc:
                raise viz.with_planning_hint(exc) from exc
        return viz.execution_picture(
            self,
            names,
            reports,
            status=self._cache_status(),
            output_file_path=output_file_path,
            render_kwargs=render_kwargs,
            graphviz_kwargs=graphviz_kwargs,
            overrides=tuple(overrides or ()),
            show_legend=show_legend,
            orient=orient,
            hide_inputs=hide_inputs,
            keep_dot=keep_dot,
            show_unused=show_unused,
        )

    def _cache_status(self) -> dict[str, str] | None:
        """Hit/computed per node: the last cached run's, else what the cache plans to do."""
        if self.cache is None:
            return None
        shown = ("hit", "computed")
        if self.cache.last_run:
            return {n: s.status for n, s in self.cache.last_run.items() if s.status in shown}
        plan = self._cache_plan
        if plan is None:
            return None
        return {**dict.fromkeys(plan.computed, "computed"), **dict.fromkeys(plan.cached, "hit")}

    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None, **kwargs: Any
    ) -> dict[str, str]:
        """A notebook shows the driver as a picture of its DAG."""
        from hamilton_fast import viz

        return viz.driver_mimebundle(self, include, exclude)


def _matches(tags: Mapping[str, Any], query: Mapping[str, str | list[str] | None]) -> bool:
    for tag, wanted in query.items():
        if tag not in tags:
            return False
        if wanted is None:
            continue
        have = tags[tag] if isinstance(tags[tag], list) else [tags[tag]]
        want = wanted if isinstance(wanted, list) else [wanted]
        if not set(have) & set(want):
            return False
    return True


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass
class Builder:
    """Fluent construction of a :class:`Driver`, as in Hamilton.

    >>> Builder().with_config({"scale": "thousands"}).with_engine("streaming")  # doctest: +ELLIPSIS
    Builder(...)
    """

    modules: list[types.ModuleType] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    adapters: list[Any] = field(default_factory=list)
    overrides_allowed: bool = False
    engine: EngineName = "in-memory"
    cache_settings: dict[str, Any] | None = None

    def with_modules(self, *modules: types.ModuleType) -> Builder:
        """Add modules whose public functions become nodes."""
        self.modules.extend(modules)
        return self

    def with_config(self, config: Mapping[str, Any]) -> Builder:
        """Add config; keys drive ``@config`` and are available as nodes."""
        self.config.update(config)
        return self

    def with_adapters(self, *adapters: Any) -> Builder:
        """Choose the result shape (Hamilton's result builders and SimplePythonGraphAdapter)."""
        self.adapters.extend(adapters)
        return self

    def allow_module_overrides(self) -> Builder:
        """Let a later module's function replace an earlier module's node of the same name."""
        self.overrides_allowed = True
        return self

    def with_engine(self, engine: str) -> Builder:
        """``"in-memory"`` (default: deterministic order and floats), ``"streaming"``, ``"gpu"``."""
        self.engine = _check_engine(engine)
        return self

    def with_cache(
        self,
        path: str | Path = ".hamilton_fast_cache",
        *,
        default_behavior: str = "default",
        recompute: bool | Sequence[str] | None = None,
        disable: bool | Sequence[str] | None = None,
        ignore: Sequence[str] | None = None,
        default: Sequence[str] | None = None,
        verify: Verify = "stat",
    ) -> Builder:
        """Cache node results under ``path``: a rerun recomputes only what an edit touched.

        Per-node behaviours use Hamilton's names: ``recompute`` (always compute, overwrite),
        ``disable`` (neither read nor write), ``ignore`` (also left out of dependents' keys),
        ``default``. ``recompute=True`` or ``disable=True`` applies to every node.

        ``verify`` says when a stored file's checksum is recomputed before it is used:
        ``"stat"`` (default) when the file changed since it was last checksummed (size, mtime,
        ctime or inode differ), ``"once"`` also once per process, ``"always"`` on every read.
        """
        if verify not in ("stat", "once", "always"):
            raise CacheError(
                f"with_cache(verify={verify!r}) is not a verification mode.\n"
                'Hint: use "stat" (the default), "once" or "always".'
            )
        behaviors: dict[str, str] = {}
        base = default_behavior
        for name, nodes in (
            ("recompute", recompute),
            ("disable", disable),
            ("ignore", ignore),
            ("default", default),
        ):
            if nodes is True:
                base = name
            elif nodes:
                if isinstance(nodes, str):
                    raise CacheError(
                        f"with_cache({name}=...) takes a list of node names, got the string "
                        f"{nodes!r}.\nHint: with_cache({name}=[{nodes!r}])."
                    )
                behaviors.update(dict.fromkeys(nodes, name))
        if base not in BEHAVIORS:
            raise CacheError(
                f"unknown cache behaviour {base!r}.\nHint: choose one of {', '.join(BEHAVIORS)}."
            )
        self.cache_settings = {
            "path": path,
            "default_behavior": base,
            "behaviors": behaviors,
            "verify": verify,
        }
        return self

    def build(self) -> Driver:
        """Build and validate the graph; raises GraphError listing every problem."""
        kinds = [a for a in self.adapters if _result_kind(a)]
        return Driver(
            self.config,
            *self.modules,
            adapter=kinds[-1] if kinds else None,
            allow_module_overrides=self.overrides_allowed,
            engine=self.engine,
            cache=self._build_cache(),
        )

    def _build_cache(self) -> NodeCache | None:
        if self.cache_settings is None:
            return None
        settings = self.cache_settings
        return NodeCache(
            settings["path"],
            default_behavior=settings["default_behavior"],
            behaviors=settings["behaviors"],
            verify=settings["verify"],
        )
