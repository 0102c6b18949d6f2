"""Hamilton's pipe family: ``pipe_input``, ``pipe_output``, ``step``, ``mutate``, ``apply_to``.

A *step* is a function applied to one value of the dataflow, with its other parameters filled by
``source(...)``, ``value(...)`` or plain literals. ``@pipe_input`` runs a chain of steps on a
function's first parameter before the function sees it; ``@pipe_output`` runs a chain on the
function's result; ``@mutate`` declares, on the step function itself, which functions' results it
transforms (a remote ``@pipe_output``). Every step becomes a node of its own, named as Hamilton
names it (``<function>.with_<step>``), so each intermediate can be requested, overridden and
cached.

The decorators here only record frozen specs; :mod:`hamilton_fast.expand.pipes` builds the nodes.

Example:
    >>> import polars as pl
    >>> def _clip(x: pl.Expr, upper: float) -> pl.Expr:
    ...     return x.clip(upper_bound=upper)
    >>> @pipe_output(step(_clip, upper=100.0))
    ... def spend(raw_spend: pl.Expr) -> pl.Expr:
    ...     return raw_spend * 1.1
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from types import EllipsisType
from typing import Any, Literal, TypeVar

from hamilton_fast.errors import ModifierError
from hamilton_fast.function_modifiers.base import ModifierSpec, attach, location_of
from hamilton_fast.function_modifiers.dependencies import (
    ConfigDependency,
    GroupedDict,
    GroupedList,
    LiteralDependency,
    UpstreamDependency,
)
from hamilton_fast.function_modifiers.metadata import hamilton_exclude

__all__ = [
    "Applicable",
    "MutateSpec",
    "NamespaceType",
    "PipeInputSpec",
    "PipeOutputSpec",
    "StepCondition",
    "apply_to",
    "mutate",
    "pipe_input",
    "pipe_output",
    "step",
]

F = TypeVar("F", bound=Callable[..., Any])

NamespaceType = str | EllipsisType | None
"""``...``: the default (the decorated function's or node's name); ``None``: no namespace."""

TargetType = str | Collection[str] | None

ConditionKind = Literal["when", "when_not", "when_in", "when_not_in"]


@dataclass(frozen=True)
class StepCondition:
    """One ``.when*(...)`` condition on a step, kept as data so specs stay comparable."""

    kind: ConditionKind
    pairs: tuple[tuple[str, Any], ...]  # for *_in kinds, each value is a tuple of options

    def holds(self, config: Mapping[str, Any]) -> bool:
        """Hamilton's rules: a missing key reads as ``None``."""
        if self.kind == "when":
            return all(config.get(k) == v for k, v in self.pairs)
        if self.kind == "when_not":
            return all(config.get(k) != v for k, v in self.pairs)
        if self.kind == "when_in":
            return all(config.get(k) in v for k, v in self.pairs)
        return all(config.get(k) not in v for k, v in self.pairs)


def _describe_fn(fn: Any) -> str:
    return str(getattr(fn, "__name__", repr(fn)))


