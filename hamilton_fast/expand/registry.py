"""Where decorator families plug into the expansion pipeline.

Each phase keeps a map from spec type to handler; a family's module registers its handlers on
import (``hamilton_fast.expand`` imports them all). Handlers are pure: nodes in, nodes out.

Phases, in Hamilton's order: ``create`` (replaces how the base node is made, e.g. ``@does``,
``@subdag``), ``inject`` (fills parameters, may add upstream nodes), ``expand`` (one node ->
several), ``transform`` (rewrites the function's final nodes), ``decorate`` (metadata).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hamilton_fast.function_modifiers.base import ModifierSpec
from hamilton_fast.nodes import Node

__all__ = ["PHASES", "ExpansionContext", "handler_for", "register"]

PHASES = ("create", "inject", "expand", "transform", "decorate")


@dataclass(frozen=True)
class ExpansionContext:
    """What a handler may know besides the nodes: the function, its module, the config.

    ``remote`` holds specs declared on *other* functions that target this one (``@mutate``),
    as ``(spec, declaring function)`` pairs. ``build_nodes`` builds the nodes of other modules
    under a config (for ``@subdag``): ``build_nodes(modules, config) -> list[Node]``.
    """

    fn: Callable[..., Any]
    module: str
    config: Mapping[str, Any]
    remote: tuple[tuple[ModifierSpec, Callable[..., Any]], ...] = ()
    build_nodes: Callable[[Sequence[Any], Mapping[str, Any]], list[Node]] | None = field(
        default=None, compare=False
    )
    name: str = ""  # the node name after @config renaming


Handler = Callable[..., list[Node]]
H = TypeVar("H", bound=Handler)

_HANDLERS: dict[str, dict[type[ModifierSpec], Handler]] = {phase: {} for phase in PHASES}


def register(phase: str, spec_type: type[ModifierSpec]) -> Callable[[H], H]:
    """Register ``handler(spec, nodes_or_node, ctx) -> list[Node]`` for ``spec_type``."""
    if phase not in _HANDLERS:
        raise ValueError(f"unknown phase {phase!r}; phases are {PHASES}")

    def decorate(handler: H) -> H:
        _HANDLERS[phase][spec_type] = handler
        return handler

    return decorate


def handler_for(phase: str, spec: ModifierSpec) -> Handler | None:
    """The handler registered for ``spec``'s type in ``phase``, if any."""
    return _HANDLERS[phase].get(type(spec))
