"""Code fingerprints through the per-file source memo: reimports, edits on disk, counting."""

from __future__ import annotations

import concurrent.futures
import importlib
import importlib.util
import math
import os
import shutil
import sys
import textwrap
import types
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

import hamilton_fast.cache.code as code_module
from hamilton_fast.cache import fingerprint_function
from hamilton_fast.cache.node_cache import forget_process_memos

HELPERS = """
# helpers ({tag})
def scale(x):
    return x * 2
"""

NODES = '''
"""Nodes for the source memo tests ({tag})."""
import functools

from {package} import helpers

FACTOR = 3


def _decorate(label):
    def wrap(fn):
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            return fn(*args, **kwargs)

        return inner

    return wrap


def plain(x: int, rate: float = 0.5) -> float:
    """Docs."""
    # a comment
    return helpers.scale(x) * rate + FACTOR


@_decorate(
    "a decorator over two lines",
)
def decorated(x: int) -> int:
    return x + 1


async def coroutine(x: int) -> int:
    """Docs."""
    "not a docstring: kept"
    return x


def factory(k: int):
    def feature(x: int) -> int:
        """Nested docs."""
        return x + k

    return feature


class Base:
    def total(self) -> int:
        return 1


class Scaled(Base):
    __secret = 2

    def total(self) -> int:
        """Uses super() and a private name."""
        return super().total() * self.__secret


if FACTOR:

    def conditional(x: int) -> int:
        return x - 1

else:

    def conditional(x: int) -> int:
        return x + 1


try:

    def in_try(x: int) -> int:
        return x

except ImportError:
    pass

square = lambda x: x * x  # noqa: E731
'''


class Project:
    """User modules in a fresh package, written and (re)imported by name."""

    def __init__(self, root: Path) -> None:
        self.package = f"fp_code_{uuid.uuid4().hex[:8]}"
        self.directory = root / self.package
        self.directory.mkdir()
        (self.directory / "__init__.py").write_text("")
        self.tag = uuid.uuid4().hex  # new file contents for every test: nothing memoized yet

    def nodes_source(self) -> str:
        return NODES.replace("{package}", self.package).replace("{tag}", self.tag)

    def helpers_source(self) -> str:
        return HELPERS.replace("{tag}", self.tag)

    def write(self, name: str, source: str) -> Path:
        path = self.directory / f"{name}.py"
        path.write_text(textwrap.dedent(source))
        return path

    def load(self, *, fresh_bytecode: bool = False, **sources: str) -> dict[str, types.ModuleType]:
        """Write ``sources`` (name -> text) and import every one of them again."""
        for name, source in sources.items():
            self.write(name, source)
        if fresh_bytecode:  # an edit within the same second could keep a stale .pyc valid
            shutil.rmtree(self.directory / "__pycache__", ignore_errors=True)
        importlib.invalidate_caches()
        for name in sources:
            sys.modules.pop(f"{self.package}.{name}", None)
        return {name: importlib.import_module(f"{self.package}.{name}") for name in sources}

    def load_nodes(
        self, nodes: str | None = None, *, fresh_bytecode: bool = False
    ) -> types.ModuleType:
        modules = self.load(
            fresh_bytecode=fresh_bytecode,
            helpers=self.helpers_source(),
            nodes=nodes or self.nodes_source(),
        )
        return modules["nodes"]

    def cleanup(self) -> None:
        for name in [m for m in sys.modules if m.startswith(self.package)]:
            sys.modules.pop(name, None)


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    sys.path.insert(0, str(tmp_path))
    created = Project(tmp_path)
    yield created
    sys.path.remove(str(tmp_path))
    created.cleanup()


def node_functions(module: types.ModuleType) -> dict[str, types.FunctionType]:
    """Every kind of function the fingerprint must handle, from one nodes module."""
    return {
        "plain": module.plain,
        "decorated": module.decorated,
        "coroutine": module.coroutine,
        "feature": module.factory(2),
        "method": module.Scaled.total,
        "base method": module.Base.total,
        "conditional": module.conditional,
        "in_try": module.in_try,
        "lambda": module.square,
    }


def fingerprints(module: types.ModuleType) -> dict[str, str]:
    return {name: fingerprint_function(fn) for name, fn in node_functions(module).items()}


def codes(module: types.ModuleType) -> dict[str, types.CodeType]:
    found = {name: fn.__code__ for name, fn in node_functions(module).items()}
    found["wrapped"] = module.decorated.__wrapped__.__code__
    return found


