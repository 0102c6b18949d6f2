"""The command line, run as users run it: `python -m hamilton_fast` in a subprocess."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from hamilton_fast import driver
from hamilton_fast.cache import CacheStore
from tests.helpers import load_module

FEATURES = """
import numpy as np
import polars as pl
from hamilton_fast.function_modifiers import config, extract_columns

@extract_columns("spend", "signups")
def base_df(path: str) -> pl.LazyFrame:
    return pl.scan_parquet(path)

def spend_per_signup(spend: pl.Series, signups: pl.Series) -> pl.Series:
    return spend / signups

def spend_mean(spend: pl.Series) -> float:
    return spend.mean()

def spend_scaled(spend: pl.Series, factor: float) -> pl.Series:
    return spend * factor

def log_spend(spend: pl.Series) -> pl.Series:
    return pl.Series(np.log1p(spend.to_numpy()))

@config.when(variant="a")
def signal__a(spend: pl.Series) -> pl.Series:
    return spend + 1

@config.when(variant="b")
def signal__b(spend: pl.Series) -> pl.Series:
    return spend - 1

def label(spend: pl.Series, tag: str, weights: list) -> pl.Series:
    return spend.cast(pl.String) + tag + str(sum(weights))

def boom(spend: pl.Series) -> float:
    return 1 / 0 if len(spend) else 0.0
