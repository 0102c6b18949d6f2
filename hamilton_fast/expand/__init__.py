"""Graph stage, part one: decorator specs -> nodes (see :mod:`hamilton_fast.expand.core`).

Decorator families register handlers in :mod:`hamilton_fast.expand.registry`; importing this
package imports every family so their handlers are in place.
"""

from __future__ import annotations

from hamilton_fast.expand import io as _io  # noqa: F401  (registers handlers)
from hamilton_fast.expand import pipes as _pipes  # noqa: F401  (registers handlers)
from hamilton_fast.expand import recursive as _recursive  # noqa: F401  (registers handlers)
from hamilton_fast.expand import validation as _validation  # noqa: F401  (registers handlers)
from hamilton_fast.expand import with_columns as _with_columns  # noqa: F401  (registers handlers)
from hamilton_fast.expand.core import (
    Bound,
    Expansion,
    ExpansionProblem,
    Extract,
    expand_function,
    strip_suffix,
)
from hamilton_fast.expand.registry import ExpansionContext, register

__all__ = [
    "Bound",
    "Expansion",
    "ExpansionContext",
    "ExpansionProblem",
    "Extract",
    "expand_function",
    "register",
    "strip_suffix",
]
