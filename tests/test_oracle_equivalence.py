"""hamilton_fast against the naive eager oracle (tests/oracle.py) on random dataflows.

Hypothesis draws a DAG of nodes (arithmetic, constants, clips, shifts, rolling windows, cumulative
ops, null filling, aggregates used downstream as scalars, NumPy / `len` / control-flow nodes that
cannot be traced, `.over(...)` windows including a window over a window), renders it as a Python
module, imports it from a temporary directory, and runs the same request through
``hamilton_fast`` and the oracle. Two flavours: ``pl.Series``-annotated modules (Hamilton's eager
Polars style) and ``pl.Expr``-annotated ones.

The oracle materializes every node before its consumers see it, so any planner rewrite that
changes a result (inlining a node under a window, evaluating a scalar per group, ...) shows up here.
On failure the falsifying example is printed as a runnable module plus its inputs.
"""

from __future__ import annotations

import importlib.util
import string
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from unittest import mock

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from tests import oracle

if TYPE_CHECKING:
    import types

PROJECT_ROOT = Path(__file__).resolve().parents[1]
REL_TOL = 1e-6
ABS_TOL = 1e-6

COMMON_SETTINGS = {
    "deadline": None,
    "derandomize": True,
    "database": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
    # The falsifying example is printed as a runnable module; skip the slow "explain" phase.
    "phases": [Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
}
DEFAULT_SETTINGS = settings(max_examples=100, **COMMON_SETTINGS)
SLOW_SETTINGS = settings(max_examples=2_000, **COMMON_SETTINGS)

FLAVOURS = ("series", "expr")


# --- Generating dataflows --------------------------------------------------------------------

# Placeholders: {a} {b} columns, {s} a float scalar, {i} an int, {g} a group column; {lag} {win}
# {c} constants drawn per node.
COLUMN_OPS = (
    "{a} + {b}",
    "{a} - {b}",
    "{a} * {b}",
    "{a} * {c} + 1.0",
    "{a} + {s}",
    "{a} * {s}",
    "{a}.abs()",
    "{a}.clip(-1.5, 2.0)",
    "{a}.shift({lag})",
    "{a}.rolling_mean({win})",
    "{a}.rolling_sum({win})",
    "{a}.rolling_mean({i})",
    "{a}.diff()",
    "{a}.cum_sum()",
    "{a}.cum_max()",
    "{a}.fill_null(0.0)",
    "{a}.fill_null(strategy='forward')",
    "{a} - {a}.mean()",
    "np.tanh({a})",  # a NumPy ufunc straight on the column: Polars keeps the nulls
    "{a}.sort()",
    "{a}.rank()",
    "({a} * 2.0).alias('renamed')",  # the node's name wins over the expression's
    "{a}.shift({i})",
    "{a} * ({i} - 3)",  # an int scalar in signed arithmetic (negative for small ints)
)
OPAQUE_SERIES_OPS = (
    "pl.Series(np.tanh({a}.to_numpy()))",
    "{a} * len({a})",
    "{a} if {a}.sum() > 0 else -{a}",
)
WINDOW_EXPR_OPS = (
    "{a}.shift({lag}).over({g})",
    "{a}.cum_sum().over({g})",
    "{a}.sum().over({g})",
    "({a} - {a}.mean()).over({g})",
    "({a} + {s}).over({g})",
    "{a}.rolling_mean({win}).over({g})",
    "{a}.fill_null(strategy='forward').over({g})",
    "{a}.rank().over({g})",
)
SCALAR_OPS = ("{a}.mean()", "{a}.sum()", "{a}.std()", "{a}.max()")
# Window sizes computed from the data: Python ints that must exist before a consumer can be built.
INT_SERIES_OPS = (
    "int({a}.null_count()) % 3 + 1",
    "{a}.null_count() % 3 + 1",
    "{a}.n_unique() % 4 + 1",
    "{a}.len() % 5 + 1",
)

FLOAT_INPUTS = ("x", "y")
GROUP_INPUTS = ("g", "h")


@dataclass(frozen=True)
class NodeSpec:
    name: str
    kind: str  # "column", "scalar" or "int"
    params: tuple[tuple[str, str], ...]  # (parameter, annotation)
    returns: str
    body: str

    def source(self) -> str:
        params = ", ".join(f"{name}: {annotation}" for name, annotation in self.params)
        return f"def {self.name}({params}) -> {self.returns}:\n    return {self.body}\n"


@dataclass
class Case:
    """One generated request: a module's source, its inputs, the outputs and overrides asked for."""

    flavour: str
    nodes: list[NodeSpec]
    inputs: dict[str, Any]
    final_vars: list[str]
    overrides: dict[str, Any] = field(default_factory=dict)

    def source(self) -> str:
        header = "import numpy as np\nimport polars as pl\n"
        return "\n\n".join([header, *(node.source() for node in self.nodes)])

    def reproduction(self) -> str:
        """The case as text to paste into a script."""

        def show(value: Any) -> str:
            if isinstance(value, pl.Series):
                return f"pl.Series({value.name!r}, {value.to_list()!r}, dtype=pl.{value.dtype})"
            return repr(value)

        def show_dict(values: dict[str, Any]) -> str:
            return "{" + ", ".join(f"{k!r}: {show(v)}" for k, v in values.items()) + "}"

        return (
            f"# --- module ---\n{self.source()}\n# --- request ---\n"
            f"final_vars = {self.final_vars!r}\n"
            f"inputs = {show_dict(self.inputs)}\n"
            f"overrides = {show_dict(self.overrides)}\n"
        )


def _float_series(rng: np.random.Generator, name: str, n_rows: int, null_rate: float) -> pl.Series:
    values = np.round(rng.uniform(-10, 10, n_rows), 2)
    nulls = rng.random(n_rows) < null_rate
    return pl.Series(
        name, [None if null else float(v) for v, null in zip(values, nulls)], dtype=pl.Float64
    )


def _newest_or_any(pool: list[tuple[str, str]]) -> st.SearchStrategy[tuple[str, str]]:
    """Half the time the newest entry, so that chains (and windows over windows) are common."""
    return st.one_of(st.just(pool[0]), st.sampled_from(pool))


@st.composite
def dataflows(draw: st.DrawFn, flavour: str, max_nodes: int = 12) -> Case:
    n_rows = draw(st.one_of(st.sampled_from([1, 2]), st.integers(1, 200)))
    null_rate = draw(st.sampled_from([0.0, 0.1, 0.3]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    series_name = draw(st.sampled_from(["", "raw", None]))  # None: named after the input

    column_type = "pl.Series" if flavour == "series" else "pl.Expr"
    # Pools hold (name, annotation a consumer declares); newest first, so draws favour chains.
    columns = [(name, column_type) for name in reversed(FLOAT_INPUTS)]
    scalars = [("k", "float")]
    ints = [("w", "int")]
    groups = [(name, "pl.Expr") for name in GROUP_INPUTS]

    ops = [("column", op) for op in COLUMN_OPS] + [("scalar", op) for op in SCALAR_OPS]
    if flavour == "series":
        ops += [("column", op) for op in OPAQUE_SERIES_OPS]
        ops += [("int", op) for op in INT_SERIES_OPS]
    else:
        ops += [("column", op) for op in WINDOW_EXPR_OPS] * 2

    nodes: list[NodeSpec] = []
    for index in range(draw(st.integers(1, max_nodes))):
        kind, template = draw(st.sampled_from(ops))
        placeholders = {name for _, name, _, _ in string.Formatter().parse(template) if name}
        chosen = {
            "a": draw(_newest_or_any(columns)),
            "b": draw(_newest_or_any(columns)),
            "s": draw(_newest_or_any(scalars)),
            "i": draw(_newest_or_any(ints)),
            "g": draw(st.sampled_from(groups)),
        }
        params = tuple(dict(chosen[p] for p in sorted(placeholders) if p in chosen).items())
        body = template.format(
            **{f: name for f, (name, _) in chosen.items()},
            lag=draw(st.integers(1, 3)),
            win=draw(st.integers(1, 4)),
            c=draw(st.sampled_from([-2.0, 0.5, 3.0])),
        )
        name = f"n{index}"
        returns = {"column": column_type, "scalar": column_type, "int": "int"}[kind]
        if flavour == "series" and kind == "scalar":
            returns = "float"
        nodes.append(NodeSpec(name, kind, params, returns, body))
        pool = {"column": columns, "scalar": scalars, "int": ints}[kind]
        pool.insert(0, (name, returns))

    used = {param for node in nodes for param, _ in node.params}
    inputs: dict[str, Any] = {}
    for name in FLOAT_INPUTS:
        inputs[name] = _float_series(
            rng, name if series_name is None else series_name, n_rows, null_rate
        )
    n_groups = draw(st.integers(1, 4))
    for name in GROUP_INPUTS:
        inputs[name] = pl.Series(name, rng.integers(0, n_groups, n_rows), dtype=pl.Int64)
    inputs["k"] = float(np.round(rng.uniform(-3, 3), 2))
    inputs["w"] = int(rng.integers(1, 5))
    inputs = {name: value for name, value in inputs.items() if name in used}

    requestable = [node.name for node in nodes] + [name for name in FLOAT_INPUTS if name in used]
    newest = st.just(nodes[-1].name)
    final_vars = draw(st.lists(newest | st.sampled_from(requestable), min_size=1, max_size=6))

    overrides: dict[str, Any] = {}
    if len(nodes) > 1 and draw(st.booleans()):
        node = draw(st.sampled_from(nodes[:-1]))
        overrides[node.name] = {
            "column": _float_series(rng, "override", n_rows, null_rate),
            "scalar": float(np.round(rng.uniform(-3, 3), 2)),
            "int": int(rng.integers(1, 5)),
        }[node.kind]
    return Case(flavour, nodes, inputs, final_vars, overrides)


# --- Running a case --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def module_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("oracle_dataflows")


@pytest.fixture(scope="module")
def fast_driver() -> types.ModuleType:
    return pytest.importorskip("hamilton_fast.driver")


def import_source(source: str, directory: Path) -> types.ModuleType:
    """Write `source` to a file and import it under a fresh, unique module name."""
    name = f"oracle_dataflow_{uuid.uuid4().hex}"
    path = directory / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def run_fast(
    fast_driver: Any,
    module: types.ModuleType,
    final_vars: list[str],
    inputs: dict[str, Any],
    overrides: dict[str, Any] | None = None,
) -> pl.DataFrame:
    dr = fast_driver.Builder().with_modules(module).build()
    if overrides:
        return dr.execute(final_vars, inputs=inputs, overrides=overrides)
    return dr.execute(final_vars, inputs=inputs)


def assert_same(got: pl.DataFrame, expected: pl.DataFrame) -> None:
    assert_frame_equal(got, expected, check_exact=False, rel_tol=REL_TOL, abs_tol=ABS_TOL)


def check_case(case: Case, directory: Path, fast_driver: Any) -> None:
    note(case.reproduction())
    module = import_source(case.source(), directory)
    try:
        expected = oracle.evaluate(module, case.final_vars, case.inputs, case.overrides)
        got = run_fast(fast_driver, module, case.final_vars, case.inputs, case.overrides)
        assert_same(got, expected)
    finally:
        del sys.modules[module.__name__]


@pytest.mark.parametrize("flavour", FLAVOURS)
@DEFAULT_SETTINGS
@given(data=st.data())
def test_random_dataflows_match_oracle(
    flavour: str, data: st.DataObject, module_dir: Path, fast_driver: Any
) -> None:
    check_case(data.draw(dataflows(flavour)), module_dir, fast_driver)


@pytest.mark.parametrize("flavour", FLAVOURS)
@DEFAULT_SETTINGS
@given(data=st.data())
def test_random_dataflows_match_oracle_with_streaming_tails(
    flavour: str, data: st.DataObject, module_dir: Path, fast_driver: Any
) -> None:
    # Every row space, however small, finishes its element-wise layers on the streaming
    # engine (see planner.ir.Tail): the same answers, on every shape of graph drawn.
    from hamilton_fast.planner import compile as compile_module

    with mock.patch.object(compile_module, "STREAMING_TAIL_MIN_ROWS", 0):
        check_case(data.draw(dataflows(flavour)), module_dir, fast_driver)


@pytest.mark.slow
@pytest.mark.parametrize("flavour", FLAVOURS)
@SLOW_SETTINGS
@given(data=st.data())
def test_random_dataflows_match_oracle_many(
    flavour: str, data: st.DataObject, module_dir: Path, fast_driver: Any
) -> None:
    check_case(data.draw(dataflows(flavour, max_nodes=30)), module_dir, fast_driver)


# --- Hand-written regressions ----------------------------------------------------------------

NESTED_WINDOWS = """
import polars as pl


def lag1(demand: pl.Expr, series_id: pl.Expr) -> pl.Expr:
    return demand.shift(1).over(series_id)


def weekly_lag_total(lag1: pl.Expr, week: pl.Expr) -> pl.Expr:
    return lag1.sum().over(week)
"""
NESTED_WINDOWS_INPUTS = {
    "demand": pl.Series([1.0, None, 3.0, -4.0, 5.0]),
    "series_id": pl.Series([1, 1, 2, 2, 1]),
    "week": pl.Series([0, 1, 0, 1, 0]),
}
# lag1 per series: series 1 -> [null, 1.0, null(None lagged)], series 2 -> [null, 3.0]; rows:
# [null, 1.0, null, 3.0, null]. Weekly totals: week 0 rows {0, 2, 4} -> 0.0; week 1 -> 4.0.
NESTED_WINDOWS_EXPECTED = pl.DataFrame(
    {
        "weekly_lag_total": [0.0, 4.0, 0.0, 4.0, 0.0],
        "lag1": [None, 1.0, None, 3.0, None],
    }
)


def test_nested_windows_are_not_inlined(module_dir: Path, fast_driver: Any) -> None:
    module = import_source(NESTED_WINDOWS, module_dir)
    got = run_fast(fast_driver, module, ["weekly_lag_total", "lag1"], NESTED_WINDOWS_INPUTS)
    assert_same(got, NESTED_WINDOWS_EXPECTED)


def _chain_source(length: int, annotation: str) -> str:
    lines = ["import polars as pl", ""]
    lines.append(f"def n1(x: {annotation}) -> {annotation}:\n    return x + 1\n")
    lines.extend(
        f"def n{i}(n{i - 1}: {annotation}) -> {annotation}:\n    return n{i - 1} + 1\n"
        for i in range(2, length + 1)
    )
    return "\n".join(lines)


# Runs in a child process: a crash (a stack overflow inside Polars is a SIGSEGV) must fail this
# test, not end the whole test session.
CHAIN_SCRIPT = """
import importlib.util, sys
import polars as pl
from hamilton_fast import driver

module_path, input_path, output_path, *final_vars = sys.argv[1:]
spec = importlib.util.spec_from_file_location("chain_dataflow", module_path)
module = importlib.util.module_from_spec(spec)
sys.modules["chain_dataflow"] = module
spec.loader.exec_module(module)
dr = driver.Builder().with_modules(module).build()
dr.execute(final_vars, inputs={"x": pl.read_ipc(input_path)["x"]}).write_ipc(output_path)
"""


@pytest.mark.parametrize("annotation", ["pl.Series", "pl.Expr"])
def test_long_chain_executes(annotation: str, tmp_path: Path, fast_driver: Any) -> None:
    length = 20_000
    module_path = tmp_path / "chain_dataflow.py"
    module_path.write_text(_chain_source(length, annotation))
    x = pl.Series("x", [0.0, 1.5, None, -2.0])
    pl.DataFrame({"x": x}).write_ipc(tmp_path / "x.arrow")
    final_vars = [f"n{length}", "n1"]
    command = [sys.executable, "-c", CHAIN_SCRIPT, str(module_path), str(tmp_path / "x.arrow")]
    command += [str(tmp_path / "out.arrow"), *final_vars]
    done = subprocess.run(
        command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, f"exit status {done.returncode}\n{done.stderr[-3000:]}"
    expected = pl.DataFrame({f"n{length}": x + length, "n1": x + 1})
    assert_same(pl.read_ipc(tmp_path / "out.arrow"), expected)


DUPLICATE_REQUEST = """
import polars as pl


def b(a: pl.Series) -> pl.Series:
    return a * 2


def total(b: pl.Series) -> float:
    return b.sum()
"""


def test_node_requested_twice(module_dir: Path, fast_driver: Any) -> None:
    module = import_source(DUPLICATE_REQUEST, module_dir)
    inputs = {"a": pl.Series([1.0, 2.0, None])}
    got = run_fast(fast_driver, module, ["b", "total", "b"], inputs)
    expected = pl.DataFrame({"b": [2.0, 4.0, None], "total": [6.0, 6.0, 6.0]})
    assert_same(got, expected)
    assert_same(oracle.evaluate(module, ["b", "total", "b"], inputs), expected)


# Found by the random tests: an int-annotated node whose body happens to trace was computed as
# Polars' UInt32 (`null_count`, `n_unique`, `len`, ...) where Hamilton has a Python int.
INT_FROM_DATA = """
import polars as pl


def n_missing(x: pl.Series) -> int:
    return x.null_count()


def offset(x: pl.Series, n_missing: int) -> pl.Series:
    return x * (n_missing - 3)
"""


def test_int_from_data_is_a_signed_python_int(module_dir: Path, fast_driver: Any) -> None:
    module = import_source(INT_FROM_DATA, module_dir)
    inputs = {"x": pl.Series([1.0, None, 2.0])}
    expected = pl.DataFrame({"offset": [-2.0, None, -4.0], "n_missing": [1, 1, 1]})
    assert_same(oracle.evaluate(module, ["offset", "n_missing"], inputs), expected)
    # UInt32 arithmetic wraps: 1 - 3 became 4294967294.
    assert_same(run_fast(fast_driver, module, ["offset", "n_missing"], inputs), expected)


def test_int_from_data_requested_alone_is_int64(module_dir: Path, fast_driver: Any) -> None:
    module = import_source(INT_FROM_DATA, module_dir)
    inputs = {"x": pl.Series([1.0, None, 2.0])}
    expected = pl.DataFrame({"n_missing": [1]}, schema={"n_missing": pl.Int64})
    assert_same(oracle.evaluate(module, ["n_missing"], inputs), expected)
    assert_same(run_fast(fast_driver, module, ["n_missing"], inputs), expected)


# Found by the random tests: a float node that returns None (std of one row, mean of all nulls).
# Hamilton broadcasts the Python None as a Null column; hamilton_fast gave Null when the node was
# opaque but Float64 when it traced, so the dtype depended on how the node happened to be planned.
NONE_SCALAR = """
import polars as pl


def spread(x: pl.Series) -> float:
    return x.std()


def spread_opaque(x: pl.Series) -> float:
    return x.std() if len(x) > 1 else None
"""


@pytest.mark.parametrize("final_vars", [["spread"], ["spread_opaque"], ["spread", "x"]])
def test_none_scalar_broadcasts_as_hamilton_does(
    final_vars: list[str], module_dir: Path, fast_driver: Any
) -> None:
    module = import_source(NONE_SCALAR, module_dir)
    inputs = {"x": pl.Series([1.0])}
    expected = pl.DataFrame(
        {name: [None] if name != "x" else [1.0] for name in final_vars},
        schema={name: pl.Null if name != "x" else pl.Float64 for name in final_vars},
    )
    assert_same(oracle.evaluate(module, final_vars, inputs), expected)
    assert_same(run_fast(fast_driver, module, final_vars, inputs), expected)


# --- The oracle itself, against hand-computed Polars -----------------------------------------

SERIES_MODULE = """
import numpy as np
import polars as pl


def centered(x: pl.Series) -> pl.Series:
    return x - x.mean()


def spread(x: pl.Series) -> float:
    return x.max() - x.min()


def scaled(centered: pl.Series, spread: float, k: float) -> pl.Series:
    return centered / spread * k


def window(x: pl.Series) -> int:
    return int(x.null_count()) + 2


def smooth(scaled: pl.Series, window: int) -> pl.Series:
    return scaled.rolling_mean(window)


def squashed(x: pl.Series) -> pl.Series:
    return pl.Series(np.tanh(x.to_numpy()))


def signed(x: pl.Series) -> pl.Series:
    return x if x.sum() > 0 else -x


def _helper(x: pl.Series) -> pl.Series:
    return x
"""


def test_oracle_series_module(module_dir: Path) -> None:
    module = import_source(SERIES_MODULE, module_dir)
    x = pl.Series("whatever", [1.0, None, 4.0, -1.0])
    inputs = {"x": x, "k": 2.0}
    got = oracle.evaluate(module, ["smooth", "spread", "window", "squashed", "signed", "x"], inputs)
    scaled = (x - 4.0 / 3) / 5.0 * 2.0
    expected = pl.DataFrame(
        {
            "smooth": scaled.rolling_mean(3),
            "spread": [5.0] * 4,
            "window": pl.Series([3] * 4, dtype=pl.Int64),  # Hamilton's builder: Int32
            "squashed": [np.tanh(1.0), np.nan, np.tanh(4.0), np.tanh(-1.0)],
            "signed": x,
            "x": x,
        }
    )
    assert_frame_equal(got, expected)
    assert set(oracle.node_functions(module)) == {
        "centered",
        "spread",
        "scaled",
        "window",
        "smooth",
        "squashed",
        "signed",
    }


def test_oracle_overrides_cut_upstream(module_dir: Path) -> None:
    module = import_source(SERIES_MODULE, module_dir)
    inputs = {"k": 1.0}  # no `x`: the overrides make it unnecessary
    centered = pl.Series([1.0, 2.0, 3.0])
    got = oracle.evaluate(module, ["scaled"], inputs, {"centered": centered, "spread": 2.0})
    assert_frame_equal(got, pl.DataFrame({"scaled": [0.5, 1.0, 1.5]}))


def test_oracle_scalar_only_request(module_dir: Path) -> None:
    module = import_source(SERIES_MODULE, module_dir)
    got = oracle.evaluate(module, ["spread"], {"x": pl.Series([1.0, 3.0])})
    assert_frame_equal(got, pl.DataFrame({"spread": [2.0]}))


EXPR_MODULE = """
import polars as pl


def mean_x(x: pl.Expr) -> pl.Expr:
    return x.mean()


def demeaned_by_group(x: pl.Expr, mean_x: pl.Expr, g: pl.Expr) -> pl.Expr:
    return (x - mean_x).over(g)


def scaled(x: pl.Expr, k: float) -> pl.Expr:
    return x.shift(1) * k
"""


def test_oracle_expr_module(module_dir: Path) -> None:
    module = import_source(EXPR_MODULE, module_dir)
    frame = pl.DataFrame({"x": [1.0, 2.0, None, 5.0], "g": [0, 1, 0, 1]})
    inputs = {"x": frame["x"], "g": frame["g"], "k": 10.0}
    got = oracle.evaluate(module, ["demeaned_by_group", "mean_x", "scaled"], inputs)
    # `mean_x` is a global scalar, materialized before the window sees it: not a per-group mean.
    expected = pl.DataFrame(
        {
            "demeaned_by_group": [-1.666666666666667, -0.666666666666667, None, 2.333333333333333],
            "mean_x": [8.0 / 3] * 4,
            "scaled": [None, 10.0, 20.0, None],
        }
    )
    assert_frame_equal(got, expected)


def test_oracle_expr_scalars_keep_their_dtype(module_dir: Path) -> None:
    module = import_source(EXPR_MODULE, module_dir)
    inputs = {"x": pl.Series([None, None], dtype=pl.Float64), "g": pl.Series([0, 1])}
    got = oracle.evaluate(module, ["mean_x"], inputs)
    assert_frame_equal(got, pl.DataFrame({"mean_x": [None]}, schema={"mean_x": pl.Float64}))
    got = oracle.evaluate(module, ["mean_x", "demeaned_by_group"], inputs)
    expected = pl.DataFrame(
        {"mean_x": [None, None], "demeaned_by_group": [None, None]},
        schema={"mean_x": pl.Float64, "demeaned_by_group": pl.Float64},
    )
    assert_frame_equal(got, expected)


def test_oracle_nested_windows(module_dir: Path) -> None:
    module = import_source(NESTED_WINDOWS, module_dir)
    got = oracle.evaluate(module, ["weekly_lag_total", "lag1"], NESTED_WINDOWS_INPUTS)
    assert_frame_equal(got, NESTED_WINDOWS_EXPECTED)
    inlined = pl.DataFrame(NESTED_WINDOWS_INPUTS).select(
        pl.col("demand").shift(1).over("series_id").sum().over("week")
    )
    assert inlined.to_series().to_list() != NESTED_WINDOWS_EXPECTED["weekly_lag_total"].to_list()


def test_oracle_long_chain(module_dir: Path) -> None:
    module = import_source(_chain_source(20_000, "pl.Series"), module_dir)
    got = oracle.evaluate(module, ["n20000"], {"x": pl.Series([0.0, None])})
    assert_frame_equal(got, pl.DataFrame({"n20000": [20_000.0, None]}))


@settings(max_examples=40, **COMMON_SETTINGS)
@given(case=dataflows("series"))
def test_oracle_agrees_with_apache_hamilton(case: Case, module_dir: Path) -> None:
    """On Series modules the oracle gives exactly what Apache Hamilton's Polars builder gives."""
    hamilton_driver = pytest.importorskip("hamilton.driver")
    h_polars = pytest.importorskip("hamilton.plugins.h_polars")
    note(case.reproduction())
    module = import_source(case.source(), module_dir)
    try:
        expected = oracle.evaluate(module, case.final_vars, case.inputs, case.overrides)
        dr = (
            hamilton_driver.Builder()
            .with_modules(module)
            .with_adapters(h_polars.PolarsDataFrameResult())
            .build()
        )
        got = dr.execute(case.final_vars, inputs=case.inputs, overrides=case.overrides)
    finally:
        del sys.modules[module.__name__]
    # The one normalisation: Hamilton's builder broadcasts a Python int as Int32 (see oracle.py).
    assert_frame_equal(got.with_columns(pl.col(pl.Int32).cast(pl.Int64)), expected)


@pytest.mark.parametrize("flavour", FLAVOURS)
@settings(max_examples=30, **COMMON_SETTINGS)
@given(data=st.data())
def test_generated_modules_run_in_the_oracle(
    flavour: str, data: st.DataObject, module_dir: Path
) -> None:
    """The generator only writes modules the oracle can evaluate, with one column per output."""
    case = data.draw(dataflows(flavour))
    note(case.reproduction())
    module = import_source(case.source(), module_dir)
    try:
        result = oracle.evaluate(module, case.final_vars, case.inputs, case.overrides)
    finally:
        del sys.modules[module.__name__]
    assert result.columns == list(dict.fromkeys(case.final_vars))