@pytest.fixture
def snippet_calls(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Names of the code objects that took the (slow) snippet path."""
    calls: Counter[str] = Counter()
    original = code_module._snippet_source

    def counting(code: types.CodeType) -> bytes | None:
        calls[code.co_name] += 1
        return original(code)

    monkeypatch.setattr(code_module, "_snippet_source", counting)
    return calls


def count_file_loads(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """File names parsed and compiled by the source memo from now on, with how often."""
    loads: Counter[str] = Counter()
    original = code_module._load_source_file

    def counting(filename: str, data: bytes) -> code_module._SourceFile:
        loads[Path(filename).name] += 1
        return original(filename, data)

    monkeypatch.setattr(code_module, "_load_source_file", counting)
    return loads


@pytest.fixture
def file_loads(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    return count_file_loads(monkeypatch)


# --------------------------------------------------------------------------------------------
# The file path gives what the snippet path gave


def test_file_definitions_equal_the_snippet_path(project: Project) -> None:
    module = project.load_nodes()
    for name, code in codes(module).items():
        if name == "lambda":
            assert code_module._definition(code) is None  # lambdas keep the snippet path
            continue
        found = code_module._definition(code)
        assert found is not None, name
        # Keys stay what they were: the same dump as compiling the function's own lines.
        assert found[1] == code_module._snippet_source(code), name
        assert code_module._normalized_source(code) == found[1]


def test_docstrings_are_stripped_once_and_decorators_dropped(project: Project) -> None:
    module = project.load_nodes()
    dump = code_module._normalized_source(module.coroutine.__code__)
    assert dump is not None
    assert b"Docs." not in dump
    assert b"not a docstring: kept" in dump
    decorated = code_module._normalized_source(module.decorated.__wrapped__.__code__)
    assert decorated is not None
    assert b"two lines" not in decorated  # decorators count through their specs
    outer = code_module._normalized_source(module._decorate.__code__)
    assert outer is not None
    assert b"functools" in outer  # a nested function's decorators are part of its body


# --------------------------------------------------------------------------------------------
# Reimports and edits


def test_reimport_keeps_fingerprints_without_the_snippet_path(
    project: Project, snippet_calls: Counter[str]
) -> None:
    first = project.load_nodes()
    before = fingerprints(first)
    assert set(snippet_calls) == {"<lambda>"}
    snippet_calls.clear()
    again = project.load_nodes()  # same text rewritten: new mtime, new code objects
    assert again.plain is not first.plain
    assert again.plain.__code__ is not first.plain.__code__
    assert fingerprints(again) == before
    assert set(snippet_calls) <= {"<lambda>"}


def test_edits_on_disk_then_reimport(project: Project) -> None:
    source = project.nodes_source()
    helpers = project.helpers_source()
    before = fingerprints(project.load_nodes())

    def after(old: str, new: str) -> dict[str, str]:
        assert old in source or old in helpers
        modules = project.load(
            fresh_bytecode=True, helpers=helpers.replace(old, new), nodes=source.replace(old, new)
        )
        return fingerprints(modules["nodes"])

    cosmetic = after("    # a comment\n", "    # another comment\n    # on two lines\n")
    assert cosmetic == before
    assert after('"""Nested docs."""', '"""Other docs."""') == before
    assert after("return super().total()", "return super( ).total( )") == before
    changed = after("* rate + FACTOR", "/ rate + FACTOR")
    assert changed["plain"] != before["plain"]
    assert {k: v for k, v in changed.items() if k != "plain"} == {
        k: v for k, v in before.items() if k != "plain"
    }
    assert after("return x * 2", "return x * 3")["plain"] != before["plain"]  # helper module
    assert after("FACTOR = 3", "FACTOR = 4")["plain"] != before["plain"]
    assert after("rate: float = 0.5", "rate: float = 0.25")["plain"] != before["plain"]
    assert after("return x + k", "return x - k")["feature"] != before["feature"]
    assert after("self.__secret", "self.__secret * 1")["method"] != before["method"]
    assert after("return x - 1", "return x - 2")["conditional"] != before["conditional"]
    assert after("x * x", "x * x * x")["lambda"] != before["lambda"]


def test_file_edited_after_import_is_not_used(project: Project) -> None:
    module = project.load_nodes()
    running = module.plain
    path = Path(module.__file__ or "")
    from_source = fingerprint_function(running)
    text = path.read_text()

    # The same lines, another body: the running code no longer compiles from the file.
    path.write_text(text.replace("* rate +", "/ rate +"))
    assert code_module._definition(running.__code__) is None
    assert code_module._normalized_source(running.__code__) is None
    stale = fingerprint_function(running)
    assert stale != from_source
    fresh = fingerprint_function(project.load_nodes(path.read_text(), fresh_bytecode=True).plain)
    assert stale != fresh

    # An edit elsewhere that moves nothing: the running function still matches its file.
    module = project.load_nodes(text, fresh_bytecode=True)
    path.write_text(text.replace("return x + 1", "return x + 2"))
    assert code_module._definition(module.plain.__code__) is not None
    assert fingerprint_function(module.plain) == from_source

    # A line inserted above: the definition moved, so the running code has no source.
    module = project.load_nodes(text, fresh_bytecode=True)
    path.write_text("# a new first line\n" + text)
    assert code_module._definition(module.plain.__code__) is None
    assert fingerprint_function(module.plain) != from_source


def test_same_size_and_mtime_edit_is_not_fingerprinted_from_the_old_text(
    project: Project,
) -> None:
    module = project.load_nodes()
    path = Path(module.__file__ or "")
    before = fingerprint_function(module.plain)
    info = path.stat()
    # A new body of the same size, with the old mtime: the stamp now names the old text.
    edited = path.read_text().replace("* rate +", "/ rate +")
    path.write_text(edited)
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert path.stat().st_size == info.st_size
    shutil.rmtree(path.parent / "__pycache__", ignore_errors=True)
    sys.modules.pop(module.__name__, None)
    reloaded = importlib.import_module(module.__name__)
    assert fingerprint_function(reloaded.plain) != before


def test_functions_without_a_matching_file_use_their_bytecode(project: Project) -> None:
    module = project.load_nodes()
    path = module.__file__ or ""
    namespace: dict[str, object] = {}
    # Code claiming to come from the nodes file, which holds something else at that line.
    exec(compile("def plain(x):\n    return x + 1\n", path, "exec"), namespace)
    impostor = namespace["plain"]
    assert isinstance(impostor, types.FunctionType)
    assert code_module._definition(impostor.__code__) is None
    assert code_module._normalized_source(impostor.__code__) is None
    assert fingerprint_function(impostor) != fingerprint_function(module.plain)
    exec("def g(x):\n    return x + 1\n", namespace)
    exec("def h(x):\n    return x + 2\n", namespace)
    assert fingerprint_function(namespace["g"]) == fingerprint_function(namespace["g"])  # type: ignore[arg-type]
    assert fingerprint_function(namespace["g"]) != fingerprint_function(namespace["h"])  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# The memo: once per file version, bounded, shared by threads


def test_each_file_version_is_parsed_once(project: Project, file_loads: Counter[str]) -> None:
    module = project.load_nodes()
    before = fingerprints(module)
    assert file_loads == Counter({"nodes.py": 1, "helpers.py": 1})
    assert fingerprints(module) == before
    assert file_loads == Counter({"nodes.py": 1, "helpers.py": 1})
    # Rewritten with the same text (a new mtime) and reimported: found by content.
    assert fingerprints(project.load_nodes()) == before
    assert file_loads == Counter({"nodes.py": 1, "helpers.py": 1})
    # A new version of the nodes file is parsed once, however often its functions are seen.
    edited = project.load_nodes(project.nodes_source().replace("x - 1", "x - 3"))
    fingerprints(edited)
    fingerprints(edited)
    assert file_loads == Counter({"nodes.py": 2, "helpers.py": 1})


def test_source_memo_is_bounded(tmp_path: Path) -> None:
    memo = code_module._SourceFiles(max_files=2, max_bytes=1 << 30, max_stamps=3)
    paths = []
    for i in range(5):
        written = tmp_path / f"module_{i}.py"
        written.write_text(f"def f{i}(x):\n    return x + {i}\n")
        paths.append(str(written))
    for path in paths:
        found = memo.get(path)
        assert found is not None
        assert len(found.definitions) == 1
    assert len(memo.files) == 2
    assert len(memo.stamps) == 3
    assert memo.size == sum(found.size for found in memo.files.values())
    tiny = code_module._SourceFiles(max_files=100, max_bytes=1, max_stamps=100)
    for path in paths:
        tiny.get(path)
    assert len(tiny.files) == 1  # over the byte budget, only the newest file stays
    assert memo.get(str(tmp_path / "missing.py")) is None
    (tmp_path / "broken.py").write_text("def broken(:\n")
    broken = memo.get(str(tmp_path / "broken.py"))
    assert broken is not None
    assert broken.definitions == {}


def test_threads_share_the_memo(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    module = project.load_nodes()
    expected = fingerprints(module)
    monkeypatch.setattr(
        code_module,
        "_SOURCE_FILES",
        code_module._SourceFiles(max_files=4, max_bytes=1 << 20, max_stamps=8),
    )
    code_module._reads.cache_clear()
    functions = list(node_functions(module).items()) * 8
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda item: (item[0], fingerprint_function(item[1])), functions))
    for name, digest in results:
        assert digest == expected[name]


# --------------------------------------------------------------------------------------------
# File versions remembered for other processes (in the cache directory's memo)


def fingerprints_with_memo(module: types.ModuleType, memo_dir: Path) -> dict[str, str]:
    return {
        name: fingerprint_function(fn, memo_dir=memo_dir)
        for name, fn in node_functions(module).items()
    }


def as_a_new_process(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Forget every parsed file (as a new process starts) and count the parses from now on."""
    monkeypatch.setattr(
        code_module,
        "_SOURCE_FILES",
        code_module._SourceFiles(max_files=256, max_bytes=64 << 20, max_stamps=4096),
    )
    return count_file_loads(monkeypatch)


def test_a_new_process_takes_a_parsed_file_from_the_memo(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = project.load_nodes()
    expected = fingerprints(module)  # no memo directory: parsed here, as always
    memo_dir = tmp_path / "memo"
    with monkeypatch.context() as patch:
        first = as_a_new_process(patch)
        assert fingerprints_with_memo(module, memo_dir) == expected
        assert first["nodes.py"] == 1  # parsed, then remembered
    with monkeypatch.context() as patch:
        second = as_a_new_process(patch)
        assert fingerprints_with_memo(module, memo_dir) == expected
        assert second["nodes.py"] == 0  # taken from the memo
        assert fingerprints_with_memo(module, memo_dir) == expected  # and again, by `==`
        assert code_module._normalized_source(module.plain.__code__) is not None


def test_a_remembered_version_never_vouches_for_other_running_code(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file is edited after the import: the memo knows the new version (another process
    imported it) but the running functions are the old ones, which must keep their own
    fingerprints (by snippet or bytecode), exactly as without the memo."""
    memo_dir = tmp_path / "memo"
    old = project.load_nodes()
    edited_source = (
        project.nodes_source()
        .replace("+ FACTOR", "- FACTOR")
        .replace("return x + 1\n", "return x + 2\n")
    )
    new = project.load_nodes(edited_source, fresh_bytecode=True)
    with monkeypatch.context() as patch:
        as_a_new_process(patch)
        fingerprints_with_memo(new, memo_dir)  # remembers the new version
    with monkeypatch.context() as patch:
        as_a_new_process(patch)
        without_memo = fingerprints(old)
    with monkeypatch.context() as patch:
        parses = as_a_new_process(patch)
        with_memo = fingerprints_with_memo(old, memo_dir)
        assert parses["nodes.py"] == 0  # the memo answered, and refused the old code
    assert with_memo == without_memo
    assert with_memo["plain"] != fingerprints(new)["plain"]
    assert with_memo["decorated"] != fingerprints(new)["decorated"]


def test_a_damaged_record_is_parsed_again(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import diskcache  # type: ignore[import-untyped]

    module = project.load_nodes()
    expected = fingerprints(module)
    memo_dir = tmp_path / "memo"
    with monkeypatch.context() as patch:
        as_a_new_process(patch)
        fingerprints_with_memo(module, memo_dir)
    with diskcache.Cache(str(memo_dir)) as memo:
        keys = [k for k in memo if isinstance(k, str) and k.startswith("source:")]
        assert keys
        for key in keys:
            record = memo.get(key)
            memo.set(key, record.replace('"plain"', '"plainer"'))  # the checksum no longer fits
    with monkeypatch.context() as patch:
        parses = as_a_new_process(patch)
        assert fingerprints_with_memo(module, memo_dir) == expected
        assert parses["nodes.py"] == 1


CODE_DIGEST_CASES = {
    "int vs float": ("def f(x):\n    return x + 1\n", "def f(x):\n    return x + 1.0\n"),
    "int vs bool": ("def f(x):\n    return x + 1\n", "def f(x):\n    return x + True\n"),
    "zero signs": ("def f(x):\n    return x + 0.0\n", "def f(x):\n    return x + -0.0\n"),
    "set member": (
        "def f(x):\n    return x in {1, 2}\n",
        "def f(x):\n    return x in {1, 3}\n",
    ),
    "nested body": (
        "def f(x):\n    def g(y):\n        return y * 2\n    return g(x)\n",
        "def f(x):\n    def g(y):\n        return y * 3\n    return g(x)\n",
    ),
    "global name": ("def f(x):\n    return x + A\n", "def f(x):\n    return x + B\n"),
    "operator": ("def f(x):\n    return x + 2\n", "def f(x):\n    return x * 2\n"),
    # `1e999 - 1e999` folds to a NaN constant, its negation to a NaN of the other sign, which
    # `math.copysign` tells apart; `float.hex` and `repr` print both as `nan`.
    "nan sign": (
        "def f(x):\n    return x + (1e999 - 1e999)\n",
        "def f(x):\n    return x + -(1e999 - 1e999)\n",
    ),
}


def compiled_function(source: str) -> types.CodeType:
    module = compile(source, "<digest test>", "exec")
    return next(c for c in module.co_consts if isinstance(c, types.CodeType))


@pytest.mark.parametrize("case", sorted(CODE_DIGEST_CASES))
def test_code_digest_tells_behaviours_apart(case: str) -> None:
    one, other = CODE_DIGEST_CASES[case]
    digest = code_module._code_digest(compiled_function(one))
    assert digest is not None
    assert digest == code_module._code_digest(compiled_function(one))
    assert digest != code_module._code_digest(compiled_function(other))
    # Line numbers and comments do not count: the same code further down.
    moved = "\n\n# a comment\n" + one
    assert code_module._code_digest(compiled_function(moved)) == digest


def test_code_digest_of_set_constants_ignores_the_hash_seed() -> None:
    source = "def f(x):\n    return x in {'a', 'b', 'c', 'd', 'e', 'f', 'g'}\n"
    script = (
        "import types, sys\n"
        "import hamilton_fast.cache.code as c\n"
        f"m = compile({source!r}, '<t>', 'exec')\n"
        "f = next(k for k in m.co_consts if isinstance(k, types.CodeType))\n"
        "print(c._code_digest(f).hex())\n"
    )
    import subprocess

    digests = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout.strip()
        for seed in ("1", "2", "3")
    }
    assert len(digests) == 1


def test_constants_too_long_for_str_are_encoded() -> None:
    """Huge ints (folded constants, or literals with the digit limit lifted) have no str()."""
    encoded: list[bytes] = []
    assert code_module._encode_literal(10**5000, encoded)
    other: list[bytes] = []
    assert code_module._encode_literal(10**5000 + 1, other)
    assert encoded != other


def test_code_shape_tells_nan_signs_apart() -> None:
    """The snippet path's check compares constants by their bits too."""
    one, other = CODE_DIGEST_CASES["nan sign"]
    assert code_module._code_shape(compiled_function(one)) != code_module._code_shape(
        compiled_function(other)
    )
    assert code_module._code_shape(compiled_function(one)) == code_module._code_shape(
        compiled_function(one)
    )


NAN_NODES = "import math\n\n\ndef sign():\n    return math.copysign(1.0, (1e999 - 1e999))\n"


def load_file(path: Path, name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("snippets", [True, False], ids=["as shipped", "the memo alone"])
def test_an_edit_after_the_import_is_not_vouched_for_by_a_nan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, snippets: bool
) -> None:
    """A notebook imports a module; the file is then edited (a NaN's sign flipped, same
    lines) and another process runs the new version, remembering it in the cache directory:
    the notebook's old function must keep a fingerprint of its own. Without the snippet path,
    only the remembered version could vouch for it."""
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    memo_dir = tmp_path / "cache"
    path = tmp_path / "nan_nodes.py"
    path.write_text(NAN_NODES.replace("(1e999 - 1e999)", "-(1e999 - 1e999)"))
    old = load_file(path, "nan_nodes_old")  # what the notebook runs
    path.write_text(NAN_NODES)  # edited after the import
    new = load_file(path, "nan_nodes_new")  # what the other process runs
    assert math.copysign(1.0, old.sign()) != math.copysign(1.0, new.sign())
    forget_process_memos()
    new_key = fingerprint_function(new.sign, memo_dir=memo_dir)  # remembers the new version
    forget_process_memos()
    if not snippets:
        monkeypatch.setattr(code_module, "_snippet_source", lambda code: None)
    old_key = fingerprint_function(old.sign, memo_dir=memo_dir)
    forget_process_memos()
    assert old_key != new_key
