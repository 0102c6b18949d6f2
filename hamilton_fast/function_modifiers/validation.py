"""``@check_output`` and ``@check_output_custom``: data-quality checks on a function's output.

Same names, arguments and generated nodes as Apache Hamilton: a checked node ``x`` becomes
``x_raw`` (the function), one ``x_<validator>`` node per validator (its ``ValidationResult`` when
requested) and ``x`` itself. Here the checks run inside the query that computes ``x`` (see
:mod:`hamilton_fast.expand.validation`); after the run, failed ``warn`` checks are logged, failed
``fail`` checks raise ``DataValidationError`` and ``dr.validation_results`` has every outcome.

The decorators only check their arguments and attach a frozen spec.

>>> import polars as pl
>>> from hamilton_fast.function_modifiers.base import modifiers_of
>>> @check_output(range=(0, 100), allow_nans=False, importance="fail")
... def score(raw: pl.Series) -> pl.Series:
...     return raw * 10
>>> [type(s).__name__ for s in modifiers_of(score)]
['CheckOutputSpec']
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from types import EllipsisType
from typing import Any, TypeVar

from hamilton_fast.data_quality.base import BaseDefaultValidator
from hamilton_fast.data_quality.default_validators import AVAILABLE_DEFAULT_VALIDATORS
from hamilton_fast.errors import ModifierError
from hamilton_fast.function_modifiers.base import ModifierSpec, attach, location_of

__all__ = [
    "DATA_VALIDATOR_ORIGINAL_OUTPUT_TAG",
    "IS_DATA_VALIDATOR_TAG",
    "CheckOutputCustomSpec",
    "CheckOutputSpec",
    "check_output",
    "check_output_custom",
]

IS_DATA_VALIDATOR_TAG = "hamilton.data_quality.contains_dq_results"
DATA_VALIDATOR_ORIGINAL_OUTPUT_TAG = "hamilton.data_quality.source_node"

IMPORTANCES = ("warn", "fail")

F = TypeVar("F", bound=Callable[..., Any])

Target = str | tuple[str, ...] | EllipsisType | None

# An example per keyword, for the Hint line of an error about it.
_EXAMPLES = {
    "range": "range=(0, 100) (inclusive bounds)",
    "values_in": 'values_in=["a", "b"]',
    "allow_nans": "allow_nans=False (to allow some, max_fraction_nans=0.05)",
    "max_fraction_nans": "max_fraction_nans=0.05 (a fraction between 0 and 1)",
    "mean_in_range": "mean_in_range=(0.0, 1.0)",
    "max_standard_dev": "max_standard_dev=2.5",
    "data_type": "data_type=pl.Float64 (or a numpy/Python type such as np.integer, float)",
    "allow_none": "allow_none=False",
    "contains": 'contains="@" (or a list of substrings)',
    "does_not_contain": 'does_not_contain="," (or a list of substrings)',
}


@dataclass(frozen=True)
class CheckOutputSpec(ModifierSpec):
    """Default validators by keyword (``range=(0, 1)``), resolved per node type at build time."""

    importance: str
    arguments: tuple[tuple[str, Any], ...]  # in the order given: it orders the validator nodes
    candidates: tuple[type[BaseDefaultValidator], ...]
    target: Target = None

    @property
    def decorator_name(self) -> str:
        return "check_output"


@dataclass(frozen=True)
class CheckOutputCustomSpec(ModifierSpec):
    """User validator objects (Hamilton's ``DataValidator`` interface)."""

    validators: tuple[Any, ...]
    target: Target = None

    @property
    def decorator_name(self) -> str:
        return "check_output_custom"


def _fail(decorator: str, fn: Callable[..., Any], problem: str, hint: str) -> ModifierError:
    name = getattr(fn, "__name__", repr(fn))
    return ModifierError(f"@{decorator} on `{name}` ({location_of(fn)}): {problem}\nHint: {hint}")


def _frozen(value: Any) -> Any:
    """Lists and sets as tuples and frozensets, so the spec is hashable like every spec."""
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, set):
        return frozenset(value)
    return value


def _check_target(decorator: str, fn: Callable[..., Any], target: Any) -> Target:
    if target is None or target is Ellipsis or isinstance(target, str):
        return target
    if (
        isinstance(target, Collection)
        and target
        and all(isinstance(t, str) for t in target)
        and not isinstance(target, Mapping)
    ):
        return tuple(target)
    raise _fail(
        decorator,
        fn,
        f"target_={target!r} names no node",
        'target_="node" (one node), target_=["a", "b"] (several), ... (all of the function\'s '
        "nodes) or leave it out (the function's final node).",
    )


def _check_importance(decorator: str, fn: Callable[..., Any], importance: Any) -> str:
    if importance not in IMPORTANCES:
        raise _fail(
            decorator,
            fn,
            f"importance={importance!r} is not one of {', '.join(map(repr, IMPORTANCES))}",
            'importance="warn" logs a failed check; importance="fail" raises after the run.',
        )
    return str(importance)


