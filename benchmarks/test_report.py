"""`report.py` renders a pytest-benchmark JSON into the README block, and only that block."""

from __future__ import annotations

import pytest

from benchmarks import report


def _bench(group: str, workload: str, engine: str, median: float) -> dict:
    return {
        "group": group,
        "name": f"test[{engine}]",
        "param": engine,
        "extra_info": {"workload": workload, "engine": engine},
        "stats": {"median": median, "min": median * 0.9, "iqr": median / 10, "rounds": 5},
    }


DATA = {
    "datetime": "2026-01-01T00:00:00.000000+00:00",
    "commit_info": {"id": "0123456789abcdef"},
    "machine_info": {
        "cpu": {"brand_raw": "Test CPU", "count": 2},
        "hamilton_fast_bench": {"bench_size": "full", "cpu_count": 2, "polars": "2.1.0"},
    },
    "benchmarks": [
        _bench("execute", "hello world 1,000 rows", "handwritten", 1e-4),
        _bench("execute", "wide 200 nodes x 1,000,000 rows", "hamilton_fast", 1.05),
        _bench("execute", "wide 200 nodes x 1,000,000 rows", "handwritten", 1.0),
        _bench("build", "build wide 1000 nodes", "apache_hamilton", 0.05),
    ],
}


def test_render_lists_every_engine_with_ratios() -> None:
    text = report.render(report.Run(data=DATA))
    assert "| wide 200 nodes x 1,000,000 rows | hamilton_fast | 1.05 s |" in text
    assert "1.05x" in text
    assert "Apache Hamilton (pl.Series nodes, PolarsDataFrameResult) | no result" in text
    assert "**met** (1.05x by medians" in text
    assert text.index("wide 200 nodes") < text.index("hello world")
    assert "Peak memory: not measured in this run." in text


def test_write_table_replaces_only_the_marked_block(tmp_path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{report.TABLE_START}\nold\n{report.TABLE_END}\noutro\n")
    report.write_table(readme, "new table")
    assert (
        readme.read_text() == f"intro\n{report.TABLE_START}\nnew table\n{report.TABLE_END}\noutro\n"
    )


def test_write_table_without_markers_says_how_to_fix(tmp_path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("no markers here\n")
    with pytest.raises(SystemExit, match="Hint: put both markers"):
        report.write_table(readme, "table")
