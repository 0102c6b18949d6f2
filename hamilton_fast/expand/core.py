"""Decorator specs -> nodes, in Hamilton's order of application.

For one function: *resolvers* decide whether it is a node at all and under which name
(``@config``, ``@hamilton_exclude``); the *creator* makes the base node (the function itself,
or ``@does``); *injectors* fill parameters (``@inject``); one *expander* turns the node into
several (``@parameterize``, ``@extract_columns``, ``@extract_fields``, ...); *transformers*
rewrite the final nodes (``@check_output``, ``@pipe_output``, ``@mutate``); *decorators* add
metadata (``@tag``, ``@schema.output``, ``@cache``).

Generated nodes call the user's function through small callable objects that only rename
arguments, so the planner traces them into the query just like plain functions.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import polars as pl

from hamilton_fast.expand.registry import ExpansionContext, handler_for, register
from hamilton_fast.function_modifiers.base import ModifierSpec, location_of, modifiers_of
from hamilton_fast.function_modifiers.configuration import ConfigSpec
from hamilton_fast.function_modifiers.dependencies import (
    ConfigDependency,
    GroupedDict,
    GroupedList,
    LiteralDependency,
    UpstreamDependency,
)
from hamilton_fast.function_modifiers.expanders import (
    ExtractColumnsSpec,
    ExtractFieldsSpec,
    InjectSpec,
    ParameterizeExtractSpec,
    ParameterizeSpec,
    UnpackFieldsSpec,
)
from hamilton_fast.function_modifiers.macros import DoesSpec
from hamilton_fast.function_modifiers.metadata import (
    CacheSpec,
    ExcludeSpec,
    SchemaSpec,
    TagOutputsSpec,
    TagSpec,
)
from hamilton_fast.nodes import Dependency, Node, NodeRole, ValueShape, short_path

__all__ = ["Bound", "Expansion", "ExpansionProblem", "Extract", "expand_function", "strip_suffix"]


class ExpansionProblem(Exception):
    """Internal: one problem with one function; collected into a GraphError by the builder."""


@dataclass(frozen=True)
class Expansion:
    """The nodes one function contributes (empty when config or exclusion drops it)."""

    nodes: tuple[Node, ...]


def strip_suffix(name: str) -> str:
    """``spend__thousands`` -> ``spend``: the node name of a ``@config`` variant."""
    head, sep, _ = name.rpartition("__")
    return head if sep and head else name


def _where(fn: Callable[..., Any]) -> str:
    return f"{fn.__name__} at {short_path(location_of(fn))}"


def _problem(
    fn: Callable[..., Any], spec: ModifierSpec | None, message: str, hint: str
) -> Exception:
    decorator = f"@{spec.decorator_name} " if spec is not None else ""
    return ExpansionProblem(
        f"GraphError: {decorator}on `{fn.__name__}`: {message}\n  function: {_where(fn)}\n"
        f"Hint: {hint}"
    )


# -- calling conventions for generated nodes ---------------------------------------------------


@dataclass(frozen=True)
class Bound:
    """Call ``fn`` with parameters filled from node values (by name) and literals.

    ``sources`` maps a parameter to the node it reads; ``literals`` to a fixed value; ``lists``
    and ``dicts`` to groups of either. Parameters not mentioned are passed through by name.
    """

    fn: Callable[..., Any]
    sources: tuple[tuple[str, str], ...] = ()
    literals: tuple[tuple[str, Any], ...] = ()
    lists: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()
    dicts: tuple[tuple[str, tuple[tuple[str, str, Any], ...]], ...] = ()
    passthrough: tuple[str, ...] = ()

    def __call__(self, **kwargs: Any) -> Any:
        args: dict[str, Any] = {p: kwargs[p] for p in self.passthrough if p in kwargs}
        for param, node in self.sources:
            if node in kwargs:
                args[param] = kwargs[node]
        for param, literal in self.literals:
            args[param] = literal
        for param, items in self.lists:
            args[param] = [kwargs[v] if k == "source" else v for k, v in items]
        for param, entries in self.dicts:
            args[param] = {key: kwargs[v] if k == "source" else v for key, k, v in entries}
        return self.fn(**args)


@dataclass(frozen=True)
class Extract:
    """Read one field, element or column of a dependency's value."""

    dependency: str
    key: Any

    def __call__(self, **kwargs: Any) -> Any:
        return kwargs[self.dependency][self.key]


