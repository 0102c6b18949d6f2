"""How decorators attach to functions: each one appends a frozen spec, and nothing more.

Graph building (``hamilton_fast.graph``) reads the specs back with :func:`modifiers_of` and
expands them into nodes; a decorator never builds nodes itself, so decorating is free and the
order in which a user stacks decorators does not change what the graph sees.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from hamilton_fast.errors import ModifierError

__all__ = ["ModifierSpec", "attach", "location_of", "modifiers_of"]

_ATTRIBUTE = "__hamilton_fast_modifiers__"

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class ModifierSpec:
    """Base of every decorator's spec. Subclasses are frozen dataclasses.

    ``per_output`` marks specs that hold arguments for several generated nodes, each node
    carrying its own part (``@parameterize``): code fingerprints leave those specs out, so
    editing one output's arguments does not invalidate its siblings in the cache.
    """

    per_output: ClassVar[bool] = False

    @property
    def decorator_name(self) -> str:
        return type(self).__name__

    def remote_targets(self) -> tuple[Callable[..., Any], ...]:
        """Functions this spec transforms other than the one it decorates (``@mutate``)."""
        return ()


def attach(fn: F, spec: ModifierSpec) -> F:
    """Record ``spec`` on ``fn`` (innermost decorator first) and return ``fn`` unchanged."""
    if not callable(fn):
        raise ModifierError(
            f"@{spec.decorator_name} can only decorate a function, got {type(fn).__name__}.\n"
            "Hint: put the decorator directly above a `def`."
        )
    existing: tuple[ModifierSpec, ...] = getattr(fn, _ATTRIBUTE, ())
    setattr(fn, _ATTRIBUTE, (*existing, spec))
    return fn


def modifiers_of(fn: Callable[..., Any]) -> tuple[ModifierSpec, ...]:
    """The specs attached to ``fn``, innermost first."""
    specs: tuple[ModifierSpec, ...] = getattr(fn, _ATTRIBUTE, ())
    return specs


def location_of(fn: Callable[..., Any]) -> str:
    """``file.py:LINE`` of a function's definition, or its qualified name when unknown."""
    target = inspect.unwrap(fn)
    try:
        code = target.__code__
    except AttributeError:
        return getattr(target, "__qualname__", repr(target))
    return f"{code.co_filename}:{code.co_firstlineno}"
