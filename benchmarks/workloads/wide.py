"""A seeded generator of "wide" dataflows: many mixed column operations over a few inputs.

A `WideSpec` lists the nodes (name, op, dependencies, parameters). From it we derive, without
going through any dataflow library:

- a real module file of Hamilton-style functions (`write_wide_module`), in three flavors:
  `pl.Series` nodes, `pl.Expr` nodes, or the pandas equivalent written the vectorised way;
- seeded inputs `c0..c{n-1}` (`make_wide_inputs`): Float64 with a few nulls;
- the query an expert writes by hand (`handwritten_wide`): one lazy frame, one `with_columns`
  per dependency depth, one `select`, one `collect`; and the same query restricted to some
  nodes over a frame that already holds the others (`handwritten_wide_nodes`).

Two variants serve the other benchmarks: `make_trivial_chain_spec` (a chain of cheap
elementwise ops, for the per-node overhead) and `negate_node` (the "edit one function" of the
rerun benchmark: a node's result changes sign, its bound and everything else stay the same).

Values stay finite however long the chains get: every node carries a bound on its absolute
value, computed from its dependencies' bounds, and a node whose bound could pass `VALUE_LIMIT`
gets a `.clip(-VALUE_LIMIT, VALUE_LIMIT)` after its op (a running sum always does, since its
growth depends on the row count). There are no comparisons or branches on values, so a tiny
floating-point difference upstream stays tiny downstream and results compare with a tolerance.

>>> spec = make_wide_spec(n_nodes=5, seed=1, n_inputs=2)
>>> [node.name for node in spec.nodes]
['n0', 'n1', 'n2', 'n3', 'n4']
>>> wide_outputs(spec) == [node.name for node in spec.nodes]
True
"""

from __future__ import annotations

import dataclasses
import math
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from benchmarks.workloads.module_files import write_module

if TYPE_CHECKING:
    import pathlib
    import types
    from collections.abc import Collection

__all__ = [
    "OPS",
    "VALUE_LIMIT",
    "WideNode",
    "WideSpec",
    "descendants",
    "handwritten_wide",
    "handwritten_wide_nodes",
    "make_chain_spec",
    "make_trivial_chain_spec",
    "make_wide_inputs",
    "make_wide_spec",
    "naive_wide",
    "negate_node",
    "pick_edit_node",
    "wide_outputs",
    "write_wide_module",
]

VALUE_LIMIT = 1.0e4
"""Largest absolute value a node may reach; nodes that could exceed it are clipped."""

INPUT_LIMIT = 10.0
"""Inputs are standard normals scaled by 2 and clipped to this absolute value."""

INPUT_NULL_FRACTION = 0.01

BINARY_OPS = ("add", "sub", "mul")
UNARY_OPS = (
    "scale",
    "abs",
    "clip",
    "log1p_abs",
    "shift",
    "rolling_mean",
    "diff",
    "cum_sum",
    "fill_null",
)
DEMEAN_OP = "demean"
DEMEAN_PROBABILITY = 0.05
OPS = (*BINARY_OPS, *UNARY_OPS, DEMEAN_OP)

FLAVORS = ("series", "expr", "pandas")

_MODULE_HEADERS = {
    "series": "import polars as pl\n",
    "expr": "import polars as pl\n",
    "pandas": "import numpy as np\nimport pandas as pd\n",
}
_ANNOTATIONS = {"series": "pl.Series", "expr": "pl.Expr", "pandas": "pd.Series"}

