"""Request -> Polars lazy queries: tracing, inlining decisions, layering, stage breaks."""

from __future__ import annotations

from hamilton_fast.planner.compile import compile_request
from hamilton_fast.planner.exprs import is_elementwise
from hamilton_fast.planner.ir import Compiled, NodeReport, Recipe
from hamilton_fast.planner.trace import Opaque, Traced, trace_node

__all__ = [
    "Compiled",
    "NodeReport",
    "Opaque",
    "Recipe",
    "Traced",
    "compile_request",
    "is_elementwise",
    "trace_node",
]