class check_output:  # Hamilton's name
    """Check a function's output with built-in validators, one per keyword argument.

    ``@check_output(range=(0, 100), allow_nans=False, importance="fail")`` creates
    ``x_raw``, ``x_range_validator``, ``x_allow_nans_validator`` and ``x``. Keywords:
    ``range``, ``values_in``, ``allow_nans``, ``max_fraction_nans``, ``mean_in_range``,
    ``max_standard_dev``, ``data_type`` (and ``allow_none``, ``contains``,
    ``does_not_contain`` for Python values). ``importance`` is ``"warn"`` (log) or ``"fail"``
    (raise ``DataValidationError``); ``default_validator_candidates`` replaces the built-in
    validator classes; ``target_`` picks which of the function's nodes to check.
    """

    def __init__(
        self,
        importance: str = "warn",
        default_validator_candidates: list[type[BaseDefaultValidator]] | None = None,
        target_: str | Collection[str] | EllipsisType | None = None,
        **default_validator_kwargs: Any,
    ) -> None:
        self.importance = importance
        self.default_validator_candidates = default_validator_candidates
        self.target = target_
        self.default_validator_kwargs = default_validator_kwargs

    def __call__(self, fn: F) -> F:
        decorator = "check_output"
        importance = _check_importance(decorator, fn, self.importance)
        target = _check_target(decorator, fn, self.target)
        candidates = self._candidates(fn)
        arguments = self.default_validator_kwargs
        if not arguments:
            raise _fail(
                decorator,
                fn,
                "it names no validator, so it would check nothing",
                'pass at least one, e.g. @check_output(range=(0, 100), importance="warn").',
            )
        known = list(dict.fromkeys(c.arg() for c in candidates))
        for key, argument in arguments.items():
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                guess = f"did you mean `{close[0]}`? " if close else ""
                raise _fail(
                    decorator,
                    fn,
                    f"`{key}` is not a validator argument",
                    f"{guess}Validator arguments are {', '.join(known)}.",
                )
            problems = []
            for validator_cls in candidates:
                if validator_cls.arg() != key:
                    continue
                try:
                    validator_cls(**{key: argument, "importance": importance})
                except (ValueError, TypeError) as exc:
                    problems.append(str(exc))
                else:
                    break
            else:
                raise _fail(
                    decorator,
                    fn,
                    f"`{key}={argument!r}`: {problems[0] if problems else 'invalid'}",
                    _EXAMPLES.get(key, f"see the documentation of the `{key}` validator."),
                )
        spec = CheckOutputSpec(
            importance=importance,
            arguments=tuple((k, _frozen(v)) for k, v in arguments.items()),
            candidates=candidates,
            target=target,
        )
        return attach(fn, spec)

    def _candidates(self, fn: Callable[..., Any]) -> tuple[type[BaseDefaultValidator], ...]:
        if self.default_validator_candidates is None:
            return tuple(AVAILABLE_DEFAULT_VALIDATORS)
        given = list(self.default_validator_candidates)
        for candidate in given:
            if not (
                isinstance(candidate, type)
                and callable(getattr(candidate, "arg", None))
                and callable(getattr(candidate, "applies_to", None))
            ):
                raise _fail(
                    "check_output",
                    fn,
                    f"default_validator_candidates holds {candidate!r}, which is not a "
                    "BaseDefaultValidator class",
                    "pass classes that subclass hamilton_fast.data_quality.base."
                    "BaseDefaultValidator (with arg(), applies_to() and validate()).",
                )
        return tuple(given)


def _is_validator(candidate: Any) -> bool:
    return (
        not isinstance(candidate, type)
        and all(callable(getattr(candidate, m, None)) for m in ("validate", "name", "description"))
        and getattr(candidate, "importance", None) is not None
    )


def importance_of(validator: Any) -> str:
    """``"warn"`` or ``"fail"`` from a validator's importance (an enum or a string)."""
    level = validator.importance
    return str(getattr(level, "value", level))


class check_output_custom:  # Hamilton's name
    """Check a function's output with your own validators (``DataValidator`` subclasses).

    Each validator's ``name()`` names its node (``x_<name>``); its ``importance`` says whether a
    failure logs or raises. Validators without a Polars summary receive the whole value after
    the query (a ``pl.Series`` for a column node), so prefer the built-ins where they fit.
    """

    def __init__(
        self,
        *validators: Any,
        target_: str | Collection[str] | EllipsisType | None = None,
    ) -> None:
        self.validators = validators
        self.target = target_

    def __call__(self, fn: F) -> F:
        decorator = "check_output_custom"
        target = _check_target(decorator, fn, self.target)
        if not self.validators:
            raise _fail(
                decorator,
                fn,
                "it was given no validators, so it would check nothing",
                'pass validator objects: @check_output_custom(MyValidator(importance="warn")).',
            )
        for position, validator in enumerate(self.validators):
            if not _is_validator(validator):
                what = "a class" if isinstance(validator, type) else type(validator).__name__
                raise _fail(
                    decorator,
                    fn,
                    f"validator #{position + 1} ({validator!r}) is {what}, not a DataValidator "
                    "object",
                    "pass instances of a hamilton_fast.data_quality.base.DataValidator "
                    'subclass, e.g. MyValidator(importance="warn").',
                )
            importance = importance_of(validator)
            if importance not in IMPORTANCES:
                raise _fail(
                    decorator,
                    fn,
                    f"validator #{position + 1} ({validator.name()}) has importance {importance!r}",
                    'give it importance="warn" or importance="fail".',
                )
        return attach(fn, CheckOutputCustomSpec(tuple(self.validators), target))
