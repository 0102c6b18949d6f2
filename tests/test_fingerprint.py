"""Fingerprints: equal content gives equal digests anywhere; any change gives a new digest."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import importlib
import json
import os
import pickle
import runpy
import subprocess
import sys
import textwrap
import time
import uuid
import zoneinfo
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import hamilton_fast.cache.fingerprint as fp_module
from hamilton_fast.cache import (
    FORMAT_VERSION,
    UnfingerprintableError,
    fingerprint_file,
    fingerprint_frame,
    fingerprint_function,
    fingerprint_lazyframe,
    fingerprint_value,
    node_key,
    node_key_parts,
)
from hamilton_fast.errors import CacheError
from tests.helpers import sorted_flags_aside

REPO = Path(__file__).resolve().parents[1]

# --------------------------------------------------------------------------------------------
# Frames: hypothesis

COLUMN_KINDS = {
    "i64": (pl.Int64, st.integers(-(2**63), 2**63 - 1)),
    "i8": (pl.Int8, st.integers(-128, 127)),
    "u32": (pl.UInt32, st.integers(0, 2**32 - 1)),
    "f64": (pl.Float64, st.floats(allow_nan=False, width=64)),
    "f32": (pl.Float32, st.floats(allow_nan=False, width=32)),
    "bool": (pl.Boolean, st.booleans()),
    "str": (pl.String, st.text(max_size=20)),
    "bin": (pl.Binary, st.binary(max_size=20)),
    "date": (pl.Date, st.dates()),
    "dtm": (pl.Datetime("us"), st.datetimes(min_value=dt.datetime(1900, 1, 1))),
    "dur": (
        pl.Duration("ms"),
        st.timedeltas(min_value=dt.timedelta(days=-999), max_value=dt.timedelta(days=999)),
    ),
    "list": (pl.List(pl.Int64), st.lists(st.integers(-1000, 1000) | st.none(), max_size=4)),
    "struct": (
        pl.Struct({"a": pl.Int64, "b": pl.String}),
        st.fixed_dictionaries(
            {"a": st.integers(-5, 5) | st.none(), "b": st.text(max_size=3) | st.none()}
        ),
    ),
    "cat": (pl.Categorical, st.sampled_from(["a", "b", "c", "dd"])),
    "enum": (pl.Enum(["x", "y", "z"]), st.sampled_from(["x", "y", "z"])),
    "dec": (
        pl.Decimal(10, 2),
        st.decimals(min_value=-1000, max_value=1000, places=2, allow_nan=False),
    ),
    "arr": (pl.Array(pl.Int32, 2), st.lists(st.integers(-9, 9), min_size=2, max_size=2)),
}


@st.composite
def frames(draw: st.DrawFn, min_rows: int = 0) -> tuple[dict[str, str], pl.DataFrame]:
    n_rows = draw(st.integers(min_rows, 25))
    names = draw(st.lists(st.sampled_from("abcdefg"), min_size=1, max_size=4, unique=True))
    kinds = {name: draw(st.sampled_from(sorted(COLUMN_KINDS))) for name in names}
    data = {}
    for name, kind in kinds.items():
        dtype, values = COLUMN_KINDS[kind]
        column = draw(st.lists(values | st.none(), min_size=n_rows, max_size=n_rows))
        data[name] = pl.Series(name, column, dtype=dtype)
    return kinds, pl.DataFrame(data)


def rebuilt(df: pl.DataFrame) -> pl.DataFrame:
    """The same data in freshly allocated buffers."""
    return pl.DataFrame(
        [pl.Series(c.name, c.to_list(), dtype=c.dtype) for c in df.get_columns()],
        schema=df.schema,
    )


FRAME_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
SLOW_FRAME_SETTINGS = settings(FRAME_SETTINGS, max_examples=1000)


@FRAME_SETTINGS
@given(frames())
def test_equal_data_equal_fingerprint(case: tuple[dict[str, str], pl.DataFrame]) -> None:
    _, df = case
    assert fingerprint_frame(df) == fingerprint_frame(rebuilt(df))
    assert fingerprint_frame(df) == fingerprint_frame(df.clone())
    for column in df.get_columns():
        assert fingerprint_frame(column) == fingerprint_frame(
            rebuilt(column.to_frame()).to_series(0)
        )


@FRAME_SETTINGS
@given(frames(), st.integers(1, 5), st.data())
def test_slices_and_chunks_do_not_matter(
    case: tuple[dict[str, str], pl.DataFrame], pad: int, data: st.DataObject
) -> None:
    _, df = case
    with sorted_flags_aside():
        _check_slices_and_chunks(df, pad, data)


def _check_slices_and_chunks(df: pl.DataFrame, pad: int, data: st.DataObject) -> None:
    expected = fingerprint_frame(df)
    # The slice of a bigger frame, with and without rechunking it first.
    filler = pl.DataFrame(
        {name: pl.Series(name, [None] * pad, dtype=df.schema[name]) for name in df.columns}
    )
    bigger = pl.concat([filler, df, df.reverse(), filler], rechunk=False)
    assert fingerprint_frame(bigger.slice(pad, df.height)) == expected
    assert fingerprint_frame(bigger.rechunk().slice(pad, df.height)) == expected
    # The same rows split into independently built chunks.
    cuts = sorted(data.draw(st.lists(st.integers(0, df.height), max_size=4)))
    bounds = [0, *cuts, df.height]
    pieces = [rebuilt(df.slice(a, b - a)) for a, b in zip(bounds, bounds[1:], strict=False)]
    chunked = pl.concat(pieces, rechunk=False)
    assert fingerprint_frame(chunked) == expected
    for name in df.columns:
        assert fingerprint_frame(chunked[name]) == fingerprint_frame(df[name])


@FRAME_SETTINGS
@given(frames(min_rows=1), st.data())
def test_any_change_gives_a_new_fingerprint(
    case: tuple[dict[str, str], pl.DataFrame], data: st.DataObject
) -> None:
    kinds, df = case
    before = fingerprint_frame(df)
    name = data.draw(st.sampled_from(df.columns))
    row = data.draw(st.integers(0, df.height - 1))
    dtype, values = COLUMN_KINDS[kinds[name]]
    old = df[name].to_list()

    # A value changes.
    new_value = data.draw(values)
    assume(new_value != old[row])
    changed = list(old)
    changed[row] = new_value
    assume(pl.Series(changed, dtype=dtype).to_list() != old)
    edited = df.with_columns(pl.Series(name, changed, dtype=dtype))
    assert fingerprint_frame(edited) != before

    # A value becomes null.
    if old[row] is not None:
        nulled = list(old)
        nulled[row] = None
        assert fingerprint_frame(df.with_columns(pl.Series(name, nulled, dtype=dtype))) != before

    # A column is renamed.
    fresh = next(c for c in "pqrstuvw" if c not in df.columns)
    assert fingerprint_frame(df.rename({name: fresh})) != before

    # Same values, another dtype.
    if df[name].dtype.is_integer() and df[name].dtype != pl.Int64:
        assert fingerprint_frame(df.with_columns(pl.col(name).cast(pl.Int64))) != before
    if kinds[name] not in ("list", "struct", "arr", "bin", "str", "dur"):
        assert fingerprint_frame(df.with_columns(pl.col(name).cast(pl.String))) != before

    # Rows dropped from the end (same prefix).
    assert fingerprint_frame(df.head(df.height - 1)) != before


def test_frame_edge_cases() -> None:
    assert fingerprint_frame(pl.DataFrame()) == fingerprint_frame(pl.DataFrame())
    assert fingerprint_frame(pl.Series("a", [1])) != fingerprint_frame(pl.DataFrame({"a": [1]}))
    assert fingerprint_frame(pl.Series("a", [1])) != fingerprint_frame(pl.Series("b", [1]))
    # Floats compare bitwise: 0.0 and -0.0 are different results for a cache.
    assert fingerprint_frame(pl.Series([0.0])) != fingerprint_frame(pl.Series([-0.0]))
    nan = float("nan")
    assert fingerprint_frame(pl.Series([nan, 1.0])) == fingerprint_frame(pl.Series([nan, 1.0]))
    # Null slots hide whatever bytes are under them.
    with_garbage = pl.Series([5, 6, 7]).scatter(1, None)
    assert fingerprint_frame(with_garbage) == fingerprint_frame(pl.Series([5, None, 7]))
    # 128-bit integers and time zones.
    big = pl.Series([2**100, None], dtype=pl.Int128)
    assert fingerprint_frame(big) != fingerprint_frame(
        pl.Series([2**100 + 1, None], dtype=pl.Int128)
    )
    utc = pl.Series([dt.datetime(2020, 1, 1)]).dt.replace_time_zone("UTC")
    paris = utc.dt.convert_time_zone("Europe/Paris")
    assert fingerprint_frame(utc) != fingerprint_frame(paris)


def test_object_columns_are_refused() -> None:
    column = pl.Series("blob", [object(), object()], dtype=pl.Object)
    with pytest.raises(UnfingerprintableError, match=r"Column `blob` has dtype Object"):
        fingerprint_frame(column)


def test_numeric_columns_hash_their_buffers_directly(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object) -> bytes:
        raise AssertionError("numeric column without nulls went through the Arrow path")

    monkeypatch.setattr(fp_module, "_arrow_digest", refuse)
    frame = pl.DataFrame(
        {
            "f": np.arange(1000.0),
            "i": np.arange(1000, dtype=np.int32),
            "d": pl.date_range(dt.date(2000, 1, 1), dt.date(2002, 9, 26), eager=True),
        }
    )
    fingerprint_frame(frame.slice(10, 500))


@pytest.mark.slow
def test_numeric_fingerprint_throughput() -> None:
    column = pl.Series("x", np.random.default_rng(0).random(100_000_000))
    fingerprint_frame(column)
    start = time.perf_counter()
    fingerprint_frame(column)
    elapsed = time.perf_counter() - start
    rate = column.len() * 8 / elapsed / 1e9
    assert rate >= 3.0, f"{rate:.1f} GB/s"


# --------------------------------------------------------------------------------------------
# Values


class Color(enum.Enum):
    RED = 1
    BLUE = 2


@dataclasses.dataclass(frozen=True)
class Window:
    size: int
    center: bool = False


def test_value_types_are_distinguished() -> None:
    digests = [
        fingerprint_value(v)
        for v in (1, 1.0, True, "1", b"1", None, (1,), [1], {1}, frozenset({1}), np.int64(1))
    ]
    assert len(set(digests)) == len(digests)


def test_value_fingerprints_ignore_order_where_python_does() -> None:
    assert fingerprint_value({"a": 1, "b": [1, 2]}) == fingerprint_value({"b": [1, 2], "a": 1})
    assert fingerprint_value({"x", "y", "z"}) == fingerprint_value({"z", "y", "x"})
    assert fingerprint_value([1, 2]) != fingerprint_value([2, 1])
    schema_ab = pl.Schema({"a": pl.Int64, "b": pl.String})
    schema_ba = pl.Schema({"b": pl.String, "a": pl.Int64})
    assert fingerprint_value(schema_ab) != fingerprint_value(schema_ba)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (Window(3), Window(4)),
        (Window(3), Window(3, center=True)),
        (Color.RED, Color.BLUE),
        (dt.date(2020, 1, 1), dt.date(2020, 1, 2)),
        (dt.datetime(2020, 1, 1), dt.datetime(2020, 1, 1, tzinfo=dt.UTC)),
        (
            dt.datetime(2020, 1, 1, tzinfo=zoneinfo.ZoneInfo("Europe/Paris")),
            dt.datetime(2020, 1, 1, tzinfo=zoneinfo.ZoneInfo("Europe/Berlin")),
        ),
        (dt.timedelta(days=1), dt.timedelta(days=1, microseconds=1)),
        (decimal.Decimal("1.5"), decimal.Decimal("1.50")),
        (Path("a/b"), Path("a/c")),
        (np.array([1, 2], dtype=np.int64), np.array([1, 2], dtype=np.int32)),
        (np.array([[1, 2]]), np.array([1, 2])),
        (np.float32(1.5), np.float64(1.5)),
        (pl.col("a") + 1, pl.col("a") + 2),
        (pl.col("a").sum().over("g"), pl.col("a").sum().over("h")),
        (pl.lit(pl.Series([1, 2])), pl.lit(pl.Series([1, 3]))),
        (pl.Int64, pl.Int32),
        (pl.DataFrame({"a": [1]}), pl.DataFrame({"a": [2]})),
    ],
)
def test_value_changes_change_the_fingerprint(left: object, right: object) -> None:
    assert fingerprint_value(left) == fingerprint_value(left)
    assert fingerprint_value(left) != fingerprint_value(right)


def test_equal_values_built_apart_fingerprint_equal() -> None:
    assert fingerprint_value(Window(3)) == fingerprint_value(Window(3))
    assert fingerprint_value(pl.col("a").rolling_mean(3)) == fingerprint_value(
        pl.col("a").rolling_mean(3)
    )
    chunked = pl.concat([pl.Series([1, 2]), pl.Series([3])], rechunk=False)
    assert fingerprint_value(pl.lit(chunked)) == fingerprint_value(pl.lit(pl.Series([1, 2, 3])))


def test_unfingerprintable_value_names_type_and_hint() -> None:
    class Model:
        pass

    with pytest.raises(UnfingerprintableError) as info:
        fingerprint_value({"model": Model()})
    message = str(info.value)
    assert "test_fingerprint." in message
    assert "Model` has no deterministic fingerprint" in message
    assert 'Hint: mark the node `@cache(behavior="disable")`' in message
    assert isinstance(info.value, CacheError)
    assert isinstance(info.value, TypeError)
    with pytest.raises(UnfingerprintableError, match="builtins.function"):
        fingerprint_value(lambda: 1)
    cycle: list[object] = []
    cycle.append(cycle)
    with pytest.raises(UnfingerprintableError, match="contains itself"):
        fingerprint_value(cycle)


def test_expression_with_python_function_is_refused() -> None:
    with pytest.raises(UnfingerprintableError):
        fingerprint_value(pl.col("a").map_batches(lambda s: s * 2))


# --------------------------------------------------------------------------------------------
# Determinism across processes and pickling

MODULE_SOURCE = '''
import polars as pl

NAMES = {"alpha", "beta", "gamma", "delta"}
LOOKUP = {"a": 1, "b": 2}


def _helper(x):
    return x * len(NAMES)


def feature(spend: pl.Series, factor: float = 1.5) -> pl.Series:
    """A node."""
    return _helper(spend) * factor + LOOKUP["a"]
'''

SCRIPT = """
import datetime as dt, decimal, json, os, sys
import numpy as np, polars as pl
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fp_probe_module as mod
from hamilton_fast.cache import fingerprint_frame, fingerprint_function, fingerprint_value
from hamilton_fast.cache import fingerprint_lazyframe