@dataclass(frozen=True)
class Applicable:
    """A function applied to one value of the dataflow: what ``step`` and ``apply_to`` return.

    ``fn`` is None for an ``apply_to`` placeholder until ``@mutate`` supplies the function;
    ``target_fn`` is the function an ``apply_to`` transforms. ``name``/``namespace`` set the
    node name (``.named``), ``conditions`` the config it needs (``.when*``), ``target`` the
    outputs it applies to (``.on_output``).
    """

    fn: Callable[..., Any] | None
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = ()
    conditions: tuple[StepCondition, ...] = ()
    name: str | None = None
    namespace: NamespaceType = ...
    target: str | tuple[str, ...] | None = None
    target_fn: Callable[..., Any] | None = None

    def _with_condition(self, kind: ConditionKind, pairs: Mapping[str, Any]) -> Applicable:
        if kind in ("when_in", "when_not_in"):
            items: list[tuple[str, Any]] = []
            for key, options in pairs.items():
                if isinstance(options, (str, bytes)) or not isinstance(options, Collection):
                    raise ModifierError(
                        f"step({_describe_fn(self.fn)}).{kind}({key}={options!r}): the value "
                        "must be a list of options.\n"
                        f'Hint: .{kind}({key}=["a", "b"]).'
                    )
                items.append((key, tuple(options)))
            condition = StepCondition(kind, tuple(items))
        else:
            condition = StepCondition(kind, tuple(pairs.items()))
        return replace(self, conditions=(*self.conditions, condition))

    def when(self, **key_value_pairs: Any) -> Applicable:
        """Apply the step only when every ``config[key] == value``."""
        return self._with_condition("when", key_value_pairs)

    def when_not(self, **key_value_pairs: Any) -> Applicable:
        """Apply the step only when every ``config[key] != value``."""
        return self._with_condition("when_not", key_value_pairs)

    def when_in(self, **key_value_group_pairs: Collection[Any]) -> Applicable:
        """Apply the step only when every ``config[key]`` is one of the given values."""
        return self._with_condition("when_in", key_value_group_pairs)

    def when_not_in(self, **key_value_group_pairs: Collection[Any]) -> Applicable:
        """Apply the step only when no ``config[key]`` is one of the given values."""
        return self._with_condition("when_not_in", key_value_group_pairs)

    def named(self, name: str, namespace: NamespaceType = ...) -> Applicable:
        """Name the step's node ``name``; ``namespace`` ``None`` drops the prefix, a string
        replaces it, ``...`` keeps the current one (the decorated function's name)."""
        if name is not None and not isinstance(name, str):
            raise ModifierError(
                f"step({_describe_fn(self.fn)}).named({name!r}): the name must be a string.\n"
                'Hint: .named("clipped").'
            )
        if namespace is not None and namespace is not ... and not isinstance(namespace, str):
            raise ModifierError(
                f"step({_describe_fn(self.fn)}).named(..., namespace={namespace!r}): the "
                "namespace must be a string, None or ... .\n"
                'Hint: .named("clipped", namespace=None) for a name without prefix.'
            )
        return replace(
            self,
            name=name if name is not None else self.name,
            namespace=None
            if namespace is None
            else (self.namespace if namespace is ... else namespace),
        )

    def namespaced(self, namespace: NamespaceType) -> Applicable:
        """Set the namespace alone (you probably want :meth:`named`)."""
        return replace(self, namespace=namespace)

    def on_output(self, target: TargetType) -> Applicable:
        """Apply the step only to the named output(s) of the function (``@pipe_output`` and
        ``@mutate`` on functions with several outputs, e.g. ``@extract_columns``)."""
        if target is None:
            return self
        return replace(self, target=_normalize_target(target, f"step({_describe_fn(self.fn)})"))

    def resolves(self, config: Mapping[str, Any]) -> bool:
        """Whether every ``.when*`` condition holds under ``config``."""
        return all(c.holds(config) for c in self.conditions)

    def applies_to(self, node_name: str) -> bool:
        """Whether ``.on_output`` selects ``node_name`` (no target selects every output)."""
        if self.target is None:
            return True
        if isinstance(self.target, str):
            return node_name == self.target
        return node_name in self.target

    def describe(self) -> str:
        """``step(_clip, upper=100.0)`` as the user wrote it, for messages."""
        parts = [_describe_fn(self.fn), *(_describe_arg(a) for a in self.args)]
        parts += [f"{k}={_describe_arg(v)}" for k, v in self.kwargs]
        return f"step({', '.join(parts)})"


def _describe_arg(arg: Any) -> str:
    if isinstance(arg, UpstreamDependency):
        return f"source({arg.source!r})"
    if isinstance(arg, LiteralDependency):
        return f"value({arg.value!r})"
    if isinstance(arg, ConfigDependency):
        return f"configuration({arg.key!r})"
    text = repr(arg)
    return text if len(text) <= 40 else text[:37] + "..."


def _normalize_target(target: Any, where: str) -> str | tuple[str, ...]:
    if isinstance(target, str):
        return target
    if isinstance(target, Collection) and all(isinstance(t, str) for t in target):
        return tuple(target)
    raise ModifierError(
        f"{where}: on_output={target!r} must be a node name or a list of node names.\n"
        'Hint: on_output="spend" or on_output=["spend", "signups"].'
    )


