"""Plan shape: one query, no Python UDFs for traceable nodes, scans read once, traces reused."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from hamilton_fast import driver
from hamilton_fast.planner import compile as compile_module
from tests.helpers import load_module

LOADER = """
import polars as pl
from hamilton_fast.function_modifiers import extract_columns

@extract_columns("spend", "signups", "region")
def base_df(path: str) -> pl.LazyFrame:
    return pl.scan_parquet(path)

def spend_per_signup(spend: pl.Series, signups: pl.Series) -> pl.Series:
    return spend / signups

def spend_mean(spend: pl.Series) -> float:
    return spend.mean()

def spend_zero_mean(spend: pl.Series, spend_mean: float) -> pl.Series:
    return spend - spend_mean

def rolling(spend_zero_mean: pl.Expr) -> pl.Expr:
    return spend_zero_mean.rolling_mean(2)

def clipped(rolling: pl.Expr, spend_per_signup: pl.Expr) -> pl.Expr:
    return (rolling + spend_per_signup).clip(-100, 100).abs()
"""


@pytest.fixture
def parquet(tmp_path):
    path = tmp_path / "data.parquet"
    pl.DataFrame(
        {
            "spend": [10.0, 10, 20, 40, 40, 50],
            "signups": [1, 10, 50, 100, 200, 400],
            "region": ["a", "b"] * 3,
            "unused_wide": [0.0] * 6,
            "unused_text": ["x"] * 6,
        }
    ).write_parquet(path)
    return str(path)


def naive(df: pl.DataFrame) -> pl.DataFrame:
    """The same computation written by hand, eagerly."""
    spend, signups = df["spend"], df["signups"]
    per = spend / signups
    zero_mean = spend - spend.mean()
    rolling = zero_mean.rolling_mean(2)
    return pl.DataFrame({"spend_per_signup": per, "clipped": (rolling + per).clip(-100, 100).abs()})


def test_traceable_dag_is_one_query_without_udfs_scanning_once(tmp_path, parquet):
    module = load_module(tmp_path, LOADER)
    dr = driver.Builder().with_modules(module).build()
    plan = dr.explain(["spend_per_signup", "clipped"], inputs={"path": parquet})
    assert "1 final query; 0 stage break(s)" in plan
    assert plan.count("Parquet SCAN") == 1
    assert "PROJECT 2/5 COLUMNS" in plan  # only spend and signups are read from the file
    assert "python_udf" not in plan
    assert "map_batches" not in plan
    assert "Opaque nodes: none" in plan
    result = dr.execute(["spend_per_signup", "clipped"], inputs={"path": parquet})
    assert_frame_equal(result, naive(pl.read_parquet(parquet)))


def test_traces_are_reused_across_executes(tmp_path, parquet, monkeypatch):
    module = load_module(tmp_path, LOADER)
    traced: list[str] = []
    original = compile_module.trace_node

    def counting(node, *args):
        traced.append(node.name)
        return original(node, *args)

    monkeypatch.setattr(compile_module, "trace_node", counting)
    dr = driver.Builder().with_modules(module).build()
    first = dr.execute(["clipped"], inputs={"path": parquet})
    assert "spend_per_signup" in traced
    calls = len(traced)
    second = dr.execute(["clipped"], inputs={"path": parquet})
    assert len(traced) == calls  # no function was traced again
    assert_frame_equal(first, second)


def test_single_use_elementwise_nodes_are_inlined_but_windows_are_not(tmp_path):
    source = """
    import polars as pl

    def a(x: pl.Expr) -> pl.Expr:
        return x + 1

    def b(a: pl.Expr) -> pl.Expr:
        return a * 2

    def lag(b: pl.Expr, g: pl.Expr) -> pl.Expr:
        return b.shift(1).over(g)

    def total(lag: pl.Expr, w: pl.Expr) -> pl.Expr:
        return lag.sum().over(w)
    """
    module = load_module(tmp_path, source)
    dr = driver.Builder().with_modules(module).build()
    inputs = {
        "x": pl.Series([1.0, 2, 3, 4]),
        "g": pl.Series([1, 2, 1, 2]),
        "w": pl.Series([1, 1, 2, 2]),
    }
    plan = dr.explain(["total"], inputs=inputs)
    assert "inlined into `b`" in plan  # a -> b is element-wise and single use
    assert 'col("lag").sum().over' in plan  # the window is materialized, not inlined
    result = dr.execute(["total"], inputs=inputs)
    x = inputs["x"]
    b = (x + 1) * 2
    frame = pl.DataFrame({"b": b, "g": inputs["g"], "w": inputs["w"]})
    expected = frame.with_columns(lag=pl.col("b").shift(1).over("g")).select(
        total=pl.col("lag").sum().over("w")
    )
    assert_frame_equal(result, expected)
    # Inlining the lag under `.over(w)` would shift within each week and give all zeros.
    assert result["total"].to_list() == [0.0, 0.0, 10.0, 10.0]


def test_data_dependent_window_gets_a_first_stage(tmp_path):
    source = """
    import polars as pl

    def window(x: pl.Series) -> int:
        return int(x.max())

    def smoothed(x: pl.Series, window: int) -> pl.Series:
        return x.rolling_mean(window)
    """
    module = load_module(tmp_path, source)
    dr = driver.Builder().with_modules(module).build()
    x = pl.Series([1.0, 2.0, 3.0, 2.0])
    plan = dr.explain(["smoothed"], inputs={"x": x})
    assert "window" in plan.split("Opaque nodes")[1]
    assert "python_udf" not in plan
    result = dr.execute(["smoothed", "window"], inputs={"x": x})
    expected = pl.DataFrame({"smoothed": x.rolling_mean(3), "window": [3] * 4})
    assert_frame_equal(result, expected)


def test_scalar_needed_as_python_value_is_fetched(tmp_path):
    source = """
    import polars as pl

    def top(x: pl.Series) -> float:
        return x.max()

    def flipped(x: pl.Series, top: float) -> pl.Series:
        return -x if top > 2 else x
    """
    module = load_module(tmp_path, source)
    dr = driver.Builder().with_modules(module).build()
    result = dr.execute(["flipped"], inputs={"x": pl.Series([1.0, 3.0])})
    assert result["flipped"].to_list() == [-1.0, -3.0]


def test_streaming_engine_gives_the_same_result(tmp_path, parquet):
    module = load_module(tmp_path, LOADER)
    inputs = {"path": parquet}
    memory = driver.Builder().with_modules(module).build().execute(["clipped"], inputs=inputs)
    streaming = (
        driver.Builder()
        .with_modules(module)
        .with_engine("streaming")
        .build()
        .execute(["clipped"], inputs=inputs)
    )
    assert_frame_equal(memory, streaming, check_exact=False)


def test_five_thousand_node_graph_builds_and_plans(tmp_path):
    lines = ["import polars as pl", "", "def n0(x: pl.Expr) -> pl.Expr:", "    return x + 1"]
    for i in range(1, 5000):
        dep = f"n{i - 1}" if i % 7 else f"n{i // 2}"
        lines += [
            f"def n{i}({dep}: pl.Expr) -> pl.Expr:",
            f"    return {dep} * 0.5 + {i % 3}",
        ]
    module = load_module(tmp_path, "\n".join(lines) + "\n")
    dr = driver.Builder().with_modules(module).build()
    assert len(dr.list_available_variables()) == 5001
    result = dr.execute(["n4999"], inputs={"x": pl.Series([1.0, 2.0])})
    assert result.height == 2


TAIL_SOURCE = """
import polars as pl

