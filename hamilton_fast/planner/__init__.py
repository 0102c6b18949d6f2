"""Request -> Polars lazy queries: tracing, inlining decisions, layering, stage breaks."""

from __future__ import annotations

from hamilton_fast.planner.compile import Compiled, NodeReport, compile_request
from hamilton_fast.planner.exprs import is_elementwise
from hamilton_fast.planner.trace import Opaque, Traced, trace_node

__all__ = [
    "Compiled",
    "NodeReport",
    "Opaque",
    "Traced",
    "compile_request",
    "is_elementwise",
    "trace_node",
]
