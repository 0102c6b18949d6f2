"""Expansion of ``load_from``, ``save_to``, ``dataloader`` and ``datasaver`` (Hamilton's names).

``@load_from.parquet(file=...)`` on parameter ``df`` of ``f`` adds ``f.load_data.df`` (returns
``(metadata, frame)``) and ``f.select_data.df`` (the frame); the frame is a Polars *scan*, so
the planner's projections and filters reach the file. ``@save_to.<format>`` adds a node
(``output_name_``, default ``save.<node>``) that writes the node's value and returns metadata.
"""

from __future__ import annotations

import os
import typing
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import polars as pl

from hamilton_fast.expand.core import Bound, Extract, _problem, _sinks
from hamilton_fast.expand.registry import ExpansionContext, register
from hamilton_fast.function_modifiers.adapters import (
    FORMATS,
    DataLoaderSpec,
    DataSaverSpec,
    LoadFromSpec,
    SaveToSpec,
)
from hamilton_fast.function_modifiers.dependencies import LiteralDependency, UpstreamDependency
from hamilton_fast.nodes import Dependency, Node, NodeRole, ValueShape, shape_of_type

__all__ = ["Loader", "Saver"]

_SCANNERS: dict[str, Callable[..., pl.LazyFrame]] = {
    "parquet": pl.scan_parquet,
    "csv": pl.scan_csv,
    "feather": pl.scan_ipc,
    "ipc": pl.scan_ipc,
    "ndjson": pl.scan_ndjson,
}


def _split(
    arguments: tuple[tuple[str, LiteralDependency | UpstreamDependency], ...],
) -> tuple[tuple[tuple[str, Any], ...], tuple[tuple[str, str], ...]]:
    literals = tuple((k, d.value) for k, d in arguments if isinstance(d, LiteralDependency))
    sources = tuple((k, d.source) for k, d in arguments if isinstance(d, UpstreamDependency))
    return literals, sources


def _resolve(
    literals: tuple[tuple[str, Any], ...],
    sources: tuple[tuple[str, str], ...],
    kwargs: dict[str, Any],
) -> tuple[Any, dict[str, Any]]:
    args = {**dict(literals), **{k: kwargs[node] for k, node in sources}}
    for key in ("file", "source", "path"):
        if key in args:
            return args.pop(key), args
    raise KeyError("file")


@dataclass(frozen=True)
class Loader:
    """Scan a file; returns ``(metadata, LazyFrame)``."""

    format: str
    literals: tuple[tuple[str, Any], ...]
    sources: tuple[tuple[str, str], ...]

    def __call__(self, **kwargs: Any) -> tuple[dict[str, Any], pl.LazyFrame]:
        path, args = _resolve(self.literals, self.sources, kwargs)
        frame = _SCANNERS[self.format](path, **args)
        return {"file_metadata": {"path": str(path), "format": self.format}}, frame


@dataclass(frozen=True)
class Saver:
    """Write the value of ``data`` to a file; returns metadata like Hamilton's savers."""

    format: str
    literals: tuple[tuple[str, Any], ...]
    sources: tuple[tuple[str, str], ...]
    data: str

    def __call__(self, **kwargs: Any) -> dict[str, Any]:
        path, args = _resolve(self.literals, self.sources, kwargs)
        value = kwargs[self.data]
        frame = value.to_frame() if isinstance(value, pl.Series) else value
        if isinstance(frame, pl.LazyFrame):
            method = {"feather": "ipc"}.get(self.format, self.format)
            sink: Callable[..., Any] = getattr(frame, f"sink_{method}")
            sink(path, **args)
            schema = frame.collect_schema()
            rows = None
        else:
            method = {"feather": "ipc"}.get(self.format, self.format)
            write: Callable[..., Any] = getattr(frame, f"write_{method}")
            write(path, **args)
            schema = frame.schema
            rows = frame.height
        size = os.path.getsize(path) if isinstance(path, (str, Path)) else None
        return {
            "file_metadata": {"path": str(path), "size": size, "format": self.format},
            "dataframe_metadata": {
                "rows": rows,
                "columns": list(schema.names()),
                "dtypes": [str(t) for t in schema.dtypes()],
            },
        }


def _dependencies(sources: tuple[tuple[str, str], ...]) -> tuple[Dependency, ...]:
    return tuple(Dependency(node, Any) for _, node in sources)


