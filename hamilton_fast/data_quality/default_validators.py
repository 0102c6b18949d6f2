"""The validators behind ``@check_output``'s keywords, each one scalar Polars summary.

Apache Hamilton's defaults check pandas Series in Python; these check Polars columns (nodes
annotated ``pl.Series`` or ``pl.Expr``) with one native expression each, which the planner adds
to the query that computes the column (no second pass, no Python UDF). Nodes annotated with a
Python type (``float``, ``int``, ``str``) get Hamilton's primitive validators.

Semantics follow Hamilton's pandas validators, where null and NaN are both "missing":

- ``range=(lo, hi)``: every value within ``[lo, hi]``; missing values count as outside.
- ``values_in=[...]``: every non-missing value is one of them.
- ``allow_nans=False`` / ``max_fraction_nans=f``: no / at most a fraction ``f`` missing.
- ``mean_in_range=(lo, hi)``, ``max_standard_dev=s``: over the non-missing values (ddof 1).
- ``data_type=t``: a Polars dtype (``pl.Int64``, or a class such as ``pl.Datetime``) is
  compared with the column's dtype; a numpy or Python type (``np.integer``, ``float``) with the
  column's numpy equivalent, as ``np.issubdtype`` does.

>>> check = DataInRangeValidatorPolarsColumn((0, 10), importance="warn")
>>> check.validate(pl.Series("x", [1, 5, 20, None])).message
'2 of 4 values (50.0%) outside [0, 10]; 1 of them null or NaN'
"""

from __future__ import annotations

import json
import math
import numbers
import operator
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

import numpy as np
import polars as pl
import polars.selectors as cs

from hamilton_fast.data_quality.base import (
    BaseDefaultValidator,
    SummaryValidator,
    ValidationResult,
)

__all__ = [
    "AVAILABLE_DEFAULT_VALIDATORS",
    "AllowNaNsValidatorPolarsColumn",
    "AllowNoneValidator",
    "AllowNoneValidatorPolarsColumn",
    "DataInRangeValidatorPolarsColumn",
    "DataInRangeValidatorPrimitives",
    "DataInValuesValidatorPolarsColumn",
    "DataInValuesValidatorPrimitives",
    "DataTypeValidatorPolarsColumn",
    "DataTypeValidatorPrimitives",
    "MaxFractionNansValidatorPolarsColumn",
    "MaxStandardDevValidatorPolarsColumn",
    "MeanInRangeValidatorPolarsColumn",
    "StrContainsValidator",
    "StrDoesNotContainValidator",
    "resolve_default_validators",
]

_COLUMN_TYPES = (pl.Series, pl.Expr)


def _is_column_type(datatype: Any) -> bool:
    return isinstance(datatype, type) and issubclass(datatype, _COLUMN_TYPES)


def _is_subclass(datatype: Any, *bases: type) -> bool:
    return isinstance(datatype, type) and issubclass(datatype, bases)


# -- figures for messages ------------------------------------------------------------------------


def _percent(part: int, whole: int) -> str:
    """``0.3%``; small shares keep two significant digits rather than rounding to 0."""
    if whole == 0 or part == 0:
        return "0%"
    share = 100 * part / whole
    return f"{share:.2g}%" if share < 0.1 else f"{share:.1f}%"


def _of(part: int, whole: int) -> str:
    return f"{part:,} of {whole:,} values ({_percent(part, whole)})"


def _range_text(bounds: Sequence[Any]) -> str:
    return f"[{bounds[0]}, {bounds[1]}]"


def _check_bounds(bounds: Any, arg: str) -> tuple[Any, Any]:
    if not (isinstance(bounds, (tuple, list)) and len(bounds) == 2):
        raise ValueError(f"{arg} must be a (low, high) pair, got {bounds!r}")
    low, high = bounds
    try:
        ordered = bool(low <= high)
    except TypeError as exc:
        raise ValueError(f"{arg} bounds {low!r} and {high!r} cannot be compared") from exc
    if not ordered:
        raise ValueError(f"{arg} has low {low!r} above high {high!r}")
    return low, high


