"""Data quality: the validators behind ``@check_output`` and the classes custom ones subclass.

``hamilton_fast.data_quality.base`` has Hamilton's names (``ValidationResult``,
``DataValidator``, ``BaseDefaultValidator``); ``default_validators`` the built-in checks, each a
scalar Polars summary evaluated inside the query that computes the checked column.
"""

from __future__ import annotations

from hamilton_fast.data_quality import base, default_validators
from hamilton_fast.data_quality.base import (
    BaseDefaultValidator,
    DataValidationLevel,
    DataValidator,
    SummaryValidator,
    ValidationResult,
)

__all__ = [
    "BaseDefaultValidator",
    "DataValidationLevel",
    "DataValidator",
    "SummaryValidator",
    "ValidationResult",
    "base",
    "default_validators",
]