def values():
    frame = pl.DataFrame({"s": ["x", "y", None], "f": [1.0, 2.5, 3.0], "c": ["a", "b", "a"]})
    frame = frame.with_columns(pl.col("c").cast(pl.Categorical))
    return {
        "frame": fingerprint_frame(frame),
        "lazy": fingerprint_lazyframe(frame.lazy().with_columns(g=pl.col("f") * 2)),
        "set": fingerprint_value({"alpha", "beta", "gamma", "delta", "epsilon"}),
        "dict": fingerprint_value({"k": [1, 2.5, "x"], "when": dt.date(2020, 1, 2)}),
        "nested": fingerprint_value(
            (frozenset({"p", "q"}), decimal.Decimal("2.50"), np.arange(4), None, b"raw")
        ),
        "expr": fingerprint_value(pl.col("x").rolling_mean(3).over("g")),
        "function": fingerprint_function(mod.feature),
    }

if __name__ == "__main__":
    print(json.dumps(values()))
"""


@pytest.fixture
def probe_dir(tmp_path: Path) -> Path:
    (tmp_path / "fp_probe_module.py").write_text(MODULE_SOURCE)
    (tmp_path / "probe.py").write_text(SCRIPT)
    return tmp_path


def run_probe(probe_dir: Path, seed: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, str(probe_dir / "probe.py")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(result.stdout)


def test_fingerprints_do_not_depend_on_hash_seed(probe_dir: Path) -> None:
    first = run_probe(probe_dir, "0")
    second = run_probe(probe_dir, "4242")
    assert first == second
    try:
        here = runpy.run_path(str(probe_dir / "probe.py"))["values"]()
    finally:
        sys.path.remove(str(probe_dir))
        sys.modules.pop("fp_probe_module", None)
    assert here == first


def test_pickle_round_trip_keeps_fingerprints() -> None:
    frame = pl.DataFrame({"a": [1, 2, None], "s": ["x", None, "z"]})
    for value in (
        frame,
        frame["s"],
        {"k": (1, 2.0, "x"), "d": dt.datetime(2021, 5, 1, tzinfo=zoneinfo.ZoneInfo("UTC"))},
        Window(7, center=True),
        Color.BLUE,
        np.linspace(0, 1, 11),
        pl.col("a").cum_sum(),
    ):
        assert fingerprint_value(pickle.loads(pickle.dumps(value))) == fingerprint_value(value)
    lazy = frame.lazy().filter(pl.col("a") > 1)
    assert fingerprint_lazyframe(pickle.loads(pickle.dumps(lazy))) == fingerprint_lazyframe(lazy)


# --------------------------------------------------------------------------------------------
# Functions


@pytest.fixture
def user_modules(tmp_path: Path):
    """Write modules into a fresh directory and import them (again) by name."""
    package = f"fp_user_{uuid.uuid4().hex[:8]}"
    root = tmp_path / package
    root.mkdir()
    (root / "__init__.py").write_text("")
    sys.path.insert(0, str(tmp_path))
    loaded: list[str] = []

    def load(**sources: str) -> dict[str, object]:
        for name, source in sources.items():
            (root / f"{name}.py").write_text(textwrap.dedent(source))
        importlib.invalidate_caches()
        modules = {}
        for name in sources:
            qualified = f"{package}.{name}"
            sys.modules.pop(qualified, None)
        for name in sources:
            qualified = f"{package}.{name}"
            modules[name] = importlib.import_module(qualified)
            loaded.append(qualified)
        return modules

    load.package = package
    yield load
    sys.path.remove(str(tmp_path))
    for name in loaded:
        sys.modules.pop(name, None)


HELPERS = """
def scale(x):
    return x * 2