@dataclass(frozen=True)
class Renamed:
    """Call ``fn`` and rename the columns of the frame it returns, positionally."""

    fn: Callable[..., Any]
    columns: tuple[str, ...]

    def __call__(self, **kwargs: Any) -> Any:
        frame = self.fn(**kwargs)
        names = list(frame.collect_schema().names())
        mapping = dict(zip(names, self.columns, strict=False))
        return frame.rename(mapping)


# -- creation ----------------------------------------------------------------------------------


def _type_hints(fn: Callable[..., Any]) -> dict[str, Any]:
    """The function's annotations, resolving strings (``from __future__ import annotations``)."""
    raw: dict[str, Any] = getattr(fn, "__annotations__", {})
    if not any(isinstance(v, str) for v in raw.values()):
        return dict(raw)  # the common case, without typing.get_type_hints' cost
    try:
        return typing.get_type_hints(fn)
    except Exception as exc:
        raise _problem(
            fn,
            None,
            f"its annotations cannot be resolved: {type(exc).__name__}: {exc}",
            "import every type used in an annotation at module level.",
        ) from exc


_NO_DEFAULT = object()


def _parameters(fn: Callable[..., Any]) -> list[tuple[str, Any]]:
    """``(name, default)`` per parameter, read from the code object (inspect is slow)."""
    code = getattr(fn, "__code__", None)
    if code is None or not isinstance(fn, types.FunctionType):
        signature = inspect.signature(fn)
        if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in signature.parameters.values()):
            raise _problem(
                fn,
                None,
                "it takes *args or **kwargs; nodes need named parameters",
                "list each dependency as its own parameter, or use @does for a **kwargs helper.",
            )
        return [
            (p.name, _NO_DEFAULT if p.default is inspect.Parameter.empty else p.default)
            for p in signature.parameters.values()
        ]
    if code.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS):
        raise _problem(
            fn,
            None,
            "it takes *args or **kwargs; nodes need named parameters",
            "list each dependency as its own parameter, or use @does for a **kwargs helper.",
        )
    positional = code.co_varnames[: code.co_argcount]
    keyword = code.co_varnames[code.co_argcount : code.co_argcount + code.co_kwonlyargcount]
    defaults = fn.__defaults__ or ()
    first_default = len(positional) - len(defaults)
    params = [
        (p, defaults[i - first_default] if i >= first_default else _NO_DEFAULT)
        for i, p in enumerate(positional)
    ]
    kwdefaults = fn.__kwdefaults__ or {}
    params.extend((p, kwdefaults.get(p, _NO_DEFAULT)) for p in keyword)
    return params


def _function_node(fn: Callable[..., Any], name: str, module: str) -> Node:
    hints = _type_hints(fn)
    dependencies: list[Dependency] = []
    missing: list[str] = []
    for param, default in _parameters(fn):
        if param not in hints:
            missing.append(param)
            continue
        has_default = default is not _NO_DEFAULT
        dependencies.append(
            Dependency(param, hints[param], has_default, default if has_default else None)
        )
    if "return" not in hints:
        missing.append("return")
    if missing:
        what = ", ".join("the return value" if m == "return" else f"`{m}`" for m in missing)
        raise ExpansionProblem(
            f"GraphError: `{name}` has no type annotation for {what}.\n"
            f"  at {fn.__name__}{inspect.signature(fn)} {short_path(location_of(fn))}\n"
            "Hint: annotate every parameter and the return, e.g. "
            "`def spend_per_signup(spend: pl.Series, signups: pl.Series) -> pl.Series:`."
        )
    return Node(
        name=name,
        annotation=hints["return"],
        role=NodeRole.FUNCTION,
        dependencies=tuple(dependencies),
        fn=fn,
        origin=fn,
        tags={"module": module},
        doc=inspect.cleandoc(fn.__doc__) if fn.__doc__ else "",
        module=module,
    )


def _does(node: Node, spec: DoesSpec) -> Node:
    fn = node.origin
    assert fn is not None
    replacing = spec.replacing_function
    mapping = dict(spec.argument_mapping)  # replacing-function param -> decorated param
    params = inspect.signature(replacing).parameters
    var_kw = any(p.kind is p.VAR_KEYWORD for p in params.values())
    reverse = {v: k for k, v in mapping.items()}
    for dep in node.dependencies:
        target = reverse.get(dep.name, dep.name)
        if target not in params and not var_kw:
            raise _problem(
                fn,
                spec,
                f"`{replacing.__name__}` has no parameter for `{dep.name}`",
                f'map it: @does({replacing.__name__}, {next(iter(params), "x")}="{dep.name}").',
            )
    bound = Bound(
        replacing,
        sources=tuple((reverse.get(d.name, d.name), d.name) for d in node.dependencies),
    )
    return replace(node, fn=bound)


