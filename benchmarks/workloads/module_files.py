"""Write a workload's module file and import it, the way a user's edit-and-rerun loop does."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pathlib
    import types


def write_module(directory: pathlib.Path, module_name: str, source: str) -> types.ModuleType:
    """Write `source` to `directory/module_name.py`, import it and register it in `sys.modules`
    (Hamilton-style drivers find a function's module there).

    Rewriting a file under the same name is what an edit is: any bytecode cached for the old
    text is dropped first, since the new text may have the same size within the same second.
    """
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{module_name}.py"
    path.write_text(source, encoding="utf-8")
    shutil.rmtree(directory / "__pycache__", ignore_errors=True)
    import_spec = importlib.util.spec_from_file_location(module_name, path)
    if import_spec is None or import_spec.loader is None:
        msg = f"cannot import the generated module {path}"
        raise ImportError(msg)
    module = importlib.util.module_from_spec(import_spec)
    sys.modules[module_name] = module
    import_spec.loader.exec_module(module)
    return module