def _check_number(value: Any, arg: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
        raise ValueError(f"{arg} must be a number, got {value!r}")
    return float(value)


# -- dtype-dispatched expressions ----------------------------------------------------------------
# The planner hands a summary the plain column ``pl.col(name)``; its dtype is only known when the
# query is resolved. Selectors restricted to that one name expand to the column when its dtype
# matches and to nothing otherwise, which lets one expression treat floats (NaN) and other dtypes
# differently without knowing the schema in advance.


def _name_of(column: pl.Expr) -> str:
    return column.meta.output_name()


def _when(column: pl.Expr, dtypes: cs.Selector) -> pl.Expr:
    """``column`` if its dtype is one of ``dtypes``, else an expression expanding to nothing."""
    return cs.by_name(_name_of(column)) & dtypes


_NUMERIC_NOT_FLOAT = cs.integer() | cs.decimal() | cs.boolean()
_TEXT = cs.string() | cs.categorical() | cs.enum()


def _figures(**figures: pl.Expr) -> pl.Expr:
    """Several scalar figures as one JSON string scalar (see ``SummaryValidator``: a struct
    scalar next to full-height columns would be materialized once per row)."""
    return pl.struct(*(expr.alias(name) for name, expr in figures.items())).struct.json_encode()


def _read(figure: Any) -> dict[str, Any]:
    return json.loads(figure) if isinstance(figure, str) else dict(figure)


def _missing_count(column: pl.Expr) -> pl.Expr:
    """Nulls plus, for float columns, NaNs: pandas' ``isna`` on the same data."""
    return pl.sum_horizontal(column.null_count(), _when(column, cs.float()).is_nan().sum())


def _numeric(column: pl.Expr, reduce: Callable[[pl.Expr], pl.Expr]) -> pl.Expr:
    """``reduce`` (mean, std) over the non-missing values as Float64; null if not numeric."""
    floats = _when(column, cs.float()).cast(pl.Float64).fill_nan(None)
    others = _when(column, _NUMERIC_NOT_FLOAT).cast(pl.Float64)
    return pl.coalesce(reduce(floats), reduce(others), pl.lit(None, pl.Float64))


def _numpy_dtype(dtype: pl.DataType) -> np.dtype[Any]:
    """The numpy dtype a column of ``dtype`` converts to; text is ``str``, not ``object``."""
    if dtype in (pl.String, pl.Categorical, pl.Enum):
        return np.dtype(np.str_)
    converted: np.dtype[Any] = pl.Series([], dtype=dtype).to_numpy().dtype
    return converted


def _is_polars_dtype(value: Any) -> bool:
    return isinstance(value, pl.DataType) or _is_subclass(value, pl.DataType)


# -- keywords ------------------------------------------------------------------------------------
# A built-in validator is one keyword on one kind of node: a Polars column or a Python value. What
# a keyword's argument accepts and how it is described does not depend on the kind of node, so a
# keyword offered for both kinds keeps that in one base class, and the two cannot drift apart.


class _BuiltinValidator(SummaryValidator):
    """A built-in check; ``_arg`` is the ``@check_output`` keyword that selects it."""

    _arg: ClassVar[str]

    @classmethod
    def arg(cls) -> str:
        return cls._arg


class _RangeValidator(_BuiltinValidator):
    """``range=(low, high)``: the bounds, checked when the decorator is applied."""

    _arg = "range"

    def __init__(self, range: tuple[Any, Any], importance: str) -> None:
        super().__init__(importance)
        self.range = _check_bounds(range, "range")

    def description(self) -> str:
        low, high = self.range
        return f"Validates that the datapoint falls within the range ({low}, {high})"


class _ValuesValidator(_BuiltinValidator):
    """``values_in=[...]``: any collection but a string, kept as a frozenset."""

    _arg = "values_in"

    def __init__(self, values_in: Iterable[Any], importance: str) -> None:
        super().__init__(importance)
        if isinstance(values_in, (str, bytes)) or not isinstance(values_in, Iterable):
            raise ValueError(f"values_in must be a collection of values, got {values_in!r}")
        self.values = frozenset(values_in)


class _AllowNoneValidator(_BuiltinValidator):
    """``allow_none=...``: ``True`` makes the check a no-op."""

    _arg = "allow_none"

    def __init__(self, allow_none: bool, importance: str) -> None:
        super().__init__(importance)
        self.allow_none = bool(allow_none)

    def description(self) -> str:
        return "No-op validator." if self.allow_none else "Validates that an output ;is not None"


# -- Polars columns ------------------------------------------------------------------------------


class _ColumnValidator(_BuiltinValidator):
    """Checks a Polars column (a node annotated ``pl.Series`` or ``pl.Expr``) inside the query."""

    @classmethod
    def applies_to(cls, datatype: Any) -> bool:
        return _is_column_type(datatype)


class DataInRangeValidatorPolarsColumn(_RangeValidator, _ColumnValidator):
    """Every value lies in ``[low, high]``; null and NaN count as outside (as in Hamilton)."""

    def summary(self, column: pl.Expr) -> pl.Expr:
        low, high = self.range
        return _figures(
            in_range=column.is_between(low, high).sum(),
            missing=_missing_count(column),
            size=pl.len(),
        )

    def judge(self, figure: Any) -> ValidationResult:
        figures = _read(figure)
        in_range, missing, size = figures["in_range"], figures["missing"], figures["size"]
        out_range = size - in_range
        passes = out_range == 0
        if passes:
            message = f"all {size:,} values within {_range_text(self.range)}"
        else:
            message = f"{_of(out_range, size)} outside {_range_text(self.range)}"
            if missing:
                message += f"; {missing:,} of them null or NaN"
        return ValidationResult(
            passes=passes,
            message=message,
            diagnostics={
                "range": self.range,
                "in_range": in_range,
                "out_range": out_range,
                "data_size": size,
            },
        )


def _partition(values: Iterable[Any]) -> dict[str, list[Any]]:
    """The allowed values each kind of column can be compared with (Polars' is_in is strict)."""
    parts: dict[str, list[Any]] = {"bool": [], "int": [], "float": [], "text": [], "other": []}
    for v in values:
        if isinstance(v, bool):
            parts["bool"].append(v)
        elif isinstance(v, numbers.Real):
            number = float(v)
            if not math.isnan(number):
                parts["float"].append(number)
            if isinstance(v, numbers.Integral) or number.is_integer():
                as_int = operator.index(v) if isinstance(v, numbers.Integral) else int(number)
                if -(2**63) <= as_int < 2**63:
                    parts["int"].append(as_int)
        elif isinstance(v, str):
            parts["text"].append(v)
        else:
            parts["other"].append(v)
    return parts


class DataInValuesValidatorPolarsColumn(_ValuesValidator, _ColumnValidator):
    """Every non-missing value is one of ``values_in`` (null and NaN are ignored, like Hamilton)."""

    def __init__(self, values_in: Iterable[Any], importance: str) -> None:
        super().__init__(values_in, importance)
        self._parts = _partition(self.values)

    def description(self) -> str:
        return (
            f"Validates that all data points are from a fixed set of values: ({self.values}), "
            "ignoring NA values."
        )

    def _bad(self, column: pl.Expr) -> pl.Expr:
        parts = self._parts
        floats = _when(column, cs.float())
        others = _when(column, ~(cs.float() | cs.integer() | cs.boolean() | _TEXT))
        return pl.coalesce(
            ~(floats.is_in(parts["float"]) | floats.is_nan()),
            ~_when(column, cs.integer()).is_in(parts["int"]),
            ~_when(column, cs.boolean()).is_in(parts["bool"]),
            ~_when(column, _TEXT).is_in(parts["text"]),
            ~others.is_in(parts["other"]),
        )

    def summary(self, column: pl.Expr) -> pl.Expr:
        bad = self._bad(column)
        # One offending value and how often it occurs: a full value count of the offending
        # rows (Hamilton's diagnostic) would hash the whole column when most values are bad.
        example = column.filter(bad).first()
        return _figures(
            incorrect=bad.sum(),
            size=pl.len(),
            example=example,
            example_count=(column == example).sum(),
        )

    def judge(self, figure: Any) -> ValidationResult:
        figures = _read(figure)
        incorrect, size = figures["incorrect"], figures["size"]
        counts = {figures["example"]: figures["example_count"]} if incorrect else {}
        passes = incorrect == 0
        if passes:
            message = f"all {size:,} values (ignoring null and NaN) in the allowed set"
        else:
            allowed = sorted(self.values, key=repr)
            example, count = figures["example"], figures["example_count"]
            message = f"{_of(incorrect, size)} not in {allowed}, e.g. {example!r} ({count:,}x)"
        return ValidationResult(
            passes=passes,
            message=message,
            diagnostics={
                "values": self.values,
                "correct_values_count": size - incorrect,
                "incorrect_values_count": incorrect,
                "incorrect_values": counts,
                "data_size": size,
            },
        )


class MaxFractionNansValidatorPolarsColumn(_ColumnValidator):
    """At most a fraction ``max_fraction_nans`` of the values are null or NaN."""

    _arg = "max_fraction_nans"

    def __init__(self, max_fraction_nans: float, importance: str) -> None:
        super().__init__(importance)
        fraction = _check_number(max_fraction_nans, self.arg())
        if not 0 <= fraction <= 1:
            raise ValueError(f"{self.arg()} must be within [0, 1], got {max_fraction_nans!r}")
        self.max_fraction_nans = max_fraction_nans

    def description(self) -> str:
        return f"Validates that no more than {self.max_fraction_nans:.2%} of the data is Nan."

    def summary(self, column: pl.Expr) -> pl.Expr:
        return _figures(missing=_missing_count(column), size=pl.len())

    def judge(self, figure: Any) -> ValidationResult:
        figures = _read(figure)
        missing, size = figures["missing"], figures["size"]
        fraction = missing / size if size > 0 else 0
        passes = fraction <= self.max_fraction_nans
        if self.max_fraction_nans == 0:
            allowed = "none allowed"
        else:
            allowed = f"at most {self.max_fraction_nans:.2%} allowed"
        return ValidationResult(
            passes=passes,
            message=f"{_of(missing, size)} null or NaN; {allowed}",
            diagnostics={
                "total_nan": missing,
                "total_length": size,
                "fraction_na": fraction,
                "max_fraction_na": self.max_fraction_nans,
            },
        )


class AllowNaNsValidatorPolarsColumn(MaxFractionNansValidatorPolarsColumn):
    """``allow_nans=False``: no value is null or NaN."""

    _arg = "allow_nans"

    def __init__(self, allow_nans: bool, importance: str) -> None:
        if allow_nans is not False:
            raise ValueError(
                f"allow_nans only accepts False (got {allow_nans!r}); to allow some, use "
                "max_fraction_nans=<fraction>, to allow any, leave it out"
            )
        super().__init__(max_fraction_nans=0, importance=importance)


class DataTypeValidatorPolarsColumn(_ColumnValidator):
    """The column's dtype is ``data_type`` (Polars dtype) or a subtype of it (numpy/Python)."""

    _arg = "data_type"

    def __init__(self, data_type: Any, importance: str) -> None:
        super().__init__(importance)
        if not (_is_polars_dtype(data_type) or isinstance(data_type, (type, np.dtype))):
            raise ValueError(
                f"data_type must be a Polars dtype, a numpy type or a Python type, got "
                f"{data_type!r}"
            )
        self.datatype = data_type

    def description(self) -> str:
        return f"Validates that the datatype of the Polars column is a subclass of: {self.datatype}"

    # No scalar expression carries a dtype (an empty list of it would be materialized once per
    # row); the column itself is free to hand over, Polars shares its buffer.
    reads_whole_column = True

    def summary(self, column: pl.Expr) -> pl.Expr:
        return column

    def matches(self, dtype: pl.DataType) -> bool:
        required = self.datatype
        if isinstance(required, pl.DataType):
            return bool(dtype == required)
        if _is_subclass(required, pl.DataType):
            return isinstance(dtype, required)
        return bool(np.issubdtype(_numpy_dtype(dtype), required))

    def judge(self, figure: Any) -> ValidationResult:
        dtype = figure.dtype
        passes = self.matches(dtype)
        verdict = "matches" if passes else "does not match"
        return ValidationResult(
            passes=passes,
            message=f"dtype {dtype} {verdict} the required {self.datatype}",
            diagnostics={"required_dtype": self.datatype, "actual_dtype": dtype},
        )


class MaxStandardDevValidatorPolarsColumn(_ColumnValidator):
    """The standard deviation (ddof 1, over non-missing values) is at most ``max_standard_dev``."""

    _arg = "max_standard_dev"

    def __init__(self, max_standard_dev: float, importance: str) -> None:
        super().__init__(importance)
        _check_number(max_standard_dev, self.arg())
        self.max_standard_dev = max_standard_dev

    def description(self) -> str:
        return (
            "Validates that the standard deviation of a Polars column is no greater than : "
            f"{self.max_standard_dev}"
        )

    def summary(self, column: pl.Expr) -> pl.Expr:
        return _numeric(column, pl.Expr.std)

    def judge(self, figure: Any) -> ValidationResult:
        passes = figure is not None and figure <= self.max_standard_dev
        if figure is None:
            message = "standard deviation is undefined (fewer than 2 numeric values)"
        else:
            relation = "within" if passes else "above"
            message = (
                f"standard deviation {figure:g} {relation} the maximum {self.max_standard_dev:g}"
            )
        return ValidationResult(
            passes=passes,
            message=message,
            diagnostics={"standard_dev": figure, "max_standard_dev": self.max_standard_dev},
        )


class MeanInRangeValidatorPolarsColumn(_ColumnValidator):
    """The mean of the non-missing values lies in ``[low, high]``."""

    _arg = "mean_in_range"

    def __init__(self, mean_in_range: tuple[float, float], importance: str) -> None:
        super().__init__(importance)
        self.mean_in_range = _check_bounds(mean_in_range, self.arg())

    def description(self) -> str:
        low, high = self.mean_in_range
        return f"Validates that a Polars column has mean in range [{low}, {high}]"

    def summary(self, column: pl.Expr) -> pl.Expr:
        return _numeric(column, pl.Expr.mean)

    def judge(self, figure: Any) -> ValidationResult:
        low, high = self.mean_in_range
        passes = figure is not None and low <= figure <= high
        if figure is None:
            message = "mean is undefined (no numeric values)"
        else:
            relation = "within" if passes else "outside"
            message = f"mean {figure:g} {relation} {_range_text(self.mean_in_range)}"
        return ValidationResult(
            passes=passes,
            message=message,
            diagnostics={"dataset_mean": figure, "mean_in_range": self.mean_in_range},
        )


class AllowNoneValidatorPolarsColumn(_AllowNoneValidator, _ColumnValidator):
    """``allow_none=False`` on a column: a column is never None, so this always passes."""

    def summary(self, column: pl.Expr) -> pl.Expr:
        return pl.len()

    def judge(self, figure: Any) -> ValidationResult:
        return ValidationResult(passes=True, message="Data is not None", diagnostics={})


# -- Python values (Hamilton's primitive validators) ---------------------------------------------
# A node annotated with a Python type may still be computed inside the query (an aggregate); its
# summary is then the value itself (``first()`` of the broadcast column), and the judge sees the
# Python value either way.


class _PrimitiveValidator(_BuiltinValidator):
    def summary(self, column: pl.Expr) -> pl.Expr:
        return column.first()


class DataInRangeValidatorPrimitives(_RangeValidator, _PrimitiveValidator):
    """A number lies in ``[low, high]``."""

    @classmethod
    def applies_to(cls, datatype: Any) -> bool:
        return _is_subclass(datatype, numbers.Real)

    def judge(self, figure: Any) -> ValidationResult:
        low, high = self.range
        try:
            passes = bool(low <= figure <= high)
        except TypeError:
            passes = False
        relation = "within" if passes else "outside"
        return ValidationResult(
            passes=passes,
            message=f"value {figure!r} {relation} {_range_text(self.range)}",
            diagnostics={"range": self.range, "value": figure},
        )


class DataInValuesValidatorPrimitives(_ValuesValidator, _PrimitiveValidator):
    """A number or string is one of ``values_in``."""

    @classmethod
    def applies_to(cls, datatype: Any) -> bool:
        return _is_subclass(datatype, numbers.Real, str)

    def description(self) -> str:
        return f"Validates that python values are from a fixed set of values: ({self.values})."

    def judge(self, figure: Any) -> ValidationResult:
        try:
            passes = figure in self.values
        except TypeError:  # an unhashable value is in no set of values
            passes = False
        allowed = sorted(self.values, key=repr)
        message = f"value {figure!r} {'is' if passes else 'is not'} in {allowed}"
        return ValidationResult(
            passes=passes,
            message=message,
            diagnostics={
                "values": self.values,
                "was_correct": passes,
                "incorrect_value": None if passes else figure,
                "data_size": 1,
            },
        )


class DataTypeValidatorPrimitives(_PrimitiveValidator):
    """A Python value is an instance of ``data_type``."""

    _arg = "data_type"

    def __init__(self, data_type: type[Any], importance: str) -> None:
        super().__init__(importance)
        if not isinstance(data_type, type) and not (
            isinstance(data_type, tuple) and all(isinstance(t, type) for t in data_type)
        ):
            raise ValueError(f"data_type must be a type, got {data_type!r}")
        self.datatype = data_type

    @classmethod
    def applies_to(cls, datatype: Any) -> bool:
        return _is_subclass(datatype, numbers.Real) or datatype in (str, bool)

    def description(self) -> str:
        return f"Validates that the datatype of the value is a subclass of: {self.datatype}"

    def judge(self, figure: Any) -> ValidationResult:
        passes = isinstance(figure, self.datatype)
        verdict = "is" if passes else "is not"
        return ValidationResult(
            passes=passes,
            message=f"value of type {type(figure).__name__} {verdict} a {self.datatype}",
            diagnostics={"required_data_type": self.datatype, "actual_data_type": type(figure)},
        )


class AllowNoneValidator(_AllowNoneValidator, _PrimitiveValidator):
    """``allow_none=False``: the value is not None."""

    @classmethod
    def applies_to(cls, datatype: Any) -> bool:
        return True

    def judge(self, figure: Any) -> ValidationResult:
        passes = self.allow_none or figure is not None
        return ValidationResult(
            passes=passes,
            message="Data is not None"
            if passes
            else f"Data is not allowed to be None, got {figure}",
            diagnostics={},
        )


def _as_list(value: str | Sequence[str], arg: str) -> list[str]:
    items = [value] if isinstance(value, str) else list(value)
    if not items or not all(isinstance(i, str) for i in items):
        raise ValueError(f"{arg} must be a string or a list of strings, got {value!r}")
    return items


class StrContainsValidator(_PrimitiveValidator):
    """A string contains every one of ``contains``."""

    _arg = "contains"

    def __init__(self, contains: str | list[str], importance: str) -> None:
        super().__init__(importance)
        self.contains = _as_list(contains, self.arg())

    @classmethod
    def applies_to(cls, datatype: Any) -> bool:
        return datatype is str

    def description(self) -> str:
        return f"Validates that a string contains [{self.contains}] within it."

    def judge(self, figure: Any) -> ValidationResult:
        missing = [c for c in self.contains if c not in figure]
        passes = not missing
        return ValidationResult(
            passes=passes,
            message="All good." if passes else f"String did not contain {missing}",
            diagnostics={} if passes else {"contains": self.contains, "data": figure[:100]},
        )


class StrDoesNotContainValidator(_PrimitiveValidator):
    """A string contains none of ``does_not_contain``."""

    _arg = "does_not_contain"

    def __init__(self, does_not_contain: str | list[str], importance: str) -> None:
        super().__init__(importance)
        self.does_not_contain = _as_list(does_not_contain, self.arg())

    @classmethod
    def applies_to(cls, datatype: Any) -> bool:
        return datatype is str

    def description(self) -> str:
        return f"Validates that a string does not contain [{self.does_not_contain}] within it."

    def judge(self, figure: Any) -> ValidationResult:
        found = [c for c in self.does_not_contain if c in figure]
        passes = not found
        return ValidationResult(
            passes=passes,
            message="All good." if passes else f"String did contain {found}",
            diagnostics={}
            if passes
            else {"does_not_contain": self.does_not_contain, "data": figure[:100]},
        )


AVAILABLE_DEFAULT_VALIDATORS: list[type[BaseDefaultValidator]] = [
    AllowNaNsValidatorPolarsColumn,
    DataInRangeValidatorPolarsColumn,
    DataInRangeValidatorPrimitives,
    DataInValuesValidatorPolarsColumn,
    DataInValuesValidatorPrimitives,
    DataTypeValidatorPolarsColumn,
    DataTypeValidatorPrimitives,
    MaxFractionNansValidatorPolarsColumn,
    MaxStandardDevValidatorPolarsColumn,
    MeanInRangeValidatorPolarsColumn,
    AllowNoneValidatorPolarsColumn,
    AllowNoneValidator,
    StrContainsValidator,
    StrDoesNotContainValidator,
]


def resolve_default_validators(
    output_type: Any,
    importance: str,
    available_validators: Sequence[type[BaseDefaultValidator]] | None = None,
    **default_validator_kwargs: Any,
) -> list[BaseDefaultValidator]:
    """One validator per keyword, the first candidate whose ``arg()`` matches and applies.

    Raises:
        ValueError: no candidate handles a keyword for ``output_type``.
    """
    candidates = (
        AVAILABLE_DEFAULT_VALIDATORS if available_validators is None else available_validators
    )
    validators: list[BaseDefaultValidator] = []
    for key, argument in default_validator_kwargs.items():
        for validator_cls in candidates:
            if key == validator_cls.arg() and validator_cls.applies_to(output_type):
                validators.append(validator_cls(**{key: argument, "importance": importance}))
                break
        else:
            raise ValueError(f"no validator for `{key}` applies to {output_type!r}")
    return validators
