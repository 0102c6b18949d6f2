"""Pictures of a dataflow: a DOT string built by hand, rendered by the ``dot`` program.

No Python graphviz package is needed. :func:`to_dot` always works; turning DOT into PNG or SVG
calls the graphviz ``dot`` binary when it is on ``PATH`` and raises :class:`RenderError` with
the install command when it is not.

Nodes are styled by *kind*, the planner's vocabulary (``input``, ``config``, ``override``,
``column``, ``scalar``, ``value``, ``frame``, ``opaque``), requested outputs get a doubled bold
border, and a cache ``status`` per node (``hit``, ``computed``) changes the border, so a picture
after a cached run shows what was read and what was recomputed.

Example:
    >>> import polars as pl
    >>> from hamilton_fast import ad_hoc_utils, graph
    >>> def doubled(x: pl.Series) -> pl.Series:
    ...     return x * 2
    >>> g = graph.build_graph([ad_hoc_utils.create_temporary_module(doubled)])
    >>> dot = to_dot(g, highlight={"doubled"}, show_legend=False)
    >>> print("\\n".join(line for line in dot.splitlines() if "->" in line))
      "x" -> "doubled";
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hamilton_fast.errors import HamiltonFastError, InputError
from hamilton_fast.graph import Graph, NodeRole, describe_type

if TYPE_CHECKING:
    from hamilton_fast.driver import Driver
    from hamilton_fast.planner.ir import NodeReport

__all__ = [
    "KIND_STYLES",
    "STATUS_STYLES",
    "DagPicture",
    "NodeStyle",
    "RenderError",
    "driver_mimebundle",
    "execution_picture",
    "graph_picture",
    "planned_details",
    "planned_kinds",
    "planned_status",
    "static_kinds",
    "to_dot",
    "with_planning_hint",
]

ORIENTATIONS = ("LR", "TB", "RL", "BT")
TEXT_FORMATS = (".dot", ".gv")
# Drawing more nodes than this inline in a notebook takes longer than anyone wants to wait.
MAX_INLINE_NODES = 1_000


class RenderError(HamiltonFastError):
    """A picture cannot be drawn: the graphviz ``dot`` program is missing or failed."""


@dataclass(frozen=True)
class NodeStyle:
    """How a kind (or a status) looks: DOT shape, style flags, colours and its legend text."""

    legend: str
    shape: str | None = None
    style: tuple[str, ...] = ()
    fillcolor: str | None = None
    color: str | None = None
    penwidth: float | None = None


# One entry per kind the planner reports; an unknown kind is drawn with the `value` style.
KIND_STYLES: Mapping[str, NodeStyle] = {
    "input": NodeStyle("input", "rectangle", ("dashed",), "#ffffff"),
    "config": NodeStyle("config", "note", ("filled",), "#fff4c2"),
    "override": NodeStyle("override", "rectangle", ("filled", "diagonals"), "#ffe08a"),
    "frame": NodeStyle("frame", "cylinder", ("filled",), "#d9c6ec"),
    "column": NodeStyle("column", "rectangle", ("filled", "rounded"), "#b4d8e4"),
    "scalar": NodeStyle("scalar", "ellipse", ("filled",), "#d5e8b0"),
    "value": NodeStyle("value", "rectangle", ("filled", "rounded"), "#e8e8e8"),
    "opaque": NodeStyle("opaque (runs in Python)", "octagon", ("filled",), "#f7c59f"),
}

# Cache status after a run; these change the border only, so the kind stays readable.
STATUS_STYLES: Mapping[str, NodeStyle] = {
    "hit": NodeStyle("cache hit", style=("dashed",), color="#2e7d32", penwidth=2.0),
    "computed": NodeStyle("computed", style=("bold",), color="#c62828", penwidth=2.0),
}

OUTPUT_STYLE = NodeStyle("requested output", style=("bold",), penwidth=2.0)
FADED_COLORS = {"fillcolor": "#f4f4f4", "color": "#bbbbbb", "fontcolor": "#9a9a9a"}


# -- kinds -----------------------------------------------------------------------------------


def static_kinds(graph: Graph) -> dict[str, str]:
    """Each node's kind as its annotation and role tell it, before any planning.

    Inputs and config are ``input``/``config``; functions are ``column``, ``frame`` or
    ``value`` by return annotation. Whether a value is a traced ``scalar`` or a function is
    ``opaque`` only planning a request can tell (:func:`planned_kinds`).
    """
    kinds: dict[str, str] = {}
    for name, node in graph.nodes.items():
        if node.role in (NodeRole.INPUT, NodeRole.CONFIG):
            kinds[name] = node.role.value
        else:
            kinds[name] = node.shape.value
    return kinds


def planned_kinds(reports: Iterable[NodeReport]) -> dict[str, str]:
    """The kind the planner chose for each node of a request (``Compiled.reports``)."""
    return {report.name: report.kind for report in reports}


def planned_details(reports: Iterable[NodeReport]) -> dict[str, str]:
    """How each node ran (``traced``, ``opaque: <reason>`` ...), shown as a tooltip."""
    return {report.name: report.detail for report in reports}


def planned_status(reports: Iterable[NodeReport]) -> dict[str, str]:
    """Cache status per node, for reports that carry one.

    The node cache adds a ``status`` (``hit``/``computed``) to the planner's reports; until a
    report has it, there is nothing to show and the picture has no status styling.
    """
    status: dict[str, str] = {}
    for report in reports:
        value = getattr(report, "status", None)
        if isinstance(value, str) and value:
            status[report.name] = value
    return status


# -- DOT -------------------------------------------------------------------------------------


def _quote(text: str) -> str:
    """A DOT double-quoted string (identifiers and plain attribute values)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _html(text: str) -> str:
    """Text for a DOT HTML-like label: the five XML special characters escaped."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#39;")
    )


def _shorten(text: str, limit: int = 48) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _attrs(attrs: Mapping[str, str | float | None]) -> str:
    """``[key=value, ...]`` with plain values quoted and HTML labels (``<...>``) kept."""
    parts = []
    for key, value in attrs.items():
        if value is None:
            continue
        if isinstance(value, float):
            text = f"{value:g}"
        elif key == "label" and value.startswith("<") and value.endswith(">"):
            text = value
        else:
            text = _quote(value)
        parts.append(f"{key}={text}")
    return "[" + ", ".join(parts) + "]"


def _label(name: str, type_text: str, kind_text: str, extra: Sequence[str] = ()) -> str:
    lines = [f"<b>{_html(name)}</b>"]
    if type_text:
        lines.append(f'<font point-size="10">{_html(_shorten(type_text))}</font>')
    lines.append(f'<font point-size="9"><i>{_html(kind_text)}</i></font>')
    lines.extend(f'<font point-size="9">{_html(_shorten(e))}</font>' for e in extra)
    return "<" + "<br/>".join(lines) + ">"


def _node_attrs(
    style: NodeStyle,
    *,
    label: str,
    tooltip: str,
    output: bool = False,
    status: NodeStyle | None = None,
    faded: bool = False,
) -> dict[str, str | float | None]:
    flags = list(style.style)
    if output:
        flags.extend(OUTPUT_STYLE.style)
    if status is not None:
        flags.extend(status.style)
    if style.fillcolor is not None and "filled" not in flags:
        flags.insert(0, "filled")
    color = (status.color if status is not None else None) or style.color
    penwidth = max(
        (s.penwidth for s in (style, status, OUTPUT_STYLE if output else None) if s and s.penwidth),
        default=None,
    )
    attrs: dict[str, str | float | None] = {
        "label": label,
        "shape": style.shape,
        "style": ",".join(dict.fromkeys(flags)) or None,
        "fillcolor": style.fillcolor,
        "color": color,
        "penwidth": penwidth,
        "peripheries": "2" if output else None,
        "tooltip": tooltip,
    }
    if faded:
        attrs.update(FADED_COLORS)
    return attrs


def _tooltip(graph: Graph, name: str, detail: str) -> str:
    node = graph.nodes[name]
    if node.role is NodeRole.EXTRACTED:
        source = node.dependencies[0].name
        where = f"column of `{source}` (@extract_columns at {node.location})"
    else:
        where = node.describe()
    return f"{where}\n{detail}" if detail else where


def _graph_attr_lines(keyword: str, attrs: Mapping[str, Any]) -> str:
    return f"  {keyword} {_attrs({k: str(v) for k, v in sorted(attrs.items())})};"


def to_dot(
    graph: Graph,
    *,
    highlight: Collection[str] = frozenset(),
    kinds: Mapping[str, str] | None = None,
    status: Mapping[str, str] | None = None,
    hide_inputs: bool = False,
    orient: str = "LR",
    show_legend: bool = True,
    focus: Collection[str] | None = None,
    nodes: Collection[str] | None = None,
    details: Mapping[str, str] | None = None,
    graph_attr: Mapping[str, Any] | None = None,
    node_attr: Mapping[str, Any] | None = None,
    edge_attr: Mapping[str, Any] | None = None,
    name: str = "hamilton_fast",
) -> str:
    """The DOT source of ``graph``: one node per graph node, an edge per dependency.

    Args:
        highlight: requested outputs, drawn with a doubled bold border. Unless ``focus`` is
            given, they and their upstream (cut at overridden nodes) are drawn in full colour
            and the rest of the graph is faded.
        kinds: node -> kind (``planned_kinds`` of a request); missing nodes use
            :func:`static_kinds`.
        status: node -> cache status (``hit``, ``computed``; other values are shown as text).
        hide_inputs: leave out external inputs and config (and their edges).
        orient: ``LR``, ``TB``, ``RL`` or ``BT`` (graphviz ``rankdir``).
        show_legend: add a legend cluster for the kinds and marks present.
        focus: nodes drawn in full colour (others faded); overrides the default above.
        nodes: draw only these nodes (default: all).
        details: node -> how it ran (``opaque: <reason>``), shown as the node's tooltip.
        graph_attr, node_attr, edge_attr: graphviz attributes added to the defaults.
        name: the digraph's name.

    The output is deterministic: nodes and edges are sorted by name.
    """
    if orient not in ORIENTATIONS:
        raise HamiltonFastError(
            f"orient must be one of {', '.join(ORIENTATIONS)}, got {orient!r}.\n"
            'Hint: orient="LR" draws left to right, orient="TB" top to bottom.'
        )
    kinds_of = {**static_kinds(graph), **(kinds or {})}
    status = status or {}
    details = details or {}
    outputs = set(highlight)
    for output in sorted(outputs):
        graph[output]  # an unknown name raises UnknownNodeError with a suggestion
    drawn = set(graph.nodes) if nodes is None else {n for n in nodes if n in graph.nodes}
    if hide_inputs:
        drawn = {
            n
            for n in drawn
            if graph.nodes[n].role not in (NodeRole.INPUT, NodeRole.CONFIG) or n in outputs
        }
    if focus is not None:
        focused: set[str] | None = set(focus)
    elif outputs:
        overridden = [n for n, kind in kinds_of.items() if kind == "override"]
        focused = graph.upstream(outputs, stop_at=overridden)
    else:
        focused = None

    lines = [
        f"digraph {_quote(name)} {{",
        _graph_attr_lines(
            "graph",
            {"rankdir": orient, "fontname": "Helvetica", "ranksep": "0.4", **(graph_attr or {})},
        ),
        _graph_attr_lines(
            "node",
            {"fontname": "Helvetica", "fontsize": "11", "margin": "0.12,0.06", **(node_attr or {})},
        ),
        _graph_attr_lines("edge", {"color": "#555555", "arrowsize": "0.7", **(edge_attr or {})}),
    ]
    used_kinds: set[str] = set()
    used_status: set[str] = set()
    for node_name in sorted(drawn):
        node = graph.nodes[node_name]
        kind = kinds_of[node_name]
        style = KIND_STYLES.get(kind, KIND_STYLES["value"])
        node_status = status.get(node_name)
        status_style = STATUS_STYLES.get(node_status) if node_status else None
        faded = focused is not None and node_name not in focused
        if not faded:
            used_kinds.add(kind if kind in KIND_STYLES else "value")
            if node_status:
                used_status.add(node_status)
        extra: list[str] = []
        if node.role is NodeRole.CONFIG and node_name in graph.config:
            extra.append(f"= {graph.config[node_name]!r}")
        if node_status:
            extra.append(f"cache: {node_status}")
        tooltip = _tooltip(graph, node_name, details.get(node_name, ""))
        attrs = _node_attrs(
            style,
            label=_label(node_name, describe_type(node.annotation), kind, extra),
            tooltip=tooltip,
            output=node_name in outputs,
            status=status_style,
            faded=faded,
        )
        lines.append(f"  {_quote(node_name)} {_attrs(attrs)};")

    edges: list[tuple[str, str, bool]] = []
    for consumer in drawn:
        for dep in graph.nodes[consumer].dependencies:
            if dep.name in drawn:
                edges.append((dep.name, consumer, dep.has_default))
    for source, target, optional in sorted(edges):
        edge: dict[str, str | float | None] = {}
        if optional:
            edge["style"] = "dashed"
        if focused is not None and not (source in focused and target in focused):
            edge["color"] = FADED_COLORS["color"]
        suffix = f" {_attrs(edge)}" if edge else ""
        lines.append(f"  {_quote(source)} -> {_quote(target)}{suffix};")

    if show_legend and (used_kinds or outputs):
        lines.extend(_legend(used_kinds, used_status, bool(outputs)))
    lines.append("}")
    return "\n".join(lines) + "\n"


def _legend(kinds: set[str], statuses: set[str], has_outputs: bool) -> list[str]:
    """A cluster with one sample node per kind, mark and status used in the picture.

    Legend node ids contain a colon, which a Python identifier (a node name) never does.
    """
    entries: list[tuple[str, dict[str, str | float | None]]] = []
    for kind, style in KIND_STYLES.items():
        if kind in kinds:
            entries.append(
                (f"legend:{kind}", _node_attrs(style, label=style.legend, tooltip=style.legend))
            )
    if has_outputs:
        entries.append(
            (
                "legend:output",
                _node_attrs(
                    KIND_STYLES["value"],
                    label=OUTPUT_STYLE.legend,
                    tooltip=OUTPUT_STYLE.legend,
                    output=True,
                ),
            )
        )
    for status_name in sorted(statuses):
        status_style = STATUS_STYLES.get(status_name, NodeStyle(f"cache: {status_name}"))
        entries.append(
            (
                f"legend:status:{status_name}",
                _node_attrs(
                    KIND_STYLES["value"],
                    label=status_style.legend,
                    tooltip=status_style.legend,
                    status=status_style,
                ),
            )
        )
    lines = [
        "  subgraph cluster_legend {",
        '    label="Legend"; fontname="Helvetica"; fontsize="11"; color="#cccccc";',
        "    rank=same;",
    ]
    lines.extend(f"    {_quote(node_id)} {_attrs(attrs)};" for node_id, attrs in entries)
    lines.append("  }")
    return lines


# -- rendering -------------------------------------------------------------------------------


def _dot_binary(purpose: str) -> str:
    binary = shutil.which("dot")
    if binary is None:
        raise RenderError(
            f"{purpose} needs the graphviz `dot` program, which is not on PATH.\n"
            "Hint: install graphviz (`apt-get install graphviz`, `brew install graphviz` or "
            "`conda install graphviz`), or write the DOT source with a `.dot` path."
        )
    return binary


def _run_dot(source: str, fmt: str, engine: str, purpose: str) -> bytes:
    binary = _dot_binary(purpose)
    done = subprocess.run(
        [binary, f"-K{engine}", f"-T{fmt}"],
        input=source.encode(),
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip()
        raise RenderError(
            f"graphviz failed for {purpose} (exit {done.returncode}): {message}\n"
            "Hint: check the format (png, svg, pdf, ...) and layout engine; the DOT source "
            "can be written with a `.dot` path and inspected."
        )
    return done.stdout


@dataclass(frozen=True)
class DagPicture:
    """A picture of a dataflow: its DOT source, renderable when graphviz is installed.

    Displays inline in a notebook (SVG when the ``dot`` program exists, else the DOT text).

    >>> picture = DagPicture('digraph "g" {\\n  "a" -> "b";\\n}\\n')
    >>> picture.source == picture.dot
    True
    """

    dot: str
    engine: str = "dot"

    @property
    def source(self) -> str:
        """The DOT source (the name graphviz.Digraph uses)."""
        return self.dot

    def __str__(self) -> str:
        return self.dot

    def pipe(self, format: str = "svg") -> bytes:
        """The picture rendered to ``format`` in memory (needs the ``dot`` program)."""
        if format in ("dot", "gv"):
            return self.dot.encode()
        return _run_dot(self.dot, format, self.engine, f"rendering to {format}")

    def render(self, path: str | Path, format: str | None = None) -> Path:
        """Write the picture to ``path``; the format comes from ``format`` or the suffix.

        ``.dot``/``.gv`` write the DOT source (no graphviz needed); other formats (``png``,
        ``svg``, ``pdf`` ...) call the ``dot`` program. A path without a suffix gets ``.png``,
        and an explicit ``format`` replaces the suffix, as in Apache Hamilton.
        """
        target = Path(path)
        if format is not None:
            target = target.with_suffix(f".{format}")
        elif not target.suffix:
            target = target.with_suffix(".png")
        fmt = target.suffix.removeprefix(".").lower()
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.suffix.lower() in TEXT_FORMATS:
            target.write_text(self.dot, encoding="utf-8")
        else:
            target.write_bytes(_run_dot(self.dot, fmt, self.engine, f"writing `{target}`"))
        return target

    @functools.cached_property
    def _svg(self) -> str | None:
        if shutil.which("dot") is None:
            return None
        try:
            return self.pipe("svg").decode()
        except RenderError:
            return None

    def _repr_svg_(self) -> str | None:
        return self._svg

    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None, **kwargs: Any
    ) -> dict[str, str]:
        del kwargs  # part of IPython's protocol, not used
        bundle = {"text/plain": self.dot}
        svg = self._svg
        if svg is not None:
            bundle["image/svg+xml"] = svg
        if include:
            bundle = {k: v for k, v in bundle.items() if k in include}
        if exclude:
            bundle = {k: v for k, v in bundle.items() if k not in exclude}
        return bundle


# -- what the driver calls -------------------------------------------------------------------


_DIGRAPH_KWARGS = ("graph_attr", "node_attr", "edge_attr", "name", "engine", "format")
_RENDER_KWARGS = ("format", "engine", "view", "cleanup", "quiet")


def _check_kwargs(given: Mapping[str, Any] | None, allowed: Sequence[str], what: str) -> None:
    unknown = sorted(set(given or {}) - set(allowed))
    if unknown:
        raise HamiltonFastError(
            f"{what} {', '.join(repr(k) for k in unknown)} "
            f"{'is' if len(unknown) == 1 else 'are'} not supported.\n"
            f"Hint: use {', '.join(allowed)}."
        )


def _finish(
    dot: str,
    output_file_path: str | Path | None,
    render_kwargs: Mapping[str, Any] | None,
    graphviz_kwargs: Mapping[str, Any] | None,
    keep_dot: bool,
) -> DagPicture:
    render = dict(render_kwargs or {})
    digraph = dict(graphviz_kwargs or {})
    engine = str(render.get("engine") or digraph.get("engine") or "dot")
    picture = DagPicture(dot, engine=engine)
    if output_file_path is not None:
        fmt = render.get("format") or digraph.get("format")
        written = picture.render(output_file_path, format=fmt)
        if keep_dot and written.suffix.lower() not in TEXT_FORMATS:
            written.with_suffix(".dot").write_text(dot, encoding="utf-8")
    return picture


def _dot_options(
    graphviz_kwargs: Mapping[str, Any] | None, render_kwargs: Mapping[str, Any] | None
) -> dict[str, Any]:
    _check_kwargs(graphviz_kwargs, _DIGRAPH_KWARGS, "graphviz_kwargs")
    _check_kwargs(render_kwargs, _RENDER_KWARGS, "render_kwargs")
    options = dict(graphviz_kwargs or {})
    graph_attr = dict(options.get("graph_attr") or {})
    # Hamilton: an explicit rankdir in graph_attr wins over orient.
    orient = graph_attr.pop("rankdir", None)
    return {
        "graph_attr": graph_attr,
        "node_attr": options.get("node_attr"),
        "edge_attr": options.get("edge_attr"),
        "name": str(options.get("name") or "hamilton_fast"),
        "rankdir": orient,
    }


def graph_picture(
    driver: Driver,
    output_file_path: str | Path | None = None,
    render_kwargs: Mapping[str, Any] | None = None,
    graphviz_kwargs: Mapping[str, Any] | None = None,
    show_legend: bool = True,
    orient: str = "LR",
    hide_inputs: bool = False,
    keep_dot: bool = False,
) -> DagPicture:
    """The whole DAG of ``driver`` (``Driver.display_all_functions``), kinds from annotations."""
    options = _dot_options(graphviz_kwargs, render_kwargs)
    orient = options.pop("rankdir") or orient
    dot = to_dot(
        driver.graph,
        hide_inputs=hide_inputs,
        orient=orient,
        show_legend=show_legend,
        **options,
    )
    return _finish(dot, output_file_path, render_kwargs, graphviz_kwargs, keep_dot)


def execution_picture(
    driver: Driver,
    outputs: Sequence[str],
    reports: Sequence[NodeReport] | None,
    output_file_path: str | Path | None = None,
    render_kwargs: Mapping[str, Any] | None = None,
    graphviz_kwargs: Mapping[str, Any] | None = None,
    overrides: Collection[str] = (),
    show_legend: bool = True,
    orient: str = "LR",
    hide_inputs: bool = False,
    keep_dot: bool = False,
    show_unused: bool = True,
    status: Mapping[str, str] | None = None,
) -> DagPicture:
    """A request drawn on the DAG (``Driver.visualize_execution``).

    ``reports`` come from planning the request (kinds, opaque reasons, cache status); ``None``
    draws kinds from annotations. The requested outputs and what they need are in colour, the
    rest of the DAG faded (left out with ``show_unused=False``, as Apache Hamilton draws it).
    """
    options = _dot_options(graphviz_kwargs, render_kwargs)
    orient = options.pop("rankdir") or orient
    graph = driver.graph
    kinds = planned_kinds(reports or ())
    kinds.update(dict.fromkeys((o for o in overrides if o in graph.nodes), "override"))
    needed = graph.upstream(outputs, stop_at=overrides)
    dot = to_dot(
        graph,
        highlight=set(outputs),
        kinds=kinds,
        status={**planned_status(reports or ()), **(status or {})},
        details=planned_details(reports or ()),
        focus=needed,
        nodes=None if show_unused else needed,
        hide_inputs=hide_inputs,
        orient=orient,
        show_legend=show_legend,
        **options,
    )
    return _finish(dot, output_file_path, render_kwargs, graphviz_kwargs, keep_dot)


def driver_mimebundle(driver: Driver, include: Any = None, exclude: Any = None) -> dict[str, str]:
    """What a notebook shows for a driver: its DAG as SVG, or a text summary."""
    graph = driver.graph
    modules = ", ".join(m.__name__ for m in graph.modules) or "(none)"
    text = (
        f"hamilton_fast Driver: {len(graph.nodes)} nodes from {modules} "
        f"(engine {driver.engine}).\n"
        "Draw it with dr.display_all_functions('dag.svg')."
    )
    if len(graph.nodes) > MAX_INLINE_NODES:
        return {"text/plain": text}
    bundle = graph_picture(driver)._repr_mimebundle_(include=include, exclude=exclude)
    if "text/plain" in bundle:
        bundle["text/plain"] = text
    return bundle


def with_planning_hint(exc: InputError) -> InputError:
    """``exc`` with a hint that a picture can be drawn without planning the request."""
    return InputError(
        f"{exc}\n(visualize_execution plans the request to show how each node runs; pass "
        "bypass_validation=True to draw it from the annotations alone.)"
    )
