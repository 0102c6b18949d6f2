"""A state machine that edits a dataflow package on disk and reruns it with the node cache.

The package has two modules: ``features`` imports a helper from ``helpers``. Rules edit a
function body, the helper, a module constant, a default argument and a ``@parameterize``
value, change the input data and the config value of a ``@config.when`` switch, and request a
different subset of outputs. After every step the modules are re-imported, a new cached driver
runs the request, and its results must equal a fresh driver's without a cache.

The machine also keeps a model of the cache. Each node's *signature* is the part of the state
it depends on (its edits, inputs and config, through its dependencies); a node requested in a
run is stored under that signature. So a requested node must be a hit exactly when an earlier
run stored its current signature, any hit must be of a stored signature, and a node's key must
be equal for equal signatures and different for different ones.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)

from hamilton_fast.cache import node_cache
from tests.cache_modules import DICT_RESULT, Project, run_cached

HELPERS = """
import polars as pl


def adjust(s: pl.Series) -> pl.Series:
    return s * {helper_k} + 1
"""

FEATURES = """
import polars as pl

from hamilton_fast.function_modifiers import config, parameterize, value
from <helpers> import adjust

SCALE = {scale}


def base(x: pl.Series) -> pl.Series:
    return x + {body_k}


def adjusted(base: pl.Series) -> pl.Series:
    return adjust(base)


def scaled(adjusted: pl.Series) -> pl.Series:
    return adjusted * SCALE


def scaled_mean(scaled: pl.Series) -> float:
    return scaled.mean()


def centered(scaled: pl.Expr, scaled_mean: float) -> pl.Expr:
    return scaled - scaled_mean


def windowed(scaled: pl.Expr, g: pl.Expr) -> pl.Expr:
    return scaled.cum_sum().over(g)


def shifted(base: pl.Series, offset: int = {default}) -> pl.Series:
    return base - offset


@parameterize(boosted={{"factor": value({factor})}})
def boost(shifted: pl.Series, factor: int) -> pl.Series:
    return shifted * factor


@config.when(mode="a")
def mixed__a(scaled: pl.Series, shifted: pl.Series) -> pl.Series:
    return scaled + shifted


@config.when(mode="b")
def mixed__b(scaled: pl.Series, shifted: pl.Series) -> pl.Series:
    return scaled - 2 * shifted


def total(mixed: pl.Series) -> int:
    return mixed.sum()


def y_double(y: pl.Series) -> pl.Series:
    return y * 2


def combined(y_double: pl.Series, boosted: pl.Series) -> pl.Series:
    return y_double + boosted
