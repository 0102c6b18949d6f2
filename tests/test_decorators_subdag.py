"""``@subdag`` and ``@parameterized_subdag``: same nodes, tags and values as Apache Hamilton.

Each dataflow is written once, importing ``hamilton.function_modifiers``; the hamilton_fast twin
swaps that import line (and the names of the modules it imports), both are written to
``tmp_path`` and run through their own driver.
"""

from __future__ import annotations

import itertools
from typing import Any

import polars as pl
import pytest
from hamilton import base as h_base
from hamilton import driver as h_driver
from polars.testing import assert_series_equal

from hamilton_fast import base, driver
from hamilton_fast.errors import GraphError, ModifierError
from tests.helpers import load_module

FEATURES = """
import polars as pl
from hamilton.function_modifiers import config


def doubled(x: pl.Series) -> pl.Series:
    return x * 2


def scaled(doubled: pl.Series, factor: float) -> pl.Series:
    return doubled * factor


@config.when(mode="up")
def adjusted__up(scaled: pl.Series) -> pl.Series:
    return scaled + 1


@config.when(mode="down")
def adjusted__down(scaled: pl.Series) -> pl.Series:
    return scaled - 1


def total(adjusted: pl.Series, offset: float) -> float:
    return float(adjusted.sum()) + offset
"""

# A module that is itself a subdag user: nesting gives `nested.inner_total.doubled`.
NESTED = """
import polars as pl
import FEATURES as features
from hamilton.function_modifiers import subdag, value


@subdag(features, inputs={"factor": value(4.0)}, config={"mode": "up"})
def inner_total(total: float) -> float:
    return total


def double_inner(inner_total: float) -> float:
    return 2 * inner_total
"""

MAIN = """
import polars as pl
import FEATURES as features
import NESTED as nested_features
from hamilton.function_modifiers import parameterized_subdag, source, subdag, value


def raw() -> pl.Series:
    return pl.Series("raw", [1.0, 2.0, 3.0, 4.0])


def offset() -> float:
    return 0.5


@subdag(features, inputs={"x": source("raw"), "factor": value(3.0)}, config={"mode": "up"})
def up_total(total: float) -> float:
    return total


@subdag(
    features,
    inputs={"x": source("raw")},
    config={"mode": "down", "factor": 2.0},
    namespace="down_ns",
    final_node_name="down_summary",
    external_inputs=["label"],
)
def down(total: float, adjusted: pl.Series, label: str) -> str:
    return f"{label}: {total:.1f} / {adjusted.max():.1f}"


@parameterized_subdag(
    features,
    inputs={"x": source("raw")},
    config={"mode": "up"},
    small={"inputs": {"factor": value(1.0)}},
    large={"inputs": {"factor": value(10.0)}, "config": {"mode": "down"}},
)
def scaled_total(total: float) -> float:
    return total


@subdag(features.doubled, features.scaled, inputs={"x": source("raw"), "factor": value(0.5)})
def halves(scaled: pl.Series) -> pl.Series:
    return scaled


@subdag(nested_features, inputs={"x": source("raw")})
def nested(double_inner: float) -> float:
    return double_inner
"""

# Every node Apache Hamilton 1.90 creates for MAIN (checked against it in the tests below).
MAIN_NODES = {
    "raw",
    "offset",
    "label",
    *(f"up_total.{n}" for n in ("x", "factor", "mode", "doubled", "scaled", "adjusted", "total")),
    "up_total",
    *(f"down_ns.{n}" for n in ("x", "factor", "mode", "doubled", "scaled", "adjusted", "total")),
    "down_summary",
    *(f"small.{n}" for n in ("x", "factor", "mode", "doubled", "scaled", "adjusted", "total")),
    "small",
    *(f"large.{n}" for n in ("x", "factor", "mode", "doubled", "scaled", "adjusted", "total")),
    "large",
    *(f"halves.{n}" for n in ("x", "factor", "doubled", "scaled")),
    "halves",
    "nested.x",
    *(
        f"nested.inner_total.{n}"
        for n in ("factor", "mode", "doubled", "scaled", "adjusted", "total")
    ),
    "nested.inner_total",
    "nested.double_inner",
    "nested",
}

_counter = itertools.count()


