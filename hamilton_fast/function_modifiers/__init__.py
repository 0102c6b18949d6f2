"""Hamilton's function modifiers (decorators), with the same names and meaning.

Each decorator only attaches a frozen spec to the function; graph building
(``hamilton_fast.expand``) turns the specs into nodes, in Hamilton's order.
"""

from __future__ import annotations

from hamilton_fast.function_modifiers.adapters import dataloader, datasaver, load_from, save_to
from hamilton_fast.function_modifiers.base import ModifierSpec
from hamilton_fast.function_modifiers.configuration import ConfigSpec, config
from hamilton_fast.function_modifiers.dependencies import configuration, group, source, value
from hamilton_fast.function_modifiers.expanders import (
    ExtractColumnsSpec,
    ParameterizedExtract,
    extract_columns,
    extract_fields,
    inject,
    parameterize,
    parameterize_extract_columns,
    parameterize_sources,
    parameterize_values,
    unpack_fields,
)
from hamilton_fast.function_modifiers.macros import does
from hamilton_fast.function_modifiers.metadata import (
    cache,
    hamilton_exclude,
    schema,
    tag,
    tag_outputs,
)

__all__ = [
    "ConfigSpec",
    "ExtractColumnsSpec",
    "ModifierSpec",
    "ParameterizedExtract",
    "cache",
    "config",
    "configuration",
    "dataloader",
    "datasaver",
    "does",
    "extract_columns",
    "extract_fields",
    "group",
    "hamilton_exclude",
    "inject",
    "load_from",
    "parameterize",
    "parameterize_extract_columns",
    "parameterize_sources",
    "parameterize_values",
    "save_to",
    "schema",
    "source",
    "tag",
    "tag_outputs",
    "unpack_fields",
    "value",
]
