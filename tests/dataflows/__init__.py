"""Dataflow modules that run unchanged through Apache Hamilton and through hamilton_fast.

Modules without decorators are imported once and handed to both drivers. A module with decorators
imports them with exactly one line, ``from hamilton.function_modifiers import ...``; `load` gives
Apache Hamilton that module as written and gives hamilton_fast a twin built from the same file with
only that line pointed at ``hamilton_fast.function_modifiers``. The twin compiles against the
original path, so tracebacks, ``inspect.getsource`` and file:line reports point at the real file.

>>> load("hello_world", "hamilton") is load("hello_world", "hamilton_fast")
True
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

LIBRARIES = ("hamilton", "hamilton_fast")

_HAMILTON_IMPORT = "from hamilton.function_modifiers import "
_FAST_IMPORT = "from hamilton_fast.function_modifiers import "


def load(name: str, library: str) -> ModuleType:
    """Return dataflow module `name` with its decorators taken from `library`."""
    if library not in LIBRARIES:
        raise ValueError(f"unknown library {library!r}; expected one of {LIBRARIES}")
    module = importlib.import_module(f"{__name__}.{name}")
    if library == "hamilton":
        return module
    path = Path(str(module.__file__))
    source = path.read_text(encoding="utf-8")
    import_count = source.count(_HAMILTON_IMPORT)
    if import_count == 0:
        return module
    if import_count != 1:
        raise ValueError(
            f"{path.name} imports from hamilton.function_modifiers {import_count} times; "
            "a twin module needs exactly one such line"
        )
    if "import hamilton" in source or "from hamilton import" in source:
        raise ValueError(f"{path.name} uses `hamilton` beyond its decorator import line")
    twin_name = f"{module.__name__}__hamilton_fast"
    if twin_name in sys.modules:
        return sys.modules[twin_name]
    twin = ModuleType(twin_name, module.__doc__)
    twin.__file__ = str(path)
    # Hamilton-style function discovery resolves each function's module through sys.modules.
    sys.modules[twin_name] = twin
    try:
        code = compile(source.replace(_HAMILTON_IMPORT, _FAST_IMPORT), str(path), "exec")
        exec(code, twin.__dict__)
    except BaseException:
        del sys.modules[twin_name]
        raise
    return twin
