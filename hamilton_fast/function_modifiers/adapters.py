"""Data loading and saving decorators: ``load_from``, ``save_to``, ``dataloader``, ``datasaver``.

``@load_from.parquet(file=source("path"))`` fills a frame parameter from a file;
``@save_to.csv(file=value("out.csv"), output_name_="saved")`` adds a node that writes the
function's result. Parquet, CSV, Arrow IPC (``feather``/``ipc``) and newline-delimited JSON are
read with Polars' ``scan_*`` functions, so the planner pushes projections into the file. The file
argument is ``file`` as in Hamilton's Polars adapters (``source`` for feather; ``path`` works too).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from hamilton_fast.errors import ModifierError
from hamilton_fast.function_modifiers.base import ModifierSpec, attach
from hamilton_fast.function_modifiers.dependencies import (
    LiteralDependency,
    UpstreamDependency,
)

__all__ = [
    "FORMATS",
    "DataLoaderSpec",
    "DataSaverSpec",
    "LoadFromSpec",
    "SaveToSpec",
    "dataloader",
    "datasaver",
    "load_from",
    "save_to",
]

F = TypeVar("F", bound=Callable[..., Any])

# format -> (Hamilton's loader/saver class name, the file argument's name)
FORMATS: Mapping[str, str] = {
    "parquet": "Parquet",
    "csv": "CSV",
    "feather": "Feather",
    "ipc": "Feather",
    "ndjson": "NDJSON",
}


def _arguments(
    decorator: str, kwargs: Mapping[str, Any]
) -> tuple[tuple[str, LiteralDependency | UpstreamDependency], ...]:
    out = []
    for key, dep in kwargs.items():
        if not isinstance(dep, (LiteralDependency, UpstreamDependency)):
            raise ModifierError(
                f"@{decorator}: argument `{key}` must be source(...) or value(...), got {dep!r}."
                f'\nHint: {key}=value({dep!r}) or {key}=source("node").'
            )
        out.append((key, dep))
    if not {"file", "path", "source"} & set(kwargs):
        raise ModifierError(
            f"@{decorator} needs the file to read or write.\n"
            f'Hint: @{decorator}(file=source("data_path")).'
        )
    return tuple(out)


def _format(decorator: str, name: str) -> str:
    if name not in FORMATS:
        raise ModifierError(
            f"@{decorator}.{name} is not a supported format.\n"
            f"Hint: use one of {', '.join(f'{decorator}.{f}' for f in FORMATS)}."
        )
    return name


@dataclass(frozen=True)
class LoadFromSpec(ModifierSpec):
    """Fill parameter ``inject`` (or the only frame parameter) from a file."""

    format: str
    arguments: tuple[tuple[str, LiteralDependency | UpstreamDependency], ...]
    inject: str | None = None

    @property
    def decorator_name(self) -> str:
        return f"load_from.{self.format}"


class _LoadFromMeta(type):
    def __getattr__(cls, name: str) -> Callable[..., Callable[[F], F]]:
        if name.startswith("_"):
            raise AttributeError(name)
        fmt = _format("load_from", name)

        def factory(inject_: str | None = None, **kwargs: Any) -> Callable[[F], F]:
            spec = LoadFromSpec(fmt, _arguments(f"load_from.{fmt}", kwargs), inject_)
            return lambda fn: attach(fn, spec)

        return factory


class load_from(metaclass=_LoadFromMeta):
    """``@load_from.<format>(file=..., inject_=...)``: read a parameter from a file."""


@dataclass(frozen=True)
class SaveToSpec(ModifierSpec):
    """Add a node named ``output_name`` (default ``save.<node>``) that writes ``target``."""

    format: str
    arguments: tuple[tuple[str, LiteralDependency | UpstreamDependency], ...]
    output_name: str | None = None
    target: str | None = None

    @property
    def decorator_name(self) -> str:
        return f"save_to.{self.format}"


class _SaveToMeta(type):
    def __getattr__(cls, name: str) -> Callable[..., Callable[[F], F]]:
        if name.startswith("_"):
            raise AttributeError(name)
        fmt = _format("save_to", name)

        def factory(
            output_name_: str | None = None, target_: str | None = None, **kwargs: Any
        ) -> Callable[[F], F]:
            spec = SaveToSpec(fmt, _arguments(f"save_to.{fmt}", kwargs), output_name_, target_)
            return lambda fn: attach(fn, spec)

        return factory


class save_to(metaclass=_SaveToMeta):
    """``@save_to.<format>(file=..., output_name_=...)``: write the result to a file."""


@dataclass(frozen=True)
class DataLoaderSpec(ModifierSpec):
    """The function returns ``(data, metadata)``; the node is the data."""

    @property
    def decorator_name(self) -> str:
        return "dataloader"


def dataloader() -> Callable[[F], F]:
    """Mark a function returning ``(data, metadata)`` as a loader (Hamilton's ``@dataloader``)."""
    return lambda fn: attach(fn, DataLoaderSpec())


@dataclass(frozen=True)
class DataSaverSpec(ModifierSpec):
    """The function writes data and returns a metadata dict."""

    @property
    def decorator_name(self) -> str:
        return "datasaver"


def datasaver() -> Callable[[F], F]:
    """Mark a function that saves data and returns a metadata dict."""
    return lambda fn: attach(fn, DataSaverSpec())
