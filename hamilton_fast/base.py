"""Hamilton's ``base`` names, mapped onto hamilton_fast's result shapes.

A Hamilton driver script keeps working after its imports change from ``hamilton`` to
``hamilton_fast``: the adapter and result builders only choose what ``execute`` returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "DictResult",
    "PandasDataFrameResult",
    "ResultBuilder",
    "SimplePythonGraphAdapter",
]


class ResultBuilder:
    """Base of the result builders; ``result_kind`` is what the driver reads."""

    result_kind: str = "polars"

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class DictResult(ResultBuilder):
    """``execute`` returns ``{name: value}``; scalars stay Python values, columns Series."""

    result_kind = "dict"


class PandasDataFrameResult(ResultBuilder):
    """``execute`` returns a pandas DataFrame (converted from Polars through Arrow)."""

    result_kind = "pandas"


@dataclass(frozen=True)
class SimplePythonGraphAdapter:
    """Hamilton's adapter holding a result builder; hamilton_fast runs every node itself."""

    result_builder: Any = None

    @property
    def result_kind(self) -> str:
        builder = self.result_builder
        return "polars" if builder is None else str(getattr(builder, "result_kind", "?"))
