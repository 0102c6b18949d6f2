"""The exception tree of hamilton_fast.

Every error a user can cause derives from :class:`HamiltonFastError`, with one subclass per
stage so callers can catch what they can handle::

    HamiltonFastError
    ├── ModifierError (ValueError)       a decorator was given bad arguments
    ├── GraphError                        modules + config do not form a valid DAG
    │   ├── UnknownNodeError (KeyError)   a requested name is not a node
    │   └── InputError (ValueError, TypeError)  an input is missing or mistyped
    ├── PlanError                         a request cannot be compiled into a query
    │   └── ShapeError (ValueError)       columns of different lengths were combined
    ├── NodeError                         a user function raised (chained with ``from``)
    ├── DataValidationError (ValueError)  a ``@check_output`` with importance "fail" failed
    └── CacheError                        the node cache cannot be read or written

Messages follow one shape: the problem on the first line with node names in backticks, then
the facts (the function and its ``file:line``), then ``Hint:`` with a concrete fix.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "CacheError",
    "DataValidationError",
    "GraphError",
    "HamiltonFastError",
    "InputError",
    "ModifierError",
    "NodeError",
    "PlanError",
    "ShapeError",
    "UnknownNodeError",
    "format_problems",
]


class HamiltonFastError(Exception):
    """Base class of every error hamilton_fast raises for a user mistake."""


class ModifierError(HamiltonFastError, ValueError):
    """A function modifier (decorator) was given invalid arguments."""


class GraphError(HamiltonFastError):
    """The functions and config do not form a valid dataflow graph."""


class UnknownNodeError(GraphError, KeyError):
    """A requested node name does not exist in the graph."""

    def __str__(self) -> str:  # KeyError would wrap the message in quotes.
        return str(self.args[0]) if self.args else ""


class InputError(GraphError, ValueError, TypeError):
    """An external input is missing or does not have the declared type.

    A ValueError like Apache Hamilton's (code that catches that keeps working), and a TypeError
    since a wrong type is one.
    """


class PlanError(HamiltonFastError):
    """A request cannot be compiled into a query."""


class ShapeError(PlanError, ValueError):
    """Columns of different lengths were combined."""


class NodeError(HamiltonFastError):
    """A user function raised while computing a node; the original is chained."""

    def __init__(self, message: str, node: str) -> None:
        super().__init__(message)
        self.node = node


class DataValidationError(HamiltonFastError, ValueError):
    """A data-quality check with importance ``"fail"`` did not pass."""

    def __init__(self, message: str, outcomes: tuple[object, ...] = ()) -> None:
        super().__init__(message)
        self.outcomes = outcomes


class CacheError(HamiltonFastError):
    """The node cache cannot be read or written."""


def format_problems(problems: Sequence[str], limit: int = 10) -> str:
    """Join several problem reports into one message, the first ``limit`` in full."""
    shown = list(problems[:limit])
    text = "\n\n".join(shown)
    rest = len(problems) - len(shown)
    if rest > 0:
        text += f"\n\n... and {rest} more"
    if len(problems) > 1:
        text = f"{len(problems)} problems found:\n\n" + text
    return text