# -- injection ---------------------------------------------------------------------------------


def _element_type(annotation: Any, index: int) -> Any:
    args = typing.get_args(annotation)
    return args[index] if len(args) > index else Any


def _apply_mapping(
    node: Node,
    mapping: Sequence[tuple[str, Any]],
    spec: ModifierSpec,
    config: Mapping[str, Any],
) -> Node:
    """Replace the parameters in ``mapping`` with sources, values or groups."""
    fn = node.origin
    assert fn is not None
    by_name = {d.name: d for d in node.dependencies}
    missing = [p for p, _ in mapping if p not in by_name]
    if missing:
        raise _problem(
            fn,
            spec,
            f"it maps {', '.join(f'`{m}`' for m in missing)}, which "
            f"{'is not a parameter' if len(missing) == 1 else 'are not parameters'} of the "
            "function",
            f"the parameters are {', '.join(f'`{d}`' for d in by_name) or '(none)'}.",
        )
    mapped = dict(mapping)
    sources: list[tuple[str, str]] = []
    literals: list[tuple[str, Any]] = []
    lists: list[tuple[str, tuple[tuple[str, Any], ...]]] = []
    dicts: list[tuple[str, tuple[tuple[str, str, Any], ...]]] = []
    deps: list[Dependency] = []
    for dep in node.dependencies:
        rule = mapped.get(dep.name)
        if rule is None:
            sources.append((dep.name, dep.name))
            deps.append(dep)
        elif isinstance(rule, UpstreamDependency):
            sources.append((dep.name, rule.source))
            deps.append(Dependency(rule.source, dep.annotation))
        elif isinstance(rule, LiteralDependency):
            literals.append((dep.name, rule.value))
        elif isinstance(rule, ConfigDependency):
            if rule.key not in config:
                raise _problem(
                    fn,
                    spec,
                    f"`{dep.name}` reads config key `{rule.key}`, which is not in the config",
                    f"add `{rule.key}` to with_config({{...}}).",
                )
            literals.append((dep.name, config[rule.key]))
        elif isinstance(rule, GroupedList):
            if typing.get_origin(dep.annotation) is not list:
                raise _problem(
                    fn,
                    spec,
                    f"group() fills `{dep.name}`, which is annotated "
                    f"{dep.annotation!r}, not list[...]",
                    f"annotate it as `{dep.name}: list[pl.Series]` (or the element type).",
                )
            element = _element_type(dep.annotation, 0)
            items: list[tuple[str, Any]] = []
            for item in rule.sources:
                if isinstance(item, UpstreamDependency):
                    items.append(("source", item.source))
                    deps.append(Dependency(item.source, element))
                else:
                    items.append(("value", item.value))
            lists.append((dep.name, tuple(items)))
        elif isinstance(rule, GroupedDict):
            if typing.get_origin(dep.annotation) is not dict:
                raise _problem(
                    fn,
                    spec,
                    f"group(...=...) fills `{dep.name}`, which is annotated "
                    f"{dep.annotation!r}, not dict[str, ...]",
                    f"annotate it as `{dep.name}: dict[str, pl.Series]`.",
                )
            element = _element_type(dep.annotation, 1)
            entries: list[tuple[str, str, Any]] = []
            for key, item in rule.sources:
                if isinstance(item, UpstreamDependency):
                    entries.append((key, "source", item.source))
                    deps.append(Dependency(item.source, element))
                else:
                    entries.append((key, "value", item.value))
            dicts.append((dep.name, tuple(entries)))
    unique = list({d.name: d for d in deps}.values())
    bound = Bound(
        node.fn if node.fn is not None else fn,
        sources=tuple(sources),
        literals=tuple(literals),
        lists=tuple(lists),
        dicts=tuple(dicts),
    )
    return replace(node, dependencies=tuple(unique), fn=bound)


# -- expanders ---------------------------------------------------------------------------------


