"""DAG pictures: DOT checked structurally (parsed back), rendering only where `dot` exists."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys

import polars as pl
import pytest

from hamilton_fast import driver, viz
from hamilton_fast.errors import HamiltonFastError, InputError, UnknownNodeError
from hamilton_fast.graph import build_graph
from tests.helpers import load_module

HAS_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="graphviz `dot` program not installed")

MODULE = """
import typing

import numpy as np
import polars as pl
from hamilton_fast.function_modifiers import config, extract_columns

@extract_columns("spend", "signups")
def base_df(raw: pl.DataFrame) -> pl.DataFrame:
    return raw.select("spend", "signups")

def spend_mean(spend: pl.Series) -> float:
    return spend.mean()

def spend_zero_mean(spend: pl.Series, spend_mean: float) -> pl.Series:
    return spend - spend_mean

def log_spend(spend: pl.Series) -> pl.Series:
    return pl.Series(np.log1p(np.abs(spend.to_numpy())))

@config.when(scale="thousands")
def scaled__thousands(spend: pl.Series) -> pl.Series:
    return spend / 1000

def signups_plus(signups: pl.Series, bump: int = 1) -> pl.Series:
    return signups + bump

def odd_type(spend_mean: float) -> typing.Literal['a"b', "<&>"]:
    return "<&>"
