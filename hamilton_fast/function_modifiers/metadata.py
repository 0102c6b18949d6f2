"""Decorators that only annotate nodes: ``tag``, ``tag_outputs``, ``schema``, ``cache``,
``hamilton_exclude``."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from hamilton_fast.errors import ModifierError
from hamilton_fast.function_modifiers.base import ModifierSpec, attach

__all__ = [
    "CACHE_BEHAVIORS",
    "CacheSpec",
    "ExcludeSpec",
    "SchemaSpec",
    "TagOutputsSpec",
    "TagSpec",
    "cache",
    "hamilton_exclude",
    "schema",
    "tag",
    "tag_outputs",
]

F = TypeVar("F", bound=Callable[..., Any])

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_RESERVED = ("hamilton", "module")


def _check_tags(tags: Mapping[str, Any], decorator: str, allow_reserved: bool = False) -> None:
    for key, val in tags.items():
        if not _KEY.match(key):
            raise ModifierError(
                f"@{decorator}: tag key {key!r} is not a dotted identifier.\n"
                'Hint: use keys like "team" or "data.owner".'
            )
        if not allow_reserved and key.split(".")[0] in _RESERVED:
            raise ModifierError(
                f"@{decorator}: tag key {key!r} is reserved for the library.\n"
                "Hint: choose another key (e.g. prefix it with your team's name)."
            )
        if not (
            isinstance(val, str)
            or (isinstance(val, list) and val and all(isinstance(v, str) for v in val))
        ):
            raise ModifierError(
                f"@{decorator}: tag {key!r} has value {val!r}; tag values are strings or "
                "non-empty lists of strings.\nHint: str(value)."
            )


@dataclass(frozen=True)
class TagSpec(ModifierSpec):
    """Add ``tags`` to the function's final nodes (or to ``target``)."""

    tags: tuple[tuple[str, Any], ...]
    target: str | tuple[str, ...] | None = None

    @property
    def decorator_name(self) -> str:
        return "tag"


def tag(*, target_: str | list[str] | None = None, **tags: str | list[str]) -> Callable[[F], F]:
    """Attach string tags, queryable with ``list_available_variables(tag_filter=...)``."""
    _check_tags(tags, "tag")
    target = tuple(target_) if isinstance(target_, list) else target_
    spec = TagSpec(
        tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in tags.items()), target
    )
    return lambda fn: attach(fn, spec)


@dataclass(frozen=True)
class TagOutputsSpec(ModifierSpec):
    """Tags per generated node name."""

    tags: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...]

    @property
    def decorator_name(self) -> str:
        return "tag_outputs"


def tag_outputs(**tag_mapping: Mapping[str, str | list[str]]) -> Callable[[F], F]:
    """Different tags for different nodes of one function (e.g. after ``extract_columns``)."""
    for mapping in tag_mapping.values():
        _check_tags(mapping, "tag_outputs")
    spec = TagOutputsSpec(
        tuple(
            (node, tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in m.items()))
            for node, m in tag_mapping.items()
        )
    )
    return lambda fn: attach(fn, spec)


@dataclass(frozen=True)
class SchemaSpec(ModifierSpec):
    """The declared output schema, stored as Hamilton's ``hamilton.internal.schema_output`` tag."""

    fields: tuple[tuple[str, str], ...]
    target: str | None = None

    @property
    def decorator_name(self) -> str:
        return "schema.output"


class schema:
    """``@schema.output(("col", "type"), ...)`` documents a frame's columns."""

    @staticmethod
    def output(*fields: tuple[str, str], target_: str | None = None) -> Callable[[F], F]:
        if not fields or not all(
            isinstance(f, tuple) and len(f) == 2 and all(isinstance(p, str) for p in f)
            for f in fields
        ):
            raise ModifierError(
                f"@schema.output takes (name, type) string pairs, got {fields!r}.\n"
                'Hint: @schema.output(("spend", "float"), ("region", "str")).'
            )
        spec = SchemaSpec(tuple(fields), target_)
        return lambda fn: attach(fn, spec)


CACHE_BEHAVIORS = ("default", "recompute", "disable", "ignore")


@dataclass(frozen=True)
class CacheSpec(ModifierSpec):
    """Per-node cache behaviour and storage format; also stored as ``cache.*`` tags."""

    behavior: str | None
    format: str | None
    target: str | None = None

    @property
    def decorator_name(self) -> str:
        return "cache"


def cache(
    *, behavior: str | None = None, format: str | None = None, target_: str | None = None
) -> Callable[[F], F]:
    """Choose how the node cache treats this function's nodes (``recompute``, ``disable``...)."""
    if behavior is not None and behavior not in CACHE_BEHAVIORS:
        raise ModifierError(
            f"@cache: behavior {behavior!r} is not one of {', '.join(CACHE_BEHAVIORS)}.\n"
            'Hint: @cache(behavior="recompute").'
        )
    spec = CacheSpec(behavior, format, target_)
    return lambda fn: attach(fn, spec)


@dataclass(frozen=True)
class ExcludeSpec(ModifierSpec):
    """The function is not a node."""

    @property
    def decorator_name(self) -> str:
        return "hamilton_exclude"


def hamilton_exclude(fn: F) -> F:
    """Keep a public function out of the graph (a helper that is not a node)."""
    return attach(fn, ExcludeSpec())
