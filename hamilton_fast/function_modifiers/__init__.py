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
from hamilton_fast.function_modifiers.pipes import (
    apply_to,
    mutate,
    pipe_input,
    pipe_output,
    step,
)
from hamilton_fast.function_modifiers.recursive import parameterized_subdag, subdag
from hamilton_fast.function_modifiers.validation import check_output, check_output_custom

__all__ = [
    "ConfigSpec",
    "ExtractColumnsSpec",
    "ModifierSpec",
    "ParameterizedExtract",
    "apply_to",
    "cache",
    "check_output",
    "check_output_custom",
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
    "mutate",
    "parameterize",
    "parameterize_extract_columns",
    "parameterize_sources",
    "parameterize_values",
    "parameterized_subdag",
    "pipe_input",
    "pipe_output",
    "save_to",
    "schema",
    "source",
    "step",
    "subdag",
    "tag",
    "tag_outputs",
    "unpack_fields",
    "value",
]