def write_modules(directory, sources: dict[str, str], library: str) -> dict[str, Any]:
    """Import ``sources`` (in order) for ``library``: decorator imports and module names swapped.

    Keys of ``sources`` are the placeholders other sources import them by (``import FEATURES``).
    """
    run = next(_counter)
    names = {key: f"subdag_{library}_{key.lower()}_{run}" for key in sources}
    modules = {}
    for key, source in sources.items():
        text = source.replace(
            "from hamilton.function_modifiers import", f"from {library}.function_modifiers import"
        )
        for other, name in names.items():
            text = text.replace(f"import {other} ", f"import {name} ")
        modules[key] = load_module(directory, text, names[key])
    return {"modules": modules, "names": names}


def build_both(tmp_path, sources: dict[str, str], main: str = "MAIN", config=None):
    """(Apache Hamilton driver, hamilton_fast driver, module-name -> placeholder map)."""
    theirs = write_modules(tmp_path, sources, "hamilton")
    ours = write_modules(tmp_path, sources, "hamilton_fast")
    hamilton = (
        h_driver.Builder()
        .with_modules(theirs["modules"][main])
        .with_config(config or {})
        .with_adapters(h_base.SimplePythonGraphAdapter(h_base.DictResult()))
        .build()
    )
    fast = (
        driver.Builder()
        .with_modules(ours["modules"][main])
        .with_config(config or {})
        .with_adapters(base.DictResult())
        .build()
    )
    placeholders = {name: key for key, name in theirs["names"].items()}
    placeholders.update({name: key for key, name in ours["names"].items()})
    return hamilton, fast, placeholders


def variables(dr, placeholders: dict[str, str]) -> dict[str, tuple[Any, dict, bool]]:
    """name -> (type, tags, is external input), with module tags named by their placeholder."""
    out = {}
    for v in dr.list_available_variables():
        tags = dict(v.tags)
        if "module" in tags:
            tags["module"] = placeholders.get(tags["module"], tags["module"])
        out[v.name] = (v.type, tags, v.is_external_input)
    return out