# Source text of each op. `{a}`/`{b}` are dependency names, the rest are the node's parameters.
# The Polars text is valid for both `pl.Series` and `pl.Expr` (same method names).
_POLARS_TEMPLATES = {
    "add": "{a} + {b}",
    "sub": "{a} - {b}",
    "mul": "{a} * {b}",
    "scale": "{a} * {factor!r}",
    "abs": "{a}.abs()",
    "clip": "{a}.clip({lower!r}, {upper!r})",
    "log1p_abs": "{a}.abs().log1p()",
    "shift": "{a}.shift({periods})",
    "rolling_mean": "{a}.rolling_mean({window})",
    "diff": "{a}.diff()",
    "cum_sum": "{a}.cum_sum()",
    "fill_null": "{a}.fill_null(0.0)",
    "demean": "{a} - {a}.mean()",
}
_PANDAS_TEMPLATES = {
    **_POLARS_TEMPLATES,
    "log1p_abs": "np.log1p({a}.abs())",
    "rolling_mean": "{a}.rolling({window}).mean()",
    "cum_sum": "{a}.cumsum()",
    "fill_null": "{a}.fillna(0.0)",
}
_TEMPLATES = {"series": _POLARS_TEMPLATES, "expr": _POLARS_TEMPLATES, "pandas": _PANDAS_TEMPLATES}


@dataclass(frozen=True)
class WideNode:
    """One generated node: `name = op(*deps, **params)`, then clipped if `clip_limit` is set,
    then negated if `negated` (only edited specs have that, see `negate_node`)."""

    name: str
    op: str
    deps: tuple[str, ...]
    params: tuple[tuple[str, float | int], ...] = ()
    clip_limit: float | None = None
    negated: bool = False

    def param(self, key: str) -> float | int:
        """The value of parameter `key` (e.g. `window` of a rolling mean)."""
        for name, value in self.params:
            if name == key:
                return value
        msg = f"node `{self.name}` ({self.op}) has no parameter `{key}`; it has {self.params!r}"
        raise KeyError(msg)


@dataclass(frozen=True)
class WideSpec:
    """A generated wide dataflow: external inputs, then nodes in topological (creation) order."""

    nodes: tuple[WideNode, ...]
    input_names: tuple[str, ...]
    seed: int

    @property
    def n_inputs(self) -> int:
        return len(self.input_names)

    def depths(self) -> dict[str, int]:
        """Dependency depth of every node: inputs are 0, a node is one more than its deepest dep."""
        depth = dict.fromkeys(self.input_names, 0)
        for node in self.nodes:
            depth[node.name] = 1 + max(depth[dep] for dep in node.deps)
        return depth

    def layers(self) -> list[list[WideNode]]:
        """Nodes grouped by depth (layer `i` holds depth `i + 1`), creation order within a layer."""
        depth = self.depths()
        n_layers = max((depth[node.name] for node in self.nodes), default=0)
        layers: list[list[WideNode]] = [[] for _ in range(n_layers)]
        for node in self.nodes:
            layers[depth[node.name] - 1].append(node)
        return layers


def _bound_after(op: str, dep_bounds: list[float], params: dict[str, float | int]) -> float:
    """An upper bound on |result| of `op` given upper bounds on |dependency|."""
    first = dep_bounds[0]
    if op == "add" or op == "sub":
        return first + dep_bounds[1]
    if op == "mul":
        return first * dep_bounds[1]
    if op == "scale":
        return first * abs(params["factor"])
    if op == "clip":
        return min(first, max(abs(params["lower"]), abs(params["upper"])))
    if op == "log1p_abs":
        return math.log1p(first)
    if op in ("diff", "demean"):
        return 2 * first
    if op == "cum_sum":
        return math.inf  # grows with the row count, which the spec does not know
    return first  # abs, shift, rolling_mean, fill_null


def _draw_params(op: str, rng: random.Random) -> dict[str, float | int]:
    if op == "scale":
        factor = 0.0
        while abs(factor) < 0.05:
            factor = round(rng.uniform(-3.0, 3.0), 3)
        return {"factor": factor}
    if op == "clip":
        return {
            "lower": round(rng.uniform(-5.0, -0.5), 2),
            "upper": round(rng.uniform(0.5, 5.0), 2),
        }
    if op == "shift":
        return {"periods": rng.choice((-2, -1, 1, 2, 3))}
    if op == "rolling_mean":
        return {"window": rng.randint(2, 5)}
    return {}


