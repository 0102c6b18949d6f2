"""Expansion of the pipe family: steps become a chain of nodes, named as Apache Hamilton names them.

- ``@pipe_input`` (an injector): ``f(x, ...)`` with steps ``_a``, ``_b`` gives ``f.with_a`` (reads
  ``x``) -> ``f.with_b`` -> ``f`` (reads ``f.with_b`` where it read ``x``).
- ``@pipe_output`` and ``@mutate`` (transformers): each selected output ``o`` becomes ``o.raw``
  (the function itself) -> ``o.with_a`` -> ... -> ``o`` (the last step's value under the old
  name). Mutators of a function join its ``@pipe_output`` chain, after its own steps, in the
  order the mutators are defined; without a ``@pipe_output`` they form one chain of their own.

Node names: a step is ``with_<fn>`` (``with<fn>`` when ``fn`` starts with ``_``), with ``_1``,
``_2`` ... for repeats of the same function, or its ``.named(...)`` name; the prefix is the
function's (``pipe_input``) or the output's (``pipe_output``) name unless a namespace says
otherwise. Steps excluded by ``.when*`` make no node and do not count as repeats.

Step nodes call the step function through :class:`~hamilton_fast.expand.core.Bound`, which only
renames and fills arguments, and the exit node is a :class:`PassThrough`; both trace into the
query like plain functions, so a pipe of ``pl.Expr`` steps stays inside the single query.
"""

from __future__ import annotations

import inspect
import typing
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from hamilton_fast.expand.core import Bound, ExpansionProblem
from hamilton_fast.expand.registry import ExpansionContext, handler_for, register
from hamilton_fast.function_modifiers.base import ModifierSpec, location_of, modifiers_of
from hamilton_fast.function_modifiers.dependencies import (
    ConfigDependency,
    LiteralDependency,
    UpstreamDependency,
)
from hamilton_fast.function_modifiers.pipes import (
    Applicable,
    MutateSpec,
    NamespaceType,
    PipeInputSpec,
    PipeOutputSpec,
)
from hamilton_fast.function_modifiers.validation import IS_DATA_VALIDATOR_TAG
from hamilton_fast.nodes import Dependency, Node, NodeRole, describe_type, short_path, types_match

__all__ = ["NON_FINAL_TAG", "PassThrough"]

NON_FINAL_TAG = "hamilton.non_final_node"
"""Hamilton's tag for nodes that are not a function's outputs (e.g. validators)."""


@dataclass(frozen=True)
class PassThrough:
    """The exit node of a ``pipe_output`` chain: the last step's value under the output's name."""

    dependency: str

    def __call__(self, **kwargs: Any) -> Any:
        return kwargs[self.dependency]


def _where(fn: Callable[..., Any]) -> str:
    return f"{getattr(fn, '__name__', repr(fn))} at {short_path(location_of(fn))}"


def _problem(
    fn: Callable[..., Any],
    spec: ModifierSpec,
    message: str,
    hint: str,
    step_fn: Callable[..., Any] | None = None,
) -> ExpansionProblem:
    step_line = f"\n  step: {_where(step_fn)}" if step_fn is not None else ""
    return ExpansionProblem(
        f"GraphError: @{spec.decorator_name} on `{fn.__name__}`: {message}\n"
        f"  function: {_where(fn)}{step_line}\nHint: {hint}"
    )


@dataclass(frozen=True)
class _Piped:
    """The value entering a step: its node name, its type (None: checked when linking) and
    a description for messages."""

    name: str
    annotation: Any
    label: str


def _step_name(applicable: Applicable, counts: Counter[str], default_namespace: str) -> str:
    fn = applicable.fn
    assert fn is not None
    fn_name = fn.__name__
    postfix = f"_{counts[fn_name]}" if counts[fn_name] else ""
    counts[fn_name] += 1
    if applicable.name is not None:
        base = applicable.name
    else:
        base = f"with{'' if fn_name.startswith('_') else '_'}{fn_name}{postfix}"
    namespace = default_namespace if applicable.namespace is ... else applicable.namespace
    return base if namespace is None else f"{namespace}.{base}"


