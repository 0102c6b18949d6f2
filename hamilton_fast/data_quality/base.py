"""The data-quality interface users implement: Hamilton's names, checked inside the query.

Same classes and methods as ``hamilton.data_quality.base``, so a validator written for Apache
Hamilton runs here after its import line changes:

- :class:`ValidationResult`: ``passes``, ``message`` and free-form ``diagnostics``.
- :class:`DataValidator`: ``importance``, ``applies_to(datatype)``, ``description()``,
  ``name()`` and ``validate(data) -> ValidationResult``; what ``@check_output_custom`` takes.
- :class:`BaseDefaultValidator`: a validator selected by one ``@check_output`` keyword
  (``arg()``); its ``name()`` is ``"<arg>_validator"``, which names its node.

One addition, :class:`SummaryValidator`: a default validator decided from a single scalar Polars
expression over the column (a count, a mean). The planner adds that expression to the query that
computes the column, so validation costs no second pass over the data; Python then only looks at
the figure. The built-in validators (:mod:`hamilton_fast.data_quality.default_validators`) are all
of this kind; a custom validator that is not gets the whole column after the query.

>>> class NonEmpty(DataValidator):
...     def applies_to(self, datatype: type) -> bool:
...         return True
...     def description(self) -> str:
...         return "Validates that the column has rows."
...     @classmethod
...     def name(cls) -> str:
...         return "non_empty"
...     def validate(self, dataset: pl.Series) -> ValidationResult:
...         return ValidationResult(len(dataset) > 0, f"{len(dataset)} rows")
>>> NonEmpty("fail").validate(pl.Series([1, 2]))
ValidationResult(passes=True, message='2 rows', diagnostics={})
>>> NonEmpty("fail").importance
<DataValidationLevel.FAIL: 'fail'>
"""

from __future__ import annotations

import abc
import dataclasses
import enum
from typing import Any, ClassVar

import polars as pl

from hamilton_fast.errors import DataValidationError

__all__ = [
    "BaseDefaultValidator",
    "DataValidationError",
    "DataValidationLevel",
    "DataValidator",
    "SummaryValidator",
    "ValidationResult",
]


class DataValidationLevel(enum.Enum):
    """What a failed validation does: ``warn`` logs, ``fail`` raises after the run."""

    WARN = "warn"
    FAIL = "fail"


@dataclasses.dataclass
class ValidationResult:
    """The outcome of one validator on one value."""

    passes: bool  # whether the data passed
    message: str  # what was found, with the figure that decided it
    diagnostics: dict[str, Any] = dataclasses.field(default_factory=dict)  # free-form figures


class DataValidator(abc.ABC):
    """A data-quality check on a node's value (Hamilton's interface)."""

    def __init__(self, importance: str) -> None:
        self._importance = DataValidationLevel(importance)

    @property
    def importance(self) -> DataValidationLevel:
        return self._importance

    @abc.abstractmethod
    def applies_to(self, datatype: type[type]) -> bool:
        """Whether this validator can check a node annotated ``datatype``."""

    @abc.abstractmethod
    def description(self) -> str:
        """What is checked, with the arguments (it becomes the validator node's docstring)."""

    @classmethod
    @abc.abstractmethod
    def name(cls) -> str:
        """The validator's name; its node is ``<node>_<name>``."""

    @abc.abstractmethod
    def validate(self, dataset: Any) -> ValidationResult:
        """Check ``dataset`` (the node's value) and say what was found."""


class BaseDefaultValidator(DataValidator, abc.ABC):
    """A validator chosen by one keyword argument of ``@check_output`` (see :meth:`arg`)."""

    @classmethod
    @abc.abstractmethod
    def applies_to(cls, datatype: type[type]) -> bool:
        """Whether this validator can check a node annotated ``datatype``."""

    @classmethod
    @abc.abstractmethod
    def arg(cls) -> str:
        """The ``@check_output`` keyword that selects this validator (``range``, ...)."""

    @classmethod
    def name(cls) -> str:
        return f"{cls.arg()}_validator"


class SummaryValidator(BaseDefaultValidator, abc.ABC):
    """A default validator decided from one scalar summary of the column.

    ``summary(pl.col(name))`` must be a native Polars expression that reduces the column to one
    value; ``judge(figure)`` decides from it. ``validate`` runs both on a materialized value,
    which is how the validator node computes its result when it is requested directly; the
    planner instead adds the summary to the query.

    Keep the summary's dtype primitive (a number or a string): the planner selects it next to
    full-height columns, where Polars keeps a primitive scalar as one value but materializes a
    struct or list scalar once per row. Several figures travel as one JSON string
    (``pl.struct(...).struct.json_encode()``).

    ``reads_whole_column = True`` skips the summary: ``judge`` gets the column itself, taken from
    the same query (for checks decided by the dtype, which no scalar expression carries).
    """

    reads_whole_column: ClassVar[bool] = False

    @abc.abstractmethod
    def summary(self, column: pl.Expr) -> pl.Expr:
        """One scalar expression over ``column`` (a plain ``pl.col(name)``)."""

    @abc.abstractmethod
    def judge(self, figure: Any) -> ValidationResult:
        """Decide from the value of :meth:`summary` (or from a non-column value itself)."""

    def validate(self, dataset: Any) -> ValidationResult:
        return self.judge(summarize(self, dataset))


def summarize(validator: SummaryValidator, value: Any) -> Any:
    """The figure ``validator.judge`` expects, computed from a materialized value.

    A Series is reduced with the validator's summary expression (as the planner would inside the
    query); any other value (a scalar, a frame) is what the judge gets as it is.
    """
    if isinstance(value, pl.Series) and not validator.reads_whole_column:
        name = value.name or "value"
        return value.rename(name).to_frame().select(validator.summary(pl.col(name))).item()
    return value
