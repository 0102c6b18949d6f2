"""Shared test utilities: write a dataflow module to disk and import it; fingerprints with
sorted flags set aside."""

from __future__ import annotations

import importlib.util
import itertools
import sys
import textwrap
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

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


@contextmanager
def sorted_flags_aside() -> Iterator[None]:
    """Fingerprints that ignore Polars' sorted flags, for tests about memory layout: Polars
    flags some slices and chunks on its own (an all-null slice, one row), and a flag counts
    in a fingerprint (it can change the last bits of a result). Flags have tests of their own."""
    import hamilton_fast.cache.fingerprint as fingerprint

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fingerprint, "_sorted_flag", lambda series: b"")
        yield