class _IdentityFormat(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _parameterize(node: Node, spec: ParameterizeSpec, config: Mapping[str, Any]) -> list[Node]:
    fn = node.origin
    assert fn is not None
    out: list[Node] = []
    for item in spec.outputs:
        doc = item.doc
        if doc is None and fn.__doc__:
            values = {
                p: (d.source if isinstance(d, UpstreamDependency) else d.value)
                for p, d in item.mapping
                if isinstance(d, (UpstreamDependency, LiteralDependency))
            }
            doc = inspect.cleandoc(fn.__doc__).format_map(
                _IdentityFormat(output_name=item.output, **values)
            )
        expanded = _apply_mapping(node, item.mapping, spec, config)
        out.append(replace(expanded, name=item.output, doc=doc or ""))
    return out


def _extract_columns(node: Node, spec: ExtractColumnsSpec) -> list[Node]:
    fn = node.origin
    assert fn is not None
    if node.shape is not ValueShape.FRAME:
        raise _problem(
            fn,
            spec,
            f"it needs a function returning pl.DataFrame or pl.LazyFrame, but `{node.name}` is "
            f"annotated {node.annotation!r}",
            "annotate the return as `-> pl.DataFrame` (or `pl.LazyFrame`).",
        )
    columns = [
        Node(
            name=column,
            annotation=pl.Series,
            role=NodeRole.EXTRACTED,
            dependencies=(Dependency(node.name, node.annotation),),
            origin=fn,
            column=column,
            fill_with=spec.fill_with,
            has_fill=spec.has_fill,
            tags=dict(node.tags),
            doc=doc,
            module=node.module,
        )
        for column, doc in zip(spec.columns, spec.docs, strict=True)
    ]
    return [node, *columns]


def _typed_dict_fields(annotation: Any) -> dict[str, Any] | None:
    if isinstance(annotation, type) and typing.is_typeddict(annotation):
        return typing.get_type_hints(annotation)
    return None


def _extract_fields(node: Node, spec: ExtractFieldsSpec) -> list[Node]:
    fn = node.origin
    assert fn is not None
    typed = _typed_dict_fields(node.annotation)
    if spec.fields is not None:
        fields = dict(spec.fields)
    elif typed is not None:
        fields = typed if spec.names is None else {n: typed[n] for n in spec.names if n in typed}
    else:
        raise _problem(
            fn,
            spec,
            "it has no field types: pass them, or return a TypedDict",
            '@extract_fields({"a": int, "b": str}), or annotate the return as a TypedDict.',
        )
    origin = typing.get_origin(node.annotation) or node.annotation
    if typed is None and origin is not dict:
        raise _problem(
            fn,
            spec,
            f"it needs a function returning dict, but `{node.name}` is annotated "
            f"{node.annotation!r}",
            "annotate the return as `-> dict` (or a TypedDict).",
        )
    return [node] + [
        Node(
            name=field,
            annotation=annotation,
            role=NodeRole.FUNCTION,
            dependencies=(Dependency(node.name, node.annotation),),
            fn=Extract(node.name, field),
            origin=fn,
            tags=dict(node.tags),
            module=node.module,
        )
        for field, annotation in fields.items()
    ]


def _unpack_fields(node: Node, spec: UnpackFieldsSpec) -> list[Node]:
    fn = node.origin
    assert fn is not None
    origin = typing.get_origin(node.annotation)
    args = typing.get_args(node.annotation)
    if origin is not tuple or not args:
        raise _problem(
            fn,
            spec,
            f"it needs a function annotated `-> tuple[...]`, got {node.annotation!r}",
            "annotate the return as `tuple[int, str]` with one type per field.",
        )
    variadic = len(args) == 2 and args[1] is Ellipsis
    if not variadic and len(args) != len(spec.fields):
        raise _problem(
            fn,
            spec,
            f"it names {len(spec.fields)} fields, but the return annotation has {len(args)}",
            "name one field per tuple element.",
        )
    return [node] + [
        Node(
            name=field,
            annotation=args[0] if variadic else args[index],
            role=NodeRole.FUNCTION,
            dependencies=(Dependency(node.name, node.annotation),),
            fn=Extract(node.name, index),
            origin=fn,
            tags=dict(node.tags),
            module=node.module,
        )
        for index, field in enumerate(spec.fields)
    ]


def _parameterize_extract(
    node: Node, spec: ParameterizeExtractSpec, config: Mapping[str, Any]
) -> list[Node]:
    out: list[Node] = []
    for index, extract in enumerate(spec.extracts):
        mapped = _apply_mapping(node, tuple(extract.input_mapping.items()), spec, config)
        assert mapped.fn is not None
        frame = replace(
            mapped, name=f"{node.name}__{index}", fn=Renamed(mapped.fn, extract.outputs)
        )
        out.extend(
            _extract_columns(
                frame,
                ExtractColumnsSpec(extract.outputs, tuple("" for _ in extract.outputs)),
            )
        )
    return out


# -- decorators --------------------------------------------------------------------------------


def _sinks(nodes: Sequence[Node]) -> set[str]:
    names = {n.name for n in nodes}
    consumed = {d.name for n in nodes for d in n.dependencies if d.name in names}
    # Hamilton: nodes a decorator generated on the side (a subdag's) are never "final".
    generated = {
        n.name
        for n in nodes
        if n.tags.get("hamilton.non_final_node")
        or n.tags.get("hamilton.data_quality.contains_dq_results")  # validators feed the node
    }
    return names - consumed - generated


def _targets(
    fn: Callable[..., Any], spec: ModifierSpec, nodes: Sequence[Node], target: Any
) -> set[str]:
    if target is None:
        return _sinks(nodes)
    wanted = {target} if isinstance(target, str) else set(target)
    names = {n.name for n in nodes}
    unknown = wanted - names
    if unknown:
        raise _problem(
            fn,
            spec,
            f"target_ names {', '.join(sorted(unknown))}, which this function does not create",
            f"it creates {', '.join(sorted(names))}.",
        )
    return wanted


def _with_tags(nodes: list[Node], names: set[str], tags: Mapping[str, Any]) -> list[Node]:
    return [
        replace(
            n,
            tags={**n.tags, **{k: list(v) if isinstance(v, tuple) else v for k, v in tags.items()}},
        )
        if n.name in names
        else n
        for n in nodes
    ]


def _decorate(fn: Callable[..., Any], spec: ModifierSpec, nodes: list[Node]) -> list[Node]:
    if isinstance(spec, TagSpec):
        return _with_tags(nodes, _targets(fn, spec, nodes, spec.target), dict(spec.tags))
    if isinstance(spec, TagOutputsSpec):
        names = {n.name for n in nodes}
        for node_name, node_tags in spec.tags:
            if node_name not in names:
                raise _problem(
                    fn,
                    spec,
                    f"it tags `{node_name}`, which this function does not create",
                    f"it creates {', '.join(sorted(names))}.",
                )
            nodes = _with_tags(nodes, {node_name}, dict(node_tags))
        return nodes
    if isinstance(spec, SchemaSpec):
        text = ",".join(f"{name}={kind}" for name, kind in spec.fields)
        targets = _targets(fn, spec, nodes, spec.target)
        return _with_tags(nodes, targets, {"hamilton.internal.schema_output": text})
    if isinstance(spec, CacheSpec):
        cache_tags: dict[str, Any] = {}
        if spec.behavior is not None:
            cache_tags["cache.behavior"] = spec.behavior
        if spec.format is not None:
            cache_tags["cache.format"] = spec.format
        return _with_tags(nodes, _targets(fn, spec, nodes, spec.target), cache_tags)
    return nodes


# -- registration of the built-in families -----------------------------------------------------


@register("create", DoesSpec)
def _create_does(spec: DoesSpec, ctx: ExpansionContext) -> list[Node]:
    return [_does(_function_node(ctx.fn, ctx.name, ctx.module), spec)]


@register("inject", InjectSpec)
def _inject(spec: InjectSpec, node: Node, ctx: ExpansionContext) -> list[Node]:
    return [_apply_mapping(node, spec.mapping, spec, ctx.config)]


@register("expand", ParameterizeSpec)
def _expand_parameterize(spec: ParameterizeSpec, node: Node, ctx: ExpansionContext) -> list[Node]:
    return _parameterize(node, spec, ctx.config)


@register("expand", ExtractColumnsSpec)
def _expand_columns(spec: ExtractColumnsSpec, node: Node, ctx: ExpansionContext) -> list[Node]:
    return _extract_columns(node, spec)


@register("expand", ExtractFieldsSpec)
def _expand_fields(spec: ExtractFieldsSpec, node: Node, ctx: ExpansionContext) -> list[Node]:
    return _extract_fields(node, spec)


@register("expand", UnpackFieldsSpec)
def _expand_unpack(spec: UnpackFieldsSpec, node: Node, ctx: ExpansionContext) -> list[Node]:
    return _unpack_fields(node, spec)


@register("expand", ParameterizeExtractSpec)
def _expand_parameterize_extract(
    spec: ParameterizeExtractSpec, node: Node, ctx: ExpansionContext
) -> list[Node]:
    return _parameterize_extract(node, spec, ctx.config)


for _spec_type in (TagSpec, TagOutputsSpec, SchemaSpec, CacheSpec):
    register("decorate", _spec_type)(lambda spec, nodes, ctx: _decorate(ctx.fn, spec, nodes))


# -- the pipeline ------------------------------------------------------------------------------


def _config_tags(fn: Callable[..., Any]) -> dict[str, str]:
    """Hamilton's ``hamilton.config`` tag: the config keys that chose this variant."""
    keys: list[str] = []
    for spec in modifiers_of(fn):
        if isinstance(spec, ConfigSpec):
            keys = list(spec.config_used) or ["__UNKNOWN__"]
    return {"hamilton.config": ",".join(keys)} if keys else {}


def _resolve(fn: Callable[..., Any], config: Mapping[str, Any]) -> str | None:
    """The node name under ``config``, or None when the function is not a node."""
    name = fn.__name__
    for spec in modifiers_of(fn):
        if isinstance(spec, ExcludeSpec):
            return None
        if isinstance(spec, ConfigSpec):
            try:
                keep = bool(spec.resolves(config))
            except Exception as exc:  # a user-written resolver
                raise _problem(
                    fn,
                    spec,
                    f"the condition {spec.description} raised {type(exc).__name__}: {exc}",
                    "make the condition handle a missing key (use cfg.get(key)).",
                ) from exc
            if not keep:
                return None
            name = spec.target_name or strip_suffix(fn.__name__)
    return name


def _one_per_function(
    fn: Callable[..., Any], phase: str, specs: Sequence[ModifierSpec]
) -> ModifierSpec | None:
    found = [s for s in specs if handler_for(phase, s) is not None]
    if len(found) > 1:
        raise _problem(
            fn,
            found[1],
            f"it is combined with @{found[0].decorator_name}; a function takes one "
            f"{'expanding' if phase == 'expand' else 'node-creating'} decorator",
            "split the function in two, one decorator each.",
        )
    return found[0] if found else None


def expand_function(
    fn: Callable[..., Any],
    module: str,
    config: Mapping[str, Any],
    remote: tuple[tuple[ModifierSpec, Callable[..., Any]], ...] = (),
    build_nodes: Callable[[Sequence[Any], Mapping[str, Any]], list[Node]] | None = None,
) -> Expansion:
    """The nodes ``fn`` contributes under ``config``.

    ``remote`` are transformer specs declared on other functions that target ``fn``
    (``@mutate``). Raises ExpansionProblem: one message, in the GraphError shape.
    """
    name = _resolve(fn, config)
    if name is None:
        return Expansion(())
    specs = modifiers_of(fn)
    ctx = ExpansionContext(fn, module, config, remote, build_nodes, name=name)
    creator = _one_per_function(fn, "create", specs)
    if creator is not None:
        nodes = handler_for("create", creator)(creator, ctx)  # type: ignore[misc]
    else:
        nodes = [_function_node(fn, name, module)]
    config_tags = _config_tags(fn)
    if config_tags:
        nodes = [
            n
            if n.tags.get("hamilton.non_final_node")
            else replace(n, tags={**n.tags, **config_tags})
            for n in nodes
        ]
    for spec in specs:
        inject = handler_for("inject", spec)
        if inject is not None:
            nodes = nodes[:-1] + inject(spec, nodes[-1], ctx)
    expander = _one_per_function(fn, "expand", specs)
    if expander is not None:
        nodes = nodes[:-1] + handler_for("expand", expander)(expander, nodes[-1], ctx)  # type: ignore[misc]
    for spec in [*specs, *(s for s, _ in remote)]:
        transform = handler_for("transform", spec)
        if transform is not None:
            nodes = transform(spec, nodes, ctx)
    for spec in specs:
        decorate = handler_for("decorate", spec)
        if decorate is not None:
            nodes = decorate(spec, nodes, ctx)
    return Expansion(tuple(nodes))
