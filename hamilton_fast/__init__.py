"""hamilton_fast: Hamilton-style dataflows compiled into one optimized Polars lazy query.

Write plain functions (the name is the node, the parameters are its dependencies), then::

    from hamilton_fast import driver
    dr = driver.Builder().with_modules(features).build()
    df = dr.execute(["spend_per_signup"], inputs={...})
"""

from __future__ import annotations

from hamilton_fast import ad_hoc_utils, base, driver, function_modifiers
from hamilton_fast.driver import Builder, Driver
from hamilton_fast.errors import (
    CacheError,
    GraphError,
    HamiltonFastError,
    InputError,
    ModifierError,
    NodeError,
    PlanError,
    ShapeError,
    UnknownNodeError,
)

__version__ = "0.1.0"

__all__ = [
    "Builder",
    "CacheError",
    "Driver",
    "GraphError",
    "HamiltonFastError",
    "InputError",
    "ModifierError",
    "NodeError",
    "PlanError",
    "ShapeError",
    "UnknownNodeError",
    "__version__",
    "ad_hoc_utils",
    "base",
    "driver",
    "function_modifiers",
]
