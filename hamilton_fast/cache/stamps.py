"""Call stamps: what a call of a node's function may read besides its arguments, by identity.

The planner traces a function once and replays the expression while nothing it read has
changed (``planner.compile``'s trace memo, the driver's recipes). Apache Hamilton calls every
function on every run, so a module constant, a helper or a mutable global reassigned between
two runs of one driver must be seen. A stamp is a cheap, hashable picture of that state: equal
stamps mean a new call with equal arguments runs the same code on the same values.

The node cache also reuses a function's code fingerprint (:mod:`hamilton_fast.cache.code`)
while its stamp stays equal, so a stamp covers everything a code fingerprint reads. Unlike a
fingerprint, a stamp is never stored and never compared across processes, so it may use
object identities: library objects count as
themselves, atoms and small containers by value, user functions by their code object (by
CPython's equality: bytecode, constants, names, line table, so a reimported module's unchanged
functions stamp alike) and by what they read, recursively. Whatever it cannot vouch for
cheaply (an object with mutable state, a large container, a user class) makes the stamp None:
nothing traced from that function is reused.
"""

from __future__ import annotations

import builtins
import dataclasses
import datetime as dt
import decimal
import enum
import functools
import logging
import types
import zoneinfo
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np
import polars as pl

from hamilton_fast.cache.canonical import _float_text
from hamilton_fast.cache.code import _MODIFIERS_ATTRIBUTE, _import_for, _reads
from hamilton_fast.cache.libraries import (
    _BUILTIN_CALLABLES,
    _is_library_module,
    _is_library_module_name,
)

__all__ = ["call_stamp"]

_ATOMS = (type(None), bool, int, str, bytes)
"""Immutable values whose equality is exact: they count as their value."""
_BY_REPR = (complex, decimal.Decimal, dt.date, dt.datetime, dt.time, dt.timedelta)
"""Immutable values whose ``==`` forgets something (``Decimal("1.0") == Decimal("1")``, an
aware datetime equal to another in a different zone): they count by their repr."""
_MAX_ITEMS = 1_000
"""Containers with more items than this are not stamped by content (too slow to redo per run)."""


class _Same:
    """An object compared by identity, held so its address is not reused while stamped."""

    __slots__ = ("obj",)

    def __init__(self, obj: object) -> None:
        self.obj = obj

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.obj is self.obj

    def __hash__(self) -> int:
        return id(self.obj)


def _annotations(fn: types.FunctionType) -> Hashable:
    """A function's annotations (part of its source, not of its code object)."""
    found = fn.__annotations__
    if not found:
        return None
    pairs = tuple(found.items())  # classes and typing forms compare by identity or value
    try:
        hash(pairs)
    except TypeError:  # an annotation that is not hashable (``x: [int]``): by its repr
        return tuple((k, repr(v)) for k, v in pairs)
    return pairs


class _Unstampable(Exception):
    """Raised inside the walk; :func:`call_stamp` turns it into None."""


def call_stamp(fn: Callable[..., Any]) -> Hashable | None:
    """A hashable stamp of what calling ``fn`` may read besides its arguments, or None.

    >>> import math
    >>> def f(x):
    ...     return x * math.pi
    >>> call_stamp(f) == call_stamp(f)
    True
    """
    try:
        if (
            type(fn) is types.FunctionType
            and not (fn.__closure__ or fn.__defaults__ or fn.__kwdefaults__ or fn.__dict__)
            and not any(_reads(fn.__code__))
            and not _is_library_module_name(fn.__module__)
        ):
            # A function that reads nothing but its arguments (the walk gives the same stamp).
            parts = (fn.__code__, fn.__qualname__, _annotations(fn), None, None, None)
            return ("function", (*parts, None, None, ()))
        return _Walk().stamp(fn)
    except (_Unstampable, RecursionError):
        return None
    except Exception:  # a property or __getattr__ of user code failing: do not reuse
        return None


