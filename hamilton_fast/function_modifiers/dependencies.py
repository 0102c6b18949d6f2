"""``value``, ``source`` and ``group``: how a decorator fills a parameter, as in Hamilton.

``source("x")`` reads the node ``x``; ``value(3)`` passes the literal 3; ``group(...)`` builds a
list (positional) or dict (keyword) parameter from several of those.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hamilton_fast.errors import ModifierError

__all__ = [
    "GroupedDict",
    "GroupedList",
    "LiteralDependency",
    "ParametrizedDependency",
    "UpstreamDependency",
    "configuration",
    "group",
    "source",
    "value",
]


@dataclass(frozen=True)
class LiteralDependency:
    """A parameter filled with a fixed Python value."""

    value: Any


@dataclass(frozen=True)
class UpstreamDependency:
    """A parameter filled with the value of another node."""

    source: str


@dataclass(frozen=True)
class ConfigDependency:
    """A parameter filled with a config value (Hamilton's ``configuration(key)``)."""

    key: str


@dataclass(frozen=True)
class GroupedList:
    """A list parameter assembled from several sources or values."""

    sources: tuple[LiteralDependency | UpstreamDependency, ...]


@dataclass(frozen=True)
class GroupedDict:
    """A dict parameter assembled from several sources or values."""

    sources: tuple[tuple[str, LiteralDependency | UpstreamDependency], ...]


ParametrizedDependency = (
    LiteralDependency | UpstreamDependency | ConfigDependency | GroupedList | GroupedDict
)


def value(literal_value: Any) -> LiteralDependency:
    """Fill a parameter with ``literal_value``."""
    return LiteralDependency(literal_value)


def source(dependency_on: str) -> UpstreamDependency:
    """Fill a parameter with the node named ``dependency_on``."""
    if not isinstance(dependency_on, str):
        raise ModifierError(
            f'source() takes a node name, got {dependency_on!r}.\nHint: source("spend").'
        )
    return UpstreamDependency(dependency_on)


def configuration(key: str) -> ConfigDependency:
    """Fill a parameter with the config value ``key``."""
    return ConfigDependency(key)


def _single(item: Any) -> LiteralDependency | UpstreamDependency:
    if isinstance(item, (LiteralDependency, UpstreamDependency)):
        return item
    raise ModifierError(
        f"group() takes source(...) or value(...) items, got {item!r}.\n"
        'Hint: group(source("a"), source("b")) or group(x=value(1)).'
    )


def group(
    *dependency_args: LiteralDependency | UpstreamDependency,
    **dependency_kwargs: LiteralDependency | UpstreamDependency,
) -> GroupedList | GroupedDict:
    """A list (``group(a, b)``) or a dict (``group(x=a, y=b)``) of sources and values."""
    if dependency_args and dependency_kwargs:
        raise ModifierError(
            "group() takes either positional items (a list) or keyword items (a dict), not both."
            '\nHint: group(source("a"), source("b")) or group(a=source("a")).'
        )
    if dependency_kwargs:
        return GroupedDict(tuple((k, _single(v)) for k, v in dependency_kwargs.items()))
    return GroupedList(tuple(_single(v) for v in dependency_args))
