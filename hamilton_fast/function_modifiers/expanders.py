"""Decorators that turn one function into several nodes, as in Hamilton.

``extract_columns``, ``extract_fields``, ``unpack_fields``, the ``parameterize`` family and
``inject`` (which fills parameters without adding nodes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from hamilton_fast.errors import ModifierError
from hamilton_fast.function_modifiers.base import ModifierSpec, attach, location_of
from hamilton_fast.function_modifiers.dependencies import (
    ConfigDependency,
    GroupedDict,
    GroupedList,
    LiteralDependency,
    ParametrizedDependency,
    UpstreamDependency,
    source,
    value,
)

__all__ = [
    "ExtractColumnsSpec",
    "ExtractFieldsSpec",
    "InjectSpec",
    "Parameterization",
    "ParameterizeExtractSpec",
    "ParameterizeSpec",
    "ParameterizedExtract",
    "UnpackFieldsSpec",
    "extract_columns",
    "extract_fields",
    "inject",
    "parameterize",
    "parameterize_extract_columns",
    "parameterize_sources",
    "parameterize_values",
    "unpack_fields",
]

F = TypeVar("F", bound=Callable[..., Any])

_NO_FILL = object()


@dataclass(frozen=True)
class ExtractColumnsSpec(ModifierSpec):
    """Add one column node per name in ``columns``, reading it from the function's frame.

    ``docs`` holds the per-column documentation given as ``(name, doc)`` pairs.
    ``fill_with`` (when ``has_fill``) is used for columns missing from the frame.
    """

    columns: tuple[str, ...]
    docs: tuple[str, ...]
    fill_with: Any = None
    has_fill: bool = False

    @property
    def decorator_name(self) -> str:
        return "extract_columns"


class extract_columns:
    """Expose columns of a returned DataFrame/LazyFrame as nodes of their own.

    Example:
        >>> import polars as pl
        >>> @extract_columns("spend", "signups")
        ... def base_df(path: str) -> pl.LazyFrame:
        ...     return pl.scan_parquet(path)
    """

    def __init__(self, *columns: str | tuple[str, str], fill_with: Any = _NO_FILL) -> None:
        if not columns:
            raise ModifierError(
                "@extract_columns needs at least one column name.\n"
                'Hint: @extract_columns("spend", "signups").'
            )
        names: list[str] = []
        docs: list[str] = []
        for column in columns:
            if isinstance(column, tuple) and len(column) == 2:
                names.append(str(column[0]))
                docs.append(str(column[1]))
            elif isinstance(column, str):
                names.append(column)
                docs.append("")
            else:
                raise ModifierError(
                    f"@extract_columns: {column!r} is not a column name.\n"
                    'Hint: pass names as strings, or (name, doc) pairs: ("spend", "weekly spend").'
                )
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ModifierError(
                f"@extract_columns lists {', '.join(f'`{n}`' for n in duplicated)} more than once."
                "\nHint: name each column once."
            )
        self._spec = ExtractColumnsSpec(
            columns=tuple(names),
            docs=tuple(docs),
            fill_with=None if fill_with is _NO_FILL else fill_with,
            has_fill=fill_with is not _NO_FILL,
        )

    def __call__(self, fn: F) -> F:
        if fn.__name__ in self._spec.columns:
            raise ModifierError(
                f"@extract_columns on `{fn.__name__}` ({location_of(fn)}) extracts a column with "
                "the function's own name.\nHint: rename the function (e.g. to "
                f"`{fn.__name__}_df`) so the column and the frame are different nodes."
            )
        return attach(fn, self._spec)


def _check_dependency(fn_name: str, decorator: str, output: str, param: str, dep: Any) -> None:
    if not isinstance(
        dep, (LiteralDependency, UpstreamDependency, ConfigDependency, GroupedList, GroupedDict)
    ):
        raise ModifierError(
            f"@{decorator} for `{output}` maps `{param}` to {dep!r}, which is neither source() "
            f"nor value().\n  function: {fn_name}\n"
            f"Hint: write {param}=value({dep!r}) for a literal, or "
            f'{param}=source("node") for a node.'
        )


@dataclass(frozen=True)
class Parameterization:
    """One output of ``@parameterize``: its name, parameter mapping and optional docstring."""

    output: str
    mapping: tuple[tuple[str, ParametrizedDependency], ...]
    doc: str | None = None


@dataclass(frozen=True)
class ParameterizeSpec(ModifierSpec):
    """One node per :class:`Parameterization`, with parameters replaced as mapped."""

    outputs: tuple[Parameterization, ...]
    decorator: str = "parameterize"
    per_output: ClassVar[bool] = True

    @property
    def decorator_name(self) -> str:
        return self.decorator


class parameterize:
    """Turn one function into several nodes, each with some parameters replaced.

    Example:
        >>> import polars as pl
        >>> from hamilton_fast.function_modifiers import source, value
        >>> @parameterize(
        ...     spend_x2={"col": source("spend"), "k": value(2)},
        ...     signups_x3=({"col": source("signups"), "k": value(3)}, "signups times three"),
        ... )
        ... def scaled(col: pl.Expr, k: int) -> pl.Expr:
        ...     '''{col} times {k}'''
        ...     return col * k
    """

    _decorator = "parameterize"

    def __init__(
        self, **parametrization: Mapping[str, Any] | tuple[Mapping[str, Any], str]
    ) -> None:
        if not parametrization:
            raise ModifierError(
                f"@{self._decorator} needs at least one output.\n"
                'Hint: @parameterize(out_a={"x": source("a")}, out_b={"x": source("b")}).'
            )
        outputs = []
        for output, spec in parametrization.items():
            mapping, doc = (spec[0], spec[1]) if isinstance(spec, tuple) else (spec, None)
            if not isinstance(mapping, Mapping):
                raise ModifierError(
                    f"@{self._decorator}: the mapping for `{output}` must be a dict of parameter "
                    f"-> source()/value(), got {mapping!r}.\n"
                    f'Hint: {output}={{"x": source("a")}}.'
                )
            outputs.append(Parameterization(output, tuple(mapping.items()), doc))
        self._spec = ParameterizeSpec(tuple(outputs), self._decorator)

    def __call__(self, fn: F) -> F:
        for out in self._spec.outputs:
            for param, dep in out.mapping:
                _check_dependency(fn.__name__, self._decorator, out.output, param, dep)
        return attach(fn, self._spec)


class parameterize_sources(parameterize):
    """``@parameterize`` where every replacement is a node name: ``out={"param": "node"}``."""

    _decorator = "parameterize_sources"

    def __init__(self, **parameterization: Mapping[str, str]) -> None:
        super().__init__(
            **{
                output: {param: source(node) for param, node in mapping.items()}
                for output, mapping in parameterization.items()
            }
        )


class parameterize_values(parameterize):
    """``@parameterize`` of one parameter with literal values.

    ``assigned_output`` maps ``(name, doc)`` pairs to the value of ``parameter``.
    """

    _decorator = "parameterize_values"

    def __init__(self, parameter: str, assigned_output: Mapping[Any, Any]) -> None:
        spec: dict[str, Any] = {}
        for key, literal in assigned_output.items():
            if not (isinstance(key, tuple) and len(key) == 2):
                raise ModifierError(
                    f"@parameterize_values: output key {key!r} must be a (name, docstring) pair."
                    f'\nHint: assigned_output={{("{key}", "what it is"): ...}}.'
                )
            spec[key[0]] = ({parameter: value(literal)}, key[1])
        super().__init__(**spec)


@dataclass(frozen=True)
class ParameterizedExtract:
    """One group of ``@parameterize_extract_columns``: the columns and the parameter mapping."""

    outputs: tuple[str, ...]
    input_mapping: Mapping[str, Any]

    def __init__(
        self, outputs: tuple[str, ...] | list[str], input_mapping: Mapping[str, Any]
    ) -> None:
        object.__setattr__(self, "outputs", tuple(outputs))
        object.__setattr__(self, "input_mapping", dict(input_mapping))


@dataclass(frozen=True)
class ParameterizeExtractSpec(ModifierSpec):
    """Call the frame function once per group, extracting that group's columns."""

    extracts: tuple[ParameterizedExtract, ...]
    per_output: ClassVar[bool] = True

    @property
    def decorator_name(self) -> str:
        return "parameterize_extract_columns"


