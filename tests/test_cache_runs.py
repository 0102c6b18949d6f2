"""The node cache in real runs: results equal an uncached run, and only edited nodes recompute.

Every cached run here is compared with a fresh driver without a cache on the same request
(``run_cached`` does it), exactly: the cache may only ever change how long a run takes. Modules
are written to ``tmp_path``, edited on disk and re-imported, and each run builds a new driver,
as a user iterating on a script would.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from hamilton_fast import driver
from hamilton_fast.cache import CacheCorruptionWarning, CacheStore
from hamilton_fast.errors import CacheError, UnknownNodeError
from tests.cache_modules import (
    DICT_RESULT,
    Project,
    assert_results_equal,
    run_cached,
    run_uncached,
    statuses,
)

REPO = Path(__file__).resolve().parents[1]
DATAFLOWS = REPO / "tests" / "dataflows"
# The hello-world source itself: `tests/dataflows/hello_world.py` finds it relative to its own
# path, so that file, copied into a project, would not.
HELLO_WORLD = REPO / "examples" / "hello_world" / "my_functions.py"


@pytest.fixture(autouse=True)
def _no_bytecode(monkeypatch: pytest.MonkeyPatch) -> None:
    # Edited modules are re-imported within the same second: never trust a stale .pyc.
    monkeypatch.setattr(sys, "dont_write_bytecode", True)


@pytest.fixture
def project(tmp_path: Path):
    opened = Project(tmp_path / "flows")
    yield opened
    opened.close()


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


# --------------------------------------------------------------------------------------------
# Cold and warm runs equal an uncached run

SPEND = pl.Series("spend", [10.0, 10.0, 20.0, 40.0, 40.0, 50.0, 35.0, 12.5])
SIGNUPS = pl.Series("signups", [1, 10, 50, 100, 200, 400, 30, 7])

PANEL = """
import polars as pl


def demand_lag1(demand: pl.Expr, series_id: pl.Expr) -> pl.Expr:
    return demand.shift(1).over(series_id)


def demand_ma3(demand: pl.Expr, series_id: pl.Expr) -> pl.Expr:
    return demand.rolling_mean(3).over(series_id)


def weekly_lag_total(demand_lag1: pl.Expr, week: pl.Expr) -> pl.Expr:
    return demand_lag1.sum().over(week)


def demand_mean(demand: pl.Series) -> float:
    return demand.mean()


def demand_centered(demand: pl.Expr, demand_mean: float) -> pl.Expr:
    return demand - demand_mean


def series_share(demand: pl.Expr, series_id: pl.Expr) -> pl.Expr:
    return demand / demand.sum().over(series_id)
"""


def panel_inputs(seed: int = 0, series: int = 4, weeks: int = 6) -> dict[str, pl.Series]:
    rng = np.random.default_rng(seed)
    return {
        "series_id": pl.Series("series_id", np.repeat(np.arange(series), weeks)),
        "week": pl.Series("week", np.tile(np.arange(weeks), series)),
        "demand": pl.Series("demand", rng.integers(0, 100, series * weeks)).cast(pl.Float64),
    }


FRAMES = """
import polars as pl


def sales(units: pl.Series, price: pl.Series, store: pl.Series) -> pl.DataFrame:
    return pl.DataFrame({"store": store, "revenue": units * price, "units": units})


def by_store(sales: pl.DataFrame) -> pl.DataFrame:
    return sales.group_by("store").agg(pl.col("revenue").sum(), pl.len()).sort("store")


def by_store_lazy(sales: pl.DataFrame) -> pl.LazyFrame:
    return sales.lazy().group_by("store").agg(pl.col("units").mean()).sort("store")


def top_store(by_store: pl.DataFrame) -> str:
    return by_store.sort("revenue", descending=True)["store"][0]


def unit_revenue(price: pl.Series, units: pl.Series) -> pl.Series:
    return price * units
"""

FRAME_INPUTS = {
    "units": pl.Series("units", [3, 1, 4, 1, 5, 9, 2, 6]),
    "price": pl.Series("price", [2.5, 1.0, 0.5, 8.0, 3.25, 1.5, 7.0, 4.0]),
    "store": pl.Series("store", ["a", "b", "a", "c", "b", "a", "c", "c"]),
}

# name: (modules, outputs, inputs, adapter, outputs of a first partial run)
CASES = {
    "hello_world_series": (
        {"flow": HELLO_WORLD.read_text()},
        [
            "avg_3wk_spend",
            "spend_per_signup",
            "spend_mean",
            "spend_zero_mean",
            "spend_std_dev",
            "spend_zero_mean_unit_variance",
        ],
        {"spend": SPEND, "signups": SIGNUPS},
        None,
        ["spend_mean", "spend_zero_mean"],
    ),
    "expr_panel_windows": (
        {"flow": PANEL},
        [
            "demand_lag1",
            "demand_ma3",
            "weekly_lag_total",
            "demand_mean",
            "demand_centered",
            "series_share",
        ],
        panel_inputs(),
        None,
        ["demand_lag1", "demand_mean"],
    ),
    "opaque_numpy": (
        {"flow": (DATAFLOWS / "opaque.py").read_text()},
        [
            "log_spend",
            "spend_rank",
            "n_weeks",
            "spend_adjusted",
            "signup_bucket",
            "smoothing_window",
            "spend_smoothed",
            "total_spend",
            "spend_share",
            "weekly_budget",
        ],
        {"spend": SPEND, "signups": SIGNUPS},
        None,
        ["n_weeks", "total_spend", "log_spend"],
    ),
    "dict_result": (
        {"flow": HELLO_WORLD.read_text()},
        ["spend_mean", "spend_std_dev", "spend_zero_mean_unit_variance", "avg_3wk_spend"],
        {"spend": SPEND, "signups": SIGNUPS},
        DICT_RESULT,
        ["spend_std_dev"],
    ),
    "frame_outputs": (
        {"flow": FRAMES},
        ["sales", "by_store", "by_store_lazy", "top_store", "unit_revenue"],
        FRAME_INPUTS,
        DICT_RESULT,
        ["sales", "top_store"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_cold_and_warm_runs_equal_an_uncached_run(case, project, cache_dir):
    sources, outputs, inputs, adapter, first = CASES[case]
    for short, source in sources.items():
        project.write(short, source)
    modules = project.load()

    dr, cold = run_cached(modules, cache_dir, outputs, inputs, adapter=adapter)
    assert {statuses(dr)[n] for n in outputs} == {"computed"}
    dr, warm = run_cached(modules, cache_dir, outputs, inputs, adapter=adapter)
    assert {n: statuses(dr)[n] for n in outputs} == dict.fromkeys(outputs, "hit")
    assert_results_equal(warm, cold)

    # A fresh cache filled by a partial request: the full request mixes hits and computed nodes.
    other = cache_dir.with_name("cache-partial")
    run_cached(modules, other, first, inputs, adapter=adapter)
    dr, mixed = run_cached(modules, other, outputs, inputs, adapter=adapter)
    assert {n: statuses(dr)[n] for n in first} == dict.fromkeys(first, "hit")
    assert_results_equal(mixed, cold)


def test_hits_feeding_a_window_over_another_window(project, cache_dir):
    """A stored `demand_lag1` scanned into `weekly_lag_total` keeps the nested-window result."""
    project.write("flow", PANEL)
    modules = project.load()
    inputs = panel_inputs(seed=3)
    run_cached(modules, cache_dir, ["demand_lag1"], inputs)
    dr, result = run_cached(modules, cache_dir, ["weekly_lag_total"], inputs)
    assert statuses(dr) == {"demand_lag1": "hit", "weekly_lag_total": "computed"}
    assert result["weekly_lag_total"].sum() != 0  # the lag was not evaluated per week

    project.edit("flow", "demand_lag1.sum().over(week)", "demand_lag1.max().over(week)")
    modules = project.load()
    dr, _ = run_cached(modules, cache_dir, ["weekly_lag_total", "demand_lag1"], inputs)
    assert statuses(dr) == {"demand_lag1": "hit", "weekly_lag_total": "computed"}


SORTED_KEYS = """
import polars as pl


