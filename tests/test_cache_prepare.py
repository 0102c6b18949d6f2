"""Keying a run with the inputs hashed together (on threads) gives the keys of one at a time.

``NodeCache.prepare`` fingerprints a request's frame and series inputs and overrides in one
batch, their columns on two threads when they are big. Each test runs one request on fresh
drivers over separate cache directories: batched with the thread thresholds at zero (every
column on a thread), and with the batch switched off (each input keyed by itself, as the
keying loop does), and compares what the cache reports per node.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from hamilton_fast.cache import fingerprint as fp_module
from hamilton_fast.cache import node_cache
from tests.cache_modules import DICT_RESULT, Project, run_cached

FLOW = """
import polars as pl

SCALE = 3.0


def total(a: pl.Series, b: pl.Series) -> pl.Series:
    return a + b * SCALE


def ratio(total: pl.Series, frame: pl.DataFrame) -> pl.Series:
    return total / frame.get_column("w").abs().max()


def rows(frame: pl.DataFrame, label: str) -> pl.DataFrame:
    return frame.with_columns(pl.lit(label).alias("label"))


def objects(o: pl.Series) -> pl.Series:
    return o.head(3)


def counted(objects: pl.Series) -> int:
    return objects.len()
"""

ROWS = 600_000


def big_inputs(seed: int = 0) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    nulls = rng.random(ROWS) < 0.01
    a = pl.Series("a", np.where(nulls, np.nan, rng.standard_normal(ROWS))).fill_nan(None)
    b = pl.Series("b", rng.standard_normal(ROWS))
    frame = pl.DataFrame({"w": rng.standard_normal(ROWS), "k": rng.integers(0, 9, ROWS)})
    return {"a": a, "b": b, "frame": frame, "label": "x"}


@pytest.fixture
def project(tmp_path: Path):
    opened = Project(tmp_path / "flows")
    opened.write("flow", FLOW)
    yield opened
    opened.close()


def report(modules, cache_dir: Path, outputs, inputs, *, batched: bool, **request):
    """Per node: status, key and detail of a cold run, then of a warm run."""
    with pytest.MonkeyPatch.context() as patch:
        if batched:
            patch.setattr(fp_module, "_PARALLEL_BYTES", 0)
            patch.setattr(fp_module, "_PARALLEL_COLUMN_BYTES", 0)
        else:
            patch.setattr(node_cache.NodeCache, "_data_keys", lambda self, *args: {})
        seen = []
        for _ in range(2):
            dr, _ = run_cached(modules, cache_dir, outputs, inputs, adapter=DICT_RESULT, **request)
            seen.append({n: (s.status, s.key, s.detail) for n, s in dr.cache.last_run.items()})
    return seen


def both(modules, tmp_path: Path, outputs, inputs, **request):
    return [
        report(modules, tmp_path / name, outputs, inputs, batched=batched, **request)
        for name, batched in (("batched", True), ("one_by_one", False))
    ]


def test_batched_keys_equal_keys_taken_one_by_one(project, tmp_path, monkeypatch):
    modules = project.load()
    threads: list[int] = []
    real = fp_module.ThreadPoolExecutor

    def counting(workers: int, **kwargs):
        threads.append(workers)
        return real(workers, **kwargs)

    monkeypatch.setattr(fp_module, "ThreadPoolExecutor", counting)
    monkeypatch.setattr(fp_module, "_usable_cores", lambda: 2)
    batched, one_by_one = both(modules, tmp_path, ["total", "ratio", "rows"], big_inputs())
    assert threads, "the batch did not run on threads"
    assert batched == one_by_one
    assert {s for s, _, _ in batched[1].values()} == {"input", "hit"}


def test_batched_overrides_keep_their_keys(project, tmp_path):
    modules = project.load()
    overrides = {"total": big_inputs(seed=1)["a"].rename("total")}
    runs = both(modules, tmp_path, ["ratio"], big_inputs(), overrides=overrides)
    assert runs[0] == runs[1]
    assert runs[0][1]["total"][0] == "override"
    assert runs[0][1]["ratio"][0] == "hit"


def test_an_unfingerprintable_input_is_reported_on_its_node(project, tmp_path):
    modules = project.load()
    inputs = {**big_inputs(), "o": pl.Series("o", [object()] * 5, dtype=pl.Object)}
    runs = both(modules, tmp_path, ["total", "counted"], inputs)
    assert runs[0] == runs[1]
    warm = runs[0][1]
    assert warm["o"][:2] == ("input", None)
    assert warm["objects"] == (
        "uncacheable",
        None,
        "its dependency `o` cannot be fingerprinted",
    )
    assert warm["counted"][0] == "uncacheable"
    assert warm["total"][0] == "hit"


LOADER_FLOW = """
import polars as pl


def base(n: int) -> pl.DataFrame:
    return pl.DataFrame({"i": list(range(n))})


def aggregate(base: pl.DataFrame, data: pl.Series) -> pl.Series:
    return base["i"] + data
"""


def test_an_input_named_data_after_a_loader_keys_by_its_own_values(tmp_path):
    """Regression: the batch of input keys once shared a name with a loader's key parts, so
    an input called `data` was keyed by the loader's result and changed data hit."""
    project = Project(tmp_path / "loader_flows")
    project.write("flow", LOADER_FLOW)
    try:
        modules = project.load()
        for values in ([1, 2, 3], [10, 20, 30], [1, 2, 3]):
            inputs = {"n": 3, "data": pl.Series("data", values)}
            run_cached(modules, tmp_path / "cache", ["aggregate"], inputs)  # checks vs uncached
    finally:
        project.close()


def test_a_rerun_takes_logical_digests_of_inputs_from_the_memo(project, tmp_path, monkeypatch):
    """Inputs with nulls: the first run fills their null slots to hash them and remembers the
    result under the raw bytes' digest; a rerun (a new driver, as in a new process) finds it
    there and fills nothing. Other bytes under the nulls still hit; another value does not."""
    modules = project.load()
    inputs = big_inputs()
    outputs = ["total", "ratio"]
    cold, _ = run_cached(modules, tmp_path / "c", outputs, inputs, adapter=DICT_RESULT)
    fills: list[int] = []
    real_fill = fp_module._Unfilled.fill

    def counting_fill(self):
        fills.append(1)
        return real_fill(self)

    monkeypatch.setattr(fp_module._Unfilled, "fill", counting_fill)
    warm, result = run_cached(modules, tmp_path / "c", outputs, inputs, adapter=DICT_RESULT)
    assert fills == []
    assert {n: s.status for n, s in warm.cache.last_run.items() if n in outputs} == {
        "total": "hit",
        "ratio": "hit",
    }
    a = inputs["a"]
    assert isinstance(a, pl.Series)
    assert a.null_count() > 0
    nulls = np.flatnonzero(a.is_null().to_numpy())
    garbage = a.fill_null(123.0).scatter(nulls, None)  # other bytes under the same nulls
    again, _ = run_cached(
        modules, tmp_path / "c", outputs, {**inputs, "a": garbage}, adapter=DICT_RESULT
    )
    assert fills == [1]  # a new raw digest: filled once
    assert again.cache.last_run["total"].status == "hit"
    edited = a.clone().scatter(int(np.flatnonzero(a.is_not_null().to_numpy())[0]), 1e6)
    changed, got = run_cached(
        modules, tmp_path / "c", outputs, {**inputs, "a": edited}, adapter=DICT_RESULT
    )
    assert changed.cache.last_run["total"].status == "computed"
    assert got["total"].equals(edited + inputs["b"] * 3.0)
    assert result["total"].equals(a + inputs["b"] * 3.0)
