"""Decorators that change how a function computes its node: ``does``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from hamilton_fast.errors import ModifierError
from hamilton_fast.function_modifiers.base import ModifierSpec, attach

__all__ = ["DoesSpec", "does"]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class DoesSpec(ModifierSpec):
    """Compute the node with ``replacing_function`` (its parameters renamed by the mapping)."""

    replacing_function: Callable[..., Any]
    argument_mapping: tuple[tuple[str, str], ...]

    @property
    def decorator_name(self) -> str:
        return "does"


def does(replacing_function: Callable[..., Any], **argument_mapping: str) -> Callable[[F], F]:
    """Use ``replacing_function`` as the body; the decorated function only declares the node.

    ``argument_mapping`` maps the replacing function's parameter names to the decorated
    function's: ``@does(_sum_series, values="a")``.
    """
    if not callable(replacing_function):
        raise ModifierError(
            f"@does takes a function, got {replacing_function!r}.\nHint: @does(_my_helper)."
        )
    for key, val in argument_mapping.items():
        if not isinstance(val, str):
            raise ModifierError(
                f"@does: argument mapping {key}={val!r} must map to a parameter name.\n"
                f'Hint: @does({replacing_function.__name__}, {key}="param").'
            )
    spec = DoesSpec(replacing_function, tuple(argument_mapping.items()))
    return lambda fn: attach(fn, spec)