def store_key(store_id: pl.Series) -> pl.Series:
    return store_id.cast(pl.Int32)  # a cast keeps the input's sorted flag


def keyed(store_id: pl.Series, units: pl.Series) -> pl.LazyFrame:
    return pl.DataFrame([store_id, units]).lazy().sort("store_id")


def store_mean(units: pl.Expr, store_key: pl.Expr) -> pl.Expr:
    return units.mean().over(store_key)


def keyed_mean(keyed: pl.LazyFrame) -> pl.LazyFrame:
    return keyed.with_columns(mean=pl.col("units").mean().over("store_id"))
"""


def test_hits_keep_the_sorted_flags_the_computed_values_had(project, cache_dir):
    """Polars groups a key it knows to be sorted by slices, and a mean over slices sums in
    another order than over gathered rows: a hit that lost its flag gives other last bits."""
    rng = np.random.default_rng(11)
    store_id = pl.Series("store_id", np.repeat(np.arange(300), 400)).set_sorted()
    units = pl.Series("units", rng.uniform(0.0, 1000.0, store_id.len()))
    # The premise: the flag changes the bits of these means (else this test could not fail).
    means = [
        pl.DataFrame([key, units]).select(pl.col("units").mean().over("store_id")).to_series()
        for key in (store_id, pl.Series("store_id", store_id.to_numpy()))
    ]
    assert means[1].flags == {"SORTED_ASC": False, "SORTED_DESC": False}
    assert not means[0].equals(means[1])
    project.write("flow", SORTED_KEYS)
    modules = project.load()
    inputs = {"store_id": store_id, "units": units}
    outputs = ["store_key", "store_mean", "keyed", "keyed_mean"]
    run_cached(modules, cache_dir, ["store_key", "keyed"], inputs, adapter=DICT_RESULT)
    # `store_key` and `keyed` are hits feeding computed nodes: equal to an uncached run, bits
    # and flags (`run_cached` compares them).
    dr, _ = run_cached(modules, cache_dir, outputs, inputs, adapter=DICT_RESULT)
    assert statuses(dr) == {
        "store_key": "hit",
        "keyed": "hit",
        "store_mean": "computed",
        "keyed_mean": "computed",
    }


def test_only_needed_hits_are_read(project, cache_dir):
    project.write("flow", HELLO_WORLD.read_text())
    modules = project.load()
    inputs = {"spend": SPEND, "signups": SIGNUPS}
    everything = ["spend_mean", "spend_zero_mean", "spend_std_dev", "spend_zero_mean_unit_variance"]
    run_cached(modules, cache_dir, everything, inputs)
    dr, _ = run_cached(modules, cache_dir, ["spend_zero_mean_unit_variance"], inputs)
    assert statuses(dr) == {
        "spend_zero_mean_unit_variance": "hit",
        "spend_zero_mean": "not needed",
        "spend_mean": "not needed",
        "spend_std_dev": "not needed",
    }


# --------------------------------------------------------------------------------------------
# Which nodes recompute after an edit

DEEP = '''
"""Constants two imports away from the features."""
FACTOR = 1
UNUSED = 1
'''

HELPERS = '''
"""Helpers used by the feature module."""
import polars as pl

import <deep> as deep


def clean(s: pl.Series) -> pl.Series:
    return s.abs()


def widen(s: pl.Series) -> pl.Series:
    return s * 2 + deep.FACTOR


def unrelated_helper(s: pl.Series) -> pl.Series:
    return s - 1
'''

FLOW = '''
"""Features for the edit tests."""
import polars as pl

import <helpers> as helpers
from <helpers> import clean

RATE = 3
OTHER_CONSTANT = 100


def _shift(s: pl.Series) -> pl.Series:
    return s + 1


def _unused(s: pl.Series) -> pl.Series:
    return s


def base(x: pl.Series) -> pl.Series:
    """Ten times x."""
    return x * 10


def middle(base: pl.Series, bump: int, offset: int = 4) -> pl.Series:
    """The node the edits target."""
    return helpers.widen(clean(_shift(base))) * RATE + offset + bump


def tail(middle: pl.Series) -> pl.Series:
    return middle - 1


def tail_total(tail: pl.Series) -> int:
    return tail.sum()


def side(y: pl.Series) -> pl.Series:
    return y * 2


def side_total(side: pl.Series) -> int:
    return side.sum()


def unrelated(y: pl.Series) -> pl.Series:
    return y + OTHER_CONSTANT
'''

FLOW_OUTPUTS = ["base", "middle", "tail", "tail_total", "side", "side_total", "unrelated"]
FLOW_INPUTS = {
    "x": pl.Series("x", [1, -2, 3, -4, 5]),
    "y": pl.Series("y", [10, 20, 30, 40, 50]),
}
MIDDLE_AND_DOWN = {"middle", "tail", "tail_total"}


def with_value(series: pl.Series, index: int, value) -> pl.Series:
    """A copy of ``series`` with one value changed (``Series.scatter`` works in place)."""
    return series.clone().scatter(index, value)


# name: (module, old text, new text, nodes expected to recompute)
CODE_EDITS = {
    "function_body": ("flow", "* RATE + offset", "* RATE * 2 + offset", MIDDLE_AND_DOWN),
    "private_helper": ("flow", "return s + 1", "return s + 2", MIDDLE_AND_DOWN),
    "helper_in_other_module_from_import": (
        "helpers",
        "return s.abs()",
        "return s.abs() + 1",
        MIDDLE_AND_DOWN,
    ),
    "helper_in_other_module_attribute": (
        "helpers",
        "return s * 2 +",
        "return s * 5 +",
        MIDDLE_AND_DOWN,
    ),
    "module_constant": ("flow", "RATE = 3", "RATE = 7", MIDDLE_AND_DOWN),
    "constant_two_modules_away": ("deep", "FACTOR = 1", "FACTOR = 2", MIDDLE_AND_DOWN),
    "default_argument": ("flow", "offset: int = 4", "offset: int = 9", MIDDLE_AND_DOWN),
    "leaf_body": ("flow", "return tail.sum()", "return tail.max()", {"tail_total"}),
    "root_body": (
        "flow",
        "return x * 10",
        "return x * 11",
        {"base", "middle", "tail", "tail_total"},
    ),
    "constant_read_by_another_node": (
        "flow",
        "OTHER_CONSTANT = 100",
        "OTHER_CONSTANT = 101",
        {"unrelated"},
    ),
    # Not recomputed: nothing a result depends on changed.
    "comment": (
        "flow",
        '    """The node the edits target."""\n',
        '    """The node the edits target."""\n    # scaled twice, see the notebook\n',
        set(),
    ),
    "docstrings": (
        "flow",
        '"""The node the edits target."""',
        '"""Another docstring.\n\n    Over several lines.\n    """',
        set(),
    ),
    "module_docstring_and_line_numbers": (
        "flow",
        '"""Features for the edit tests."""\n',
        '"""Features for the edit tests.\n\nNow longer, moving every line below.\n"""\n\n\n',
        set(),
    ),
    "reformatting": (
        "flow",
        "    return helpers.widen(clean(_shift(base))) * RATE + offset + bump\n",
        "    return (\n        helpers.widen( clean( _shift(base) ) )\n"
        "        * RATE\n        + offset\n        + bump\n    )\n",
        set(),
    ),
    "rename_unused_private_function": ("flow", "def _unused(", "def _no_longer_used(", set()),
    "unrelated_helper_in_other_module": ("helpers", "return s - 1", "return s - 2", set()),
    "unrelated_constant_two_modules_away": ("deep", "UNUSED = 1", "UNUSED = 2", set()),
}


def load_flow(project: Project) -> list:
    project.write("deep", DEEP)
    project.write("helpers", HELPERS)
    project.write("flow", FLOW)
    return project.load()


def warm_up(project: Project, cache_dir: Path, **request) -> None:
    modules = project.load()
    request = {"config": {"bump": 1}, **request}
    run_cached(modules, cache_dir, FLOW_OUTPUTS, FLOW_INPUTS, **request)
    dr, _ = run_cached(modules, cache_dir, FLOW_OUTPUTS, FLOW_INPUTS, **request)
    assert set(statuses(dr).values()) == {"hit"}


def expected_statuses(recomputed: set[str], outputs=FLOW_OUTPUTS) -> dict[str, str]:
    return {n: "computed" if n in recomputed else "hit" for n in outputs}


@pytest.mark.parametrize("edit", list(CODE_EDITS))
def test_code_edit_recomputes_exactly_the_edited_node_and_its_descendants(edit, project, cache_dir):
    module, old, new, recomputed = CODE_EDITS[edit]
    load_flow(project)
    warm_up(project, cache_dir)

    project.edit(module, old, new)
    modules = project.load()
    dr, _ = run_cached(modules, cache_dir, FLOW_OUTPUTS, FLOW_INPUTS, config={"bump": 1})
    assert statuses(dr) == expected_statuses(recomputed)

    dr, _ = run_cached(modules, cache_dir, FLOW_OUTPUTS, FLOW_INPUTS, config={"bump": 1})
    assert set(statuses(dr).values()) == {"hit"}


def test_renaming_an_unrelated_node_keeps_every_other_node_cached(project, cache_dir):
    load_flow(project)
    warm_up(project, cache_dir)
    project.edit("flow", "def unrelated(", "def unrelated_renamed(")
    modules = project.load()
    outputs = [*FLOW_OUTPUTS[:-1], "unrelated_renamed"]
    dr, _ = run_cached(modules, cache_dir, outputs, FLOW_INPUTS, config={"bump": 1})
    assert statuses(dr) == expected_statuses({"unrelated_renamed"}, outputs)


def test_config_change_recomputes_its_consumers(project, cache_dir):
    load_flow(project)
    warm_up(project, cache_dir)
    modules = project.load()
    dr, _ = run_cached(modules, cache_dir, FLOW_OUTPUTS, FLOW_INPUTS, config={"bump": 2})
    assert statuses(dr) == expected_statuses(MIDDLE_AND_DOWN)
    assert "`bump` changed" in dr.cache.explain_miss("middle")


def test_one_changed_input_value_recomputes_its_descendants(project, cache_dir):
    load_flow(project)
    warm_up(project, cache_dir)
    modules = project.load()
    x = FLOW_INPUTS["x"]
    for changed in (
        with_value(x, 2, 4),
        with_value(x, 4, None),
        x.cast(pl.Int32),  # same values, other dtype
        x.alias("renamed"),
        pl.concat([x.slice(0, 4), pl.Series("x", [6])]),
    ):
        inputs = {**FLOW_INPUTS, "x": changed}
        dr, _ = run_cached(modules, cache_dir, FLOW_OUTPUTS, inputs, config={"bump": 1})
        assert statuses(dr) == expected_statuses({"base", *MIDDLE_AND_DOWN}), changed
    # The same data from a slice of a longer series, or in several chunks: hits.
    for same in (
        pl.concat([pl.Series("x", [8]), x, pl.Series("x", [9])]).slice(1, x.len()),
        pl.concat([x.slice(0, 2), x.slice(2)], rechunk=False),
    ):
        inputs = {**FLOW_INPUTS, "x": same}
        dr, _ = run_cached(modules, cache_dir, FLOW_OUTPUTS, inputs, config={"bump": 1})
        assert set(statuses(dr).values()) == {"hit"}
    inputs = {**FLOW_INPUTS, "y": with_value(FLOW_INPUTS["y"], 0, 11)}
    dr, _ = run_cached(modules, cache_dir, FLOW_OUTPUTS, inputs, config={"bump": 1})
    assert statuses(dr) == expected_statuses({"side", "side_total", "unrelated"})


def test_an_override_recomputes_what_depends_on_it(project, cache_dir):
    load_flow(project)
    warm_up(project, cache_dir)
    modules = project.load()
    outputs = ["tail", "tail_total", "side_total"]
    runs = [([7, 7, 7, 7, 7], "computed"), ([7, 7, 8, 7, 7], "computed"), ([7, 7, 8, 7, 7], "hit")]
    for value, expected in runs:
        overrides = {"middle": pl.Series("middle", value)}
        dr, result = run_cached(
            modules, cache_dir, outputs, FLOW_INPUTS, config={"bump": 1}, overrides=overrides
        )
        found = statuses(dr)
        assert found["side_total"] == "hit"
        assert found["tail"] == found["tail_total"] == expected, found
        assert "base" not in found  # upstream of an override is not even keyed
        assert result["tail"].to_list() == [v - 1 for v in value]
    # Back to no override: the entries computed from `middle` are hits again.
    dr, _ = run_cached(modules, cache_dir, outputs, FLOW_INPUTS, config={"bump": 1})
    assert statuses(dr) == {
        "tail": "hit",
        "tail_total": "hit",
        "side_total": "hit",
        "middle": "not needed",
        "base": "not needed",
        "side": "not needed",
    }


def test_an_overridden_node_is_reported_as_an_override(project, cache_dir):
    load_flow(project)
    warm_up(project, cache_dir)
    overrides = {"middle": pl.Series("middle", [1, 2, 3, 4, 5])}
    dr, _ = run_cached(
        project.load(), cache_dir, ["tail"], FLOW_INPUTS, config={"bump": 1}, overrides=overrides
    )
    assert dr.cache.last_run["middle"].status == "override"
    assert "code changed" not in dr.cache.explain_miss("middle")


PARAMETERIZED = """
import polars as pl
from hamilton_fast.function_modifiers import parameterize, source, value