def make_wide_spec(n_nodes: int, seed: int, n_inputs: int = 10) -> WideSpec:
    """Draw `n_nodes` nodes over inputs `c0..c{n_inputs-1}`, reproducibly from `seed`.

    Each node picks its op (5% `x - x.mean()`, the rest uniform over the other ops) and 1 or 2
    distinct dependencies uniformly among the inputs and the nodes drawn before it, which gives a
    wide graph whose depth grows like log(n_nodes).

    >>> make_wide_spec(3, seed=7) == make_wide_spec(3, seed=7)
    True
    >>> len(make_wide_spec(3, seed=7, n_inputs=2).input_names)
    2
    """
    return _draw_spec(n_nodes, seed, n_inputs, chain=False)


def make_chain_spec(n_nodes: int, seed: int, n_inputs: int = 10) -> WideSpec:
    """Like `make_wide_spec`, but each node's first dependency is the node drawn just before it,
    so the DAG is one chain `n_nodes` deep (binary ops take their second operand anywhere).

    >>> spec = make_chain_spec(4, seed=0)
    >>> [node.deps[0] for node in spec.nodes[1:]]
    ['n0', 'n1', 'n2']
    >>> len(spec.layers())
    4
    """
    return _draw_spec(n_nodes, seed, n_inputs, chain=True)


def make_trivial_chain_spec(n_nodes: int) -> WideSpec:
    """A chain of `n_nodes` cheap elementwise ops over inputs `c0`, `c1`: alternately
    `x * 0.5` and `x + c1`, so values stay within 2 * (INPUT_LIMIT + 1) without clipping.
    What it costs per node is the engine's overhead, not the arithmetic.

    >>> [node_source(node) for node in make_trivial_chain_spec(3).nodes]
    ['c0 * 0.5', 'n0 + c1', 'n1 * 0.5']
    """
    nodes = []
    previous = "c0"
    for index in range(n_nodes):
        name = f"n{index}"
        if index % 2 == 0:
            nodes.append(WideNode(name, "scale", (previous,), (("factor", 0.5),)))
        else:
            nodes.append(WideNode(name, "add", (previous, "c1")))
        previous = name
    return WideSpec(nodes=tuple(nodes), input_names=("c0", "c1"), seed=0)


def descendants(spec: WideSpec, name: str) -> set[str]:
    """`name` and every node that depends on it, directly or not.

    >>> sorted(descendants(make_chain_spec(4, seed=0), "n2"))
    ['n2', 'n3']
    """
    found = {name}
    for node in spec.nodes:  # creation order is a topological order
        if any(dep in found for dep in node.deps):
            found.add(node.name)
    return found


def pick_edit_node(spec: WideSpec, fraction: float = 0.1) -> str:
    """The node to edit in the rerun benchmark: among the nodes of the middle dependency
    depths (the middle third of the layers), the one whose descendants, itself included, come
    closest to `fraction` of all nodes.

    >>> spec = make_wide_spec(200, seed=20_240_601)
    >>> name = pick_edit_node(spec)
    >>> name, len(descendants(spec, name)), spec.depths()[name], len(spec.layers())
    ('n39', 17, 4, 8)
    """
    depths = spec.depths()
    n_layers = len(spec.layers())
    lower = max(1, round(n_layers / 3))
    upper = max(lower, round(2 * n_layers / 3))
    middle = [node for node in spec.nodes if lower <= depths[node.name] <= upper]
    target = fraction * len(spec.nodes)
    return min(
        middle, key=lambda node: (abs(len(descendants(spec, node.name)) - target), node.name)
    ).name


def negate_node(spec: WideSpec, name: str) -> WideSpec:
    """`spec` with node `name` returning minus its former value: the edit of the rerun
    benchmark. Bounds are unchanged, so values stay finite downstream.

    >>> spec = negate_node(make_chain_spec(2, seed=0), "n0")
    >>> node_source(spec.nodes[0]).startswith("-(")
    True
    """
    nodes = tuple(
        dataclasses.replace(node, negated=not node.negated) if node.name == name else node
        for node in spec.nodes
    )
    if nodes == spec.nodes:
        msg = (
            f"`{name}` is not a node of the spec.\n"
            f"Hint: pick one of {spec.nodes[0].name} .. {spec.nodes[-1].name}."
        )
        raise KeyError(msg)
    return dataclasses.replace(spec, nodes=nodes)


