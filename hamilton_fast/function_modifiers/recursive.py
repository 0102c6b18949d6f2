"""``@subdag`` and ``@parameterized_subdag``: reuse whole modules inside a dataflow, as Hamilton.

A subdag replays the functions of other modules (or single functions) under their own config,
with their nodes renamed into a *namespace* (``namespace.node``), and feeds the results into the
decorated function. The decorators here only check their arguments and attach a frozen spec;
:mod:`hamilton_fast.expand.recursive` builds the nodes.

This module also holds the spec shared by the Polars ``@with_columns`` decorators
(``hamilton_fast.plugins.h_polars`` and ``h_polars_lazyframe``), which build a namespaced
subdag of column functions too; :mod:`hamilton_fast.expand.with_columns` expands it.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from hamilton_fast.errors import ModifierError
from hamilton_fast.function_modifiers.base import ModifierSpec, attach, location_of
from hamilton_fast.function_modifiers.dependencies import (
    GroupedDict,
    GroupedList,
    LiteralDependency,
    UpstreamDependency,
)

__all__ = [
    "ParameterizedSubdagSpec",
    "SubdagSpec",
    "WithColumnsSpec",
    "parameterized_subdag",
    "subdag",
    "with_columns_base",
]

F = TypeVar("F", bound=Callable[..., Any])

SubdagInput = LiteralDependency | UpstreamDependency


@dataclass(frozen=True)
class SubdagSpec(ModifierSpec):
    """Replay ``load_from`` under ``config``, namespaced, then run the decorated function.

    ``load_from`` holds modules and functions; ``inputs`` fill the subdag's external inputs with
    sources (nodes of the outer graph) or values; ``config`` entries override the driver's
    config for the subdag only (plain values, ``value(...)`` or ``configuration("key")``).
    ``external_inputs`` are parameters of the decorated function read from the outer graph
    instead of the subdag. ``namespace`` and ``final_node_name`` default to the function name.
    """

    load_from: tuple[Any, ...]
    inputs: tuple[tuple[str, SubdagInput], ...] = ()
    config: tuple[tuple[str, Any], ...] = ()
    namespace: str | None = None
    final_node_name: str | None = None
    external_inputs: tuple[str, ...] = ()

    @property
    def decorator_name(self) -> str:
        return "subdag"


@dataclass(frozen=True)
class ParameterizedSubdagSpec(ModifierSpec):
    """Several subdags of one function, each named (namespace and final node) by its key."""

    subdags: tuple[SubdagSpec, ...]

    @property
    def decorator_name(self) -> str:
        return "parameterized_subdag"


@dataclass(frozen=True)
class WithColumnsSpec(ModifierSpec):
    """Run column functions on one frame parameter and append the selected results to it.

    ``frame_type`` is ``pl.DataFrame`` (``h_polars``) or ``pl.LazyFrame``
    (``h_polars_lazyframe``); ``column_type`` the matching column type (``pl.Series`` /
    ``pl.Expr``), which also decides what ``select=None`` appends.
    """

    load_from: tuple[Any, ...]
    frame_type: type
    column_type: type
    columns_to_pass: tuple[str, ...] | None = None
    on_input: str | None = None
    select: tuple[str, ...] | None = None
    namespace: str | None = None
    config_required: tuple[str, ...] | None = None

    @property
    def decorator_name(self) -> str:
        return "with_columns"


# -- argument checks, shared by the decorators ---------------------------------------------------


def _error(decorator: str, fn: Callable[..., Any], message: str, hint: str) -> ModifierError:
    name = getattr(fn, "__name__", repr(fn))
    return ModifierError(f"@{decorator} on `{name}` ({location_of(fn)}): {message}\nHint: {hint}")


def _load_from(decorator: str, fn: Callable[..., Any], load_from: tuple[Any, ...]) -> None:
    if not load_from:
        raise _error(
            decorator,
            fn,
            "no modules or functions were given to build the subdag from (`load_from`)",
            f"pass them first: @{decorator}(features_module, inputs=...).",
        )
    for item in load_from:
        if not (isinstance(item, types.ModuleType) or inspect.isfunction(item)):
            raise _error(
                decorator,
                fn,
                f"`load_from` takes modules and functions, got {type(item).__name__} {item!r}",
                f"pass the imported module itself: @{decorator}(features_module, ...).",
            )


def _name_list(
    decorator: str, fn: Callable[..., Any], argument: str, names: Any
) -> tuple[str, ...] | None:
    if names is None:
        return None
    if isinstance(names, str) or not isinstance(names, Collection):
        raise _error(
            decorator,
            fn,
            f"`{argument}` takes a list of names, got {names!r}",
            f'write {argument}=["a", "b"] (a list, even for one name).',
        )
    bad = [n for n in names if not isinstance(n, str)]
    if bad:
        raise _error(
            decorator,
            fn,
            f"`{argument}` takes names (str), got {bad[0]!r}",
            f'write {argument}=["a", "b"].',
        )
    return tuple(names)


def _optional_name(decorator: str, fn: Callable[..., Any], argument: str, name: Any) -> None:
    if name is not None and (not isinstance(name, str) or not name):
        raise _error(
            decorator,
            fn,
            f"`{argument}` must be a non-empty string, got {name!r}",
            f'write {argument}="my_name", or leave it out to use the function name.',
        )


def _subdag_inputs(
    decorator: str, fn: Callable[..., Any], inputs: Any, where: str = "inputs"
) -> tuple[tuple[str, SubdagInput], ...]:
    if inputs is None:
        return ()
    if not isinstance(inputs, Mapping):
        raise _error(
            decorator,
            fn,
            f"`{where}` takes a dict of name -> source()/value(), got {inputs!r}",
            f'write {where}={{"data": source("raw_data"), "n": value(3)}}.',
        )
    for key, dep in inputs.items():
        if not isinstance(dep, (LiteralDependency, UpstreamDependency)):
            raise _error(
                decorator,
                fn,
                f"`{where}` maps `{key}` to {dep!r}, which is neither source() nor value()",
                f'write "{key}": value({dep!r}) for a literal, or "{key}": source("node") '
                "for a node of the outer dataflow.",
            )
    return tuple(inputs.items())


def _subdag_config(
    decorator: str, fn: Callable[..., Any], config: Any, where: str = "config"
) -> tuple[tuple[str, Any], ...]:
    if config is None:
        return ()
    if not isinstance(config, Mapping):
        raise _error(
            decorator,
            fn,
            f"`{where}` takes a dict of config key -> value, got {config!r}",
            f'write {where}={{"region": "US"}}.',
        )
    for key, item in config.items():
        if isinstance(item, (UpstreamDependency, GroupedList, GroupedDict)):
            raise _error(
                decorator,
                fn,
                f"`{where}` maps `{key}` to {item!r}; a subdag's config takes plain values, "
                "value() or configuration(), not source() or group()",
                f'pass a value ("{key}": 3), or read it from the driver\'s config with '
                f'"{key}": configuration("other_key"); nodes go in inputs=.',
            )
    return tuple(config.items())


def _shared_keys(
    decorator: str,
    fn: Callable[..., Any],
    inputs: tuple[tuple[str, SubdagInput], ...],
    config: tuple[tuple[str, Any], ...],
) -> None:
    shared = sorted({k for k, _ in inputs} & {k for k, _ in config})
    if shared:
        names = ", ".join(f"`{k}`" for k in shared)
        raise _error(
            decorator,
            fn,
            f"{names} {'is' if len(shared) == 1 else 'are'} given both in `inputs` and in `config`",
            "give each name once: in config= when functions of the subdag are chosen by it or "
            "read it as config, otherwise in inputs=.",
        )


# -- @subdag -------------------------------------------------------------------------------------


class subdag:
    """Replay other modules' functions as a namespaced part of this dataflow.

    The decorated function's parameters name nodes of the subdag (they are read from
    ``namespace.parameter``), except those listed in ``external_inputs``.

    Example:
        >>> import polars as pl
        >>> from hamilton_fast.function_modifiers import source
        >>> def doubled(x: pl.Expr) -> pl.Expr:
        ...     return x * 2
        >>> @subdag(doubled, inputs={"x": source("raw")})
        ... def doubled_raw(doubled: pl.Expr) -> pl.Expr:
        ...     return doubled
    """

    def __init__(
        self,
        *load_from: types.ModuleType | Callable[..., Any],
        inputs: Mapping[str, SubdagInput] | None = None,
        config: Mapping[str, Any] | None = None,
        namespace: str | None = None,
        final_node_name: str | None = None,
        external_inputs: Collection[str] | None = None,
    ) -> None:
        self._load_from = tuple(load_from)
        self._inputs = inputs
        self._config = config
        self._namespace = namespace
        self._final_node_name = final_node_name
        self._external_inputs = external_inputs

    def __call__(self, fn: F) -> F:
        decorator = "subdag"
        _load_from(decorator, fn, self._load_from)
        inputs = _subdag_inputs(decorator, fn, self._inputs)
        config = _subdag_config(decorator, fn, self._config)
        _shared_keys(decorator, fn, inputs, config)
        _optional_name(decorator, fn, "namespace", self._namespace)
        _optional_name(decorator, fn, "final_node_name", self._final_node_name)
        external = _name_list(decorator, fn, "external_inputs", self._external_inputs) or ()
        _external_are_parameters(decorator, fn, external)
        spec = SubdagSpec(
            load_from=self._load_from,
            inputs=inputs,
            config=config,
            namespace=self._namespace,
            final_node_name=self._final_node_name,
            external_inputs=external,
        )
        return attach(fn, spec)


def _external_are_parameters(
    decorator: str, fn: Callable[..., Any], external: tuple[str, ...]
) -> None:
    params = inspect.signature(fn).parameters
    unknown = [name for name in external if name not in params]
    if unknown:
        raise _error(
            decorator,
            fn,
            f"`external_inputs` names {', '.join(f'`{u}`' for u in unknown)}, which "
            f"{'is not a parameter' if len(unknown) == 1 else 'are not parameters'} of the "
            "function",
            f"the parameters are {', '.join(f'`{p}`' for p in params) or '(none)'}; list only "
            "those read from outside the subdag.",
        )


_SUBDAG_KEYS = frozenset({"inputs", "config", "external_inputs"})


class parameterized_subdag:
    """Several ``@subdag`` copies of the same modules, one per keyword argument.

    Each keyword names one subdag (its namespace and its final node) and may give ``inputs``,
    ``config`` and ``external_inputs``; its inputs and config are merged over the shared ones,
    its ``external_inputs`` replace the shared list.

    Example:
        >>> import polars as pl
        >>> from hamilton_fast.function_modifiers import source, value
        >>> def scaled(x: pl.Expr, k: float) -> pl.Expr:
        ...     return x * k
        >>> @parameterized_subdag(
        ...     scaled,
        ...     inputs={"x": source("raw")},
        ...     twice={"inputs": {"k": value(2.0)}},
        ...     thrice={"inputs": {"k": value(3.0)}},
        ... )
        ... def scaled_raw(scaled: pl.Expr) -> pl.Expr:
        ...     return scaled
    """

    def __init__(
        self,
        *load_from: types.ModuleType | Callable[..., Any],
        inputs: Mapping[str, SubdagInput] | None = None,
        config: Mapping[str, Any] | None = None,
        external_inputs: Collection[str] | None = None,
        **parameterization: Mapping[str, Any],
    ) -> None:
        self._load_from = tuple(load_from)
        self._inputs = inputs
        self._config = config
        self._external_inputs = external_inputs
        self._parameterization = parameterization

    def __call__(self, fn: F) -> F:
        decorator = "parameterized_subdag"
        _load_from(decorator, fn, self._load_from)
        shared_inputs = dict(_subdag_inputs(decorator, fn, self._inputs))
        shared_config = dict(_subdag_config(decorator, fn, self._config))
        shared_external = _name_list(decorator, fn, "external_inputs", self._external_inputs)
        if not self._parameterization:
            raise _error(
                decorator,
                fn,
                "no subdags were named",
                'name each one as a keyword: @parameterized_subdag(module, a={"inputs": {...}}, '
                'b={"config": {...}}).',
            )
        subdags = []
        for key, params in self._parameterization.items():
            where = f"{key}="
            if not isinstance(params, Mapping):
                raise _error(
                    decorator,
                    fn,
                    f"`{where}` takes a dict with keys inputs/config/external_inputs, "
                    f"got {params!r}",
                    f'write {key}={{"inputs": {{"x": value(1)}}}} (or {key}={{}}).',
                )
            unknown = sorted(set(params) - _SUBDAG_KEYS)
            if unknown:
                raise _error(
                    decorator,
                    fn,
                    f"`{where}` has the key(s) {', '.join(repr(u) for u in unknown)}; the keys "
                    "are 'inputs', 'config' and 'external_inputs'",
                    f'write {key}={{"inputs": {{...}}, "config": {{...}}}}.',
                )
            own_inputs = dict(
                _subdag_inputs(decorator, fn, params.get("inputs"), f'{key}["inputs"]')
            )
            own_config = dict(
                _subdag_config(decorator, fn, params.get("config"), f'{key}["config"]')
            )
            inputs = tuple({**shared_inputs, **own_inputs}.items())
            config = tuple({**shared_config, **own_config}.items())
            _shared_keys(decorator, fn, inputs, config)
            own_external = _name_list(
                decorator, fn, f'{key}["external_inputs"]', params.get("external_inputs")
            )
            external = own_external if own_external is not None else shared_external or ()
            _external_are_parameters(decorator, fn, external)
            subdags.append(
                SubdagSpec(
                    load_from=self._load_from,
                    inputs=inputs,
                    config=config,
                    namespace=key,
                    final_node_name=key,
                    external_inputs=external,
                )
            )
        return attach(fn, ParameterizedSubdagSpec(tuple(subdags)))


# -- @with_columns (the Polars plugins subclass this) ---------------------------------------------


class with_columns_base:
    """Shared argument handling of the Polars ``@with_columns`` decorators.

    Subclasses set the frame and column types, and the plugin name used in messages.
    """

    frame_type: type = object
    column_type: type = object
    plugin: str = ""

    def __init__(
        self,
        *load_from: types.ModuleType | Callable[..., Any],
        columns_to_pass: Collection[str] | None = None,
        pass_dataframe_as: str | None = None,
        on_input: str | None = None,
        select: Collection[str] | None = None,
        namespace: str | None = None,
        config_required: Collection[str] | None = None,
    ) -> None:
        self._load_from = tuple(load_from)
        self._columns_to_pass = columns_to_pass
        self._pass_dataframe_as = pass_dataframe_as
        self._on_input = on_input
        self._select = select
        self._namespace = namespace
        self._config_required = config_required

    def __call__(self, fn: F) -> F:
        decorator = "with_columns"
        _load_from(decorator, fn, self._load_from)
        if self._pass_dataframe_as is not None:
            raise _error(
                decorator,
                fn,
                f"`pass_dataframe_as` is not supported by {self.plugin}.with_columns (Apache "
                "Hamilton raises NotImplementedError for it too)",
                f'use on_input="{self._pass_dataframe_as}" to hand the frame to the column '
                "functions, or columns_to_pass=[...] to have the columns extracted for you.",
            )
        columns = _name_list(decorator, fn, "columns_to_pass", self._columns_to_pass)
        if (columns is None) == (self._on_input is None):
            given = "both" if columns is not None else "neither"
            raise _error(
                decorator,
                fn,
                f"it needs exactly one of `columns_to_pass` and `on_input`; {given} was given",
                'columns_to_pass=["a", "b"] extracts those columns for the functions; '
                'on_input="df" passes the frame parameter `df` and the functions read it.',
            )
        if columns is not None and not columns:
            raise _error(
                decorator,
                fn,
                "`columns_to_pass` is empty",
                'name the columns the functions read: columns_to_pass=["a", "b"].',
            )
        _optional_name(decorator, fn, "on_input", self._on_input)
        _optional_name(decorator, fn, "namespace", self._namespace)
        select = _name_list(decorator, fn, "select", self._select)
        config_required = _name_list(decorator, fn, "config_required", self._config_required)
        params = list(inspect.signature(fn).parameters)
        frame = self._on_input if self._on_input is not None else next(iter(params), None)
        if frame is None:
            raise _error(
                decorator,
                fn,
                "the function has no parameters, so there is no frame to add columns to",
                "take the frame as the first parameter: `def final_df(initial_df: "
                f"{_type_name(self.frame_type)}) -> {_type_name(self.frame_type)}:`.",
            )
        if frame not in params:
            raise _error(
                decorator,
                fn,
                f"`on_input` names `{frame}`, which is not a parameter of the function",
                f"the parameters are {', '.join(f'`{p}`' for p in params) or '(none)'}.",
            )
        spec = WithColumnsSpec(
            load_from=self._load_from,
            frame_type=self.frame_type,
            column_type=self.column_type,
            columns_to_pass=columns,
            on_input=self._on_input,
            select=select,
            namespace=self._namespace,
            config_required=config_required,
        )
        return attach(fn, spec)


def _type_name(tp: type) -> str:
    return f"pl.{tp.__name__}" if tp.__module__.startswith("polars") else tp.__name__
