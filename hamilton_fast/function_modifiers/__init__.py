"""Hamilton's function modifiers (decorators), with the same names and meaning.

Each decorator only attaches a frozen spec to the function; graph building expands the specs.
"""

from __future__ import annotations

from hamilton_fast.function_modifiers.base import ModifierSpec
from hamilton_fast.function_modifiers.configuration import ConfigSpec, config
from hamilton_fast.function_modifiers.expanders import ExtractColumnsSpec, extract_columns

__all__ = ["ConfigSpec", "ExtractColumnsSpec", "ModifierSpec", "config", "extract_columns"]
