"""The command line, `hamilton-fast` or `python -m hamilton_fast`: a thin layer over the driver.

Commands::

    hamilton-fast run MODULE... --output a,b [--input k=v] [--config k=v] [--out result.parquet]
    hamilton-fast explain MODULE... --output a,b [--input k=v] [--config k=v]
    hamilton-fast viz MODULE... [--output a,b] [--out dag.dot|png|svg]
    hamilton-fast list MODULE... [--output a,b] [--input k=v] [--tag k=v]
    hamilton-fast demo [ARGS...]

``MODULE`` is a dotted module name importable from the current directory, or a path to a
``.py`` file. ``--input``/``--config`` values are JSON when they parse as JSON (numbers,
booleans, lists), else strings; a parameter annotated ``str`` always gets the text as typed.

Errors of the library are printed as their message (no traceback) with exit status 1; bad usage
exits with 2. Each command is one ``_add_<command>`` function declaring its arguments and one
``_<command>_command`` function running it; a new command adds one of each to ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import inspect
import json
import os
import re
import sys
import time
import traceback
import types
import typing
import warnings
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

import hamilton_fast
from hamilton_fast import viz
from hamilton_fast.driver import ENGINES, Builder, Driver
from hamilton_fast.errors import HamiltonFastError, InputError, NodeError
from hamilton_fast.graph import Graph, NodeRole, describe_type

__all__ = ["COMMANDS", "CommandLineError", "build_parser", "load_module", "main", "parse_value"]

FRAME_WRITERS: Mapping[str, str] = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".ipc": "ipc",
    ".arrow": "ipc",
    ".feather": "ipc",
}
PICTURE_SUFFIXES = (".dot", ".gv", ".png", ".svg", ".pdf", ".jpg", ".jpeg")


class CommandLineError(HamiltonFastError):
    """A command cannot start: a module cannot be found, or the demo is not installed."""


# -- argument values -------------------------------------------------------------------------


def parse_value(text: str) -> Any:
    """A command-line value: JSON when it parses as JSON, else the text itself.

    >>> parse_value("3"), parse_value("true"), parse_value("[1, 2]"), parse_value("data.parquet")
    (3, True, [1, 2], 'data.parquet')
    """
    try:
        return json.loads(text)
    except ValueError:
        return text


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return key.strip(), value


def _path_ending_in(text: str, suffixes: Collection[str]) -> Path:
    """The path, if its suffix (any case) names one of the formats the command can write."""
    path = Path(text)
    if path.suffix.lower() not in suffixes:
        raise argparse.ArgumentTypeError(
            f"cannot tell the format of {text!r}; use a path ending in {', '.join(suffixes)}"
        )
    return path


def _frame_path(text: str) -> Path:
    return _path_ending_in(text, FRAME_WRITERS)


def _picture_path(text: str) -> Path:
    return _path_ending_in(text, PICTURE_SUFFIXES)


def _names(groups: Sequence[str] | None) -> list[str]:
    """``--output a,b --output c`` -> ``["a", "b", "c"]``."""
    return [name.strip() for group in groups or () for name in group.split(",") if name.strip()]


def _accepts(annotation: Any, kind: type) -> bool:
    if annotation is kind:
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_accepts(arg, kind) for arg in typing.get_args(annotation))
    return False


def _coerce(raw: str, annotation: Any) -> Any:
    """The value of an ``--input``, read as the parameter's annotation asks where it helps.

    ``--input date=2024`` for a ``str`` parameter is the text ``"2024"``, ``--input rate=3``
    for a ``float`` parameter is ``3.0`` (the driver checks input types strictly), and a JSON
    list for a ``pl.Series`` parameter is a Series.
    """
    value = parse_value(raw)
    if isinstance(value, list) and (
        _accepts(annotation, pl.Series) or _accepts(annotation, pl.Expr)
    ):
        return pl.Series(value)  # --input spend=[1.0,2.5] for a column parameter
    if isinstance(value, str):
        return value
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if is_int and _accepts(annotation, float) and not _accepts(annotation, int):
        return float(value)
    if _accepts(annotation, str) and not _accepts(annotation, type(value)):
        return raw
    return value


# -- loading ---------------------------------------------------------------------------------


def _load_file(path: Path) -> types.ModuleType:
    """Import a ``.py`` file as a module named after it (its folder joins ``sys.path``)."""
    path = path.resolve()
    name = path.stem
    existing = sys.modules.get(name)
    if existing is not None:
        existing_file = getattr(existing, "__file__", None)
        if existing_file is not None and Path(existing_file).resolve() == path:
            return existing
        name = f"_hamilton_fast_cli_{len(sys.modules)}_{path.stem}"
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)  # so the file can import its neighbours
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise CommandLineError(
            f"`{path}` cannot be imported as a Python module.\n"
            "Hint: pass a `.py` file or a dotted module name."
        )
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def load_module(target: str) -> types.ModuleType:
    """``features`` or ``pkg.features`` (importable from the working directory) or a file path."""
    if target.endswith(".py") or "/" in target or os.sep in target:
        path = Path(target)
        if not path.is_file():
            raise CommandLineError(
                f"module file `{target}` does not exist.\n"
                f"  working directory: {Path.cwd()}\n"
                "Hint: check the path, or pass a dotted module name importable from here."
            )
        return _load_file(path)
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as exc:
        # Only the module asked for is the user's mistake; a missing import inside it is a bug
        # in that module, and its traceback is the useful answer.
        if exc.name is None or not (target == exc.name or target.startswith(exc.name + ".")):
            raise
        raise CommandLineError(
            f"cannot import module `{target}`: no module named `{exc.name}`.\n"
            f"  working directory: {Path.cwd()}\n"
            f"Hint: run from the folder that contains `{target.replace('.', '/')}.py`, or pass "
            "the path to the file (`path/to/features.py`)."
        ) from None


def _build(args: argparse.Namespace) -> Driver:
    modules = [load_module(target) for target in args.modules]
    config = {key: parse_value(value) for key, value in args.config or ()}
    builder = Builder().with_modules(*modules).with_config(config)
    engine = getattr(args, "engine", None)
    if engine is not None:
        builder = builder.with_engine(engine)
    cache = getattr(args, "cache", None)
    if cache is not None:
        builder = builder.with_cache(cache)
    return builder.build()


def _inputs(args: argparse.Namespace, graph: Graph) -> dict[str, Any]:
    inputs: dict[str, Any] = {}
    for key, raw in args.input or ():
        node = graph.nodes.get(key)
        inputs[key] = _coerce(raw, node.annotation) if node is not None else parse_value(raw)
    return inputs


def _plannable(graph: Graph, given: Mapping[str, Any]) -> list[str]:
    """Function nodes whose required inputs are all given (what ``list`` can plan)."""
    missing: set[str] = set()
    blocked: set[str] = set()
    found: list[str] = []
    for name in graph.order:
        node = graph.nodes[name]
        if node.role in (NodeRole.INPUT, NodeRole.CONFIG):
            if name not in given and name not in graph.config:
                missing.add(name)
            continue
        if any(
            d.name in blocked or (d.name in missing and not d.has_default)
            for d in node.dependencies
        ):
            blocked.add(name)
        else:
            found.append(name)
    return found


# -- commands --------------------------------------------------------------------------------


def _planned_kinds(dr: Driver, outputs: Sequence[str], inputs: Mapping[str, Any]) -> dict[str, str]:
    dr.explain(outputs, inputs=inputs)
    assert dr.last_compiled is not None
    return viz.planned_kinds(dr.last_compiled.reports)


def _add_key_value_option(
    parser: argparse.ArgumentParser, *flags: str, metavar: str, help: str
) -> None:
    """A repeatable ``NAME=VALUE`` option; its value is the list of ``(name, text)`` pairs."""
    parser.add_argument(*flags, action="append", type=_key_value, metavar=metavar, help=help)


def _add_dataflow_arguments(parser: argparse.ArgumentParser, *, output_required: bool) -> None:
    parser.add_argument(
        "modules",
        nargs="+",
        metavar="MODULE",
        help="dataflow module: a dotted name importable from here, or a path to a .py file",
    )
    parser.add_argument(
        "--output",
        "-o",
        action="append",
        required=output_required,
        metavar="NAMES",
        help="comma-separated node names to compute (repeatable)",
    )
    _add_key_value_option(
        parser,
        "--input",
        "-i",
        metavar="NAME=VALUE",
        help="an input value, JSON if it parses, else text (repeatable)",
    )
    _add_key_value_option(
        parser,
        "--config",
        "-c",
        metavar="KEY=VALUE",
        help="a config value, JSON if it parses, else text (repeatable)",
    )


def _add_engine(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default="in-memory",
        help="Polars engine for the query (default: in-memory)",
    )


def _seconds(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def _write_frame(frame: pl.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = FRAME_WRITERS[path.suffix.lower()]
    if writer == "parquet":
        frame.write_parquet(path)
    elif writer == "csv":
        frame.write_csv(path)
    else:
        frame.write_ipc(path)


def _add_run(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run",
        help="compute nodes and write or print them",
        description="Build the dataflow, compute --output as one query, and write the result "
        "to --out (parquet, csv or ipc by suffix) or print it. Timings go to stderr.",
    )
    _add_dataflow_arguments(parser, output_required=True)
    parser.add_argument(
        "--out", type=_frame_path, metavar="PATH", help="result file (.parquet, .csv, .ipc)"
    )
    parser.add_argument(
        "--cache",
        metavar="DIR",
        help="cache node results in DIR; a rerun recomputes only what changed",
    )
    _add_engine(parser)
    parser.set_defaults(handler=_run_command)


def _run_command(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    dr = _build(args)
    inputs = _inputs(args, dr.graph)
    built = time.perf_counter()
    result = dr.execute(_names(args.output), inputs=inputs)
    executed = time.perf_counter()
    if not isinstance(result, pl.DataFrame):  # the CLI builds with the default result
        raise TypeError(f"expected a polars DataFrame, got {type(result).__name__}")
    if args.out is not None:
        _write_frame(result, args.out)
        where = f" -> {args.out}"
    else:
        print(result)
        where = ""
    written = time.perf_counter()
    cached = ""
    if dr.cache is not None:
        dr.cache.wait()
        statuses = [s.status for s in dr.cache.last_run.values()]
        cached = f"; cache: {statuses.count('hit')} hit, {statuses.count('computed')} computed"
    print(
        f"hamilton-fast: build {_seconds(built - started)}, execute "
        f"{_seconds(executed - built)}, write {_seconds(written - executed)}; "
        f"{result.height:,} rows x {result.width} columns{where}{cached}",
        file=sys.stderr,
    )
    return 0


def _add_explain(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "explain",
        help="show the optimized plan and which nodes are opaque",
        description="Print the optimized Polars plan that `run` would execute for --output, "
        "then how each node is computed and why any node is opaque.",
    )
    _add_dataflow_arguments(parser, output_required=True)
    _add_engine(parser)
    parser.set_defaults(handler=_explain_command)


def _explain_command(args: argparse.Namespace) -> int:
    dr = _build(args)
    print(dr.explain(_names(args.output), inputs=_inputs(args, dr.graph)))
    return 0


def _add_viz(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "viz",
        help="draw the DAG (DOT, or PNG/SVG with graphviz)",
        description="Print the DAG as DOT, or write it with --out (.dot always; .png, .svg, "
        ".pdf need graphviz's `dot` program). With --output, the request is drawn on the "
        "DAG: planned with the --input values when given, else from the annotations.",
    )
    _add_dataflow_arguments(parser, output_required=False)
    parser.add_argument(
        "--out", type=_picture_path, metavar="PATH", help="picture file (.dot, .png, .svg, .pdf)"
    )
    parser.add_argument(
        "--orient", choices=viz.ORIENTATIONS, default="LR", help="layout direction (default LR)"
    )
    parser.add_argument("--hide-inputs", action="store_true", help="leave out inputs and config")
    parser.add_argument("--no-legend", action="store_true", help="leave out the legend")
    parser.add_argument(
        "--only-needed",
        action="store_true",
        help="with --output: draw only the nodes the request needs",
    )
    parser.set_defaults(handler=_viz_command)


def _viz_command(args: argparse.Namespace) -> int:
    dr = _build(args)
    outputs = _names(args.output)
    style: dict[str, Any] = {
        "show_legend": not args.no_legend,
        "orient": args.orient,
        "hide_inputs": args.hide_inputs,
    }
    if not outputs:
        picture = dr.display_all_functions(**style)
    else:
        inputs = _inputs(args, dr.graph)
        try:
            picture = dr.visualize_execution(
                outputs, inputs=inputs, show_unused=not args.only_needed, **style
            )
        except InputError:
            if inputs:
                raise
            print(
                "hamilton-fast: no --input given; kinds drawn from annotations "
                "(pass --input values to plan the request).",
                file=sys.stderr,
            )
            picture = dr.visualize_execution(
                outputs, bypass_validation=True, show_unused=not args.only_needed, **style
            )
    if args.out is None:
        sys.stdout.write(picture.dot)
    else:
        written = picture.render(args.out)
        print(f"hamilton-fast: wrote {written}", file=sys.stderr)
    return 0


def _add_list(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "list",
        help="list nodes with type, kind, tags and origin",
        description="One line per node: name, type, kind, tags, origin (file:line). Kinds "
        "come from annotations (column, frame, value, input, config); with --input or "
        "--output the request is planned, which tells scalars and opaque nodes apart.",
    )
    _add_dataflow_arguments(parser, output_required=False)
    _add_key_value_option(
        parser, "--tag", metavar="KEY=VALUE", help="only nodes with this tag value (repeatable)"
    )
    parser.set_defaults(handler=_list_command)


def _list_command(args: argparse.Namespace) -> int:
    dr = _build(args)
    graph = dr.graph
    kinds = viz.static_kinds(graph)
    inputs = _inputs(args, graph)
    outputs = _names(args.output)
    if outputs:
        kinds.update(_planned_kinds(dr, outputs, inputs))
    elif inputs:
        targets = _plannable(graph, inputs)
        while targets:
            try:
                kinds.update(_planned_kinds(dr, targets, inputs))
                break
            except NodeError as exc:
                # Listing should not stop at one broken function: say so, plan the rest.
                print(
                    f"hamilton-fast: `{exc.node}` failed while planning "
                    f"({str(exc).splitlines()[0]}); kinds downstream of it are from annotations.",
                    file=sys.stderr,
                )
                failed = graph.downstream([exc.node])
                targets = [t for t in targets if t not in failed]
    tag_filter: dict[str, str | list[str] | None] | None = dict(args.tag or ()) or None
    rows = [("NAME", "TYPE", "KIND", "TAGS", "ORIGIN")]
    for variable in dr.list_available_variables(tag_filter=tag_filter):
        node = graph.nodes[variable.name]
        tags = ",".join(f"{k}={v}" for k, v in sorted(variable.tags.items())) or "-"
        rows.append(
            (
                variable.name,
                describe_type(node.annotation),
                kinds[variable.name],
                tags,
                node.location or "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[4]]).rstrip())
    return 0


def demo_script() -> Path:
    """Where the forecasting example lives in a source checkout of hamilton_fast."""
    return Path(hamilton_fast.__file__).resolve().parents[1] / "examples/forecasting/run.py"


def _add_demo(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the forecasting example",
        description="Run examples/forecasting/run.py from the hamilton_fast source tree. "
        "Arguments after `demo` are passed on to it (use `demo -- --help` for its help).",
    )
    parser.set_defaults(handler=_demo_command)


def _demo_command(args: argparse.Namespace) -> int:
    script = demo_script()
    if not script.is_file():
        raise CommandLineError(
            f"the forecasting demo was not found: `{script}` does not exist.\n"
            "Hint: the demo ships with the source repository, not with the installed package; "
            "clone it, `pip install -e .` there and run `hamilton-fast demo` again."
        )
    module = _load_file(script)
    entry: Callable[..., Any] | None = getattr(module, "main", None)
    if not callable(entry):
        raise CommandLineError(
            f"`{script}` has no `main` function to run.\n"
            "Hint: run the script directly with `python examples/forecasting/run.py`."
        )
    forwarded = list(args.forwarded)
    takes_argv = bool(inspect.signature(entry).parameters)
    if forwarded and not takes_argv:
        raise CommandLineError(
            f"the demo takes no arguments, got {' '.join(forwarded)}.\n"
            "Hint: run `hamilton-fast demo` without arguments."
        )
    result = entry(forwarded) if takes_argv else entry()
    return result if isinstance(result, int) else 0


def _add_cache(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "cache",
        help="inspect and clean a node cache directory",
        description="List, measure and clean the node cache written by "
        "`Builder().with_cache(path)` or `run --cache DIR`.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, text in (
        ("ls", "list entries: node, kind, size, last used, key"),
        ("stats", "entries and bytes, in total and per node"),
        ("clear", "delete entries (all, or one node's with --node)"),
        ("prune", "delete entries not used for --days days"),
        ("verify", "re-hash every stored file; remove corrupt entries (exit 1 if any)"),
    ):
        action = actions.add_parser(name, help=text, description=text)
        action.add_argument(
            "--path",
            default=".hamilton_fast_cache",
            help="the cache directory (default: .hamilton_fast_cache)",
        )
        if name in ("ls", "clear", "verify"):
            action.add_argument("--node", help="only this node's entries")
        if name == "prune":
            action.add_argument(
                "--days", type=float, required=True, help="age in days (of last use)"
            )
    parser.set_defaults(handler=_cache_command)


def _cache_command(args: argparse.Namespace) -> int:
    from hamilton_fast.cache.store import CacheCorruptionWarning, CacheStore

    path = Path(args.path)
    if not (path / "index").exists():
        raise CommandLineError(
            f"`{path}` is not a hamilton_fast cache directory (it has no index).\n"
            "Hint: pass the directory given to with_cache(...) with --path."
        )
    store = CacheStore(path)
    try:
        if args.action == "ls":
            entries = sorted(store.entries(args.node), key=lambda e: (e.node, e.last_used))
            print(f"{'node':<32} {'kind':<7} {'size':>12}  {'last used':<19}  key")
            for e in entries:
                used = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.last_used))
                print(f"{e.node:<32} {e.kind:<7} {e.size_bytes:>12,}  {used:<19}  {e.key[:16]}")
        elif args.action == "stats":
            entries = store.entries()
            per_node: dict[str, list[int]] = {}
            for e in entries:
                per_node.setdefault(e.node, []).append(e.size_bytes)
            total = sum(e.size_bytes for e in entries)
            print(f"{len(entries)} entries, {total:,} bytes, {len(per_node)} nodes in {path}")
            for node, sizes in sorted(per_node.items(), key=lambda kv: -sum(kv[1])):
                print(f"  {node:<32} {len(sizes):>4} entries {sum(sizes):>14,} bytes")
        elif args.action == "clear":
            print(f"removed {store.clear(args.node)} entries")
        elif args.action == "verify":
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", CacheCorruptionWarning)
                checked, removed = store.verify_entries(args.node)
            for warning in caught:
                print(str(warning.message).splitlines()[0], file=sys.stderr)
            print(
                f"verified {checked} entries: {checked - removed} intact, {removed} corrupt "
                "(removed; they will be recomputed)"
            )
            return 1 if removed else 0
        else:
            print(f"removed {store.prune(args.days)} entries not used for {args.days:g} days")
    finally:
        store.close()
    return 0


COMMANDS: tuple[Callable[[Any], None], ...] = (
    _add_run,
    _add_explain,
    _add_viz,
    _add_list,
    _add_demo,
    _add_cache,
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser: one subparser per entry of ``COMMANDS``."""
    parser = argparse.ArgumentParser(
        prog="hamilton-fast",
        description="Run Hamilton-style dataflows as one optimized Polars query.",
    )
    parser.add_argument("--version", action="version", version=hamilton_fast.__version__)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_command in COMMANDS:
        add_command(subparsers)
    return parser


# -- entry point -----------------------------------------------------------------------------


def _report(exc: HamiltonFastError) -> None:
    """Print a library error as its message; a user function's own traceback comes first."""
    if isinstance(exc, NodeError) and exc.__cause__ is not None:
        traceback.print_exception(exc.__cause__, file=sys.stderr)
        print(file=sys.stderr)
    message = str(exc)
    if not re.match(r"\w+Error: ", message):
        message = f"{type(exc).__name__}: {message}"
    print(message, file=sys.stderr)


@contextlib.contextmanager
def _quiet_broken_pipe() -> Iterator[None]:
    """``hamilton-fast list ... | head`` closes stdout early; that is not an error."""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 user error, 2 bad usage)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args, unknown = parser.parse_known_args(arguments)
    if args.command == "demo":
        forwarded = arguments[arguments.index("demo") + 1 :]
        args.forwarded = forwarded[1:] if forwarded[:1] == ["--"] else forwarded
    elif unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        with _quiet_broken_pipe():
            status: int = args.handler(args)
    except HamiltonFastError as exc:
        _report(exc)
        return 1
    return status
