"""The node vocabulary shared by graph building, the planner and the driver.

A :class:`Node` is one value of the dataflow: its name, the type its function promises, the
dependencies it takes by name, and where it comes from (the user's function and file:line).
Decorator expansion (``hamilton_fast.expand``) produces nodes; ``hamilton_fast.graph`` links and
validates them.
"""

from __future__ import annotations

import os
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import polars as pl

from hamilton_fast.function_modifiers.base import location_of

__all__ = [
    "Check",
    "CheckOutcome",
    "Dependency",
    "Node",
    "NodeRole",
    "ValueShape",
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


@dataclass(frozen=True)
class CheckOutcome:
    """The result of one data-quality check on one node, after a run."""

    node: str
    validator: str
    importance: str  # "warn" or "fail"
    passes: bool
    message: str
    diagnostics: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Check:
    """A data-quality check evaluated in the same query that computes its node.

    ``summary`` turns the node's column expression into a scalar expression (a fraction of
    failing rows, a mean, ...) that the planner adds to the query, so checking costs no second
    pass over the data; ``None`` hands the whole value to ``judge`` instead (custom validators).
    ``judge`` turns the summary (or value) into ``(passes, message, diagnostics)``.
    """

    validator: str
    importance: str
    summary: Callable[[pl.Expr], pl.Expr] | None
    judge: Callable[[Any], tuple[bool, str, Mapping[str, Any]]]


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
    checks: tuple[Check, ...] = ()

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
