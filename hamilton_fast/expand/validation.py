"""``@check_output`` / ``@check_output_custom`` -> nodes, with the checks inside the query.

For each checked node ``x`` this makes Hamilton's three kinds of node:

- ``x_raw``: the original computation, unchanged;
- ``x_<validator>`` per validator: its ``ValidationResult``, computed when requested directly;
- ``x``: ``x_raw`` passed through (traced as ``pl.col("x_raw")``), carrying one :class:`Check`
  per validator.

In Apache Hamilton ``x`` depends on every validator node, so validation runs whenever ``x`` is
needed. Here ``x`` depends on ``x_raw`` only and the planner adds each check's scalar summary to
the query that computes ``x``: same outcomes, no Python on the hot path, no second scan. The
validator nodes stay out of the way unless asked for.

Hamilton applies ``@extract_columns``, ``@extract_fields`` and ``@unpack_fields`` as
transformers, in decorator order; hamilton_fast expands them first. A check written *below* one
of them therefore sees the function's own node (the frame), as in Hamilton.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import polars as pl

from hamilton_fast.data_quality.base import (
    BaseDefaultValidator,
    SummaryValidator,
    ValidationResult,
)
from hamilton_fast.errors import NodeError
from hamilton_fast.expand.core import Extract, _problem
from hamilton_fast.expand.registry import ExpansionContext, register
from hamilton_fast.function_modifiers.base import ModifierSpec, modifiers_of
from hamilton_fast.function_modifiers.expanders import (
    ExtractColumnsSpec,
    ExtractFieldsSpec,
    UnpackFieldsSpec,
)
from hamilton_fast.function_modifiers.validation import (
    DATA_VALIDATOR_ORIGINAL_OUTPUT_TAG,
    IS_DATA_VALIDATOR_TAG,
    CheckOutputCustomSpec,
    CheckOutputSpec,
    importance_of,
)
from hamilton_fast.nodes import (
    Check,
    Dependency,
    Node,
    NodeRole,
    ValueShape,
    describe_type,
)

__all__ = ["PassThrough", "RunValidator", "is_validator_node"]

# Specs hamilton_fast expands before any transformer, but Hamilton applies in decorator order.
_HAMILTON_TRANSFORMERS = (ExtractColumnsSpec, ExtractFieldsSpec, UnpackFieldsSpec)


def is_validator_node(node: Node) -> bool:
    """A node made for one validator: in Hamilton it feeds the checked node, so it is not final."""
    return node.tags.get(IS_DATA_VALIDATOR_TAG) is True


@dataclass(frozen=True)
class PassThrough:
    """The checked node's function: its ``_raw`` value, unchanged (traced as a column ref)."""

    source: str

    def __call__(self, **kwargs: Any) -> Any:
        return kwargs[self.source]


def _as_declared(value: Any, annotation: Any) -> Any:
    """The value as the function promised it: the planner may hold a DataFrame lazily."""
    if isinstance(value, pl.LazyFrame) and annotation is pl.DataFrame:
        return value.collect()
    return value


@dataclass(frozen=True, eq=False)
class RunValidator:
    """A validator node's function: ``validator.validate(value of x_raw)``."""

    validator: Any
    source: str
    annotation: Any = None

    def __call__(self, **kwargs: Any) -> Any:
        value = kwargs[self.source]
        if isinstance(value, pl.Expr):
            # The planner first tries a node on placeholder expressions; a validator needs data.
            raise TypeError("a validator runs on the computed value, not on an expression")
        return self.validator.validate(_as_declared(value, self.annotation))


@dataclass(frozen=True, eq=False)
class _Judge:
    """A check's judge: the validator's verdict on the summary (or on the value itself)."""

    validator: Any
    node: Node

    def __call__(self, figure: Any) -> tuple[bool, str, Mapping[str, Any]]:
        if isinstance(self.validator, SummaryValidator):
            result = self.validator.judge(figure)
        else:
            result = self._validate(_as_declared(figure, self.node.annotation))
        return bool(result.passes), str(result.message), dict(result.diagnostics or {})

    def _validate(self, value: Any) -> Any:
        """A custom validator, run after the query; its failures name the node and validator."""
        name = self.validator.name()
        try:
            result = self.validator.validate(value)
        except Exception as exc:
            raise NodeError(
                f"`{self.node.name}`: validator `{name}` raised {type(exc).__name__}: {exc}\n"
                f"  function: {self.node.describe()}\n"
                "Hint: the validator's own code failed (the error is chained above); return "
                "ValidationResult(passes=False, ...) for bad data instead of raising.",
                node=self.node.name,
            ) from exc
        if not (hasattr(result, "passes") and hasattr(result, "message")):
            raise NodeError(
                f"`{self.node.name}`: validator `{name}` returned {type(result).__name__}, not a "
                "ValidationResult.\nHint: return ValidationResult(passes=..., message=...).",
                node=self.node.name,
            )
        return result