def _step_node(
    applicable: Applicable,
    name: str,
    piped: _Piped,
    ctx: ExpansionContext,
    spec: ModifierSpec,
) -> Node:
    step_fn = applicable.fn
    assert step_fn is not None
    hints = typing.get_type_hints(step_fn)  # checked when decorating
    signature = inspect.signature(step_fn)
    bound = signature.bind(
        UpstreamDependency(piped.name), *applicable.args, **dict(applicable.kwargs)
    )
    first = next(iter(signature.parameters))
    if piped.annotation is not None and not types_match(piped.annotation, hints[first]):
        raise _problem(
            ctx.fn,
            spec,
            f"{applicable.describe()} takes `{first}: {describe_type(hints[first])}` first, but "
            f"the value piped into it, `{piped.name}` ({piped.label}), is "
            f"{describe_type(piped.annotation)}",
            f"annotate `{first}` of `{step_fn.__name__}` as {describe_type(piped.annotation)}, "
            "or reorder the steps so the types line up.",
            step_fn,
        )
    dependencies: dict[str, Dependency] = {}
    sources: list[tuple[str, str]] = []
    literals: list[tuple[str, Any]] = []
    for param in signature.parameters.values():
        annotation = hints[param.name]
        if param.name not in bound.arguments:
            has_default = param.default is not inspect.Parameter.empty
            default = param.default if has_default else None
            dependencies.setdefault(
                param.name, Dependency(param.name, annotation, has_default, default)
            )
            sources.append((param.name, param.name))
            continue
        argument = bound.arguments[param.name]
        if isinstance(argument, UpstreamDependency):
            dependencies.setdefault(argument.source, Dependency(argument.source, annotation))
            sources.append((param.name, argument.source))
        elif isinstance(argument, LiteralDependency):
            literals.append((param.name, argument.value))
        elif isinstance(argument, ConfigDependency):
            if argument.key not in ctx.config:
                raise _problem(
                    ctx.fn,
                    spec,
                    f"{applicable.describe()} fills `{param.name}` from config key "
                    f"`{argument.key}`, which is not in the config",
                    f"add `{argument.key}` to with_config({{...}}).",
                    step_fn,
                )
            literals.append((param.name, ctx.config[argument.key]))
        else:
            literals.append((param.name, argument))
    module = inspect.getmodule(step_fn)
    return Node(
        name=name,
        annotation=hints["return"],
        role=NodeRole.FUNCTION,
        dependencies=tuple(dependencies.values()),
        fn=Bound(step_fn, sources=tuple(sources), literals=tuple(literals)),
        origin=ctx.fn,
        tags={"module": module.__name__ if module is not None else step_fn.__module__},
        doc=inspect.getdoc(step_fn) or "",
        module=ctx.module,
    )


def _chain(
    steps: Sequence[Applicable],
    piped: _Piped,
    namespace: NamespaceType,
    default_namespace: str,
    ctx: ExpansionContext,
    spec: ModifierSpec,
) -> list[Node]:
    """One node per step that ``ctx.config`` selects, each reading the previous one.

    ``namespace`` other than ``...`` overrides every step's own namespace.
    """
    counts: Counter[str] = Counter()
    nodes: list[Node] = []
    for given in steps:
        applicable = given.namespaced(namespace) if namespace is not ... else given
        if not applicable.resolves(ctx.config):
            continue
        name = _step_name(applicable, counts, default_namespace)
        node = _step_node(applicable, name, piped, ctx, spec)
        nodes.append(node)
        piped = _Piped(node.name, node.annotation, f"returned by {applicable.describe()}")
    return nodes


# -- pipe_input ---------------------------------------------------------------------------------


@register("inject", PipeInputSpec)
def _inject_pipe_input(spec: PipeInputSpec, node: Node, ctx: ExpansionContext) -> list[Node]:
    fn = ctx.fn
    expanders = [s for s in modifiers_of(fn) if handler_for("expand", s) is not None]
    if expanders:
        raise _problem(
            fn,
            spec,
            f"it is combined with @{expanders[0].decorator_name}, which makes several nodes "
            "from the function; the pipe would have to feed all of them",
            "move the pipe into a function of its own upstream, and give that to "
            f"@{expanders[0].decorator_name}.",
        )
    params = list(inspect.signature(fn).parameters)
    target = spec.on_input if spec.on_input is not None else (params[0] if params else None)
    if target is None:
        raise _problem(fn, spec, "the function has no parameter to pipe into", "add a parameter.")
    by_name = {d.name: d for d in node.dependencies}
    if target not in by_name:
        which = "on_input" if spec.on_input is not None else "the first parameter"
        raise _problem(
            fn,
            spec,
            f"{which}, `{target}`, is not a dependency of the node: another decorator fills it",
            "pipe a parameter that names a node (set on_input=...), or drop the other "
            "decorator's mapping for it.",
        )
    chain = _chain(
        spec.steps,
        _Piped(target, None, "the upstream node"),
        spec.namespace,
        ctx.name or fn.__name__,
        ctx,
        spec,
    )
    if not chain:
        return [node]
    last = chain[-1]
    wanted = by_name[target].annotation
    if not types_match(last.annotation, wanted):
        step_fn = last.fn.fn if isinstance(last.fn, Bound) else None
        raise _problem(
            fn,
            spec,
            f"the last step, `{last.name}`, returns {describe_type(last.annotation)}, but "
            f"`{fn.__name__}` takes `{target}: {describe_type(wanted)}`",
            f"annotate `{target}` as {describe_type(last.annotation)}, or end the pipe with a "
            f"step returning {describe_type(wanted)}.",
            step_fn,
        )
    dependencies = tuple(
        Dependency(last.name, d.annotation) if d.name == target else d for d in node.dependencies
    )
    call = Bound(
        node.fn if node.fn is not None else fn,
        sources=tuple(
            (d.name, last.name if d.name == target else d.name) for d in node.dependencies
        ),
    )
    return [*chain, replace(node, dependencies=dependencies, fn=call)]