"""

# Each node: the state it reads directly, and the nodes it depends on.
DIRECT = {
    "base": ({"x", "body_k"}, ()),
    "adjusted": ({"helper_k"}, ("base",)),
    "scaled": ({"scale"}, ("adjusted",)),
    "scaled_mean": (set(), ("scaled",)),
    "centered": (set(), ("scaled", "scaled_mean")),
    "windowed": ({"g"}, ("scaled",)),
    "shifted": ({"default"}, ("base",)),
    "boosted": ({"factor"}, ("shifted",)),
    "mixed": ({"mode"}, ("scaled", "shifted")),
    "total": (set(), ("mixed",)),
    "y_double": ({"y"}, ()),
    "combined": (set(), ("y_double", "boosted")),
}
OUTPUTS = sorted(DIRECT)


def _closure(node: str) -> frozenset[str]:
    facts, parents = DIRECT[node]
    found = set(facts)
    for parent in parents:
        found |= _closure(parent)
    return frozenset(found)


READS = {node: _closure(node) for node in OUTPUTS}

ROWS = 12
INPUT_VERSIONS = {
    "x": [
        pl.Series("x", [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8]),
        pl.Series("x", [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 7]),  # one value changed
        pl.Series("x", [3, 1, 4, 1, 5, None, 2, 6, 5, 3, 5, 8]),  # one null
    ],
    "y": [
        pl.Series("y", [float(i) for i in range(ROWS)]),
        pl.Series("y", [float(i) for i in range(ROWS)]).reverse(),
    ],
    "g": [
        pl.Series("g", [i % 3 for i in range(ROWS)]),
        pl.Series("g", [i // 4 for i in range(ROWS)]),
    ],
}
EDIT_VALUES = {
    "helper_k": [2, 3, 4],
    "body_k": [1, 2, 3],
    "scale": [3, 5],
    "default": [4, 7],
    "factor": [2, 3],
}


STATS: dict[str, int] = {}


class CacheMachine(RuleBasedStateMachine):
    """Edits, input and config changes, requests; a cached run compared after every step."""

    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="hf-cache-machine-"))
        self.project = Project(self.root / "flows")
        self.cache_dir = self.root / "cache"
        self.state: dict[str, Any] = {
            **{name: values[0] for name, values in EDIT_VALUES.items()},
            "x": 0,
            "y": 0,
            "g": 0,
            "mode": "a",
        }
        self.outputs: list[str] = list(OUTPUTS)
        self.as_dict = False
        self.stored: dict[str, set[tuple[Any, ...]]] = {node: set() for node in OUTPUTS}
        self.keys: dict[tuple[str, tuple[Any, ...]], str] = {}
        self.signature_of_key: dict[str, tuple[str, tuple[Any, ...]]] = {}
        self._write()

    # -- the package on disk --------------------------------------------------------------

    def _write(self) -> None:
        self.project.write("helpers", HELPERS.format(helper_k=self.state["helper_k"]))
        self.project.write(
            "features",
            FEATURES.format(
                scale=self.state["scale"],
                body_k=self.state["body_k"],
                default=self.state["default"],
                factor=self.state["factor"],
            ),
        )

    def _edit(self, name: str, value: int) -> None:
        self.state[name] = value
        self._write()

    # -- rules ---------------------------------------------------------------------------

    @rule(value=st.sampled_from(EDIT_VALUES["body_k"]))
    def edit_function_body(self, value: int) -> None:
        self._edit("body_k", value)

    @rule(value=st.sampled_from(EDIT_VALUES["helper_k"]))
    def edit_helper(self, value: int) -> None:
        self._edit("helper_k", value)

    @rule(value=st.sampled_from(EDIT_VALUES["scale"]))
    def edit_module_constant(self, value: int) -> None:
        self._edit("scale", value)

    @rule(value=st.sampled_from(EDIT_VALUES["default"]))
    def edit_default_argument(self, value: int) -> None:
        self._edit("default", value)

    @rule(value=st.sampled_from(EDIT_VALUES["factor"]))
    def edit_parameterize_value(self, value: int) -> None:
        self._edit("factor", value)

    @rule(name=st.sampled_from(sorted(INPUT_VERSIONS)), data=st.data())
    def change_input(self, name: str, data: st.DataObject) -> None:
        self.state[name] = data.draw(st.sampled_from(range(len(INPUT_VERSIONS[name]))))

    @rule(mode=st.sampled_from(["a", "b"]))
    def change_config(self, mode: str) -> None:
        self.state["mode"] = mode

    @rule()
    def start_a_new_process(self) -> None:
        """Forget what this process remembers (parsed files, code fingerprints, file
        fingerprints): from now on, only the cache directory's memos speak, as they do to a
        rerun in a new process."""
        node_cache.forget_process_memos()
        STATS["new processes"] = STATS.get("new processes", 0) + 1

    @rule(
        outputs=st.lists(st.sampled_from(OUTPUTS), min_size=1, max_size=len(OUTPUTS), unique=True),
        as_dict=st.booleans(),
    )
    def request_outputs(self, outputs: list[str], as_dict: bool) -> None:
        self.outputs = outputs
        self.as_dict = as_dict

    # -- after every step ----------------------------------------------------------------

    def signature(self, node: str) -> tuple[Any, ...]:
        return tuple(sorted((fact, self.state[fact]) for fact in READS[node]))

    @invariant()
    def cached_run_equals_uncached_run(self) -> None:
        modules = self.project.load()
        inputs = {name: INPUT_VERSIONS[name][self.state[name]] for name in INPUT_VERSIONS}
        # run_cached compares the result with a fresh uncached driver's, exactly.
        dr, _ = run_cached(
            modules,
            self.cache_dir,
            self.outputs,
            inputs,
            config={"mode": self.state["mode"]},
            adapter=DICT_RESULT if self.as_dict else None,
        )
        assert dr.cache is not None
        STATS["runs"] += 1
        report = dr.cache.last_run
        problems: list[str] = []
        for node, status in report.items():
            if node not in DIRECT:
                continue  # inputs and config
            signature = self.signature(node)
            stored = signature in self.stored[node]
            if node in self.outputs:
                expected = "hit" if stored else "computed"
                if status.status != expected:
                    problems.append(f"{node}: {status.status}, expected {expected}")
            elif status.status == "hit" and not stored:
                problems.append(f"{node}: hit of a signature never stored")
            elif status.status not in ("hit", "computed", "not needed"):
                problems.append(f"{node}: unexpected status {status.status}")
            STATS[status.status] = STATS.get(status.status, 0) + 1
            # Keys: equal for equal signatures, different for different ones.
            assert status.key is not None, node
            known = self.keys.setdefault((node, signature), status.key)
            if known != status.key:
                problems.append(f"{node}: key changed for the same signature {signature}")
            other = self.signature_of_key.setdefault(status.key, (node, signature))
            if other != (node, signature):
                problems.append(f"{node}: key {status.key} also used for {other}")
        assert not problems, f"state {self.state}, outputs {self.outputs}:\n  " + "\n  ".join(
            problems
        )
        for node in self.outputs:
            self.stored[node].add(self.signature(node))

    def teardown(self) -> None:
        self.project.close()
        shutil.rmtree(self.root, ignore_errors=True)


def run_machine(monkeypatch: pytest.MonkeyPatch, **options: Any) -> dict[str, int]:
    """Run the machine; returns how many cached runs it made and the statuses they reported."""
    # Edited modules are re-imported within the same second: never trust a stale .pyc.
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    STATS.clear()
    STATS["runs"] = 0
    run_state_machine_as_test(
        CacheMachine,
        settings=settings(
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
            report_multiple_bugs=False,  # shrink one failure quickly rather than several
            **options,
        ),
    )
    return dict(STATS)


def test_cache_state_machine(monkeypatch):
    """A few hundred steps: edits, inputs, config and requests, each compared uncached."""
    stats = run_machine(monkeypatch, max_examples=20, stateful_step_count=25)
    assert stats["runs"] >= 300
    assert stats["hit"] >= 100
    assert stats["computed"] >= 100
    assert stats["new processes"] >= 10


@pytest.mark.slow
def test_cache_state_machine_long(monkeypatch):
    """Thousands of steps, in longer sequences."""
    stats = run_machine(monkeypatch, max_examples=60, stateful_step_count=60)
    assert stats["runs"] >= 2000
