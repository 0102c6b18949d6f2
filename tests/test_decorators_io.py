"""load_from / save_to / dataloader / datasaver: Hamilton's nodes, tags and values."""

from __future__ import annotations

import os

os.environ.setdefault("HAMILTON_TELEMETRY_ENABLED", "false")

import polars as pl
import pytest
from hamilton import driver as h_driver
from polars.testing import assert_frame_equal

from hamilton_fast import base, driver
from hamilton_fast.errors import GraphError, ModifierError
from hamilton_fast.function_modifiers import load_from, save_to, value
from tests.dataflows import load
from tests.helpers import load_module

FRAME = pl.DataFrame({"a": [1.0, 2.0, 3.0], "b": [1, 2, 3], "c": ["x", "y", "z"]})


@pytest.fixture
def paths(tmp_path):
    FRAME.write_parquet(tmp_path / "in.parquet")
    FRAME.select("a", "b").write_csv(tmp_path / "in.csv")
    return {
        "parquet_path": str(tmp_path / "in.parquet"),
        "csv_path": str(tmp_path / "in.csv"),
        "out_path": str(tmp_path / "out.csv"),
        "out_path2": str(tmp_path / "out2.csv"),
        "k": 3,
    }


def fast_driver():
    return (
        driver.Builder()
        .with_modules(load("io_decorated", "hamilton_fast"))
        .with_adapters(base.DictResult())
        .build()
    )


def test_same_nodes_and_tags_as_hamilton():
    hamilton = h_driver.Builder().with_modules(load("io_decorated", "hamilton")).build()

    def tags(dr):
        return {
            v.name: {k: t for k, t in v.tags.items() if k != "module"}
            for v in dr.list_available_variables()
        }

    theirs, ours = tags(hamilton), tags(fast_driver())
    assert set(ours) == set(theirs)
    for name, tags in theirs.items():
        assert ours[name] == {k: v for k, v in tags.items() if k in ours[name]}, name
        assert set(tags) == set(ours[name]), name


def test_values(paths, tmp_path):
    dr = fast_driver()
    result = dr.execute(
        ["loaded", "a_plus_b", "from_csv", "saved", "my_loader", "my_saver"], inputs=paths
    )
    expected = FRAME.with_columns(pl.col("a") * 2)
    assert_frame_equal(result["loaded"], expected)
    assert result["a_plus_b"].to_list() == [3.0, 6.0, 9.0]
    assert_frame_equal(result["from_csv"], FRAME.select(pl.col("a") * 3, "b"))
    assert_frame_equal(pl.read_csv(paths["out_path"]), FRAME.select(pl.col("a") * 3, "b"))
    assert result["saved"]["file_metadata"]["path"] == paths["out_path"]
    assert result["saved"]["dataframe_metadata"]["rows"] == 3
    assert_frame_equal(result["my_loader"], FRAME.select("a", "b"))
    assert result["my_saver"] == {"path": paths["out_path2"]}


def test_loader_is_a_scan_with_projection(paths):
    dr = driver.Builder().with_modules(load("io_decorated", "hamilton_fast")).build()
    plan = dr.explain(["a_plus_b"], inputs=paths)
    assert plan.count("Parquet SCAN") == 1
    assert "PROJECT 2/3 COLUMNS" in plan  # column c is never read
    assert "python_udf" not in plan
    frame = dr.execute(["a_plus_b"], inputs=paths)
    assert frame["a_plus_b"].to_list() == [3.0, 6.0, 9.0]


def test_function_needing_data_gets_a_dataframe(tmp_path):
    path = tmp_path / "f.arrow"
    FRAME.write_ipc(path)
    module = load_module(
        tmp_path,
        f"""
        import polars as pl
        from hamilton_fast.function_modifiers import load_from, value

        @load_from.feather(source=value({str(path)!r}))
        def rows(df: pl.DataFrame) -> int:
            return df.height

        @load_from.feather(source=value({str(path)!r}))
        def first_a(df: pl.DataFrame) -> float:
            return df["a"][0]
        """,
    )
    dr = driver.Builder().with_modules(module).with_adapters(base.DictResult()).build()
    assert dr.execute(["rows", "first_a"]) == {"rows": 3, "first_a": 1.0}


def test_errors(tmp_path):
    with pytest.raises(ModifierError, match="load_from.xlsb is not a supported format"):
        load_from.xlsb(file=value("x"))
    with pytest.raises(ModifierError, match="needs the file to read or write"):
        save_to.csv(output_name_="x")
    with pytest.raises(ModifierError, match="must be source"):
        load_from.csv(file="plain string")
    module = load_module(
        tmp_path,
        """
        import polars as pl
        from hamilton_fast.function_modifiers import load_from, value

        @load_from.csv(file=value("a.csv"))
        def two(a: pl.DataFrame, b: pl.DataFrame) -> pl.DataFrame:
            return a
        """,
    )
    with pytest.raises(GraphError, match="cannot tell which parameter to load: 2 parameters"):
        driver.Builder().with_modules(module).build()