def _draw_spec(n_nodes: int, seed: int, n_inputs: int, *, chain: bool) -> WideSpec:
    if n_inputs < 2:
        msg = f"a wide spec needs at least 2 inputs for its binary ops, got n_inputs={n_inputs}"
        raise ValueError(msg)
    rng = random.Random(seed)
    input_names = tuple(f"c{i}" for i in range(n_inputs))
    bounds = dict.fromkeys(input_names, INPUT_LIMIT)
    available = list(input_names)
    nodes = []
    for index in range(n_nodes):
        if rng.random() < DEMEAN_PROBABILITY:
            op = DEMEAN_OP
        else:
            op = rng.choice((*BINARY_OPS, *UNARY_OPS))
        arity = 2 if op in BINARY_OPS else 1
        if chain and index > 0:
            previous = available[-1]
            others = rng.sample(available[:-1], arity - 1)
            deps = (previous, *others)
        else:
            deps = tuple(rng.sample(available, arity))
        params = _draw_params(op, rng)
        bound = _bound_after(op, [bounds[dep] for dep in deps], params)
        clip_limit = None
        if bound > VALUE_LIMIT:
            clip_limit = VALUE_LIMIT
            bound = VALUE_LIMIT
        name = f"n{index}"
        nodes.append(WideNode(name, op, deps, tuple(params.items()), clip_limit))
        bounds[name] = bound
        available.append(name)
    return WideSpec(nodes=tuple(nodes), input_names=input_names, seed=seed)


def wide_outputs(spec: WideSpec) -> list[str]:
    """Every generated node, in creation order: the wide frame a user asks for."""
    return [node.name for node in spec.nodes]


def node_source(node: WideNode, flavor: str = "series") -> str:
    """The expression a node's function returns, as source text.

    >>> node_source(WideNode("n1", "rolling_mean", ("c0",), (("window", 3),)))
    'c0.rolling_mean(3)'
    >>> node_source(WideNode("n2", "mul", ("c0", "n1"), (), 10000.0), flavor="pandas")
    '(c0 * n1).clip(-10000.0, 10000.0)'
    """
    names = dict(zip("ab", node.deps, strict=False))
    text = _TEMPLATES[flavor][node.op].format(**names, **dict(node.params))
    if node.clip_limit is not None:
        text = f"({text}).clip({-node.clip_limit!r}, {node.clip_limit!r})"
    if node.negated:
        text = f"-({text})"
    return text


def module_source(spec: WideSpec, flavor: str = "series") -> str:
    """Source of a module with one function per node of `spec`."""
    if flavor not in FLAVORS:
        msg = f"unknown flavor `{flavor}`.\nHint: use one of {', '.join(FLAVORS)}."
        raise ValueError(msg)
    annotation = _ANNOTATIONS[flavor]
    lines = [
        f'"""Generated wide dataflow: {len(spec.nodes)} nodes, seed {spec.seed}, '
        f'flavor {flavor}."""',
        "",
        _MODULE_HEADERS[flavor],
    ]
    for node in spec.nodes:
        parameters = ", ".join(f"{dep}: {annotation}" for dep in node.deps)
        lines.append("")
        lines.append(f"def {node.name}({parameters}) -> {annotation}:")
        lines.append(f"    return {node_source(node, flavor)}")
        lines.append("")
    return "\n".join(lines)


def write_wide_module(
    spec: WideSpec, directory: pathlib.Path, module_name: str, flavor: str = "series"
) -> types.ModuleType:
    """Write `directory/module_name.py` for `spec`, import it and register it in `sys.modules`.

    The module holds only the node functions and its imports, so Apache Hamilton and
    hamilton_fast both read exactly the nodes of `spec` from it.
    """
    return write_module(directory, module_name, module_source(spec, flavor))