def assert_same_values(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    assert set(ours) == set(theirs)
    for name, expected in theirs.items():
        got = ours[name]
        if isinstance(expected, pl.Series):
            assert isinstance(got, pl.Series), name
            assert_series_equal(got, expected, check_names=False)
        else:
            assert type(got) is type(expected), name
            assert got == expected, name


SOURCES = {"FEATURES": FEATURES, "NESTED": NESTED, "MAIN": MAIN}


def test_same_nodes_types_and_tags_as_hamilton(tmp_path):
    hamilton, fast, placeholders = build_both(tmp_path, SOURCES)
    theirs = variables(hamilton, placeholders)
    ours = variables(fast, placeholders)
    assert set(theirs) == MAIN_NODES
    assert ours == theirs


def test_same_values_as_hamilton(tmp_path):
    hamilton, fast, _ = build_both(tmp_path, SOURCES)
    outputs = sorted(MAIN_NODES - {"label"})
    inputs = {"label": "down"}
    assert_same_values(
        fast.execute(outputs, inputs=inputs), hamilton.execute(outputs, inputs=inputs)
    )


def test_values_spot_checks(tmp_path):
    _, fast, _ = build_both(tmp_path, SOURCES)
    result = fast.execute(
        ["up_total", "down_summary", "small", "large", "halves", "nested", "down_ns.factor"],
        inputs={"label": "L"},
    )
    # up: sum((2x * 3) + 1) + 0.5 over x = 1..4 -> 60 + 4 + 0.5
    assert result["up_total"] == 64.5
    assert result["down_summary"] == "L: 36.5 / 15.0"
    assert result["small"] == 24.5
    assert result["large"] == 196.5
    assert result["halves"].to_list() == [1.0, 2.0, 3.0, 4.0]
    assert result["nested"] == 2 * (80.0 + 4 + 0.5)
    assert result["down_ns.factor"] == 2.0


def test_outer_config_reaches_the_subdag_and_subdag_config_wins(tmp_path):
    main = """
    import polars as pl
    import FEATURES as features
    from hamilton.function_modifiers import source, subdag


    def raw() -> pl.Series:
        return pl.Series("raw", [1.0, 2.0])


    @subdag(features, inputs={"x": source("raw")})
    def from_driver(adjusted: pl.Series) -> pl.Series:
        return adjusted


    @subdag(features, inputs={"x": source("raw")}, config={"mode": "up"})
    def overridden(adjusted: pl.Series) -> pl.Series:
        return adjusted
    """
    sources = {"FEATURES": FEATURES, "MAIN": main}
    hamilton, fast, placeholders = build_both(tmp_path, sources, config={"mode": "down"})
    assert variables(fast, placeholders) == variables(hamilton, placeholders)
    inputs = {"factor": 10.0}
    outputs = ["from_driver", "overridden", "mode"]
    ours = fast.execute(outputs, inputs=inputs)
    assert_same_values(ours, hamilton.execute(outputs, inputs=inputs))
    assert ours["from_driver"].to_list() == [19.0, 39.0]
    assert ours["overridden"].to_list() == [21.0, 41.0]


def test_configuration_entry_resolves_from_the_driver_config(tmp_path):
    # Hamilton builds the subdag with the resolved value too, but its constant node
    # `ns.mode` holds the configuration(...) object itself; ours holds the resolved value.
    main = """
    import polars as pl
    import FEATURES as features
    from hamilton.function_modifiers import configuration, source, subdag, value


    def raw() -> pl.Series:
        return pl.Series("raw", [1.0, 2.0])


    @subdag(
        features,
        inputs={"x": source("raw"), "factor": value(1.0)},
        config={"mode": configuration("direction")},
    )
    def chosen(adjusted: pl.Series) -> pl.Series:
        return adjusted
    """
    sources = {"FEATURES": FEATURES, "MAIN": main}
    hamilton, fast, _ = build_both(tmp_path, sources, config={"direction": "down"})
    outputs = ["chosen", "chosen.adjusted", "chosen.scaled"]
    assert_same_values(fast.execute(outputs), hamilton.execute(outputs))
    assert fast.execute(["chosen.mode"])["chosen.mode"] == "down"


def test_traceable_subdag_compiles_into_one_query(tmp_path):
    features = """
    import polars as pl


    def doubled(x: pl.Expr) -> pl.Expr:
        return x * 2


    def shifted(doubled: pl.Expr, lag: int) -> pl.Expr:
        return doubled.shift(lag).fill_null(0.0)
    """
    main = """
    import polars as pl
    import FEATURES as features
    from hamilton.function_modifiers import parameterized_subdag, source, value


    @parameterized_subdag(
        features,
        inputs={"x": source("spend")},
        lag_1={"inputs": {"lag": value(1)}},
        lag_2={"inputs": {"lag": value(2)}},
    )
    def spend_lag(shifted: pl.Expr, doubled: pl.Expr) -> pl.Expr:
        return shifted + doubled
    """
    ours = write_modules(tmp_path, {"FEATURES": features, "MAIN": main}, "hamilton_fast")
    fast = driver.Builder().with_modules(ours["modules"]["MAIN"]).build()
    inputs = {"spend": pl.Series("spend", [1.0, 2.0, 3.0])}
    plan = fast.explain(["lag_1", "lag_2"], inputs=inputs)
    assert "python_udf" not in plan
    assert "Opaque nodes: none" in plan
    assert "1 final query" in plan
    frame = fast.execute(["lag_1", "lag_2"], inputs=inputs)
    assert frame["lag_1"].to_list() == [2.0, 6.0, 10.0]
    assert frame["lag_2"].to_list() == [2.0, 4.0, 8.0]


def test_tag_on_a_subdag_function_tags_only_its_final_node(tmp_path):
    main = """
    import polars as pl
    import FEATURES as features
    from hamilton.function_modifiers import source, subdag, tag, value


    def raw() -> pl.Series:
        return pl.Series("raw", [1.0, 2.0])


    @tag(team="growth")
    @subdag(features, inputs={"x": source("raw"), "factor": value(1.0)}, config={"mode": "up"})
    def tagged(total: float) -> float:
        return total
    """
    sources = {"FEATURES": FEATURES, "MAIN": main}
    hamilton, fast, placeholders = build_both(tmp_path, sources, config={})
    assert variables(fast, placeholders) == variables(hamilton, placeholders)


def test_config_when_on_a_subdag_function_tags_only_its_final_node(tmp_path):
    main = """
    import polars as pl
    import FEATURES as features
    from hamilton.function_modifiers import config, source, subdag, value


    def raw() -> pl.Series:
        return pl.Series("raw", [1.0, 2.0])


    @config.when(version="v2")
    @subdag(features, inputs={"x": source("raw"), "factor": value(1.0)}, config={"mode": "up"})
    def result__v2(total: float) -> float:
        return total * 2
    """
    sources = {"FEATURES": FEATURES, "MAIN": main}
    hamilton, fast, placeholders = build_both(tmp_path, sources, config={"version": "v2"})
    assert variables(fast, placeholders) == variables(hamilton, placeholders)


# -- build-time errors ---------------------------------------------------------------------------


def decorate(decorator) -> None:
    def final(total: float) -> float:
        return total

    decorator(final)


def test_inputs_must_be_source_or_value():
    from hamilton_fast.function_modifiers import subdag

    with pytest.raises(ModifierError) as info:
        decorate(subdag(pl, inputs={"x": 3}))
    message = str(info.value)
    assert "@subdag on `final`" in message
    assert "test_decorators_subdag.py:" in message
    assert "`inputs` maps `x` to 3, which is neither source() nor value()" in message
    assert 'Hint: write "x": value(3)' in message


def test_config_must_not_hold_sources():
    from hamilton_fast.function_modifiers import source, subdag

    with pytest.raises(ModifierError, match=r"`config` maps `mode` to .*not source\(\) or group"):
        decorate(subdag(pl, config={"mode": source("raw")}))


def test_a_name_in_both_inputs_and_config():
    from hamilton_fast.function_modifiers import subdag, value

    with pytest.raises(ModifierError, match=r"`mode` is given both in `inputs` and in `config`"):
        decorate(subdag(pl, inputs={"mode": value("a")}, config={"mode": "a"}))


def test_load_from_is_required_and_typed():
    from hamilton_fast.function_modifiers import subdag

    with pytest.raises(ModifierError, match=r"no modules or functions were given"):
        decorate(subdag())
    with pytest.raises(ModifierError, match=r"`load_from` takes modules and functions, got str"):
        decorate(subdag("features"))


def test_external_inputs_must_be_parameters():
    from hamilton_fast.function_modifiers import subdag

    with pytest.raises(ModifierError) as info:
        decorate(subdag(pl, external_inputs=["labl"]))
    assert "`external_inputs` names `labl`, which is not a parameter" in str(info.value)
    assert "Hint: the parameters are `total`" in str(info.value)


def test_parameterized_subdag_argument_errors():
    from hamilton_fast.function_modifiers import parameterized_subdag, value

    with pytest.raises(ModifierError, match=r"no subdags were named"):
        decorate(parameterized_subdag(pl, inputs={"x": value(1)}))
    with pytest.raises(ModifierError, match=r"`a=` has the key\(s\) 'input'"):
        decorate(parameterized_subdag(pl, a={"input": {"x": value(1)}}))
    with pytest.raises(ModifierError, match=r'`a\["inputs"\]` maps `x` to 1'):
        decorate(parameterized_subdag(pl, a={"inputs": {"x": 1}}))


def test_inputs_that_fill_a_computed_node(tmp_path):
    main = """
    import polars as pl
    import FEATURES as features
    from hamilton_fast.function_modifiers import subdag, value


    @subdag(features, inputs={"doubled": value(1.0)}, config={"mode": "up"})
    def clash(total: float) -> float:
        return total
    """
    module = write_modules(tmp_path, {"FEATURES": FEATURES, "MAIN": main}, "hamilton_fast")
    with pytest.raises(GraphError) as info:
        driver.Builder().with_modules(module["modules"]["MAIN"]).build()
    message = str(info.value)
    assert (
        "@subdag on `clash`: inputs= fills `doubled`, which the subdag computes itself" in message
    )
    assert "Hint:" in message


def test_missing_configuration_key(tmp_path):
    main = """
    import polars as pl
    import FEATURES as features
    from hamilton_fast.function_modifiers import configuration, subdag


    @subdag(features, config={"mode": configuration("direction")})
    def chosen(total: float) -> float:
        return total
    """
    module = write_modules(tmp_path, {"FEATURES": FEATURES, "MAIN": main}, "hamilton_fast")
    with pytest.raises(GraphError) as info:
        driver.Builder().with_modules(module["modules"]["MAIN"]).build()
    assert 'config `mode` reads configuration("direction"), which is not in the config' in str(
        info.value
    )


def test_problems_inside_the_subdag_name_the_decorated_function(tmp_path):
    broken = """
    import polars as pl


    def doubled(x) -> pl.Series:
        return x * 2
    """
    main = """
    import polars as pl
    import FEATURES as features
    from hamilton_fast.function_modifiers import subdag


    @subdag(features)
    def uses_broken(doubled: pl.Series) -> pl.Series:
        return doubled
    """
    module = write_modules(tmp_path, {"FEATURES": broken, "MAIN": main}, "hamilton_fast")
    with pytest.raises(GraphError) as info:
        driver.Builder().with_modules(module["modules"]["MAIN"]).build()
    message = str(info.value)
    assert "@subdag on `uses_broken`: the functions it replays do not form a valid" in message
    assert "`doubled` has no type annotation for `x`" in message
    assert "Hint: fix the problems listed above" in message