def base(x: pl.Series) -> pl.Series:
    return x + 1


@parameterize(
    scaled_a={"data": source("base"), "factor": value(2)},
    scaled_b={"data": source("base"), "factor": value(10)},
)
def scaled(data: pl.Series, factor: int) -> pl.Series:
    return data * factor


def total_a(scaled_a: pl.Series) -> int:
    return scaled_a.sum()


def total_b(scaled_b: pl.Series) -> int:
    return scaled_b.sum()
"""


def test_parameterize_results_follow_a_decorator_argument_edit(project, cache_dir):
    project.write("flow", PARAMETERIZED)
    modules = project.load()
    outputs = ["base", "scaled_a", "scaled_b", "total_a", "total_b"]
    inputs = {"x": FLOW_INPUTS["x"]}
    run_cached(modules, cache_dir, outputs, inputs)
    run_cached(modules, cache_dir, outputs, inputs)
    project.edit("flow", "value(2)", "value(3)")
    _, result = run_cached(project.load(), cache_dir, outputs, inputs)
    assert result["scaled_a"].to_list() == ((FLOW_INPUTS["x"] + 1) * 3).to_list()


def test_parameterize_decorator_argument_edit_recomputes_only_that_node(project, cache_dir):
    project.write("flow", PARAMETERIZED)
    modules = project.load()
    outputs = ["base", "scaled_a", "scaled_b", "total_a", "total_b"]
    inputs = {"x": FLOW_INPUTS["x"]}
    run_cached(modules, cache_dir, outputs, inputs)
    dr, _ = run_cached(modules, cache_dir, outputs, inputs)
    assert set(statuses(dr).values()) == {"hit"}, statuses(dr)
    project.edit("flow", "value(2)", "value(3)")
    dr, _ = run_cached(project.load(), cache_dir, outputs, inputs)
    assert statuses(dr) == expected_statuses({"scaled_a", "total_a"}, outputs)


DECORATED = {
    "does": """
        import polars as pl
        from hamilton_fast.function_modifiers import does


        def _add_all(**values: pl.Series) -> pl.Series:
            return sum(values.values())


        @does(_add_all)
        def out(x: pl.Series, y: pl.Series) -> pl.Series:
            pass
        """,
    "pipe_input": """
        import polars as pl
        from hamilton_fast.function_modifiers import pipe_input, step, value


        def _plus(s: pl.Series, k: int) -> pl.Series:
            return s + k


        @pipe_input(step(_plus, k=value(2)))
        def out(x: pl.Series) -> pl.Series:
            return x * 10
        """,
    "inject": """
        import polars as pl
        from hamilton_fast.function_modifiers import inject, value


        @inject(k=value(4))
        def out(x: pl.Series, k: int) -> pl.Series:
            return x + k
        """,
    "parameterize_values": """
        import polars as pl
        from hamilton_fast.function_modifiers import parameterize_values


        @parameterize_values(parameter="k", assigned_output={("out", ""): 3})
        def scaled(x: pl.Series, k: int) -> pl.Series:
            return x * k
        """,
}


@pytest.mark.parametrize("decorator", sorted(DECORATED))
def test_nodes_built_by_decorators_are_cached(decorator, project, cache_dir):
    project.write("flow", DECORATED[decorator])
    modules = project.load()
    inputs = {"x": FLOW_INPUTS["x"], "y": FLOW_INPUTS["y"]}
    run_cached(modules, cache_dir, ["out"], inputs)
    dr, _ = run_cached(modules, cache_dir, ["out"], inputs)
    assert statuses(dr)["out"] == "hit", dr.cache.last_run["out"]


CONFIG_SWITCH = """
import polars as pl
from hamilton_fast.function_modifiers import config