"""

NODES = '''
import numpy as np
import polars as pl

from {package} import helpers
from {package}.helpers import scale

FACTOR = 3
THRESHOLDS = (1, 2, 3)


def _offset(x):
    return x + FACTOR


def unrelated():
    return "not read by revenue"


def revenue(spend: pl.Series, rate: float = 0.5) -> pl.Series:
    """Revenue from spend."""
    # the interesting part
    return scale(_offset(spend)) * rate + helpers.scale(len(THRESHOLDS)) + np.sqrt(2)
'''


def revenue_fingerprint(load, nodes: str, helpers: str = HELPERS) -> str:
    modules = load(helpers=helpers, nodes=nodes.format(package=load.package))
    return fingerprint_function(modules["nodes"].revenue)


EDITS_THAT_KEEP = {
    "comment": ("# the interesting part", "# reworded comment\n    # over two lines"),
    "docstring": ('"""Revenue from spend."""', '"""Completely new docs."""'),
    "no docstring": ('    """Revenue from spend."""\n', ""),
    "formatting": (
        "return scale(_offset(spend)) * rate",
        "return (\n        scale( _offset( spend ) )\n        * rate\n    )",
    ),
    "unrelated rename": ("def unrelated():", "def something_else():"),
    "unrelated body": ('return "not read by revenue"', "return 42"),
    "blank lines": ("FACTOR = 3\n", "\n\n\nFACTOR = 3\n"),
}

EDITS_THAT_CHANGE = {
    "body": ("* rate +", "/ rate +"),
    "helper in module": ("return x + FACTOR", "return x - FACTOR"),
    "constant": ("FACTOR = 3", "FACTOR = 4"),
    "tuple constant": ("(1, 2, 3)", "(1, 2, 3, 4)"),
    "default": ("rate: float = 0.5", "rate: float = 0.25"),
    "library call": ("np.sqrt(2)", "np.log(2)"),
    "annotation": ("-> pl.Series:", "-> pl.DataFrame:"),
}


@pytest.mark.parametrize("edit", sorted(EDITS_THAT_KEEP))
def test_function_fingerprint_ignores_cosmetic_edits(user_modules, edit: str) -> None:
    before = revenue_fingerprint(user_modules, NODES)
    old, new = EDITS_THAT_KEEP[edit]
    assert old in NODES
    assert revenue_fingerprint(user_modules, NODES.replace(old, new)) == before


@pytest.mark.parametrize("edit", sorted(EDITS_THAT_CHANGE))
def test_function_fingerprint_follows_edits(user_modules, edit: str) -> None:
    before = revenue_fingerprint(user_modules, NODES)
    old, new = EDITS_THAT_CHANGE[edit]
    assert old in NODES
    assert revenue_fingerprint(user_modules, NODES.replace(old, new)) != before


def test_function_fingerprint_follows_helpers_in_other_modules(user_modules) -> None:
    before = revenue_fingerprint(user_modules, NODES)
    changed = HELPERS.replace("x * 2", "x * 3")
    assert revenue_fingerprint(user_modules, NODES, helpers=changed) != before
    cosmetic = HELPERS.replace("    return x * 2", "    # doubled\n    return x*2")
    assert revenue_fingerprint(user_modules, NODES, helpers=cosmetic) == before
    unrelated = HELPERS + "\n\ndef other():\n    return 1\n"
    assert revenue_fingerprint(user_modules, NODES, helpers=unrelated) == before


def test_function_fingerprint_follows_closures_and_decorator_specs() -> None:
    def make(k: int):
        def add(x: int) -> int:
            return x + k

        return add

    assert fingerprint_function(make(1)) == fingerprint_function(make(1))
    assert fingerprint_function(make(1)) != fingerprint_function(make(2))

    def node(x: int) -> int:
        return x

    plain = fingerprint_function(node)

    @dataclasses.dataclass(frozen=True)
    class Spec:
        columns: tuple[str, ...]

    node.__hamilton_fast_modifiers__ = (Spec(("a", "b")),)
    with_ab = fingerprint_function(node)
    node.__hamilton_fast_modifiers__ = (Spec(("a", "c")),)
    assert len({plain, with_ab, fingerprint_function(node)}) == 3


FACTORY = '''
class Base:
    def total(self, x):
        return x


class Scaled(Base):
    def total(self, x):
        """Docs."""
        return super().total(x) * self.__factor()

    def __factor(self):
        return 2


def make_feature(window):
    def feature(series):
        """Rolling mean."""
        # comment
        return [v + window for v in series] + [w for w in {window}]

    return feature
'''


def test_closures_and_methods_use_their_source(user_modules) -> None:
    def fingerprints(source: str) -> tuple[str, str]:
        module = user_modules(factory=source)["factory"]
        return (
            fingerprint_function(module.make_feature(3)),
            fingerprint_function(module.Scaled.total),
        )

    before = fingerprints(FACTORY)
    module = user_modules(factory=FACTORY)["factory"]
    # The AST is used (not the bytecode fallback) for closures and for methods using super()
    # and private names, since their source compiles back to the running code.
    assert fp_module._normalized_source(module.make_feature(3).__code__) is not None
    assert fp_module._normalized_source(module.Scaled.total.__code__) is not None
    cosmetic = FACTORY.replace('"""Rolling mean."""', '"""Other."""').replace("# comment", "")
    cosmetic = cosmetic.replace('"""Docs."""\n', "")
    assert fingerprints(cosmetic) == before
    assert fingerprints(FACTORY.replace("v + window", "v - window"))[0] != before[0]
    assert fingerprints(FACTORY.replace("return 2", "return 3"))[1] != before[1]
    module = user_modules(factory=FACTORY)["factory"]
    assert fingerprint_function(module.make_feature(3)) != fingerprint_function(
        module.make_feature(4)
    )


def test_values_holding_code_need_allow_code() -> None:
    @dataclasses.dataclass(frozen=True)
    class Spec:
        resolves: object
        description: str

    spec = Spec(lambda config: config["region"] == "us", "region == us")
    with pytest.raises(UnfingerprintableError):
        fingerprint_value(spec)
    other = Spec(lambda config: config["region"] == "eu", "region == us")
    assert fingerprint_value(spec, allow_code=True) != fingerprint_value(other, allow_code=True)


def test_function_fingerprint_handles_recursion_and_lambdas() -> None:
    def countdown(n: int) -> int:
        return 0 if n == 0 else countdown(n - 1)

    assert fingerprint_function(countdown) == fingerprint_function(countdown)
    first = fingerprint_function(lambda x: x + 1)
    assert first != fingerprint_function(lambda x: x + 2)


def test_function_without_source_uses_bytecode() -> None:
    namespace: dict[str, object] = {}
    exec("def f(x):\n    return x + 1\n", namespace)
    exec("def g(x):\n    return x + 2\n", namespace)
    f, g = namespace["f"], namespace["g"]
    assert fingerprint_function(f) == fingerprint_function(f)
    assert fingerprint_function(f) != fingerprint_function(g)


def test_edited_but_not_reloaded_module_is_not_trusted(user_modules) -> None:
    modules = user_modules(helpers=HELPERS, nodes=NODES.format(package=user_modules.package))
    running = modules["nodes"].revenue
    from_source = fingerprint_function(running)
    # Edit the file without reloading: the running code is the old one, so the fingerprint
    # must not become the new source's (that would store old results under the new key).
    path = Path(modules["nodes"].__file__)
    path.write_text(path.read_text().replace("* rate +", "/ rate +"))
    os.utime(path, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    stale = fingerprint_function(running)
    fresh = revenue_fingerprint(user_modules, NODES.replace("* rate +", "/ rate +"))
    assert stale != fresh
    assert stale != from_source  # the bytecode stands in for the source that no longer fits


def test_function_with_unhashable_global_says_which() -> None:
    namespace: dict[str, object] = {"MODEL": object()}
    exec("def predict(x):\n    return MODEL\n\ndef node(x):\n    return predict(x)\n", namespace)
    with pytest.raises(UnfingerprintableError) as info:
        fingerprint_function(namespace["node"])
    lines = str(info.value).splitlines()
    assert lines[0] == (
        "Function `predict` cannot be fingerprinted: it reads the global `MODEL`, and a value "
        "of type `builtins.object` has no deterministic fingerprint."
    )
    assert "  reached from: `node` (<string>:4), via the global `predict`" in lines
    assert lines[-1].startswith('Hint: mark the node `@cache(behavior="disable")`')


def test_library_objects_count_by_name_and_version() -> None:
    from typing import Any, cast

    from polars import col, lit

    def uses_libraries(x):
        return (
            col("a") + lit(1) + cast(int | None, x) + cast(list[int], x) + cast(Any, x) + np.log(x)
        )

    assert fingerprint_function(uses_libraries) == fingerprint_function(uses_libraries)


# --------------------------------------------------------------------------------------------
# Files and lazy frames


def test_file_fingerprint_is_memoized_by_stat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data.bin"
    data.write_bytes(b"x" * 1000)
    old = time.time_ns() - 3600 * 10**9
    os.utime(data, ns=(old, old))
    calls: list[str] = []
    real = fp_module._hash_file_content

    def counting(path: str) -> str:
        calls.append(path)
        return real(path)

    monkeypatch.setattr(fp_module, "_hash_file_content", counting)
    memo = tmp_path / "memo"
    first = fingerprint_file(data, memo)
    assert fingerprint_file(data, memo) == first
    assert len(calls) == 1
    fp_module._PROCESS_FILE_MEMO.clear()  # as in a new process: the disk memo answers
    assert fingerprint_file(data, memo) == first
    assert len(calls) == 1
    os.utime(data, ns=(old + 10**9, old + 10**9))  # touched, same content
    assert fingerprint_file(data, memo) == first
    assert len(calls) == 2
    data.write_bytes(b"y" * 1000)
    os.utime(data, ns=(old, old))  # same size and mtime as before: ctime still differs
    assert fingerprint_file(data, memo) != first


def test_missing_file_is_unfingerprintable(tmp_path: Path) -> None:
    with pytest.raises(UnfingerprintableError, match="cannot be fingerprinted"):
        fingerprint_file(tmp_path / "nope.parquet")


def test_lazyframe_follows_scanned_files(tmp_path: Path) -> None:
    path = tmp_path / "sales.parquet"
    pl.DataFrame({"spend": [1.0, 2.0, 3.0]}).write_parquet(path)
    memo = tmp_path / "memo"

    def plan() -> pl.LazyFrame:
        return pl.scan_parquet(path).with_columns(double=pl.col("spend") * 2)

    before = fingerprint_lazyframe(plan(), memo)
    assert fingerprint_lazyframe(plan(), memo) == before
    os.utime(path, ns=(time.time_ns() + 5 * 10**9,) * 2)  # touched, unchanged
    assert fingerprint_lazyframe(plan(), memo) == before
    pl.DataFrame({"spend": [1.0, 2.0, 4.0]}).write_parquet(path)
    assert fingerprint_lazyframe(plan(), memo) != before
    other_plan = pl.scan_parquet(path).with_columns(double=pl.col("spend") * 3)
    assert fingerprint_lazyframe(other_plan, memo) != fingerprint_lazyframe(plan(), memo)


def test_lazyframe_expands_globs(tmp_path: Path) -> None:
    for i in range(3):
        pl.DataFrame({"a": [i]}).write_parquet(tmp_path / f"part-{i}.parquet")
    pattern = str(tmp_path / "*.parquet")
    before = fingerprint_lazyframe(pl.scan_parquet(pattern))
    pl.DataFrame({"a": [9]}).write_parquet(tmp_path / "part-1.parquet")
    assert fingerprint_lazyframe(pl.scan_parquet(pattern)) != before
    middle = fingerprint_lazyframe(pl.scan_parquet(pattern))
    pl.DataFrame({"a": [5]}).write_parquet(tmp_path / "part-3.parquet")
    assert fingerprint_lazyframe(pl.scan_parquet(pattern)) != middle


def test_lazyframe_over_memory_is_fingerprinted_by_data() -> None:
    frame = pl.DataFrame({"a": [1, 2, 3], "s": ["x", "y", "z"]})
    padded = pl.concat([frame.head(1), frame, frame], rechunk=False).slice(1, 3)
    assert fingerprint_lazyframe(frame.lazy()) == fingerprint_lazyframe(padded.lazy())
    assert fingerprint_lazyframe(frame.lazy()) != fingerprint_frame(frame)
    changed = frame.with_columns(pl.col("a") + 1)
    assert fingerprint_lazyframe(frame.lazy()) != fingerprint_lazyframe(changed.lazy())
    # The general path (a plan on top of the frame) also hashes data, not addresses.
    query = frame.lazy().with_columns(b=pl.col("a") * 2).filter(pl.col("b") > 2)
    same = padded.lazy().with_columns(b=pl.col("a") * 2).filter(pl.col("b") > 2)
    other = changed.lazy().with_columns(b=pl.col("a") * 2).filter(pl.col("b") > 2)
    assert fingerprint_lazyframe(query) == fingerprint_lazyframe(same)
    assert fingerprint_lazyframe(query) != fingerprint_lazyframe(other)
    assert fingerprint_lazyframe(frame.lazy().head(2)) != fingerprint_lazyframe(frame.lazy())
    selected = fingerprint_lazyframe(frame.lazy().select("a"))
    assert selected == fingerprint_lazyframe(frame.select("a").lazy())


def test_lazyframe_with_python_function_is_refused() -> None:
    plan = pl.DataFrame({"a": [1]}).lazy().with_columns(pl.col("a").map_batches(lambda s: s))
    with pytest.raises(UnfingerprintableError, match="LazyFrame"):
        fingerprint_lazyframe(plan)


def test_plan_scanner_refuses_pickled_callables() -> None:
    payload = list(b"\x01\x0b\x07\x80\x05\x95" + b"\x00" * 40)  # how Polars embeds a pickle
    body = bytes([0x81, 0xA8]) + b"callback" + bytes([0xDC, 0, len(payload)])
    for byte in payload:
        body += bytes([byte]) if byte < 0x80 else bytes([0xCC, byte])
    scanner = fp_module._PlanScanner(body, what="LazyFrame")
    with pytest.raises(UnfingerprintableError, match="Python function"):
        scanner.run()


def test_remote_scans_are_refused() -> None:
    with pytest.raises(UnfingerprintableError, match="remote location"):
        fp_module._scanned_files("s3://bucket/data.parquet", None)


def test_uint8_array_decoder_agrees_with_a_plain_decoder() -> None:
    rng = np.random.default_rng(1)
    for size in (8, 100, 5000):
        raw = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
        encoded = b"".join(bytes([b]) if b < 0x80 else bytes([0xCC, b]) for b in raw)
        decoded = fp_module._decode_uint8_run(memoryview(encoded + b"\xc0"), 0, size)
        assert decoded is not None
        values, end = decoded
        assert values.tobytes() == raw
        assert end == len(encoded)
    # Not all uint8: a negative fixint, a uint16 or a nil in the array.
    for intruder in (b"\xff", b"\xcd\x01\x00", b"\xc0"):
        assert fp_module._decode_uint8_run(memoryview(b"\x01" * 8 + intruder), 0, 9) is None


# --------------------------------------------------------------------------------------------
# Keys


def test_node_key_is_merkle_and_salted() -> None:
    base = {
        "kind": "column",
        "name": "revenue",
        "code": "c0",
        "modifiers": "m0",
        "bound_values": {"window": "w0", "n": "n0"},
        "dependency_keys": {"spend": "k1", "rate": "k2"},
    }
    key = node_key(**base)
    reordered = dict(base, dependency_keys={"rate": "k2", "spend": "k1"})
    assert node_key(**reordered) == key
    for field, value in [
        ("kind", "scalar"),
        ("name", "revenue2"),
        ("code", "c1"),
        ("modifiers", "m1"),
        ("bound_values", {"window": "w1", "n": "n0"}),
        ("dependency_keys", {"spend": "k1", "rate": "k3"}),
        ("dependency_keys", {"spend": "k1"}),
    ]:
        assert node_key(**dict(base, **{field: value})) != key
    # Length prefixes: moving a character between parts changes the key.
    assert node_key("a", "bc", "", "", {}, {}) != node_key("ab", "c", "", "", {}, {})
    parts = node_key_parts(**base)
    assert parts["format"] == FORMAT_VERSION
    assert parts["polars"] == pl.__version__
    assert parts["dependency:spend"] == "k1"


@pytest.mark.slow
@SLOW_FRAME_SETTINGS
@given(frames(), frames(min_rows=1), st.integers(1, 5), st.data())
def test_frame_properties_at_length(
    equal_case: tuple[dict[str, str], pl.DataFrame],
    change_case: tuple[dict[str, str], pl.DataFrame],
    pad: int,
    data: st.DataObject,
) -> None:
    test_equal_data_equal_fingerprint.hypothesis.inner_test(equal_case)
    test_slices_and_chunks_do_not_matter.hypothesis.inner_test(equal_case, pad, data)
    test_any_change_gives_a_new_fingerprint.hypothesis.inner_test(change_case, data)


def test_keys_of_an_optimized_interpreter_differ() -> None:
    """`python -O` strips asserts, so a function may return there where it raises elsewhere:
    its keys must not serve a plain interpreter (and the other way round)."""
    script = (
        "from hamilton_fast.cache import node_key\n"
        "print(node_key('column', 'x', 'c0de', '', {}, {'y': 'k1'}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    keys = [
        subprocess.run(
            [sys.executable, *flags, "-c", script],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout.strip()
        for flags in ([], ["-O"], ["-OO"])
    ]
    assert len(set(keys)) == 3


def test_nan_signs_are_told_apart() -> None:
    """Every NaN prints as `nan` (repr, float.hex), but its sign shows (`math.copysign`): a
    constant flipped from one NaN to the other must change fingerprints, stamps and trace
    memo keys. Other floats keep their hex."""
    import math

    from hamilton_fast.cache.stamps import call_stamp
    from hamilton_fast.planner.compile import value_key

    plus = float("nan")
    minus = -plus
    assert math.copysign(1.0, plus) != math.copysign(1.0, minus)
    assert fingerprint_value(plus) != fingerprint_value(minus)
    assert fingerprint_value(complex(0.0, plus)) != fingerprint_value(complex(0.0, minus))
    assert value_key(plus) != value_key(minus)
    assert value_key(1.5) == ("float", (1.5).hex())

    namespace: dict[str, object] = {"SIGN": plus}
    exec("def f(x):\n    return x * SIGN\n", namespace)
    before = call_stamp(namespace["f"])
    namespace["SIGN"] = minus
    assert call_stamp(namespace["f"]) != before
