"""Library code versus the user's: what counts by name and version instead of by content.

Code from the standard library, from installed packages and from hamilton_fast itself counts
by its module, name and package version (:func:`_library_token`): a user's result depends on
which version of it runs, not on its internals. Everything else is the user's code, which
:mod:`hamilton_fast.cache.code` fingerprints by content.
"""

from __future__ import annotations

import functools
import glob
import importlib.metadata
import os
import sys
import sysconfig
import types
from typing import Any

from hamilton_fast.cache.canonical import _combine, _text


@functools.cache
def _library_roots() -> tuple[str, ...]:
    roots: set[str] = set()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            roots.add(os.path.realpath(path))
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}:
        for name in ("site-packages", "dist-packages"):
            roots.update(os.path.realpath(p) for p in glob.glob(f"{prefix}/lib*/python*/{name}"))
    return tuple(sorted(root.rstrip(os.sep) + os.sep for root in roots))


@functools.cache
def _stdlib_root() -> str:
    return os.path.realpath(sysconfig.get_paths()["stdlib"]).rstrip(os.sep) + os.sep


def _is_library_module(module: types.ModuleType) -> bool:
    """Installed or standard-library code (counted by version), as opposed to the user's.

    hamilton_fast itself counts as a library even when installed in development mode: user
    code calling it depends on its version, not on its internals.
    """
    name = module.__name__
    if name in sys.builtin_module_names or name.partition(".")[0] == "hamilton_fast":
        return True
    origin = getattr(getattr(module, "__spec__", None), "origin", None)
    if origin in ("built-in", "frozen"):
        return True
    location = getattr(module, "__file__", None)
    if location is None:
        search = list(getattr(module, "__path__", None) or ())
        if not search:
            return False  # __main__ of a REPL or notebook, or a module made at run time
        location = search[0]
    return _is_library_path(location)


@functools.lru_cache(maxsize=4096)
def _is_library_path(location: str) -> bool:
    real = os.path.realpath(location)
    return any(real.startswith(root) for root in _library_roots())


_BY_NAME: dict[str, tuple[object, bool]] = {}
"""Answers of :func:`_is_library_module_name`, with the module object each was given for (a
reimport under the same name is asked again). Code fingerprints and call stamps ask per
function, on every run."""


def _is_library_module_name(name: str | None) -> bool:
    if not name:
        return False
    module = sys.modules.get(name)
    known = _BY_NAME.get(name)
    if known is not None and known[0] is module:
        return known[1]
    if module is None:
        answer = name in sys.builtin_module_names or name == "builtins"
    else:
        answer = _is_library_module(module)
    _BY_NAME[name] = (module, answer)
    return answer


@functools.cache
def _package_version(top: str) -> str:
    module = sys.modules.get(top)
    version = getattr(module, "__version__", None)
    if isinstance(version, str):
        return version
    location = getattr(module, "__file__", None) or ""
    if top in sys.builtin_module_names or os.path.realpath(location).startswith(_stdlib_root()):
        return f"python-{sys.version_info.major}.{sys.version_info.minor}"
    distributions = importlib.metadata.packages_distributions().get(top, [])
    for distribution in distributions:
        try:
            return importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "unknown"


_BUILTIN_CALLABLES = (
    types.BuiltinFunctionType,
    types.BuiltinMethodType,
    types.MethodWrapperType,
    types.WrapperDescriptorType,
    types.MethodDescriptorType,
    types.ClassMethodDescriptorType,
)


def _str_attribute(obj: Any, name: str) -> str | None:
    """``obj.name`` if it is a string (``pl.col.__name__`` is an expression, not a name)."""
    try:
        value = getattr(obj, name, None)
    except Exception:
        return None
    return value if isinstance(value, str) else None


def _library_token(obj: Any, module: str | None) -> bytes:
    module = module or "builtins"
    top = module.split(".")[0]
    name = (
        _str_attribute(obj, "__qualname__")
        or _str_attribute(obj, "__name__")
        or type(obj).__qualname__
    )
    return _combine(b"library", _text(module), _text(name), _text(_package_version(top)))


def forget_memos() -> None:
    """Forget which modules this process found to be library code, and their versions."""
    _BY_NAME.clear()
    _is_library_path.cache_clear()
    _package_version.cache_clear()