def base(x: pl.Series) -> pl.Series:
    return x * 3


@config.when(mode="sum")
def combined__sum(base: pl.Series) -> pl.Series:
    return base + 1


@config.when(mode="product")
def combined__product(base: pl.Series) -> pl.Series:
    return base * 2


def final(combined: pl.Series) -> pl.Series:
    return combined - 5
"""


def test_config_when_switch_recomputes_the_switched_node(project, cache_dir):
    project.write("flow", CONFIG_SWITCH)
    modules = project.load()
    outputs = ["base", "combined", "final"]
    inputs = {"x": FLOW_INPUTS["x"]}
    for mode in ("sum", "product"):
        run_cached(modules, cache_dir, outputs, inputs, config={"mode": mode})
    dr, _ = run_cached(modules, cache_dir, outputs, inputs, config={"mode": "sum"})
    assert set(statuses(dr).values()) == {"hit"}
    project.edit("flow", "return base * 2", "return base * 4")
    dr, _ = run_cached(project.load(), cache_dir, outputs, inputs, config={"mode": "product"})
    assert statuses(dr) == {"base": "hit", "combined": "computed", "final": "computed"}


# --------------------------------------------------------------------------------------------
# explain_miss


def test_explain_miss_after_a_code_change(project, cache_dir):
    load_flow(project)
    warm_up(project, cache_dir)
    project.edit("flow", "RATE = 3", "RATE = 4")
    dr, _ = run_cached(project.load(), cache_dir, FLOW_OUTPUTS, FLOW_INPUTS, config={"bump": 1})
    cache = dr.cache
    assert cache.explain_miss("middle") == (
        "`middle` was recomputed: its code changed (the function, a helper, a constant or a "
        "default)."
    )
    tail = cache.explain_miss("tail")
    assert tail.startswith("`tail` was recomputed: its dependency `middle` changed")
    assert "code changed" in tail
    assert "`tail_total` was recomputed: its dependency `tail` changed" in cache.explain_miss(
        "tail_total"
    )
    assert cache.explain_miss("base") == (
        "`base` was a hit: it was read from the cache, not recomputed."
    )
    with pytest.raises(CacheError, match="`nowhere` was not part of the last run"):
        cache.explain_miss("nowhere")


def test_explain_miss_after_a_dependency_change(project, cache_dir):
    load_flow(project)
    warm_up(project, cache_dir)
    inputs = {**FLOW_INPUTS, "x": with_value(FLOW_INPUTS["x"], 0, 99)}
    dr, _ = run_cached(project.load(), cache_dir, FLOW_OUTPUTS, inputs, config={"bump": 1})
    assert dr.cache.explain_miss("base") == (
        "`base` was recomputed: its dependency `x` changed (its data changed)."
    )
    middle = dr.cache.explain_miss("middle")
    assert middle.startswith("`middle` was recomputed: its dependency `base` changed")
    assert "`x` changed" in middle
    assert "code changed" not in middle


def test_explain_miss_on_a_first_run(project, cache_dir):
    load_flow(project)
    dr, _ = run_cached(project.load(), cache_dir, ["base"], FLOW_INPUTS)
    assert "no earlier entry" in dr.cache.explain_miss("base")


# --------------------------------------------------------------------------------------------
# Determinism of keys

KEYS_SCRIPT = """
import json, sys
sys.dont_write_bytecode = True
sys.path.insert(0, sys.argv[1])
import importlib
import polars as pl
from hamilton_fast import driver