def _first(column: pl.Expr) -> pl.Expr:
    return column.first()


def _check(validator: Any, suffix: str, node: Node) -> Check:
    """The planner's view of one validator on ``node``."""
    summary: Callable[[pl.Expr], pl.Expr] | None
    if isinstance(validator, SummaryValidator) and not validator.reads_whole_column:
        summary = validator.summary
    elif isinstance(validator, SummaryValidator):
        summary = None
    elif node.shape is ValueShape.VALUE:
        summary = _first  # a scalar computed in the query: the validator sees the Python value
    else:
        summary = None  # the whole column (or frame) after the query
    return Check(
        validator=suffix,
        importance=importance_of(validator),
        summary=summary,
        judge=_Judge(validator, node),
    )


def _checked(node: Node, validators: Sequence[Any]) -> list[Node]:
    """``node`` -> ``node_raw``, one node per validator, and ``node`` carrying the checks."""
    raw = replace(node, name=f"{node.name}_raw", checks=())
    seen: defaultdict[str, int] = defaultdict(int)
    validator_nodes: list[Node] = []
    checks: list[Check] = []
    for validator in validators:
        suffix = str(validator.name())
        seen[suffix] += 1
        if seen[suffix] > 1:  # Hamilton numbers repeated names from 1
            suffix = f"{suffix}_{seen[suffix] - 1}"
        validator_nodes.append(
            Node(
                name=f"{node.name}_{suffix}",
                annotation=ValidationResult,
                role=NodeRole.FUNCTION,
                dependencies=(Dependency(raw.name, node.annotation),),
                fn=RunValidator(validator, raw.name, node.annotation),
                origin=node.origin,
                tags={
                    **node.tags,
                    IS_DATA_VALIDATOR_TAG: True,
                    DATA_VALIDATOR_ORIGINAL_OUTPUT_TAG: node.name,
                },
                doc=str(validator.description()),
                module=node.module,
            )
        )
        checks.append(_check(validator, suffix, node))
    final = Node(
        name=node.name,
        annotation=node.annotation,
        role=NodeRole.FUNCTION,
        dependencies=(Dependency(raw.name, node.annotation),),
        fn=PassThrough(raw.name),
        origin=node.origin,
        tags=dict(node.tags),
        doc=node.doc,
        module=node.module,
        checks=(*node.checks, *checks),
    )
    return [raw, *validator_nodes, final]


# -- which nodes a spec checks ------------------------------------------------------------------


def _generated_by_outer_expander(
    spec: ModifierSpec, nodes: Sequence[Node], ctx: ExpansionContext
) -> set[str]:
    """Nodes Hamilton would not have created yet when it applies ``spec``.

    Hamilton runs ``@extract_columns`` & co. as transformers in decorator order, so a check
    below one of them sees the function's own node only; hamilton_fast has expanded it already.
    """
    specs = modifiers_of(ctx.fn)
    position = next((i for i, s in enumerate(specs) if s is spec), None)
    if position is None or not any(isinstance(s, _HAMILTON_TRANSFORMERS) for s in specs[position:]):
        return set()
    names = {n.name for n in nodes}
    return {
        n.name
        for n in nodes
        if (n.role is NodeRole.EXTRACTED or isinstance(n.fn, Extract))
        and len(n.dependencies) == 1
        and n.dependencies[0].name in names
    }