# -- pipe_output and mutate ---------------------------------------------------------------------


def _is_final(node: Node) -> bool:
    # Validator nodes of @check_output feed their output node in Hamilton, so they are never
    # final there; here the output node does not read them (see expand/validation.py).
    return not node.tags.get(NON_FINAL_TAG) and node.tags.get(IS_DATA_VALIDATOR_TAG) is not True


def _final_nodes(nodes: Sequence[Node]) -> set[str]:
    """Outputs of the function: nodes no other of its nodes reads, bar Hamilton's non-final ones."""
    names = {n.name for n in nodes}
    consumed = {d.name for n in nodes for d in n.dependencies if d.name in names}
    return {n.name for n in nodes if n.name not in consumed and _is_final(n)}


def _line(fn: Callable[..., Any]) -> int:
    code = getattr(inspect.unwrap(fn), "__code__", None)
    return code.co_firstlineno if code is not None else 0


def _mutate_steps(ctx: ExpansionContext) -> tuple[Applicable, ...]:
    """The ``@mutate`` steps aimed at ``ctx.fn``, in the order they were declared."""
    declared = [
        (_line(declaring), index, spec)
        for index, (spec, declaring) in enumerate(ctx.remote)
        if isinstance(spec, MutateSpec)
    ]
    declared.sort(key=lambda item: item[:2])
    target = inspect.unwrap(ctx.fn)
    return tuple(
        applicable
        for _, _, spec in declared
        for applicable in spec.steps
        if applicable.target_fn is not None and inspect.unwrap(applicable.target_fn) is target
    )


def _pipe_outputs(
    nodes: list[Node],
    steps: Sequence[Applicable],
    namespace: NamespaceType,
    on_output: str | tuple[str, ...] | None,
    ctx: ExpansionContext,
    spec: ModifierSpec,
) -> list[Node]:
    if not steps:
        return nodes
    names = [n.name for n in nodes]
    if on_output is None:
        selected = _final_nodes(nodes)
    else:
        wanted = [on_output] if isinstance(on_output, str) else list(on_output)
        unknown = [w for w in wanted if w not in names]
        if unknown:
            raise _problem(
                ctx.fn,
                spec,
                f"on_output names {', '.join(f'`{u}`' for u in unknown)}, which this function "
                "does not create",
                f"it creates {', '.join(f'`{n}`' for n in names)}.",
            )
        selected = set(wanted)
    out: list[Node] = []
    for node in nodes:
        chosen = [s for s in steps if s.applies_to(node.name)] if node.name in selected else []
        if not chosen:
            out.append(node)
            continue
        prefix = None if namespace is None else (node.name if namespace is ... else namespace)
        raw = replace(node, name=f"{node.name}.raw")
        piped = _Piped(raw.name, node.annotation, f"the output of `{ctx.fn.__name__}`")
        chain = _chain(chosen, piped, prefix, node.name, ctx, spec)
        if not chain:
            out.append(node)
            continue
        last = chain[-1]
        module_tag = {k: v for k, v in node.tags.items() if k == "module"}
        exit_node = Node(
            name=node.name,
            annotation=last.annotation,
            role=NodeRole.FUNCTION,
            dependencies=(Dependency(last.name, Any),),
            fn=PassThrough(last.name),
            origin=node.origin if node.origin is not None else ctx.fn,
            tags=module_tag,
            doc=node.doc,
            module=node.module,
        )
        out.extend([raw, *chain, exit_node])
    return out


@register("transform", PipeOutputSpec)
def _transform_pipe_output(
    spec: PipeOutputSpec, nodes: list[Node], ctx: ExpansionContext
) -> list[Node]:
    steps = (*spec.steps, *_mutate_steps(ctx))
    return _pipe_outputs(nodes, steps, spec.namespace, spec.on_output, ctx, spec)


@register("transform", MutateSpec)
def _transform_mutate(spec: MutateSpec, nodes: list[Node], ctx: ExpansionContext) -> list[Node]:
    # Mutators join the target's own @pipe_output chain when it has one (handled there), and
    # otherwise form one chain together: build it once, on the first mutator handed over.
    if any(isinstance(s, PipeOutputSpec) for s in modifiers_of(ctx.fn)):
        return nodes
    first = next((s for s, _ in ctx.remote if isinstance(s, MutateSpec)), None)
    if spec is not first:
        return nodes
    return _pipe_outputs(nodes, _mutate_steps(ctx), ..., None, ctx, spec)