modules = [importlib.import_module(name) for name in sys.argv[3].split(",")]
inputs = {k: pl.Series(k, v) for k, v in json.loads(sys.argv[4]).items()}
dr = (
    driver.Builder().with_modules(*modules).with_config({"bump": 1})
    .with_cache(sys.argv[2]).build()
)
dr.execute(json.loads(sys.argv[5]), inputs=inputs)
dr.cache.wait()
print(json.dumps({n: s.key for n, s in dr.cache.last_run.items()}))
"""


def run_keys(project: Project, cache_dir: Path, inputs=FLOW_INPUTS) -> dict[str, str]:
    dr, _ = run_cached(project.load(), cache_dir, FLOW_OUTPUTS, inputs, config={"bump": 1})
    return {n: s.key for n, s in dr.cache.last_run.items()}


def test_keys_are_deterministic(project, tmp_path):
    load_flow(project)
    first = run_keys(project, tmp_path / "one")
    assert all(first.values()), first
    assert run_keys(project, tmp_path / "one") == first  # again, now with hits
    assert run_keys(project, tmp_path / "two") == first  # another cache directory

    # After reimporting the modules from scratch.
    project.close()
    for short in project.sources:
        project.modules.pop(short)
    sys.path.insert(0, str(project.directory))
    assert run_keys(project, tmp_path / "three") == first

    # Inputs after a pickle round trip, and built from another chunking.
    round_tripped = {k: pickle.loads(pickle.dumps(v)) for k, v in FLOW_INPUTS.items()}
    assert run_keys(project, tmp_path / "four", round_tripped) == first
    chunked = {
        k: pl.concat([v.slice(0, 2), v.slice(2)], rechunk=False) for k, v in FLOW_INPUTS.items()
    }
    assert run_keys(project, tmp_path / "five", chunked) == first

    # In other processes, with other hash seeds.
    script = tmp_path / "keys.py"
    script.write_text(KEYS_SCRIPT)
    names = ",".join(project.name(s) for s in project.sources)
    data = json.dumps({k: v.to_list() for k, v in FLOW_INPUTS.items()})
    for seed in ("1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO)}
        completed = subprocess.run(
            [
                sys.executable,
                str(script),
                str(project.directory),
                str(tmp_path / f"seed{seed}"),
                names,
                data,
                json.dumps(FLOW_OUTPUTS),
            ],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=120,
        )
        assert completed.returncode == 0, completed.stderr
        assert json.loads(completed.stdout) == first


# --------------------------------------------------------------------------------------------
# Lazy frames and expressions whose inputs change are never hits

LAZY = """
import polars as pl


def totals(data: pl.LazyFrame) -> pl.LazyFrame:
    return data.group_by("k").agg(pl.col("v").sum()).sort("k")


def totals_frame(data: pl.LazyFrame) -> pl.DataFrame:
    return data.group_by("k").agg(pl.col("v").max()).sort("k").collect()


def scanned(path: str) -> pl.LazyFrame:
    return pl.scan_parquet(path)


def scanned_totals(scanned: pl.LazyFrame) -> pl.DataFrame:
    return scanned.group_by("k").agg(pl.col("v").sum()).sort("k").collect()
"""


def write_table(path: Path, v: list[int], *, mtime_ns: int | None = None) -> None:
    pl.DataFrame({"k": [1, 1, 2, 2], "v": v}).write_parquet(path)
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))


def test_lazyframe_input_whose_file_is_rewritten_is_never_a_hit(project, cache_dir, tmp_path):
    project.write("flow", LAZY)
    modules = project.load()
    path = tmp_path / "table.parquet"
    outputs = ["totals", "totals_frame"]
    old = time.time_ns() - 3600 * 10**9  # outside the "recently modified" window
    versions = [[1, 2, 3, 4], [1, 2, 3, 5], [1, 2, 3, 6], [1, 2, 3, 6]]
    expected = ["computed", "computed", "computed", "hit"]
    for number, (values, status) in enumerate(zip(versions, expected, strict=True)):
        # Same size every time; the later rewrites restore the old mtime (as `cp -p` would).
        write_table(path, values, mtime_ns=old if number else None)
        dr, result = run_cached(
            modules, cache_dir, outputs, {"data": pl.scan_parquet(path)}, adapter=DICT_RESULT
        )
        assert {n: statuses(dr)[n] for n in outputs} == dict.fromkeys(outputs, status), number
        assert result["totals_frame"]["v"].to_list() == [2, values[-1]]


def test_lazyframe_loader_whose_file_is_rewritten_is_never_a_hit(project, cache_dir, tmp_path):
    project.write("flow", LAZY)
    modules = project.load()
    path = tmp_path / "table.parquet"
    for values, status in (([1, 2, 3, 4], "computed"), ([1, 2, 3, 5], "computed")):
        write_table(path, values)
        dr, result = run_cached(
            modules, cache_dir, ["scanned_totals"], {"path": str(path)}, adapter=DICT_RESULT
        )
        assert statuses(dr)["scanned_totals"] == status
        assert result["scanned_totals"]["v"].to_list() == [3, values[-1] + 3]
    # Unchanged file: the loader runs (it is cheap, a plan), its dependents are read back.
    dr, _ = run_cached(
        modules, cache_dir, ["scanned_totals"], {"path": str(path)}, adapter=DICT_RESULT
    )
    assert statuses(dr)["scanned_totals"] == "hit"


def test_expr_node_whose_input_series_changes_is_never_a_hit(project, cache_dir):
    project.write("flow", PANEL)
    modules = project.load()
    outputs = ["demand_lag1", "weekly_lag_total", "demand_centered", "series_share"]
    inputs = panel_inputs(seed=1)
    run_cached(modules, cache_dir, outputs, inputs)
    everything = set(outputs)
    for change, affected in (
        ({"demand": with_value(inputs["demand"], 5, 1000.0)}, everything),
        ({"demand": with_value(inputs["demand"], 5, -0.0)}, everything),  # -0.0 is not 0.0
        (
            {"series_id": with_value(inputs["series_id"], 0, 1)},
            {"demand_lag1", "weekly_lag_total", "series_share"},
        ),
        ({"week": inputs["week"].cast(pl.Int32)}, {"weekly_lag_total"}),
    ):
        changed = {**inputs, **change}
        dr, _ = run_cached(modules, cache_dir, outputs, changed)
        found = statuses(dr)
        assert {n: found[n] for n in outputs} == {
            n: "computed" if n in affected else "hit" for n in outputs
        }, change


# --------------------------------------------------------------------------------------------
# Behaviours

BEHAVIOURS = """
import polars as pl
from pathlib import Path
from hamilton_fast.function_modifiers import cache

