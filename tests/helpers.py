"""Shared test utilities: write a dataflow module to disk and import it."""

from __future__ import annotations

import importlib.util
import itertools
import sys
import textwrap
import types
from pathlib import Path

_counter = itertools.count()


def load_module(directory: Path, source: str, name: str | None = None) -> types.ModuleType:
    """Write ``source`` (dedented) to ``directory/name.py``, import it, and return the module."""
    name = name or f"hf_test_module_{next(_counter)}"
    path = directory / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