def make_wide_inputs(spec: WideSpec, n_rows: int, seed: int) -> dict[str, pl.Series]:
    """Inputs `c0..`: Float64 normals (sd 2) clipped to +-INPUT_LIMIT, about 1% nulls, seeded."""
    import numpy as np

    rng = np.random.default_rng(seed)
    inputs = {}
    for name in spec.input_names:
        values = np.clip(rng.normal(0.0, 2.0, n_rows), -INPUT_LIMIT, INPUT_LIMIT)
        values[rng.random(n_rows) < INPUT_NULL_FRACTION] = np.nan
        inputs[name] = pl.Series(name, values, dtype=pl.Float64).fill_nan(None)
    return inputs


def node_expr(node: WideNode) -> pl.Expr:
    """A node as a Polars expression over columns named after its dependencies."""
    a = pl.col(node.deps[0])
    b = pl.col(node.deps[1]) if len(node.deps) > 1 else None
    params = dict(node.params)
    op = node.op
    if op == "add":
        expr = a + b
    elif op == "sub":
        expr = a - b
    elif op == "mul":
        expr = a * b
    elif op == "scale":
        expr = a * params["factor"]
    elif op == "abs":
        expr = a.abs()
    elif op == "clip":
        expr = a.clip(params["lower"], params["upper"])
    elif op == "log1p_abs":
        expr = a.abs().log1p()
    elif op == "shift":
        expr = a.shift(params["periods"])
    elif op == "rolling_mean":
        expr = a.rolling_mean(params["window"])
    elif op == "diff":
        expr = a.diff()
    elif op == "cum_sum":
        expr = a.cum_sum()
    elif op == "fill_null":
        expr = a.fill_null(0.0)
    elif op == "demean":
        expr = a - a.mean()
    else:
        msg = f"node `{node.name}` has unknown op `{op}`.\nHint: ops are {', '.join(OPS)}."
        raise ValueError(msg)
    if node.clip_limit is not None:
        expr = expr.clip(-node.clip_limit, node.clip_limit)
    if node.negated:
        expr = -expr
    return expr.alias(node.name)


def _with_layers(
    spec: WideSpec, query: pl.LazyFrame, nodes: Collection[str] | None = None
) -> pl.LazyFrame:
    """`query` with one `with_columns` per depth of `spec`, of the nodes named in `nodes` (all
    by default); depths without any of them are skipped."""
    for layer in spec.layers():
        exprs = [node_expr(node) for node in layer if nodes is None or node.name in nodes]
        if exprs:
            query = query.with_columns(exprs)
    return query


def handwritten_wide(
    spec: WideSpec, inputs: dict[str, pl.Series], outputs: list[str]
) -> pl.DataFrame:
    """The query an expert writes for `spec`: one `with_columns` per depth, one collect."""
    return _with_layers(spec, pl.LazyFrame(inputs)).select(outputs).collect(engine="in-memory")


def handwritten_wide_nodes(
    spec: WideSpec, frame: pl.DataFrame, nodes: Collection[str], outputs: list[str]
) -> pl.DataFrame:
    """The hand-written query for `nodes` alone, over `frame`, which holds every column they
    read: the layering of `handwritten_wide`, restricted to `nodes`, then the same `select`.

    >>> spec = make_chain_spec(3, seed=0, n_inputs=2)
    >>> inputs = make_wide_inputs(spec, 20, seed=0)
    >>> full = handwritten_wide(spec, inputs, wide_outputs(spec))
    >>> known = full.drop("n2").hstack(list(inputs.values()))
    >>> handwritten_wide_nodes(spec, known, {"n2"}, wide_outputs(spec)).equals(full)
    True
    """
    query = _with_layers(spec, frame.lazy(), nodes)
    return query.select(outputs).collect(engine="in-memory")


def naive_wide(spec: WideSpec, inputs: dict[str, pl.Series], outputs: list[str]) -> pl.DataFrame:
    """An independent oracle for `handwritten_wide`: eager, one node at a time, no layering."""
    frame = pl.DataFrame(inputs)
    for node in spec.nodes:
        frame = frame.with_columns(node_expr(node))
    return frame.select(outputs)