EXTERNAL = Path(__file__).with_name("external.txt")


def a(x: pl.Series) -> pl.Series:
    return x * 2


def b(a: pl.Series) -> pl.Series:
    # Reads state the cache cannot see: what `recompute` is for.
    return a + int(EXTERNAL.read_text())


def c(b: pl.Series) -> pl.Series:
    return b * 10


def d(a: pl.Series) -> pl.Series:
    return a - 1


@cache(behavior="recompute")
def e(d: pl.Series) -> pl.Series:
    return d + int(EXTERNAL.read_text())


def f(e: pl.Series) -> pl.Series:
    return e * 3


@cache(behavior="disable")
def g(a: pl.Series) -> pl.Series:
    return a + 5
"""

BEHAVIOUR_OUTPUTS = ["a", "b", "c", "d", "e", "f", "g"]


@pytest.fixture
def behaviours(project):
    project.write("flow", BEHAVIOURS)
    (project.directory / "external.txt").write_text("0")
    return project


def set_external(project: Project, value: int) -> None:
    (project.directory / "external.txt").write_text(str(value))


def test_recompute_nodes_are_computed_and_stored_every_run(behaviours, cache_dir):
    modules = behaviours.load()
    for run in range(3):
        dr, _ = run_cached(
            modules, cache_dir, ["a", "b", "d", "e"], {"x": FLOW_INPUTS["x"]}, recompute=["b"]
        )
        found = dr.cache.last_run
        assert found["b"].status == found["e"].status == "computed"
        assert found["b"].detail == found["e"].detail == "behavior=recompute"
        assert found["a"].status == found["d"].status == ("hit" if run else "computed")
        assert "recomputed because its cache behavior=recompute" in dr.cache.explain_miss("b")
        assert len(dr.cache.entries("b")) == len(dr.cache.entries("e")) == 1


def test_disabled_nodes_are_never_stored(behaviours, cache_dir):
    modules = behaviours.load()
    for _ in range(2):
        dr, _ = run_cached(
            modules, cache_dir, ["a", "b", "g"], {"x": FLOW_INPUTS["x"]}, disable=["b"]
        )
        assert statuses(dr)["b"] == statuses(dr)["g"] == "computed"
        assert dr.cache.entries("b") == dr.cache.entries("g") == []
    assert dr.cache.entries("a")


@pytest.mark.parametrize("options", [{"recompute": ["b"]}, {"disable": ["b"]}])
def test_dependents_of_recompute_and_disable_nodes_are_recomputed(behaviours, cache_dir, options):
    modules = behaviours.load()
    for run in range(3):
        set_external(behaviours, run)
        dr, result = run_cached(
            modules, cache_dir, BEHAVIOUR_OUTPUTS, {"x": FLOW_INPUTS["x"]}, **options
        )
        found = statuses(dr)
        assert found["c"] == found["f"] == "computed", found


def test_recompute_true_recomputes_everything(behaviours, cache_dir):
    modules = behaviours.load()
    for run in range(2):
        set_external(behaviours, run)
        dr, _ = run_cached(
            modules, cache_dir, BEHAVIOUR_OUTPUTS, {"x": FLOW_INPUTS["x"]}, recompute=True
        )
        assert set(statuses(dr).values()) == {"computed"}
    assert dr.cache.entries("a")


def test_disable_true_stores_nothing(behaviours, cache_dir):
    modules = behaviours.load()
    for _ in range(2):
        dr, _ = run_cached(modules, cache_dir, ["a", "c"], {"x": FLOW_INPUTS["x"]}, disable=True)
        assert set(statuses(dr).values()) == {"computed"}
    assert dr.cache.entries() == []


IGNORED = """
import polars as pl


class Client:
    '''Something a node needs that does not change its result (and has no fingerprint).'''


def scaled(x: pl.Series, client: Client, verbose: bool) -> pl.Series:
    return x * 4


def total(scaled: pl.Series) -> int:
    return scaled.sum()
"""


def test_ignored_nodes_stay_out_of_their_dependents_keys(project, cache_dir):
    project.write("flow", IGNORED)
    modules = project.load()
    client_type = modules[0].Client
    outputs = ["scaled", "total"]
    for run, verbose in enumerate((True, False, True)):
        inputs = {"x": FLOW_INPUTS["x"], "client": client_type(), "verbose": verbose}
        dr, _ = run_cached(modules, cache_dir, outputs, inputs, ignore=["client", "verbose"])
        assert set(statuses(dr).values()) == {"hit" if run else "computed"}
    # Without `ignore`, the client has no fingerprint: computed every time, and said so.
    dr, _ = run_cached(modules, cache_dir, outputs, inputs)
    assert statuses(dr) == {"scaled": "uncacheable", "total": "uncacheable"}
    assert dr.cache.last_run["scaled"].detail == "its dependency `client` cannot be fingerprinted"
    assert dr.cache.explain_miss("total") == (
        "`total` was uncacheable: its dependency `scaled` cannot be fingerprinted."
    )


@pytest.mark.parametrize("option", ["recompute", "disable", "ignore", "default"])
def test_unknown_node_in_with_cache_is_an_error_naming_it(project, cache_dir, option):
    load_flow(project)
    builder = driver.Builder().with_modules(*project.load())
    with pytest.raises(UnknownNodeError, match="`midle` is not a node named in with_cache()"):
        builder.with_cache(cache_dir, **{option: ["tail", "midle"]}).build()
    with pytest.raises(UnknownNodeError, match="did you mean `middle`"):
        builder.with_cache(cache_dir, **{option: ["midle"]}).build()


def test_with_cache_rejects_a_string_and_an_unknown_behaviour(cache_dir):
    with pytest.raises(CacheError, match=r"with_cache\(recompute=\['b'\]\)"):
        driver.Builder().with_cache(cache_dir, recompute="b")
    with pytest.raises(CacheError, match="unknown cache behaviour 'sometimes'"):
        driver.Builder().with_cache(cache_dir, default_behavior="sometimes")


# --------------------------------------------------------------------------------------------
# Several processes on one cache directory

WORKER = """
import sys, time
from pathlib import Path
sys.dont_write_bytecode = True
sys.path.insert(0, sys.argv[1])
import importlib
import polars as pl
import pickle
from hamilton_fast import base, driver