class _Walk:
    def __init__(self) -> None:
        self.seen: dict[int, int] = {}  # id of each function walked -> when it was met
        self.items = 0

    def stamp(self, obj: Any) -> Hashable:
        kind = type(obj)
        if kind in _ATOMS:
            return (kind, obj)
        if kind is float:
            return (float, _float_text(obj))  # -0.0 == 0.0, but 1 / -0.0 is -inf
        if kind in _BY_REPR:
            zone = getattr(obj, "tzinfo", None)
            if zone is not None and not isinstance(zone, (dt.timezone, zoneinfo.ZoneInfo)):
                raise _Unstampable  # a time zone class of the user's may hold state
            return (kind, repr(obj))
        if kind is tuple or kind is list:
            self._count(len(obj))
            return (kind, tuple(self.stamp(item) for item in obj))
        if kind is dict:
            self._count(len(obj))
            return (dict, tuple((self.stamp(k), self.stamp(v)) for k, v in obj.items()))
        if kind is frozenset or kind is set:
            self._count(len(obj))
            return (kind, frozenset(self.stamp(item) for item in obj))
        if kind is types.FunctionType:
            return self._function(obj)
        if kind is types.ModuleType:
            if _is_library_module(obj):
                return ("module", obj.__name__)
            raise _Unstampable  # a user module as a value: anything in it may be read
        if kind is functools.partial:
            return (kind, self.stamp(obj.func), self.stamp(obj.args), self.stamp(obj.keywords))
        if kind is types.MethodType:
            return (kind, self.stamp(obj.__func__), self.stamp(obj.__self__))
        if isinstance(obj, (*_BUILTIN_CALLABLES, np.ufunc)):
            bound = getattr(obj, "__self__", None)
            if bound is None or isinstance(bound, types.ModuleType):
                return ("callable", _Same(obj))
            return ("method", obj.__name__, self.stamp(bound))  # ``LOOKUP = {...}.get``
        if isinstance(obj, type):
            if _is_library_module_name(obj.__module__):
                return ("class", _Same(obj))
            raise _Unstampable  # class attributes of user classes can be reassigned
        if isinstance(obj, enum.Enum):
            if not _is_library_module_name(type(obj).__module__):
                raise _Unstampable  # the user's enum: its methods may read anything
            return ("enum", _Same(obj), self.stamp(obj.value))  # a value may be mutable
        if isinstance(obj, logging.Logger):  # logging does not change a result
            return ("logger", obj.name)
        if isinstance(obj, pl.DataType):  # attributes can be set: by repr, as fingerprinted
            return ("dtype", type(obj), repr(obj))
        if isinstance(obj, range):
            return (range, obj.start, obj.stop, obj.step)
        module = type(obj).__module__
        if _is_library_module_name(module):
            params = getattr(type(obj), "__dataclass_params__", None)
            if params is not None and params.frozen:
                # hamilton_fast's node wrappers (a bound function, an extracted field): their
                # fields, which hold the user's function and decorator arguments.
                fields = dataclasses.fields(obj)
                return (_Same(type(obj)), tuple(self.stamp(getattr(obj, f.name)) for f in fields))
            if callable(obj) and module.partition(".")[0] == "polars":
                return ("callable", _Same(obj))  # Polars' API objects (``pl.col``)
        raise _Unstampable

    def _count(self, n: int) -> None:
        self.items += n
        if self.items > _MAX_ITEMS:
            raise _Unstampable

    def _function(self, fn: types.FunctionType) -> Hashable:
        # The common node function has no defaults, closure or decorator specs: the checks
        # below skip what is absent (the driver stamps every needed function on every run).
        library = _is_library_module_name(fn.__module__)
        defaults, kwdefaults, closure = fn.__defaults__, fn.__kwdefaults__, fn.__closure__
        if library and not (closure or defaults or kwdefaults):
            return ("function", _Same(fn))
        # A function met again (a helper shared by helpers, a recursion) counts by when it
        # was first met: the stamp stays linear in the code read, and equal across reimports.
        ordinal = self.seen.get(id(fn))
        if ordinal is not None:
            return ("function met", ordinal)
        self.seen[id(fn)] = len(self.seen)
        attributes = fn.__dict__
        return (
            "function",
            (
                fn.__code__,
                fn.__qualname__,
                _annotations(fn),
                None if defaults is None else self.stamp(defaults),
                None if kwdefaults is None else self.stamp(kwdefaults),
                None if closure is None else tuple(self._cell(cell) for cell in closure),
                self.stamp(attributes[_MODIFIERS_ATTRIBUTE])
                if _MODIFIERS_ATTRIBUTE in attributes
                else None,
                self.stamp(attributes["__wrapped__"]) if "__wrapped__" in attributes else None,
                None if library else self._globals(fn),
            ),
        )

    def _cell(self, cell: types.CellType) -> Hashable:
        try:
            return self.stamp(cell.cell_contents)
        except ValueError:  # an empty cell
            return "<empty cell>"

    def _globals(self, fn: types.FunctionType) -> Hashable:
        namespace = fn.__globals__
        reads, imports = _reads(fn.__code__)
        parts: list[Hashable] = []
        for name, chain in reads:
            if name in namespace:
                parts.append(self._resolved(namespace[name], chain))
            elif hasattr(builtins, name):
                parts.append(("builtin", _Same(getattr(builtins, name))))
            else:
                parts.append("<undefined>")
        for module_name, level, attrs in imports:
            module = _import_for(fn, module_name, level)
            parts.append(self.stamp(module) if not attrs else ("module", module.__name__))
            parts.extend(self._resolved(module, (attr,)) for attr in attrs)
        return tuple(parts)

    def _resolved(self, obj: Any, chain: tuple[str, ...]) -> Hashable:
        """``obj.chain...`` followed while it walks through user modules, then stamped."""
        for attr in chain:
            if not isinstance(obj, types.ModuleType) or _is_library_module(obj):
                break
            if not hasattr(obj, attr):
                return ("missing", attr)
            obj = getattr(obj, attr)
        return self.stamp(obj)