"""

RAW = pl.DataFrame({"spend": [10.0, 20.0, 40.0], "signups": [1, 5, 9]})


@pytest.fixture
def module(tmp_path):
    return load_module(tmp_path, MODULE)


@pytest.fixture
def dr(module):
    return driver.Builder().with_modules(module).with_config({"scale": "thousands"}).build()


# -- a small DOT reader, independent of the writer -------------------------------------------

_ID = r'"((?:[^"\\]|\\.)*)"'
_NODE = re.compile(rf"^\s*{_ID}\s*(\[.*\])?;$")
_EDGE = re.compile(rf"^\s*{_ID}\s*->\s*{_ID}\s*(\[.*\])?;$")


def _unquote(text):
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), text)


def _parse_attrs(text):
    """`[k=v, ...]` with v a quoted string, an HTML label <...> (nested) or a bare word."""
    attrs = {}
    if not text:
        return attrs
    body, i = text[1:-1], 0
    while i < len(body):
        match = re.match(r"\s*,?\s*(\w+)=", body[i:])
        assert match, body[i:]
        key = match.group(1)
        i += match.end()
        if body[i] == '"':
            end = re.match(r'"((?:[^"\\]|\\.)*)"', body[i:])
            attrs[key] = _unquote(end.group(1))
            i += end.end()
        elif body[i] == "<":
            depth, j = 0, i
            while True:
                depth += {"<": 1, ">": -1}.get(body[j], 0)
                j += 1
                if depth == 0:
                    break
            attrs[key] = body[i:j]
            i = j
        else:
            end = re.match(r"[^,\s]+", body[i:])
            attrs[key] = end.group(0)
            i += end.end()
    return attrs


def parse_dot(dot):
    """-> (nodes: id -> attrs, edges: {(src, dst): attrs}, legend: id -> attrs)."""
    nodes, edges, legend = {}, {}, {}
    in_legend = False
    for line in dot.splitlines():
        if line.strip().startswith("subgraph cluster_legend"):
            in_legend = True
            continue
        if in_legend and line.strip() == "}":
            in_legend = False
            continue
        if edge := _EDGE.match(line):
            key = (_unquote(edge.group(1)), _unquote(edge.group(2)))
            assert key not in edges, f"duplicate edge {key}"
            edges[key] = _parse_attrs(edge.group(3))
        elif node := _NODE.match(line):
            name = _unquote(node.group(1))
            target = legend if in_legend else nodes
            assert name not in target, f"duplicate node {name}"
            target[name] = _parse_attrs(node.group(2))
    return nodes, edges, legend


def label_text(attrs):
    """The visible text of an HTML label: tags dropped, entities decoded."""
    label = attrs["label"]
    if label.startswith("<"):
        label = re.sub(r"<br/>", "\n", label[1:-1])
        label = html.unescape(re.sub(r"<[^>]+>", "", label))
    return label


def styles(attrs):
    return set(attrs.get("style", "").split(","))


# -- structure -------------------------------------------------------------------------------


def test_every_node_and_edge_is_drawn(dr):
    nodes, edges, legend = parse_dot(viz.to_dot(dr.graph))
    assert set(nodes) == set(dr.graph.nodes)
    expected = {(d.name, n.name) for n in dr.graph.nodes.values() for d in n.dependencies}
    assert set(edges) == expected
    assert edges[("bump", "signups_plus")]["style"] == "dashed"  # optional input
    assert "style" not in edges[("spend", "spend_mean")]
    assert legend  # shown by default
    for name, attrs in nodes.items():
        first_line, type_line, kind_line = label_text(attrs).split("\n")[:3]
        assert first_line == name
        assert kind_line == viz.static_kinds(dr.graph)[name]
    assert label_text(nodes["spend_mean"]).split("\n")[1] == "float"


def test_static_styles_by_kind(dr):
    nodes, _, legend = parse_dot(viz.to_dot(dr.graph))
    kinds = viz.static_kinds(dr.graph)
    assert kinds["raw"] == "input"
    assert kinds["scale"] == "config"
    assert kinds["base_df"] == "frame"
    assert kinds["spend"] == "column"  # extracted
    assert kinds["spend_mean"] == "value"  # a scalar only once planned
    for name, kind in kinds.items():
        style = viz.KIND_STYLES[kind]
        assert nodes[name]["shape"] == style.shape, name
        assert nodes[name].get("fillcolor") == style.fillcolor, name
        assert set(style.style) <= styles(nodes[name]), name
        assert "peripheries" not in nodes[name]
    assert "dashed" in styles(nodes["raw"])
    assert "= 'thousands'" in label_text(nodes["scale"])
    assert {f"legend:{k}" for k in ("input", "config", "frame", "column", "value")} == set(legend)
    looks = {(s.shape, s.style, s.fillcolor) for s in viz.KIND_STYLES.values()}
    assert len(looks) == len(viz.KIND_STYLES), "kinds must look different"


def test_execution_styles_planned_kinds_and_outputs(dr):
    picture = dr.visualize_execution(
        ["spend_zero_mean", "log_spend"], inputs={"raw": RAW}, show_legend=True
    )
    nodes, edges, legend = parse_dot(picture.dot)
    assert set(nodes) == set(dr.graph.nodes)  # unused nodes stay, faded
    opaque = viz.KIND_STYLES["opaque"]
    assert nodes["log_spend"]["shape"] == opaque.shape
    assert nodes["log_spend"]["fillcolor"] == opaque.fillcolor
    assert "opaque" in label_text(nodes["log_spend"])
    assert "to_numpy" in nodes["log_spend"]["tooltip"]  # the planner's reason
    assert nodes["spend_mean"]["shape"] == viz.KIND_STYLES["scalar"].shape
    assert label_text(nodes["spend_mean"]).endswith("scalar")
    for output in ("spend_zero_mean", "log_spend"):
        assert nodes[output]["peripheries"] == "2"
        assert "bold" in styles(nodes[output])
    for other in ("spend", "spend_mean", "raw", "base_df"):
        assert "peripheries" not in nodes[other]
        assert nodes[other]["fillcolor"] != viz.FADED_COLORS["fillcolor"]
    for unused in ("scaled", "signups_plus", "bump", "odd_type", "scale"):
        assert nodes[unused]["fillcolor"] == viz.FADED_COLORS["fillcolor"], unused
    assert edges[("signups", "signups_plus")]["color"] == viz.FADED_COLORS["color"]
    assert "color" not in edges[("spend", "log_spend")]
    assert {"legend:opaque", "legend:scalar", "legend:output"} <= set(legend)
    assert "legend:config" not in legend  # only kinds in the request


def test_execution_only_needed_and_overrides(dr):
    picture = dr.visualize_execution(
        ["spend_zero_mean"],
        inputs={"raw": RAW},
        overrides={"spend_mean": 1.0},
        show_unused=False,
        show_legend=False,
    )
    nodes, edges, legend = parse_dot(picture.dot)
    assert set(nodes) == {"raw", "base_df", "spend", "spend_mean", "spend_zero_mean"}
    assert nodes["spend_mean"]["shape"] == viz.KIND_STYLES["override"].shape
    assert "diagonals" in styles(nodes["spend_mean"])
    assert ("spend", "spend_mean") in edges  # drawn: `spend` is needed by another node
    assert not legend


def test_execution_without_inputs_explains_bypass(dr):
    with pytest.raises(InputError, match="bypass_validation=True") as info:
        dr.visualize_execution(["spend_zero_mean"])
    assert "`raw` is needed" in str(info.value)
    nodes, _, _ = parse_dot(dr.visualize_execution(["spend_zero_mean"], bypass_validation=True).dot)
    assert nodes["spend_zero_mean"]["peripheries"] == "2"
    assert label_text(nodes["spend_mean"]).endswith("value")  # not planned


def test_cache_status_is_styled_and_in_the_legend(dr):
    dot = viz.to_dot(dr.graph, status={"spend_mean": "hit", "spend_zero_mean": "computed"})
    nodes, _, legend = parse_dot(dot)
    hit, computed = viz.STATUS_STYLES["hit"], viz.STATUS_STYLES["computed"]
    assert "dashed" in styles(nodes["spend_mean"])
    assert nodes["spend_mean"]["color"] == hit.color
    assert "bold" in styles(nodes["spend_zero_mean"])
    assert nodes["spend_zero_mean"]["color"] == computed.color
    assert hit.color != computed.color
    assert "cache: hit" in label_text(nodes["spend_mean"])
    assert "color" not in nodes["log_spend"]
    assert {"legend:status:hit", "legend:status:computed"} <= set(legend)


def test_hide_inputs_drops_inputs_config_and_their_edges(dr):
    nodes, edges, _ = parse_dot(viz.to_dot(dr.graph, hide_inputs=True))
    assert not {"raw", "bump", "scale"} & set(nodes)
    assert {"base_df", "spend", "signups_plus"} <= set(nodes)
    assert all(src in nodes and dst in nodes for src, dst in edges)
    assert ("base_df", "spend") in edges
    picture = dr.display_all_functions(hide_inputs=True, show_legend=False)
    assert picture.dot == viz.to_dot(dr.graph, hide_inputs=True, show_legend=False)


def test_orient_and_graphviz_kwargs(dr):
    assert "rankdir=" + '"TB"' in dr.display_all_functions(orient="TB").dot
    dot = dr.display_all_functions(
        orient="TB", graphviz_kwargs={"graph_attr": {"rankdir": "RL", "ratio": "1"}}
    ).dot
    assert 'rankdir="RL"' in dot  # graph_attr wins, as in Hamilton
    assert 'ratio="1"' in dot
    with pytest.raises(HamiltonFastError, match="orient must be one of"):
        dr.display_all_functions(orient="sideways")
    with pytest.raises(HamiltonFastError, match="'colour' is not supported"):
        dr.display_all_functions(graphviz_kwargs={"colour": "red"})


def test_unknown_output_is_named(dr):
    with pytest.raises(UnknownNodeError, match="spend_mean"):
        viz.to_dot(dr.graph, highlight={"spend_maen"})


def test_labels_and_ids_are_escaped(tmp_path):
    module = load_module(tmp_path, MODULE)
    graph = build_graph([module], {"scale": 'k"\\<b>'})
    detail = 'say "hi" \\ to <you> & me\non two lines'
    nodes, _, _ = parse_dot(viz.to_dot(graph, details={"odd_type": detail}))
    assert label_text(nodes["odd_type"]).split("\n")[1] == "Literal['a\"b', '<&>']"
    assert nodes["odd_type"]["tooltip"].endswith(detail)
    assert label_text(nodes["scale"]).split("\n")[-1] == "= " + repr('k"\\<b>')
    dot = viz.to_dot(graph, details={"odd_type": detail})
    raw_label = re.search(r'"odd_type" \[label=(<.*?>), shape', dot).group(1)
    assert "<&>" not in raw_label
    assert "&lt;&amp;&gt;" in raw_label
    if HAS_DOT:  # graphviz itself accepts the escaped source
        done = subprocess.run(
            ["dot", "-Tsvg"], input=dot.encode(), capture_output=True, check=False
        )
        assert done.returncode == 0, done.stderr.decode()
        assert b"Warning" not in done.stderr


def test_output_is_deterministic_across_processes(tmp_path):
    (tmp_path / "flow.py").write_text(MODULE)
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); import flow\n"
        "from hamilton_fast import viz, graph\n"
        "g = graph.build_graph([flow], {'scale': 'thousands'})\n"
        "print(viz.to_dot(g, highlight={'log_spend', 'spend_zero_mean'}), end='')\n"
    )
    outputs = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", script, str(tmp_path)],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            check=True,
        )
        outputs.add(done.stdout)
    assert len(outputs) == 1
    (dot,) = outputs
    nodes, edges, _ = parse_dot(dot)
    assert list(nodes) == sorted(nodes)
    assert list(edges) == sorted(edges)


# -- files and rendering ---------------------------------------------------------------------


def test_dot_file_needs_no_graphviz(dr, tmp_path, monkeypatch):
    monkeypatch.setattr(viz.shutil, "which", lambda name: None)
    picture = dr.display_all_functions(tmp_path / "out" / "dag.dot")
    assert (tmp_path / "out" / "dag.dot").read_text() == picture.dot
    assert str(picture) == picture.source == picture.dot
    with pytest.raises(viz.RenderError, match="apt-get install graphviz") as info:
        dr.display_all_functions(tmp_path / "dag.png")
    assert ".dot" in str(info.value)
    with pytest.raises(viz.RenderError, match="not on PATH"):
        picture.render(tmp_path / "dag.svg")
    assert picture._repr_svg_() is None
    assert set(picture._repr_mimebundle_()) == {"text/plain"}
    bundle = dr._repr_mimebundle_()
    assert set(bundle) == {"text/plain"}
    assert "nodes" in bundle["text/plain"]


@needs_dot
def test_render_png_and_svg(dr, tmp_path):
    picture = dr.visualize_execution(
        ["spend_zero_mean"], tmp_path / "exec.png", inputs={"raw": RAW}, keep_dot=True
    )
    assert (tmp_path / "exec.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "exec.dot").read_text() == picture.dot
    assert picture.render(tmp_path / "noext") == tmp_path / "noext.png"  # Hamilton's default
    written = picture.render(tmp_path / "dag.png", format="svg")
    assert written == tmp_path / "dag.svg"
    assert "<svg" in written.read_text()
    assert "<svg" in picture._repr_svg_()
    assert "<svg" in dr._repr_mimebundle_()["image/svg+xml"]
    assert set(dr._repr_mimebundle_(include={"text/plain"})) == {"text/plain"}
    with pytest.raises(viz.RenderError, match="graphviz failed"):
        picture.render(tmp_path / "dag.nosuchformat")


def test_cached_run_shows_hits_and_recomputed_nodes(tmp_path):
    import polars as pl

    from hamilton_fast import driver
    from tests.helpers import load_module

    module = load_module(
        tmp_path,
        """
        import polars as pl

        def doubled(x: pl.Series) -> pl.Series:
            return x * 2

        def shifted(doubled: pl.Series) -> pl.Series:
            return doubled + 1
        """,
    )
    inputs = {"x": pl.Series([1.0, 2.0])}
    first = driver.Builder().with_modules(module).with_cache(tmp_path / "c").build()
    first.execute(["doubled"], inputs=inputs)
    first.cache.wait()
    second = driver.Builder().with_modules(module).with_cache(tmp_path / "c").build()
    second.execute(["doubled", "shifted"], inputs=inputs)
    dot = second.visualize_execution(["doubled", "shifted"], inputs=inputs).dot
    lines = {
        line.split(" [")[0].strip().strip('"'): line for line in dot.splitlines() if " [" in line
    }
    assert "cache: hit" in lines["doubled"]
    assert "dashed" in lines["doubled"]
    assert "cache: computed" in lines["shifted"]