"""

DATA = pl.DataFrame({"spend": [10.0, 20.0, 40.0, 80.0], "signups": [1, 4, 5, 10]})


@pytest.fixture
def project(tmp_path):
    (tmp_path / "features.py").write_text(textwrap.dedent(FEATURES))
    DATA.write_parquet(tmp_path / "data.parquet")
    return tmp_path


def cli(cwd, *args, check=None):
    done = subprocess.run(
        [sys.executable, "-m", "hamilton_fast", *map(str, args)],
        check=False,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check is not None:
        assert done.returncode == check, (done.returncode, done.stdout, done.stderr)
    return done


def reference(project, outputs, inputs, config):
    module = load_module(project, FEATURES)
    dr = driver.Builder().with_modules(module).with_config(config).build()
    return dr.execute(outputs, inputs={"path": str(project / "data.parquet"), **inputs})


READERS = {
    "parquet": lambda path, schema: pl.read_parquet(path),
    "csv": lambda path, schema: pl.read_csv(path, schema=schema),  # CSV has no types
    "ipc": lambda path, schema: pl.read_ipc(path),
}


@pytest.mark.parametrize("suffix", sorted(READERS))
def test_run_writes_what_the_driver_computes(project, suffix):
    out = project / "results" / f"result.{suffix}"
    done = cli(
        project,
        "run",
        "features",
        "--output",
        "spend_per_signup,spend_scaled",
        "--output",
        "signal,label",
        "--input",
        "path=data.parquet",
        "--input",
        "factor=3",  # an int on the command line; the parameter asks for a float
        "--input",
        "tag=2024",  # text, since the parameter asks for str
        "--input",
        "weights=[1, 2]",
        "--config",
        "variant=b",
        "--out",
        out,
        check=0,
    )
    expected = reference(
        project,
        ["spend_per_signup", "spend_scaled", "signal", "label"],
        {"factor": 3.0, "tag": "2024", "weights": [1, 2]},
        {"variant": "b"},
    )
    assert_frame_equal(READERS[suffix](out, expected.schema), expected)
    assert expected["signal"].to_list() == [9.0, 19.0, 39.0, 79.0]
    assert expected["label"][0] == "10.020243"
    for stage in ("build", "execute", "write"):
        assert stage in done.stderr
    assert "4 rows x 4 columns" in done.stderr
    assert done.stdout == ""


def test_run_prints_the_frame_without_out(project):
    done = cli(
        project,
        "run",
        project / "features.py",  # a path works as well as a module name
        "-o",
        "spend_mean,spend_per_signup",
        "-i",
        "path=data.parquet",
        "--engine",
        "streaming",
        check=0,
    )
    assert "spend_per_signup" in done.stdout
    assert "spend_mean" in done.stdout
    assert "shape: (4, 2)" in done.stdout
    assert "execute" in done.stderr


def test_user_errors_exit_1_with_the_library_message(project):
    missing = cli(project, "run", "features", "--output", "spend_mean", check=1)
    assert "InputError: `path` is needed, but no function or input provides it." in missing.stderr
    assert "required by: base_df(path: str) at features.py:" in missing.stderr
    assert "Hint:" in missing.stderr
    assert "Traceback" not in missing.stderr
    assert missing.stdout == ""

    unknown = cli(project, "explain", "features", "-o", "spend_maen", "-i", "path=x", check=1)
    assert "UnknownNodeError: `spend_maen` is not a node" in unknown.stderr
    assert "did you mean `spend_mean`" in unknown.stderr
    assert "Traceback" not in unknown.stderr

    no_module = cli(project, "list", "featurez", check=1)
    assert "cannot import module `featurez`" in no_module.stderr
    assert "Hint:" in no_module.stderr
    assert "Traceback" not in no_module.stderr


def test_a_failing_function_shows_its_traceback_then_the_message(project):
    done = cli(project, "run", "features", "-o", "boom", "-i", "path=data.parquet", check=1)
    assert "ZeroDivisionError: division by zero" in done.stderr
    assert "features.py" in done.stderr  # the user's frame
    assert done.stderr.rstrip().splitlines()[-3].startswith("NodeError: `boom` failed")


def test_unexpected_exceptions_are_not_swallowed(project):
    (project / "broken.py").write_text("raise RuntimeError('kaboom at import')\n")
    done = cli(project, "list", "broken")
    assert done.returncode == 1
    assert "Traceback" in done.stderr
    assert "RuntimeError: kaboom at import" in done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["run", "features"],  # --output is required
        ["run", "features", "-o", "x", "--input", "novalue"],
        ["run", "features", "-o", "x", "--out", "result.xlsx"],
        ["run", "features", "-o", "x", "--engine", "warp"],
        ["viz", "features", "--out", "dag.bmpx"],
        ["frobnicate"],
        [],
        ["list", "features", "--no-such-flag"],
    ],
)
def test_bad_usage_exits_2(project, args):
    done = cli(project, *args, check=2)
    assert "usage: hamilton-fast" in done.stderr


@pytest.mark.parametrize("command", [None, "run", "explain", "viz", "list", "demo"])
def test_help_on_every_command(project, command):
    done = cli(project, *([command] if command else []), "--help", check=0)
    assert done.stdout.startswith(f"usage: hamilton-fast{' ' + command if command else ''}")
    if command in ("run", "explain", "viz", "list"):
        assert "--input" in done.stdout
        assert "--config" in done.stdout
    if command is None:
        for name in ("run", "explain", "viz", "list", "demo"):
            assert name in done.stdout


def test_explain_prints_the_plan_and_opaque_nodes(project):
    done = cli(
        project,
        "explain",
        "features",
        "-o",
        "spend_per_signup,log_spend",
        "-i",
        "path=data.parquet",
        check=0,
    )
    assert done.stdout.startswith("hamilton_fast plan for spend_per_signup, log_spend")
    assert "Query 1" in done.stdout
    assert "Opaque nodes (run in Python outside the query):" in done.stdout
    assert "log_spend: " in done.stdout
    assert "to_numpy" in done.stdout


def _rows(stdout):
    lines = stdout.splitlines()
    assert lines[0].split() == ["NAME", "TYPE", "KIND", "TAGS", "ORIGIN"]
    return {line.split()[0]: line.split() for line in lines[1:]}


def test_list_shows_type_kind_tags_origin(project):
    done = cli(project, "list", "features", "--config", "variant=a", check=0)
    rows = _rows(done.stdout)
    module = load_module(project, FEATURES)
    graph = driver.Builder().with_modules(module).with_config({"variant": "a"}).build().graph
    assert set(rows) == set(graph.nodes)
    assert rows["spend_per_signup"][1:3] == ["pl.Series", "column"]
    assert rows["spend_per_signup"][-1].startswith("features.py:")
    assert rows["base_df"][1:3] == ["pl.LazyFrame", "frame"]
    assert rows["spend_mean"][1:3] == ["float", "value"]
    assert rows["path"][1:3] == ["str", "input"]
    assert rows["path"][-1] == "-"
    assert rows["variant"][2] == "config"
    assert rows["log_spend"][2] == "column"  # not planned: annotations only

    done = cli(
        project,
        "list",
        "features",
        "-c",
        "variant=a",
        "-i",
        "path=data.parquet",
        "-i",
        "factor=2",
        check=0,
    )
    planned = _rows(done.stdout)
    assert "`boom` failed while planning (`boom` failed: ZeroDivisionError" in done.stderr
    assert planned["log_spend"][2] == "opaque"
    assert planned["spend_mean"][2] == "scalar"
    assert planned["spend_scaled"][2] == "column"
    assert planned["label"][2] == "column"  # needs `tag` and `weights`: not planned


def test_viz_prints_dot_or_writes_files(project):
    dot = cli(project, "viz", "features", "--hide-inputs", check=0).stdout
    assert dot.startswith('digraph "hamilton_fast" {')
    assert '"spend" -> "spend_per_signup";' in dot
    assert '"path"' not in dot

    done = cli(
        project,
        "viz",
        "features",
        "-o",
        "log_spend",
        "-i",
        "path=data.parquet",
        "--out",
        project / "dag.dot",
        check=0,
    )
    written = (project / "dag.dot").read_text()
    assert 'shape="octagon"' in written  # log_spend planned as opaque
    assert "dag.dot" in done.stderr

    if shutil.which("dot"):
        cli(project, "viz", "features", "--out", project / "dag.png", check=0)
        assert (project / "dag.png").read_bytes()[:4] == b"\x89PNG"


def _demo(cwd, script, *args):
    code = (
        "import sys; from pathlib import Path; import hamilton_fast.cli as cli\n"
        f"cli.demo_script = lambda: Path({str(script)!r})\n"
        "raise SystemExit(cli.main(sys.argv[1:]))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code, "demo", *args],
        check=False,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_demo_runs_the_example_main_with_its_arguments(tmp_path):
    script = tmp_path / "forecasting" / "run.py"
    script.parent.mkdir()
    script.write_text("def main(argv):\n    print('demo ran with', argv)\n    return 3\n")
    done = _demo(tmp_path, script, "--", "--rows", "10")
    assert done.returncode == 3, done.stderr
    assert "demo ran with ['--rows', '10']" in done.stdout

    missing = _demo(tmp_path, tmp_path / "nowhere" / "run.py")
    assert missing.returncode == 1
    assert "forecasting demo was not found" in missing.stderr
    assert "Hint:" in missing.stderr


def test_run_with_cache_then_the_cache_commands(project):
    run = (
        "run",
        "features",
        "--output",
        "spend_per_signup,spend_scaled",
        "--input",
        "path=data.parquet",
        "--input",
        "factor=3",
        "--cache",
        "store",
    )
    first = cli(project, *run, check=0)
    assert "cache: 0 hit, 5 computed" in first.stderr  # the loader, its columns, outputs
    second = cli(project, *run, check=0)
    assert "cache: 2 hit, 1 computed" in second.stderr  # a loader is called every run

    listing = cli(project, "cache", "ls", "--path", "store", check=0).stdout.splitlines()
    assert listing[0].split()[:3] == ["node", "kind", "size"]
    assert sorted(line.split()[0] for line in listing[1:]) == ["spend_per_signup", "spend_scaled"]
    stats = cli(project, "cache", "stats", "--path", "store", check=0).stdout
    assert stats.startswith("2 entries")

    verified = cli(project, "cache", "verify", "--path", "store", check=0)
    assert "verified 2 entries: 2 intact, 0 corrupt" in verified.stdout
    with CacheStore(project / "store") as store:
        (entry,) = store.entries("spend_scaled")
    victim = entry.path
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.write_bytes(bytes(data))
    damaged = cli(project, "cache", "verify", "--path", "store", check=1)
    assert "verified 2 entries: 1 intact, 1 corrupt" in damaged.stdout
    assert "`spend_scaled` is unusable (checksum mismatch)" in damaged.stderr
    third = cli(project, *run, check=0)
    assert "cache: 1 hit, 3 computed" in third.stderr  # the loader, `spend`, `spend_scaled`

    assert (
        "removed 1 entries"
        in cli(
            project, "cache", "clear", "--node", "spend_scaled", "--path", "store", check=0
        ).stdout
    )
    assert (
        "removed 0 entries"
        in cli(project, "cache", "prune", "--days", "1", "--path", "store", check=0).stdout
    )
    assert "removed 1 entries" in cli(project, "cache", "clear", "--path", "store", check=0).stdout
    missing = cli(project, "cache", "ls", "--path", "nowhere", check=1)
    assert "is not a hamilton_fast cache directory" in missing.stderr