def parameterize_extract_columns(*extract_config: ParameterizedExtract) -> Callable[[F], F]:
    """``@parameterize`` and ``@extract_columns`` together, as in Hamilton."""
    if not extract_config:
        raise ModifierError(
            "@parameterize_extract_columns needs at least one ParameterizedExtract.\n"
            'Hint: ParameterizedExtract(("a", "b"), {"df": source("raw")}).'
        )
    spec = ParameterizeExtractSpec(tuple(extract_config))

    def decorate(fn: F) -> F:
        for extract in spec.extracts:
            for param, dep in extract.input_mapping.items():
                _check_dependency(
                    fn.__name__, spec.decorator_name, ",".join(extract.outputs), param, dep
                )
        return attach(fn, spec)

    return decorate


@dataclass(frozen=True)
class InjectSpec(ModifierSpec):
    """Replace parameters with sources, values or groups (no new node)."""

    mapping: tuple[tuple[str, ParametrizedDependency], ...]

    @property
    def decorator_name(self) -> str:
        return "inject"


def inject(**key_mapping: Any) -> Callable[[F], F]:
    """Fill parameters of the function from sources, values or groups."""
    spec = InjectSpec(tuple(key_mapping.items()))

    def decorate(fn: F) -> F:
        for param, dep in spec.mapping:
            _check_dependency(fn.__name__, "inject", fn.__name__, param, dep)
        return attach(fn, spec)

    return decorate


@dataclass(frozen=True)
class ExtractFieldsSpec(ModifierSpec):
    """One node per dict field; types from the mapping, or the TypedDict return annotation."""

    fields: tuple[tuple[str, Any], ...] | None
    names: tuple[str, ...] | None = None

    @property
    def decorator_name(self) -> str:
        return "extract_fields"


def extract_fields(
    fields: Mapping[str, Any] | list[str] | tuple[str, ...] | None = None,
) -> Callable[[F], F]:
    """Expose fields of a returned dict as typed nodes."""
    if isinstance(fields, Mapping):
        if not fields:
            raise ModifierError(
                "@extract_fields was given an empty mapping.\n"
                'Hint: @extract_fields({"a": int, "b": str}).'
            )
        spec = ExtractFieldsSpec(tuple(fields.items()))
    elif fields is None:
        spec = ExtractFieldsSpec(None)
    else:
        spec = ExtractFieldsSpec(None, tuple(fields))
    return lambda fn: attach(fn, spec)


@dataclass(frozen=True)
class UnpackFieldsSpec(ModifierSpec):
    """One node per element of a returned tuple, typed by the tuple annotation."""

    fields: tuple[str, ...]

    @property
    def decorator_name(self) -> str:
        return "unpack_fields"


def unpack_fields(*fields: str) -> Callable[[F], F]:
    """Expose elements of a returned tuple as nodes."""
    if not fields:
        raise ModifierError(
            '@unpack_fields needs the field names.\nHint: @unpack_fields("X_train", "X_test").'
        )
    spec = UnpackFieldsSpec(tuple(fields))
    return lambda fn: attach(fn, spec)
