"""Build a dataflow module from functions defined elsewhere (a notebook, a test)."""

from __future__ import annotations

import itertools
import types
from collections.abc import Callable
from typing import Any

__all__ = ["create_temporary_module"]

_counter = itertools.count()


def create_temporary_module(
    *functions: Callable[..., Any], module_name: str | None = None
) -> types.ModuleType:
    """A new module holding ``functions`` as its own, so each becomes a node.

    >>> def one() -> int:
    ...     return 1
    >>> create_temporary_module(one).one()
    1
    """
    name = module_name or f"temporary_module_{next(_counter)}"
    module = types.ModuleType(name)
    for fn in functions:
        # Functions are shared objects; give the module its own copy claiming it.
        copy = types.FunctionType(
            fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__
        )
        copy.__dict__.update(fn.__dict__)
        copy.__kwdefaults__ = fn.__kwdefaults__
        copy.__annotations__ = dict(fn.__annotations__)
        copy.__doc__ = fn.__doc__
        copy.__module__ = name
        copy.__qualname__ = fn.__qualname__
        setattr(module, fn.__name__, copy)
    return module