def _check_arguments(args: tuple[Any, ...], kwargs: Mapping[str, Any], what: str) -> None:
    if "_name" in kwargs:
        raise ModifierError(
            f"{what}: `_name` cannot be passed as a keyword argument.\n"
            'Hint: name the step with .named("my_name").'
        )
    for arg in (*args, *kwargs.values()):
        if isinstance(arg, (GroupedList, GroupedDict)):
            raise ModifierError(
                f"{what}: group(...) cannot fill a step's parameter.\n"
                'Hint: pass source("node"), value(literal) or a plain literal.'
            )


def step(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Applicable:
    """Apply ``fn`` to the piped value; the other parameters are filled by ``args``/``kwargs``.

    The piped value goes to ``fn``'s first parameter. Each argument is ``source("node")``,
    ``value(literal)`` or a plain literal; parameters left out become dependencies on the nodes
    of the same name. Refine with ``.named(...)``, ``.when(...)`` and ``.on_output(...)``.

    Example:
        >>> import polars as pl
        >>> def _scale(x: pl.Expr, factor: float) -> pl.Expr:
        ...     return x * factor
        >>> step(_scale, factor=2.0).named("doubled").describe()
        'step(_scale, factor=2.0)'
    """
    if isinstance(fn, str) or not callable(fn):
        raise ModifierError(
            f"step() takes a function, got {fn!r}.\n"
            "Hint: pass the function itself: step(_my_transform), not its name."
        )
    _check_arguments(args, kwargs, f"step({_describe_fn(fn)})")
    return Applicable(fn=fn, args=tuple(args), kwargs=tuple(kwargs.items()))


def apply_to(fn_: Callable[..., Any], **mutating_fn_kwargs: Any) -> Applicable:
    """For ``@mutate``: transform the output of ``fn_``, with per-target keyword arguments.

    ``mutating_fn_kwargs``, when given, replace the keyword arguments passed to ``@mutate``.
    """
    if isinstance(fn_, str) or not callable(fn_):
        raise ModifierError(
            f"apply_to() takes the function to mutate, got {fn_!r}.\n"
            "Hint: pass the function itself: apply_to(spend), not its name."
        )
    _check_arguments((), mutating_fn_kwargs, f"apply_to({_describe_fn(fn_)})")
    return Applicable(fn=None, kwargs=tuple(mutating_fn_kwargs.items()), target_fn=fn_)


# -- validation of a step against the function it decorates -------------------------------------


def _fail(decorator: str, fn: Callable[..., Any], problem: str, hint: str) -> ModifierError:
    return ModifierError(
        f"@{decorator} on `{fn.__name__}` ({location_of(fn)}): {problem}\nHint: {hint}"
    )


def _param_text(param: inspect.Parameter) -> str:
    if param.kind is param.VAR_POSITIONAL:
        return f"*{param.name}"
    if param.kind is param.VAR_KEYWORD:
        return f"**{param.name}"
    if param.kind is param.POSITIONAL_ONLY:
        return f"{param.name}, /"
    return param.name


def _check_step(decorator: str, fn: Callable[..., Any], applicable: Applicable) -> None:
    """Hamilton's checks, at decoration time: the step has a first parameter for the piped
    value, takes every parameter by keyword, is fully annotated, and its arguments bind.

    Types along the chain are checked when the graph is built, where the config is known."""
    step_fn = applicable.fn
    assert step_fn is not None
    name = _describe_fn(step_fn)
    try:
        signature = inspect.signature(step_fn)
    except (TypeError, ValueError) as exc:
        raise _fail(
            decorator,
            fn,
            f"{applicable.describe()}: the signature of `{name}` cannot be read ({exc})",
            "use a plain Python function (def) as the step.",
        ) from exc
    params = list(signature.parameters.values())
    if not params:
        raise _fail(
            decorator,
            fn,
            f"{applicable.describe()}: `{name}` has no parameters, so the piped value has "
            "nowhere to go",
            f"give `{name}` a first parameter for the value, e.g. `def {name}(x: pl.Series)`.",
        )
    unfriendly = [p for p in params if p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    if unfriendly:
        listed = ", ".join(f"`{_param_text(p)}`" for p in unfriendly)
        raise _fail(
            decorator,
            fn,
            f"{applicable.describe()}: `{name}` has parameters that cannot be passed by "
            f"keyword: {listed}",
            "wrap it in a function with named, annotated parameters.",
        )
    try:
        signature.bind(..., *applicable.args, **dict(applicable.kwargs))
    except TypeError as exc:
        raise _fail(
            decorator,
            fn,
            f"{applicable.describe()}: the arguments do not fit "
            f"`{name}({', '.join(_param_text(p) for p in params)})` ({exc}); the piped value "
            "takes the first parameter",
            (
                f"pass only the parameters after `{params[0].name}`, e.g. "
                f"step({name}, {params[1].name}=value(...))."
                if len(params) > 1
                else f"`{name}` takes only the piped value: use step({name})."
            ),
        ) from exc
    try:
        hints = typing.get_type_hints(step_fn)
    except Exception as exc:
        raise _fail(
            decorator,
            fn,
            f"{applicable.describe()}: the annotations of `{name}` cannot be resolved "
            f"({type(exc).__name__}: {exc})",
            "import every type used in an annotation at module level.",
        ) from exc
    missing = [p.name for p in params if p.name not in hints]
    if "return" not in hints:
        missing.append("return")
    if missing:
        listed = ", ".join("the return value" if m == "return" else f"`{m}`" for m in missing)
        raise _fail(
            decorator,
            fn,
            f"{applicable.describe()}: `{name}` has no type annotation for {listed}",
            f"annotate every parameter and the return of `{name}`, e.g. "
            f"`def {name}({params[0].name}: pl.Series) -> pl.Series:`.",
        )


@dataclass(frozen=True)
class _PipeOptions:
    """The arguments every pipe decorator shares, kept until the function is known."""

    transforms: tuple[Any, ...]
    namespace: Any
    collapse: bool
    chain: bool

    def check(self, decorator: str, fn: Callable[..., Any]) -> tuple[Applicable, ...]:
        """The steps, once each is known to be a step that fits ``fn``."""
        namespace = self.namespace
        if self.collapse:
            raise _fail(
                decorator,
                fn,
                "collapse=True (one node for all steps) is not supported, nor by Apache Hamilton",
                "drop collapse=True; every step is a node of its own.",
            )
        if self.chain:
            raise _fail(
                decorator,
                fn,
                "_chain=True (@flow-style chaining) is not supported, nor by Apache Hamilton",
                "drop _chain=True.",
            )
        if namespace is not None and namespace is not ... and not isinstance(namespace, str):
            raise _fail(
                decorator,
                fn,
                f"namespace={namespace!r} must be a string, None or ...",
                "namespace=None names the steps without a prefix; leave it out for the default.",
            )
        for index, transform in enumerate(self.transforms, start=1):
            if not isinstance(transform, Applicable) or transform.fn is None:
                raise _fail(
                    decorator,
                    fn,
                    f"argument {index} is {transform!r}, not a step",
                    f"@{decorator}(step(_first), step(_second, k=value(2))).",
                )
        steps: tuple[Applicable, ...] = self.transforms
        for applicable in steps:
            _check_step(decorator, fn, applicable)
            if namespace is not ... and applicable.namespace is not ...:
                raise _fail(
                    decorator,
                    fn,
                    f"{applicable.describe()} sets its own namespace, and the decorator sets "
                    f"namespace={namespace!r} for all steps",
                    f"set the namespace in one place: either @{decorator}(namespace=...) or "
                    ".named(name, namespace=...) on each step.",
                )
        return steps


# -- the specs and decorators ---------------------------------------------------------------------


@dataclass(frozen=True)
class PipeInputSpec(ModifierSpec):
    """Run ``steps`` on the parameter ``on_input`` (the first parameter when None)."""

    steps: tuple[Applicable, ...]
    namespace: NamespaceType = ...
    on_input: str | None = None

    @property
    def decorator_name(self) -> str:
        return "pipe_input"


@dataclass(frozen=True)
class PipeOutputSpec(ModifierSpec):
    """Run ``steps`` on the function's outputs (its final nodes, or ``on_output``)."""

    steps: tuple[Applicable, ...]
    namespace: NamespaceType = ...
    on_output: str | tuple[str, ...] | None = None

    @property
    def decorator_name(self) -> str:
        return "pipe_output"


@dataclass(frozen=True)
class MutateSpec(ModifierSpec):
    """Declared on a step function: apply it to the outputs of ``steps[i].target_fn``.

    Each applicable carries the mutating function as ``fn`` and its resolved keyword
    arguments; the graph builder hands this spec to each target's expansion.
    """

    steps: tuple[Applicable, ...]

    @property
    def decorator_name(self) -> str:
        return "mutate"

    def remote_targets(self) -> tuple[Callable[..., Any], ...]:
        targets = [s.target_fn for s in self.steps if s.target_fn is not None]
        return tuple(dict.fromkeys(targets))


class pipe_input:
    """Run a chain of steps on a function's first parameter before the function sees it.

    ``@pipe_input(step(_a), step(_b, k=value(2)))`` on ``def f(x: ..., y: ...)`` adds the nodes
    ``f.with_a`` (from ``x``) and ``f.with_b`` (from ``f.with_a``), and ``f`` reads
    ``f.with_b`` in place of ``x``. ``namespace`` replaces the ``f.`` prefix (``None`` drops
    it); ``on_input`` pipes another parameter than the first.

    Example:
        >>> import polars as pl
        >>> def _fill(x: pl.Expr, with_value: float) -> pl.Expr:
        ...     return x.fill_null(with_value)
        >>> @pipe_input(step(_fill, with_value=0.0))
        ... def spend_clean(spend: pl.Expr) -> pl.Expr:
        ...     return spend
    """

    def __init__(
        self,
        *transforms: Applicable,
        namespace: NamespaceType = ...,
        on_input: str | None = None,
        collapse: bool = False,
        _chain: bool = False,
    ) -> None:
        self._options = _PipeOptions(transforms, namespace, collapse, _chain)
        self._on_input = on_input

    def __call__(self, fn: F) -> F:
        steps = self._options.check("pipe_input", fn)
        on_input = self._on_input
        if on_input is not None:
            if not isinstance(on_input, str):
                raise _fail(
                    "pipe_input",
                    fn,
                    f"on_input={on_input!r}: only one parameter can be piped, named by a string",
                    f'on_input="{next(iter(inspect.signature(fn).parameters), "x")}".',
                )
            params = inspect.signature(fn).parameters
            if on_input not in params:
                raise _fail(
                    "pipe_input",
                    fn,
                    f"on_input={on_input!r} is not a parameter of `{fn.__name__}`",
                    f"the parameters are {', '.join(f'`{p}`' for p in params) or '(none)'}.",
                )
        return attach(fn, PipeInputSpec(steps, self._options.namespace, on_input))


class pipe_output:
    """Run a chain of steps on a function's result.

    ``@pipe_output(step(_a), step(_b))`` on ``f`` gives ``f.raw`` (the function itself) ->
    ``f.with_a`` -> ``f.with_b`` -> ``f``, so consumers of ``f`` see the transformed value.
    With several outputs (``@extract_columns``) each output gets its own chain, prefixed with
    the output's name; ``on_output`` (or ``step(...).on_output``) selects outputs.

    Example:
        >>> import polars as pl
        >>> def _clip(x: pl.Expr, upper: float) -> pl.Expr:
        ...     return x.clip(upper_bound=upper)
        >>> @pipe_output(step(_clip, upper=100.0))
        ... def spend(raw_spend: pl.Expr) -> pl.Expr:
        ...     return raw_spend
    """

    def __init__(
        self,
        *transforms: Applicable,
        namespace: NamespaceType = ...,
        on_output: TargetType | EllipsisType = None,
        collapse: bool = False,
        _chain: bool = False,
    ) -> None:
        self._options = _PipeOptions(transforms, namespace, collapse, _chain)
        self._on_output = on_output

    def __call__(self, fn: F) -> F:
        steps = self._options.check("pipe_output", fn)
        on_output = self._on_output
        if on_output is ...:
            raise _fail(
                "pipe_output",
                fn,
                "on_output=... cannot select outputs",
                'leave on_output out (every final node), or name them: on_output=["a"].',
            )
        target = None
        if on_output is not None:
            try:
                target = _normalize_target(on_output, "on_output")
            except ModifierError:
                raise _fail(
                    "pipe_output",
                    fn,
                    f"on_output={on_output!r} must be a node name or a list of node names",
                    'on_output="spend" or on_output=["spend", "signups"].',
                ) from None
            local = [s for s in steps if s.target is not None]
            if local:
                raise _fail(
                    "pipe_output",
                    fn,
                    f"on_output={on_output!r} is combined with {local[0].describe()}"
                    f".on_output({local[0].target!r}); the target can be set on the decorator "
                    "or on the steps, not both",
                    "drop on_output= from @pipe_output and set .on_output(...) per step.",
                )
        return attach(fn, PipeOutputSpec(steps, self._options.namespace, target))


class mutate:
    """Apply the decorated function to the outputs of other functions (a remote ``pipe_output``).

    ``@mutate(a, b)`` on ``_clip`` turns ``a`` into ``a.raw`` -> ``a.with_clip`` -> ``a`` (and
    the same for ``b``); the targets must be defined in the same module. Keyword arguments fill
    the step's other parameters; ``apply_to(a, **kwargs)`` gives one target its own. Several
    mutators of one function apply in the order they are defined, after any ``@pipe_output``
    steps of the target. The decorated function itself is not a node.

    Example:
        >>> import polars as pl
        >>> def spend(raw_spend: pl.Expr) -> pl.Expr:
        ...     return raw_spend
        >>> @mutate(spend, upper=100.0)
        ... def _clip(x: pl.Expr, upper: float) -> pl.Expr:
        ...     return x.clip(upper_bound=upper)
    """

    def __init__(
        self,
        *target_functions: Applicable | Callable[..., Any],
        collapse: bool = False,
        _chain: bool = False,
        **mutating_function_kwargs: Any,
    ) -> None:
        _check_arguments((), mutating_function_kwargs, "@mutate")
        self._targets = target_functions
        self._kwargs = tuple(mutating_function_kwargs.items())
        # A mutator takes no steps and always uses the default namespace; only the flags apply.
        self._options = _PipeOptions((), ..., collapse, _chain)

    def _placeholders(self, mutating_fn: Callable[..., Any]) -> list[Applicable]:
        self._options.check("mutate", mutating_fn)
        if not self._targets:
            raise _fail(
                "mutate",
                mutating_fn,
                "it names no function to transform",
                "@mutate(spend) or @mutate(apply_to(spend, upper=100.0)).",
            )
        placeholders: list[Applicable] = []
        for target in self._targets:
            if isinstance(target, Applicable) and target.target_fn is not None:
                placeholders.append(target)
            elif callable(target) and not isinstance(target, (str, Applicable)):
                placeholders.append(apply_to(target))
            else:
                described = target.describe() if isinstance(target, Applicable) else repr(target)
                raise _fail(
                    "mutate",
                    mutating_fn,
                    f"{described} is not a function to transform",
                    "pass the function itself, @mutate(spend), or apply_to(spend, k=value(2)).",
                )
        return placeholders

    def __call__(self, mutating_fn: F) -> F:
        steps: list[Applicable] = []
        for placeholder in self._placeholders(mutating_fn):
            target = placeholder.target_fn
            assert target is not None
            if getattr(target, "__module__", None) != mutating_fn.__module__:
                raise _fail(
                    "mutate",
                    mutating_fn,
                    f"it transforms `{_describe_fn(target)}` from module "
                    f"`{getattr(target, '__module__', '?')}`, but a mutator and its targets "
                    f"must be defined in the same module (`{mutating_fn.__module__}`)",
                    f"move `{mutating_fn.__name__}` next to `{_describe_fn(target)}`, or "
                    "use @pipe_output on the target instead.",
                )
            applicable = replace(
                placeholder,
                fn=mutating_fn,
                kwargs=placeholder.kwargs or self._kwargs,
            )
            _check_step("mutate", mutating_fn, applicable)
            steps.append(applicable)
        attach(mutating_fn, MutateSpec(tuple(steps)))
        return hamilton_exclude(mutating_fn)