flow_dir, cache, module, out, ready, go = sys.argv[1:7]
flow = importlib.import_module(module)
outputs = [n for n in dir(flow) if n.startswith("col_")] + ["total", "frame"]
x = pl.Series("x", range(200_000))
Path(ready).write_text("ready")
while not Path(go).exists():
    time.sleep(0.005)
for run in range(3):
    dr = (
        driver.Builder().with_modules(flow).with_adapters(base.DictResult())
        .with_cache(cache).build()
    )
    result = dr.execute(outputs, inputs={"x": x})
    Path(f"{out}-{run}.pkl").write_bytes(pickle.dumps(result))
dr.cache.wait()
"""


def wide_flow(columns: int, *, frame: bool = True) -> str:
    lines = ["import polars as pl", ""]
    for i in range(columns):
        lines += [
            "",
            f"def col_{i:02d}(x: pl.Series) -> pl.Series:",
            f"    return (x * {i + 1}).cast(pl.Float64) / {i + 3}",
            "",
        ]
    lines += ["", "def total(col_00: pl.Series, col_01: pl.Series) -> float:"]
    lines += ["    return (col_00 + col_01).sum()", ""]
    if frame:
        lines += ["", "def frame(col_02: pl.Series, x: pl.Series) -> pl.DataFrame:"]
        lines += ["    return pl.DataFrame({'x': x, 'c': col_02}).filter(pl.col('x') % 3 == 0)"]
    return "\n".join(lines) + "\n"


def test_processes_sharing_one_cache_directory(project, cache_dir, tmp_path):
    project.write("flow", wide_flow(8))
    (flow,) = project.load()
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "error"}
    workers = []
    for number in range(3):
        args = [
            str(project.directory),
            str(cache_dir),
            project.name("flow"),
            str(tmp_path / f"out{number}"),
            str(tmp_path / f"ready{number}"),
            str(go),
        ]
        workers.append(
            subprocess.Popen(
                [sys.executable, str(script), *args],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
        )
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"ready{n}").exists() for n in range(3)):
        assert time.monotonic() < deadline, "workers did not start"
        assert all(w.poll() is None for w in workers), [w.communicate() for w in workers]
        time.sleep(0.01)
    go.write_text("go")
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        assert err == "", err

    outputs = [n for n in dir(flow) if n.startswith("col_")] + ["total", "frame"]
    inputs = {"x": pl.Series("x", range(200_000))}
    expected = run_uncached([flow], outputs, inputs, adapter=DICT_RESULT)
    for number in range(3):
        for run in range(3):
            got = pickle.loads((tmp_path / f"out{number}-{run}.pkl").read_bytes())
            assert_results_equal(got, expected)
    dr, _ = run_cached([flow], cache_dir, outputs, inputs, adapter=DICT_RESULT)
    assert set(statuses(dr).values()) == {"hit"}
    assert {e.node for e in dr.cache.entries()} == set(outputs)


# --------------------------------------------------------------------------------------------
# Crash safety

CRASHER = """
import sys
sys.dont_write_bytecode = True
sys.path.insert(0, sys.argv[1])
import importlib
import polars as pl
from hamilton_fast import driver