def lag(x: pl.Expr, g: pl.Expr) -> pl.Expr:
    return x.shift(1).over(g)

def level(x: pl.Expr) -> pl.Expr:
    return x.mean()

def centred(x: pl.Expr, level: pl.Expr) -> pl.Expr:
    return x - level

def score(lag: pl.Expr, x: pl.Expr) -> pl.Expr:
    return (0.5 * lag.fill_null(0.0) + x.abs().log1p()).clip(-3.0, 3.0)

def flagged(score: pl.Expr, centred: pl.Expr) -> pl.Expr:
    return pl.when(score > 1.0).then(score * centred).otherwise(-score)
"""


def tail_inputs(rows: int) -> dict[str, pl.Series]:
    rng = np.random.default_rng(7)
    x = pl.Series("x", rng.normal(0.0, 2.0, rows)).scatter(np.arange(0, rows, 97), None)
    return {"x": x, "g": pl.Series("g", rng.integers(0, 50, rows))}


def test_trailing_elementwise_layers_run_streaming_with_the_same_rows_and_bits(
    tmp_path, monkeypatch
):
    module = load_module(tmp_path, TAIL_SOURCE)
    outputs = ["lag", "centred", "score", "flagged", "level"]
    inputs = tail_inputs(700_000)  # several morsels: their order must be kept
    dr = driver.Builder().with_modules(module).build()
    plan = dr.explain(outputs, inputs=inputs)
    assert "on the streaming engine" in plan
    with_tail = dr.execute(outputs, inputs=inputs)
    monkeypatch.setattr(compile_module, "STREAMING_TAIL_MIN_ROWS", 10**12)
    dr_in_memory = driver.Builder().with_modules(module).build()
    assert "on the streaming engine" not in dr_in_memory.explain(outputs, inputs=inputs)
    assert_frame_equal(with_tail, dr_in_memory.execute(outputs, inputs=inputs), check_exact=True)
    x, g = pl.col("x"), pl.col("g")
    expected = (
        pl.DataFrame(inputs)
        .lazy()
        .with_columns(lag=x.shift(1).over(g), level=x.mean())
        .with_columns(
            centred=x - pl.col("level"),
            score=(0.5 * pl.col("lag").fill_null(0.0) + x.abs().log1p()).clip(-3.0, 3.0),
        )
        .with_columns(
            flagged=pl.when(pl.col("score") > 1.0)
            .then(pl.col("score") * pl.col("centred"))
            .otherwise(-pl.col("score"))
        )
        .select(outputs)
        .collect(engine="in-memory")
    )
    assert_frame_equal(with_tail, expected, check_exact=True)
    # The replayed recipe (a second execute of the same shape) keeps the split.
    assert_frame_equal(dr.execute(outputs, inputs=inputs), expected, check_exact=True)


def test_no_streaming_tail_for_small_frames_checks_or_the_streaming_engine(tmp_path):
    module = load_module(tmp_path, TAIL_SOURCE)
    small = tail_inputs(1_000)
    plan = driver.Builder().with_modules(module).build().explain(["flagged"], inputs=small)
    assert "on the streaming engine" not in plan
    big = tail_inputs(200_000)
    streaming = driver.Builder().with_modules(module).with_engine("streaming").build()
    assert "then its last" not in streaming.explain(["flagged"], inputs=big)
    checked = load_module(
        tmp_path,
        TAIL_SOURCE.replace(
            "def flagged(",
            "from hamilton_fast.function_modifiers import check_output\n\n"
            "@check_output(range=(-100.0, 100.0), importance='warn')\ndef flagged(",
        ),
    )
    dr = driver.Builder().with_modules(checked).build()
    assert "on the streaming engine" not in dr.explain(["flagged"], inputs=big)
    assert dr.execute(["flagged"], inputs=big).height == 200_000