def _targets(
    spec: CheckOutputSpec | CheckOutputCustomSpec, nodes: Sequence[Node], ctx: ExpansionContext
) -> list[Node]:
    hidden = _generated_by_outer_expander(spec, nodes, ctx)
    visible = [n for n in nodes if n.name not in hidden]
    names = {n.name for n in visible}
    target = spec.target
    if target is None:
        consumed = {d.name for n in visible for d in n.dependencies}
        return [n for n in visible if n.name not in consumed and not is_validator_node(n)]
    if target is Ellipsis:
        return [n for n in visible if not is_validator_node(n)]
    wanted = (target,) if isinstance(target, str) else tuple(target)
    missing = [t for t in wanted if t not in names]
    if missing:
        later = [t for t in missing if t in hidden]
        hint = (
            f"{', '.join(f'`{t}`' for t in later)} is created by a decorator above this one; "
            f"put @{spec.decorator_name} above it."
            if later
            else f"this function creates {', '.join(f'`{n}`' for n in sorted(names))}."
        )
        raise _problem(
            ctx.fn,
            spec,
            f"target_ names {', '.join(f'`{t}`' for t in missing)}, which this function does "
            "not create at this point",
            hint,
        )
    return [n for n in visible if n.name in wanted]


def _default_validators(spec: CheckOutputSpec, node: Node, ctx: ExpansionContext) -> list[Any]:
    """Resolve each keyword to the first candidate class that applies to the node's type."""
    validators: list[Any] = []
    for key, argument in spec.arguments:
        matching = [c for c in spec.candidates if c.arg() == key]
        chosen: type[BaseDefaultValidator] | None = next(
            (c for c in matching if _applies(c, node.annotation)), None
        )
        if chosen is None:
            kinds = sorted({_kind_of(c) for c in matching})
            raise _problem(
                ctx.fn,
                spec,
                f"no `{key}` validator applies to `{node.name}`, annotated "
                f"{describe_type(node.annotation)} (`{key}` checks {' and '.join(kinds)})",
                _hint_for(node, spec),
            )
        try:
            validators.append(chosen(**{key: argument, "importance": spec.importance}))
        except (ValueError, TypeError) as exc:
            raise _problem(
                ctx.fn,
                spec,
                f"`{key}={argument!r}` is invalid for `{node.name}`: {exc}",
                f"check the `{key}` argument.",
            ) from exc
    return validators


def _applies(candidate: type[BaseDefaultValidator], annotation: Any) -> bool:
    try:
        return bool(candidate.applies_to(annotation))
    except TypeError:  # issubclass() on a typing construct
        return False


def _kind_of(candidate: type[BaseDefaultValidator]) -> str:
    probes = (
        (pl.Series, "columns (pl.Series / pl.Expr)"),
        (float, "numbers"),
        (str, "strings"),
        (pl.DataFrame, "frames"),
    )
    kinds = [text for probe, text in probes if _applies(candidate, probe)]
    return " and ".join(kinds) if kinds else candidate.__name__


def _hint_for(node: Node, spec: ModifierSpec) -> str:
    if node.shape is ValueShape.FRAME:
        return (
            'check the frame\'s columns instead: put @check_output(..., target_="<column>") '
            "above @extract_columns, or use @check_output_custom with a validator for frames."
        )
    return (
        f"annotate `{node.name}` as pl.Series (a column) or a Python number, pick another node "
        "with target_=, or use @check_output_custom."
    )


def _transform(
    spec: CheckOutputSpec | CheckOutputCustomSpec,
    nodes: list[Node],
    ctx: ExpansionContext,
    validators_for: Callable[[Node], list[Any]],
) -> list[Node]:
    targets = {n.name for n in _targets(spec, nodes, ctx)}
    existing = {n.name for n in nodes}
    out: list[Node] = []
    for node in nodes:
        if node.name not in targets:
            out.append(node)
            continue
        if f"{node.name}_raw" in existing:
            raise _problem(
                ctx.fn,
                spec,
                f"`{node.name}` is checked twice (a second check would create "
                f"`{node.name}_raw` again, as Apache Hamilton does)",
                "pass all validators to one @check_output (or one @check_output_custom).",
            )
        out.extend(_checked(node, validators_for(node)))
    return out


@register("transform", CheckOutputSpec)
def _expand_check_output(
    spec: CheckOutputSpec, nodes: list[Node], ctx: ExpansionContext
) -> list[Node]:
    return _transform(spec, nodes, ctx, lambda node: _default_validators(spec, node, ctx))


@register("transform", CheckOutputCustomSpec)
def _expand_check_output_custom(
    spec: CheckOutputCustomSpec, nodes: list[Node], ctx: ExpansionContext
) -> list[Node]:
    return _transform(spec, nodes, ctx, lambda node: list(spec.validators))