flow = importlib.import_module(sys.argv[3])
outputs = sorted(n for n in dir(flow) if n.startswith("col_"))
dr = driver.Builder().with_modules(flow).with_cache(sys.argv[2]).build()
dr.execute(outputs, inputs={"x": pl.Series("x", range(int(sys.argv[4])))})
print("returned", flush=True)
dr.cache.wait()
print("written", flush=True)
"""

CRASH_ROWS = 2_000_000


@pytest.mark.parametrize("moment", ["first_partial_file", "some_entries_written"])
def test_a_process_killed_while_writing_leaves_a_usable_cache(project, cache_dir, tmp_path, moment):
    project.write("flow", wide_flow(20, frame=False))
    (flow,) = project.load()
    outputs = sorted(n for n in dir(flow) if n.startswith("col_"))
    script = tmp_path / "crasher.py"
    script.write_text(CRASHER)
    process = subprocess.Popen(
        [
            sys.executable,
            str(script),
            str(project.directory),
            str(cache_dir),
            project.name("flow"),
            str(CRASH_ROWS),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    values = cache_dir / "values"
    deadline = time.monotonic() + 60
    killed_while_writing = False
    try:
        while process.poll() is None and time.monotonic() < deadline:
            parts = list(values.glob("*.part")) if values.exists() else []
            done = list(values.glob("*.arrow")) if values.exists() else []
            if (moment == "first_partial_file" and parts) or (
                moment == "some_entries_written" and len(done) >= 5 and parts
            ):
                os.kill(process.pid, signal.SIGKILL)
                killed_while_writing = True
                break
            time.sleep(0.001)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
    assert killed_while_writing, "the writer finished before it could be killed"
    # Every entry the index holds reads back whole (a corrupt one would warn, an error here).
    with CacheStore(cache_dir) as store:
        for entry in store.entries():
            assert isinstance(store.get(entry.key), pl.Series), entry

    inputs = {"x": pl.Series("x", range(CRASH_ROWS))}
    dr, _ = run_cached([flow], cache_dir, outputs, inputs)
    found = statuses(dr)
    assert set(found.values()) <= {"hit", "computed"}
    if moment == "some_entries_written":
        # Values are written one after another: all but the last finished file are indexed.
        assert list(found.values()).count("hit") >= 4, found
    # Everything is stored now, and reads back as what an uncached run computes.
    dr, _ = run_cached([flow], cache_dir, outputs, inputs)
    assert set(statuses(dr).values()) == {"hit"}


# --------------------------------------------------------------------------------------------
# Corrupted entries


def corrupt(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "truncate":
        path.write_bytes(bytes(data[: len(data) // 2]))
    elif how == "flip":
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
    elif how == "flip_last":
        data[-1] ^= 0x80
        path.write_bytes(bytes(data))
    elif how == "delete":
        path.unlink()
    else:  # pragma: no cover
        raise AssertionError(how)


@pytest.mark.parametrize("how", ["truncate", "flip", "flip_last", "delete"])
@pytest.mark.parametrize("node", ["tail", "base"])
def test_a_corrupted_value_file_warns_and_is_recomputed(project, cache_dir, how, node):
    load_flow(project)
    warm_up(project, cache_dir)
    modules = project.load()
    dr = driver.Builder().with_modules(*modules).with_cache(cache_dir).build()
    (entry,) = dr.cache.entries(node)
    assert entry.path is not None
    corrupt(entry.path, how)
    with pytest.warns(CacheCorruptionWarning, match=f"Cache entry for `{node}` is unusable"):
        dr, _ = run_cached(modules, cache_dir, FLOW_OUTPUTS, FLOW_INPUTS, config={"bump": 1})
    found = statuses(dr)
    assert found[node] == "computed"
    assert {n for n, s in found.items() if s == "hit"} == set(FLOW_OUTPUTS) - {node}
    dr, _ = run_cached(modules, cache_dir, FLOW_OUTPUTS, FLOW_INPUTS, config={"bump": 1})
    assert set(statuses(dr).values()) == {"hit"}


def test_a_corrupted_python_scalar_warns_and_is_recomputed(project, cache_dir):
    sources, outputs, inputs, _, _ = CASES["opaque_numpy"]
    project.write("flow", sources["flow"])
    modules = project.load()
    run_cached(modules, cache_dir, outputs, inputs)
    dr = driver.Builder().with_modules(*modules).with_cache(cache_dir).build()
    (entry,) = dr.cache.entries("n_weeks")
    assert entry.path is None  # a Python scalar lives in the index, as typed JSON
    # Change the stored value without its checksum, as a damaged index page would.
    index = dr.cache.store._index
    record = json.loads(index[entry.key])
    value = json.loads(record["value"])
    value["v"] = str(int(value["v"]) + 1)
    record["value"] = json.dumps(value, separators=(",", ":"))
    index[entry.key] = json.dumps(record)
    with pytest.warns(CacheCorruptionWarning, match="Cache entry for `n_weeks` is unusable"):
        dr, _ = run_cached(modules, cache_dir, outputs, inputs)
    assert statuses(dr)["n_weeks"] == "computed"
    dr, _ = run_cached(modules, cache_dir, outputs, inputs)
    assert set(statuses(dr).values()) == {"hit"}


# --------------------------------------------------------------------------------------------
# Inspection and clean-up


def test_entries_size_clear_and_prune(project, cache_dir):
    load_flow(project)
    modules = project.load()
    request = {"config": {"bump": 1}}
    dr, _ = run_cached(modules, cache_dir, FLOW_OUTPUTS, FLOW_INPUTS, **request)
    cache = dr.cache
    entries = cache.entries()
    assert sorted(e.node for e in entries) == sorted(FLOW_OUTPUTS)
    assert {e.key for e in entries} == {cache.last_run[n].key for n in FLOW_OUTPUTS}
    assert cache.size() == sum(e.size_bytes for e in entries) > 0
    (tail,) = cache.entries("tail")
    assert tail.kind == "series"
    assert tail.format == "ipc"

    dr, _ = run_cached(modules, cache_dir, FLOW_OUTPUTS, FLOW_INPUTS, **request)
    assert dr.cache.last_run["tail"].size == tail.size_bytes

    assert dr.cache.clear("tail") == 1
    assert dr.cache.entries("tail") == []
    assert dr.cache.clear("tail") == 0
    dr, _ = run_cached(modules, cache_dir, FLOW_OUTPUTS, FLOW_INPUTS, **request)
    assert statuses(dr) == expected_statuses({"tail"})

    assert dr.cache.clear() == len(FLOW_OUTPUTS)
    assert dr.cache.entries() == []
    assert dr.cache.size() == 0
    assert list((cache_dir / "values").glob("*.arrow")) == []
    dr, _ = run_cached(modules, cache_dir, FLOW_OUTPUTS, FLOW_INPUTS, **request)
    assert set(statuses(dr).values()) == {"computed"}

    assert dr.cache.prune(1) == 0  # everything was used just now
    assert len(dr.cache.entries()) == len(FLOW_OUTPUTS)
    time.sleep(0.01)
    assert dr.cache.prune(0) == len(FLOW_OUTPUTS)
    assert dr.cache.entries() == []
    dr, _ = run_cached(modules, cache_dir, FLOW_OUTPUTS, FLOW_INPUTS, **request)
    assert set(statuses(dr).values()) == {"computed"}


@pytest.mark.parametrize("verify", ["stat", "once", "always"])
def test_verify_modes_read_the_same_and_verify_removes_corrupt_entries(project, cache_dir, verify):
    load_flow(project)
    modules = project.load()
    request = {"config": {"bump": 1}}
    run_cached(modules, cache_dir, FLOW_OUTPUTS, FLOW_INPUTS, **request)
    dr, _ = run_cached(modules, cache_dir, FLOW_OUTPUTS, FLOW_INPUTS, verify=verify, **request)
    assert set(statuses(dr).values()) == {"hit"}
    assert dr.cache.verify() == (len(FLOW_OUTPUTS), 0)
    (tail,) = dr.cache.entries("tail")
    data = bytearray(tail.path.read_bytes())
    data[len(data) // 2] ^= 0x01
    tail.path.write_bytes(bytes(data))
    with pytest.warns(CacheCorruptionWarning, match="`tail`"):
        assert dr.cache.verify("tail") == (1, 1)
    dr, _ = run_cached(modules, cache_dir, FLOW_OUTPUTS, FLOW_INPUTS, verify=verify, **request)
    assert statuses(dr) == expected_statuses({"tail"})


def test_an_unknown_verify_mode_is_refused_at_build(project, cache_dir):
    load_flow(project)
    with pytest.raises(CacheError, match=r"with_cache\(verify='never'\)(.|\n)*Hint"):
        driver.Builder().with_modules(*project.load()).with_cache(cache_dir, verify="never")


def test_report_table_and_repr(project, cache_dir):
    load_flow(project)
    modules = project.load()
    dr, _ = run_cached(modules, cache_dir, ["tail"], FLOW_INPUTS, config={"bump": 1})
    assert "last run:" in repr(dr.cache)
    assert "computed" in repr(dr.cache)
    assert dr.cache.status("tail").status == "computed"
    table = dr.cache.table()
    assert table.splitlines()[0].split() == ["node", "status", "size", "key"]
    assert any(line.startswith("tail ") for line in table.splitlines())


def test_an_uncachable_value_is_returned_and_warns_or_pickles(project, cache_dir):
    from hamilton_fast.cache.node_cache import CacheWriteWarning

    project.write(
        "flow",
        """
        import numpy as np
        import polars as pl
        from hamilton_fast.function_modifiers import cache


        def weights(x: pl.Series) -> np.ndarray:
            return x.to_numpy() * 0.5


        @cache(format="pickle")
        def pickled_weights(x: pl.Series) -> np.ndarray:
            return x.to_numpy() * 0.25
        """,
    )
    modules = project.load()
    inputs = {"x": FLOW_INPUTS["x"]}
    with pytest.warns(CacheWriteWarning, match="`weights` was computed but not cached"):
        dr, first = run_cached(
            modules, cache_dir, ["weights", "pickled_weights"], inputs, adapter=DICT_RESULT
        )
    dr, again = run_cached(modules, cache_dir, ["pickled_weights"], inputs, adapter=DICT_RESULT)
    assert statuses(dr) == {"pickled_weights": "hit"}
    np.testing.assert_array_equal(again["pickled_weights"], first["pickled_weights"])
    assert dr.cache.entries("pickled_weights")[0].format == "pickle"


def test_an_unusable_cache_index_fails_at_build_with_a_hint(project, cache_dir):
    load_flow(project)
    cache_dir.mkdir(parents=True)
    (cache_dir / "index").write_text("not a directory")  # the index cannot open
    with pytest.raises(CacheError, match=r"Cannot open the cache index(.|\n)*Hint: .*delete"):
        driver.Builder().with_modules(*project.load()).with_cache(cache_dir).build()