@register("inject", LoadFromSpec)
def _load_from(spec: LoadFromSpec, node: Node, ctx: ExpansionContext) -> list[Node]:
    fn = ctx.fn
    frames = [d.name for d in node.dependencies if shape_of_type(d.annotation) is ValueShape.FRAME]
    target = spec.inject
    if target is None:
        if len(frames) != 1:
            raise _problem(
                fn,
                spec,
                f"it cannot tell which parameter to load: {len(frames)} parameters are frames",
                'name it: @load_from.parquet(file=..., inject_="df").',
            )
        target = frames[0]
    param = next((d for d in node.dependencies if d.name == target), None)
    if param is None or shape_of_type(param.annotation) is not ValueShape.FRAME:
        raise _problem(
            fn,
            spec,
            f"`{target}` is not a pl.DataFrame or pl.LazyFrame parameter of the function",
            "annotate the parameter as `pl.DataFrame` (or `pl.LazyFrame`).",
        )
    literals, sources = _split(spec.arguments)
    tags = {
        "hamilton.data_loader": True,
        "hamilton.data_loader.source": spec.format,
        "hamilton.data_loader.classname": f"Polars{FORMATS[spec.format]}Reader",
        "hamilton.data_loader.node": target,
    }
    load_name = f"{node.name}.load_data.{target}"
    select_name = f"{node.name}.select_data.{target}"
    load = Node(
        name=load_name,
        annotation=tuple[dict[str, Any], param.annotation],  # type: ignore[name-defined]
        role=NodeRole.FUNCTION,
        dependencies=_dependencies(sources),
        fn=Loader(spec.format, literals, sources),
        origin=fn,
        tags={**tags, "hamilton.data_loader.has_metadata": True},
        module=node.module,
    )
    select = Node(
        name=select_name,
        annotation=param.annotation,
        role=NodeRole.FUNCTION,
        dependencies=(Dependency(load_name, load.annotation),),
        fn=Extract(load_name, 1),
        origin=fn,
        tags={**tags, "hamilton.data_loader.has_metadata": False},
        module=node.module,
    )
    assert node.fn is not None
    rest = [d.name for d in node.dependencies if d.name != target]
    bound = Bound(
        node.fn,
        sources=((target, select_name), *((n, n) for n in rest)),
    )
    deps = tuple(
        Dependency(select_name, d.annotation) if d.name == target else d for d in node.dependencies
    )
    return [load, select, replace(node, dependencies=deps, fn=bound)]


@register("transform", SaveToSpec)
def _save_to(spec: SaveToSpec, nodes: list[Node], ctx: ExpansionContext) -> list[Node]:
    names = {n.name: n for n in nodes}
    if spec.target is not None:
        if spec.target not in names:
            raise _problem(
                ctx.fn,
                spec,
                f"target_ `{spec.target}` is not a node of this function",
                f"it creates {', '.join(sorted(names))}.",
            )
        data = names[spec.target]
    else:
        sinks = _sinks(nodes)
        if len(sinks) != 1:
            raise _problem(
                ctx.fn,
                spec,
                "the function creates several final nodes; say which one to save",
                'add target_="<node>".',
            )
        data = names[next(iter(sinks))]
    literals, sources = _split(spec.arguments)
    saver = Node(
        name=spec.output_name or f"save.{data.name}",
        annotation=dict[str, Any],
        role=NodeRole.FUNCTION,
        dependencies=(Dependency(data.name, data.annotation), *_dependencies(sources)),
        fn=Saver(spec.format, literals, sources, data.name),
        origin=ctx.fn,
        tags={
            "hamilton.data_saver": True,
            "hamilton.data_saver.sink": spec.format,
            "hamilton.data_saver.classname": f"Polars{FORMATS[spec.format]}Writer",
        },
        module=data.module,
    )
    return [*nodes, saver]


@register("create", DataLoaderSpec)
def _dataloader(spec: DataLoaderSpec, ctx: ExpansionContext) -> list[Node]:
    from hamilton_fast.expand.core import _function_node

    node = _function_node(ctx.fn, ctx.name, ctx.module)
    args = typing.get_args(node.annotation)
    if typing.get_origin(node.annotation) is not tuple or len(args) != 2:
        raise _problem(
            ctx.fn,
            spec,
            f"a data loader returns (data, metadata), but it is annotated {node.annotation!r}",
            "annotate the return as `tuple[pl.DataFrame, dict]`.",
        )
    tags = {
        "hamilton.data_loader": True,
        "hamilton.data_loader.node": node.name,
        "hamilton.data_loader.classname": f"{ctx.fn.__name__}()",
    }
    loader = replace(
        node,
        name=f"{node.name}.loader",
        tags={
            **node.tags,
            **tags,
            "hamilton.data_loader.has_metadata": True,
            "hamilton.data_loader.source": "loader",
        },
    )
    data = Node(
        name=node.name,
        annotation=args[0],
        role=NodeRole.FUNCTION,
        dependencies=(Dependency(loader.name, node.annotation),),
        fn=Extract(loader.name, 0),
        origin=ctx.fn,
        tags={
            **tags,
            "hamilton.data_loader.has_metadata": False,
            "hamilton.data_loader.source": node.name,
        },
        module=node.module,
    )
    return [loader, data]


@register("decorate", DataSaverSpec)
def _datasaver(spec: DataSaverSpec, nodes: list[Node], ctx: ExpansionContext) -> list[Node]:
    main = nodes[-1]
    if typing.get_origin(main.annotation) not in (dict, None) or (
        typing.get_origin(main.annotation) is None and main.annotation is not dict
    ):
        raise _problem(
            ctx.fn,
            spec,
            f"a data saver returns a metadata dict, but it is annotated {main.annotation!r}",
            "annotate the return as `-> dict`.",
        )
    tags = {
        "hamilton.data_saver": True,
        "hamilton.data_saver.sink": main.name,
        "hamilton.data_saver.classname": f"{ctx.fn.__name__}()",
    }
    return [*nodes[:-1], replace(main, tags={**main.tags, **tags})]
