"""Code fingerprints: functions and classes count by what they compute, not where they live.

A function counts by its body (the AST of its source, so comments, docstrings and formatting do
not count; its bytecode when no source compiles back to the running code), its defaults and
closure, the module-level values and imports it reads, and the hamilton_fast decorator specs
recorded on it; helpers in user modules are followed recursively, library code counts by
version (:mod:`hamilton_fast.cache.libraries`). :class:`_CodeFingerprinter` is this half of a
fingerprinting pass; ``hamilton_fast.cache.fingerprint._Fingerprinter`` completes it with values.
"""

from __future__ import annotations

import abc
import ast
import builtins
import contextlib
import dataclasses
import dis
import enum
import functools
import importlib
import importlib.util
import inspect
import json
import logging
import os
import stat
import struct
import sys
import textwrap
import threading
import types
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import numpy as np
import xxhash

from hamilton_fast.cache.canonical import (
    _HINT,
    FORMAT_VERSION,
    MEMO_ERRORS,
    UnfingerprintableError,
    _combine,
    _int,
    _text,
)
from hamilton_fast.cache.libraries import (
    _BUILTIN_CALLABLES,
    _is_library_module,
    _is_library_module_name,
    _library_token,
    _str_attribute,
)

_MODIFIERS_ATTRIBUTE = "__hamilton_fast_modifiers__"


class _CodeFingerprinter(abc.ABC):
    """The code half of a fingerprinting pass: functions, classes and the like, by their code.

    A subclass supplies :meth:`value` (how code counts the values it reads: defaults, closure
    cells, globals) and :meth:`_module` (a module used as a value). Both halves share
    ``active`` (what is being walked, to cut cycles) and ``done`` (functions already seen).
    """

    active: set[int]
    done: dict[int, tuple[Any, bytes]]

    @abc.abstractmethod
    def value(self, obj: Any) -> bytes:
        """Digest of any value, code included."""

    @abc.abstractmethod
    def _module(self, module: types.ModuleType) -> bytes:
        """Digest of a module used as a value."""

    def _definitions_memo(self) -> Any:
        """A store shared by processes (``get``/``set`` of str keys, as diskcache's) where
        the digests of a source file's definitions are kept per file version, or None."""
        return None

    def _code_object(self, obj: Any) -> bytes | None:
        """Digest of functions, classes, modules and the like; None when ``obj`` is none."""
        if isinstance(obj, types.FunctionType):  # first: by far the most common
            return self._function(obj)
        if isinstance(obj, types.ModuleType):
            return self._module(obj)
        if isinstance(obj, functools.partial):
            return _combine(
                b"partial",
                self.value(obj.func),
                self.value(obj.args),
                self.value(dict(obj.keywords)),
            )
        if isinstance(obj, types.MethodType):
            return _combine(b"method", self.value(obj.__func__), self.value(obj.__self__))
        if isinstance(obj, staticmethod | classmethod):
            return _combine(b"descriptor", self.value(obj.__func__))
        if isinstance(obj, property):
            return _combine(b"property", self.value(obj.fget), self.value(obj.fset))
        if isinstance(obj, logging.Logger):  # logging does not change a result
            return _combine(b"logger", _text(obj.name))
        if isinstance(obj, type):
            return self._class(obj)
        if isinstance(obj, _BUILTIN_CALLABLES):
            module = _str_attribute(obj, "__module__") or type(obj).__module__
            bound = getattr(obj, "__self__", None)
            if bound is None or isinstance(bound, types.ModuleType):
                return _library_token(obj, module)
            # A method bound to a value (``RATES.get``, ``"{}_x".format``): the value counts.
            return _combine(b"bound-builtin", _library_token(obj, module), self.value(bound))
        if isinstance(obj, types.CodeType):
            return _bytecode_digest(obj, None, self)
        module = type(obj).__module__
        # Stateless library callables: numpy ufuncs, Polars' API objects (``pl.col``). Other
        # callable instances (a fitted model) carry state and stay unfingerprintable.
        if isinstance(obj, np.ufunc) or (callable(obj) and module.partition(".")[0] == "polars"):
            return _library_token(obj, module)
        if module in ("typing", "types", "typing_extensions"):  # Optional[int], list[str]
            return _combine(b"typing", _text(repr(obj)))
        return None

    def _function(self, fn: types.FunctionType) -> bytes:
        if _is_library_module_name(fn.__module__):
            if not fn.__closure__ and not fn.__defaults__ and not fn.__kwdefaults__:
                return _library_token(fn, fn.__module__)
            # A closure made by library code (a decorator factory, a predicate built from
            # arguments) carries the user's values: the code counts by version, they by value.
            return _combine(
                b"library-closure",
                _library_token(fn, fn.__module__),
                self.value(fn.__defaults__),
                self.value(fn.__kwdefaults__),
                *(self._cell(cell) for cell in fn.__closure__ or ()),
            )
        marker = id(fn)
        if marker in self.active:
            return _combine(b"recursive", _text(fn.__module__ or ""), _text(fn.__qualname__))
        seen = self.done.get(marker)
        if seen is not None and seen[0] is fn:
            return seen[1]
        self.active.add(marker)
        try:
            digest = self._function_parts(fn)
        finally:
            self.active.discard(marker)
        self.done[marker] = (fn, digest)
        return digest

    def _function_parts(self, fn: types.FunctionType) -> bytes:
        code = fn.__code__
        parts = [_text(fn.__qualname__), _source_or_bytecode(fn, self)]
        with _reading(fn, "its default arguments"):
            parts.append(self.value(fn.__defaults__))
            parts.append(self.value(fn.__kwdefaults__))
        for name, cell in zip(code.co_freevars, fn.__closure__ or (), strict=True):
            with _reading(fn, f"the closure variable `{name}`"):
                parts.append(_text(name))
                parts.append(self._cell(cell))
        parts.append(self._globals_read(fn))
        # A function's attributes live in its __dict__: reading it there skips getattr's
        # AttributeError for the usual function that has none.
        attributes = fn.__dict__
        with _reading(fn, "its decorator specs"):
            specs = attributes.get(_MODIFIERS_ATTRIBUTE, ())
            # A spec holding every output's arguments (@parameterize) would tie each output's
            # key to its siblings'; the node's own arguments are in its wrapper's fields.
            parts.append(self.value(tuple(s for s in specs if not getattr(s, "per_output", False))))
        wrapped = attributes.get("__wrapped__")
        if wrapped is not None:
            with _reading(fn, "the function it wraps"):
                parts.append(self.value(wrapped))
        return _combine(b"function", *parts)

    def _cell(self, cell: types.CellType) -> bytes:
        try:
            contents = cell.cell_contents
        except ValueError:  # an empty cell: the variable was never assigned
            return b"<empty cell>"
        return self.value(contents)

    def _globals_read(self, fn: types.FunctionType) -> bytes:
        parts: list[bytes] = []
        namespace = fn.__globals__
        reads, imports = _reads(fn.__code__)
        for name, chain in reads:
            dotted = name + "".join("." + attr for attr in chain)
            parts.append(_text(dotted))
            if name in namespace:
                with _reading(fn, f"the global `{dotted}`"):
                    parts.append(self._resolved(namespace[name], chain))
            elif hasattr(builtins, name):
                parts.append(_combine(b"builtin", _text(name)))
            else:
                parts.append(b"<undefined>")
        for module_name, level, attrs in imports:
            module = _import_for(fn, module_name, level)
            parts.append(_text(f"import {'.' * level}{module_name}"))
            if not attrs:
                with _reading(fn, f"the module `{module_name}` it imports"):
                    parts.append(self.value(module))
            for attr in attrs:
                parts.append(_text(attr))
                with _reading(fn, f"`{attr}` imported from `{module_name}`"):
                    parts.append(self._resolved(module, (attr,)))
        return _combine(b"globals", *parts)

    def _resolved(self, obj: Any, chain: tuple[str, ...]) -> bytes:
        """Digest of ``obj.chain...``, following the chain while it walks through user modules.

        ``helpers.clean(x)`` depends on ``helpers.clean`` only, not on the rest of ``helpers``;
        a library module (``pl.col``) counts by name and version, whatever is read off it.
        """
        for position, attr in enumerate(chain):
            if not isinstance(obj, types.ModuleType) or _is_library_module(obj):
                break
            if not hasattr(obj, attr):
                return _combine(b"missing", _text(".".join(chain[: position + 1])))
            obj = getattr(obj, attr)
        return self.value(obj)

    def _class(self, cls: type) -> bytes:
        if _is_library_module_name(cls.__module__):
            return _library_token(cls, cls.__module__)
        marker = id(cls)
        if marker in self.active:
            return _combine(b"recursive", _text(cls.__module__), _text(cls.__qualname__))
        self.active.add(marker)
        try:
            parts = [_text(cls.__qualname__)]
            parts.extend(self.value(base) for base in cls.__bases__ if base is not object)
            skip = set(_CLASS_NOISE)
            if dataclasses.is_dataclass(cls):
                skip |= _DATACLASS_GENERATED
                params = getattr(cls, "__dataclass_params__", None)
                parts.append(_text(repr(params)))
                for field in dataclasses.fields(cls):
                    parts.append(_text(f"{field.name}: {field.type!r}"))
                    parts.append(self.value(_field_default(field)))
            if issubclass(cls, enum.Enum):
                for member in cls:
                    parts.append(self.value(member))
                skip |= set(vars(cls)) - {n for n, v in vars(cls).items() if callable(v)}
            for name in sorted(vars(cls)):
                if name in skip:
                    continue
                parts.append(_text(name))
                parts.append(self.value(vars(cls)[name]))
            return _combine(b"class", *parts)
        except UnfingerprintableError as exc:
            raise UnfingerprintableError(
                f"Class `{cls.__qualname__}` cannot be fingerprinted: "
                f"{str(exc).splitlines()[0]}\n" + _HINT
            ) from None
        finally:
            self.active.discard(marker)


_CLASS_NOISE = frozenset(
    {
        "__dict__",
        "__weakref__",
        "__module__",
        "__doc__",
        "__qualname__",
        "__firstlineno__",
        "__static_attributes__",
        "__annotations__",
        "__parameters__",
        "__orig_bases__",
        "__slots__",
        "__abstractmethods__",
        "_abc_impl",
    }
)
_DATACLASS_GENERATED = frozenset(
    {
        "__init__",
        "__repr__",
        "__eq__",
        "__hash__",
        "__setattr__",
        "__delattr__",
        "__lt__",
        "__le__",
        "__gt__",
        "__ge__",
        "__match_args__",
        "__dataclass_fields__",
        "__dataclass_params__",
        "__getstate__",
        "__setstate__",
        "__replace__",
    }
)


def _field_default(field: dataclasses.Field[Any]) -> Any:
    if field.default is not dataclasses.MISSING:
        return ("default", field.default)
    if field.default_factory is not dataclasses.MISSING:
        return ("factory", field.default_factory)
    return ("required",)


class _reading:  # lower case: used like the function it replaced, `with _reading(fn, what):`
    """Say which function, and which of the things it reads, has no fingerprint.

    A class rather than a generator context manager: it wraps every value a function reads,
    and this costs a fraction of ``contextlib``'s overhead.
    """

    __slots__ = ("fn", "what")

    def __init__(self, fn: types.FunctionType, what: str) -> None:
        self.fn = fn
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        if not isinstance(exc, UnfingerprintableError):
            return
        fn, what = self.fn, self.what
        first, _, rest = str(exc).partition("\n")
        if first.startswith(("Function `", "Class `")):  # the innermost culprit speaks
            facts = rest.rsplit("\nHint:", 1)
            detail = f"  reached from: `{fn.__qualname__}` ({_location(fn)}), via {what}"
            raise UnfingerprintableError(
                f"{first}\n{facts[0]}\n{detail}\nHint:{facts[1]}"
                if len(facts) == 2
                else f"{first}\n{rest}\n{detail}"
            ) from None
        raise UnfingerprintableError(
            f"Function `{fn.__qualname__}` cannot be fingerprinted: it reads {what}, and "
            f"{first[0].lower()}{first[1:]}\n  defined at: {_location(fn)}\n{rest}"
        ) from None


def _location(fn: types.FunctionType) -> str:
    return f"{fn.__code__.co_filename}:{fn.__code__.co_firstlineno}"


# source and bytecode --------------------------------------------------------------------------

_NAME_LOADS = frozenset(
    {"LOAD_GLOBAL", "LOAD_NAME", "LOAD_DEREF", "LOAD_FAST", "LOAD_CLOSURE", "LOAD_CLASSDEREF"}
)
_NAME_LOADS_EXTRA = frozenset(
    {
        "LOAD_FAST_CHECK",
        "LOAD_FAST_AND_CLEAR",
        "LOAD_FROM_DICT_OR_DEREF",
        "LOAD_FROM_DICT_OR_GLOBALS",
    }
)
_NAME_STORES = frozenset({"STORE_GLOBAL", "STORE_NAME", "STORE_DEREF", "STORE_FAST"})
_NAME_DELETES = frozenset({"DELETE_GLOBAL", "DELETE_NAME", "DELETE_DEREF", "DELETE_FAST"})
_SHAPE_IGNORED = frozenset(
    {"NOP", "RESUME", "CACHE", "EXTENDED_ARG", "COPY_FREE_VARS", "MAKE_CELL", "PUSH_NULL"}
)
_FUTURE_FLAGS = 0
for _feature in ("nested_scopes", "generators", "division", "absolute_import", "with_statement"):
    _FUTURE_FLAGS |= getattr(__import__("__future__"), _feature).compiler_flag
for _feature in ("print_function", "unicode_literals", "barry_as_FLUFL", "generator_stop"):
    _FUTURE_FLAGS |= getattr(__import__("__future__"), _feature).compiler_flag
_FUTURE_FLAGS |= __import__("__future__").annotations.compiler_flag


_GLOBAL_LOADS = frozenset({"LOAD_GLOBAL", "LOAD_NAME", "LOAD_FROM_DICT_OR_GLOBALS"})
_IMPORT_STORES = frozenset({"STORE_FAST", "STORE_NAME", "STORE_DEREF", "STORE_GLOBAL"})
_READ_OPCODES = frozenset(
    dis.opmap[name] for name in (*_GLOBAL_LOADS, "IMPORT_NAME") if name in dis.opmap
)


_GlobalReads = tuple[tuple[str, tuple[str, ...]], ...]
_Imports = tuple[tuple[str, int, tuple[str, ...]], ...]


# Keyed by the code object, which hashes and compares by content: a reimported function with
# the same code hits. One pass of ``dis`` serves both questions (decoding dominates).
@functools.lru_cache(maxsize=8192)
def _reads(code: types.CodeType) -> tuple[_GlobalReads, _Imports]:
    """What a code object (and its nested code) reads, sorted: the global names it loads with
    the attributes read off them, and its ``import``s as (module, level, names from it).
    """
    reads: set[tuple[str, tuple[str, ...]]] = set()
    imports: set[tuple[str, int, tuple[str, ...]]] = set()
    for current in _walk_code(code):
        # Instructions are two bytes, the opcode first (deoptimized in co_code): code that
        # has none of interest, as many small functions, skips decoding.
        if _READ_OPCODES.isdisjoint(current.co_code[::2]):
            continue
        instructions = list(dis.get_instructions(current))
        for i, ins in enumerate(instructions):
            if ins.opname in _GLOBAL_LOADS:
                chain: list[str] = []
                for j in range(i + 1, len(instructions)):  # indices: slices would copy
                    if instructions[j].opname not in ("LOAD_ATTR", "LOAD_METHOD"):
                        break
                    chain.append(str(instructions[j].argval))
                reads.add((str(ins.argval), tuple(chain)))
            elif ins.opname == "IMPORT_NAME":
                level = 0
                if i >= 2 and instructions[i - 2].opname == "LOAD_CONST":
                    level = int(instructions[i - 2].argval or 0)
                names: list[str] = []
                for j in range(i + 1, len(instructions)):
                    if instructions[j].opname == "IMPORT_FROM":
                        names.append(str(instructions[j].argval))
                    elif instructions[j].opname not in _IMPORT_STORES:
                        break
                imports.add((str(ins.argval), level, tuple(names)))
    return tuple(sorted(reads)), tuple(sorted(imports))


def _import_for(fn: types.FunctionType, name: str, level: int) -> types.ModuleType:
    try:
        absolute = (
            importlib.util.resolve_name("." * level + name, fn.__globals__.get("__package__"))
            if level
            else name
        )
        module = sys.modules.get(absolute)
        return module if module is not None else importlib.import_module(absolute)
    except Exception as exc:
        raise UnfingerprintableError(
            f"Function `{fn.__qualname__}` imports `{'.' * level}{name}`, which cannot be "
            f"imported to fingerprint it ({exc}).\n  defined at: {_location(fn)}\n" + _HINT
        ) from exc


def _walk_code(code: types.CodeType) -> Iterator[types.CodeType]:
    pending = [code]
    while pending:
        current = pending.pop()
        yield current
        pending.extend(c for c in current.co_consts if isinstance(c, types.CodeType))


def _source_or_bytecode(fn: types.FunctionType, fp: _CodeFingerprinter) -> bytes:
    code = fn.__code__
    found = _definition(code, fp._definitions_memo())
    if found is not None:
        return found[2]  # _combine(b"ast", dump), computed once per file version
    normalized = _snippet_source(code)
    if normalized is not None:
        return _combine(b"ast", normalized)
    return _bytecode_digest(code, fn.__doc__, fp)


def _normalized_source(code: types.CodeType) -> bytes | None:
    """AST dump of a function's source, or None when there is no trustworthy source.

    The usual case is a lookup in the function's file, parsed and compiled once per version
    (:class:`_SourceFiles`): the definition starting on the code's first line, trusted when the
    file compiles to exactly the running code. Anything else (a file edited since the import,
    a lambda, source that is not a file) takes the snippet path, :func:`_snippet_source`.
    """
    found = _definition(code)
    return found[1] if found is not None and found[1] else _snippet_source(code)


def _definition(code: types.CodeType, memo: Any = None) -> _Definition | None:
    """The definition of ``code`` in the current version of its file, if it compiles to it.

    With ``memo`` (see :meth:`_CodeFingerprinter._definitions_memo`), a file version another
    process parsed is not parsed again: its definitions come back as digests only, and the
    running code is compared with the parsed one by :func:`_code_digest` instead of ``==``.
    """
    if code.co_name == "<lambda>":  # lambdas share lines and need not be statements
        return None
    source = _SOURCE_FILES.get(code.co_filename, memo)
    if source is None:
        return None
    found = source.definitions.get((code.co_name, code.co_firstlineno))
    if found is None:
        return None
    # Code objects compare by content (instructions, constants, names, line table), so equal
    # means the running function is this version's definition.
    if found[0] is not None:
        return found if found[0] == code else None
    if _code_digest(code) != found[3]:
        return None
    source.definitions[code.co_name, code.co_firstlineno] = (code, b"", found[2], found[3])
    return found  # and next time compared with ``==``, as a parsed one


_Definition = tuple[types.CodeType | None, bytes, bytes, bytes | None]
"""A function definition in a file: its compiled code, AST dump, the dump's digest, and the
code's :func:`_code_digest`. A parsed file's definitions have the first three (the digest is
taken only when the file is remembered); a remembered file's (another process parsed it) the
last two, until a running function matches one and takes its place as the code."""


@dataclasses.dataclass(frozen=True)
class _SourceFile:
    """One version of a source file: its function definitions.

    Keyed by (name, first line, decorators included), as code objects are; names defined twice
    on one line are left out, so that they take the snippet path.
    """

    definitions: dict[tuple[str, int], _Definition]
    size: int


class _SourceFiles:
    """File versions, by content digest: a module rewritten with the same text (a rerun) finds
    its parse. Stamps (path, size, mtime) spare reading the file; neither is trusted for
    correctness, since every definition found is checked against the running code.
    """

    def __init__(self, max_files: int, max_bytes: int, max_stamps: int) -> None:
        self.lock = threading.Lock()
        self.files: OrderedDict[bytes, _SourceFile] = OrderedDict()
        self.stamps: OrderedDict[tuple[str, int, int], bytes] = OrderedDict()
        self.max_files = max_files
        self.max_bytes = max_bytes  # of AST dumps kept, about 7 times the source size
        self.max_stamps = max_stamps
        self.size = 0

    def get(self, filename: str, memo: Any = None) -> _SourceFile | None:
        """The parsed current version of ``filename``, or None when it is no readable file;
        ``memo`` holds versions parsed by other processes (:func:`_remembered_source`)."""
        try:
            info = os.stat(filename)
        except (OSError, ValueError):  # "<string>", a notebook cell, a deleted file
            return None
        if not stat.S_ISREG(info.st_mode) or info.st_size > _MAX_SOURCE_SIZE:
            return None
        with self.lock:
            digest = self.stamps.get((filename, info.st_size, info.st_mtime_ns))
            if digest is not None and digest in self.files:
                self.files.move_to_end(digest)
                return self.files[digest]
        try:
            with open(filename, "rb") as handle:
                data = handle.read()
                info = os.fstat(handle.fileno())
        except OSError:
            return None
        digest = xxhash.xxh3_128_digest(data)
        with self.lock:
            found = self.files.get(digest)
        if found is None and memo is not None:
            found = _remembered_source(memo, digest)
        if found is None:
            found = _load_source_file(filename, data)  # outside the lock: other files go on
            if memo is not None:
                _remember_source(memo, digest, found)
        with self.lock:
            if info.st_size == len(data):  # the stamp of what was read, not of a later write
                self.stamps[(filename, info.st_size, info.st_mtime_ns)] = digest
                while len(self.stamps) > self.max_stamps:
                    self.stamps.popitem(last=False)
            if digest not in self.files:
                self.files[digest] = found
                self.size += found.size
                while len(self.files) > 1 and (
                    len(self.files) > self.max_files or self.size > self.max_bytes
                ):
                    self.size -= self.files.popitem(last=False)[1].size
        return found

    def clear(self) -> None:
        with self.lock:
            self.files.clear()
            self.stamps.clear()
            self.size = 0


def forget_memos() -> None:
    """Forget what this process remembers about code: parsed source files, snippet sources,
    what code reads (the memo directories' records stay)."""
    _SOURCE_FILES.clear()
    with _SOURCE_MEMO_LOCK:
        _SOURCE_MEMO.clear()
    _reads.cache_clear()
    _normalized_source_of.cache_clear()


_MAX_SOURCE_SIZE = 8 << 20  # a larger "source" is likely data: the snippet path reads less
_SOURCE_FILES = _SourceFiles(max_files=256, max_bytes=64 << 20, max_stamps=4096)


def _load_source_file(filename: str, data: bytes) -> _SourceFile:
    """Parse and compile a file's text once, and dump every function definition in it."""
    try:
        tree = ast.parse(data, filename)
        # As the import does; the tree compiles to the same code as the text, a bit faster.
        module = compile(tree, filename, "exec", dont_inherit=True)
    except (SyntaxError, ValueError, TypeError, RecursionError, MemoryError):
        return _SourceFile({}, 0)  # not Python (any more): the snippet path decides
    codes: dict[tuple[str, int], types.CodeType | None] = {}
    for compiled in _walk_code(module):
        key = (compiled.co_name, compiled.co_firstlineno)
        codes[key] = None if key in codes else compiled
    definitions: dict[tuple[str, int], _Definition] = {}
    seen: set[tuple[str, int]] = set()
    size = 0
    for node in _function_definitions(tree):  # after compiling: this strips docstrings
        first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        key = (node.name, first)
        code = codes.get(key)
        if code is None or key in seen:
            definitions.pop(key, None)
            seen.add(key)
            continue
        seen.add(key)
        # Decorators count through the specs they attach (see _function_parts); the tree is
        # this function's own, so clearing them for the dump and back is safe.
        decorators, node.decorator_list = node.decorator_list, []
        dump = _text(ast.dump(node, annotate_fields=True, include_attributes=False))
        node.decorator_list = decorators
        definitions[key] = (code, dump, _combine(b"ast", dump), None)
        size += len(dump)
    return _SourceFile(definitions, size)


_SOURCE_RECORD_SECONDS = 30 * 86400.0
_SOURCE_RECORD_PREFIX = (
    f"source:{FORMAT_VERSION}:code-2:{sys.implementation.cache_tag}:O{sys.flags.optimize}:"
)
"""Records are per interpreter and optimization level (``python -O`` compiles asserts away,
so its code digests match nothing a plain interpreter runs) and per encoding of the digest."""


def _remembered_source(memo: Any, digest: bytes) -> _SourceFile | None:
    """A file version as another process parsed it: per definition, the digests of its AST
    dump and of its code. None when unknown, or when the record is damaged."""
    try:
        record = memo.get(_SOURCE_RECORD_PREFIX + digest.hex())
    except MEMO_ERRORS:  # a memo that cannot be read only costs a parse
        return None
    if not isinstance(record, str) or "\n" not in record:
        return None
    check, _, text = record.partition("\n")
    if xxhash.xxh64_hexdigest(text.encode()) != check:
        return None
    try:
        rows = json.loads(text)
        definitions: dict[tuple[str, int], _Definition] = {
            (str(name), int(line)): (None, b"", bytes.fromhex(ast_hex), bytes.fromhex(code_hex))
            for name, line, ast_hex, code_hex in rows
        }
    except (ValueError, TypeError):
        return None
    return _SourceFile(definitions, 64 * len(definitions))


def _remember_source(memo: Any, digest: bytes, source: _SourceFile) -> None:
    """Keep ``source``'s definitions as digests for other processes (30 days)."""
    rows = []
    for (name, line), (code, _, ast_digest, _) in source.definitions.items():
        code_digest = None if code is None else _code_digest(code)
        if code_digest is not None:  # else left out: that function takes the snippet path
            rows.append([name, line, ast_digest.hex(), code_digest.hex()])
    text = json.dumps(rows, separators=(",", ":"))
    record = xxhash.xxh64_hexdigest(text.encode()) + "\n" + text
    with contextlib.suppress(*MEMO_ERRORS):  # nor one that cannot be written
        memo.set(_SOURCE_RECORD_PREFIX + digest.hex(), record, expire=_SOURCE_RECORD_SECONDS)


def _code_digest(code: types.CodeType) -> bytes | None:
    """Digest of what a code object executes: instructions, constants (nested code too, and
    floats by their bits), names, flags and argument counts; not line numbers, so equal digests
    mean code that computes the same (its tracebacks may point at other lines). None for a
    constant of a type code literals do not produce.

    One stream, every piece length-prefixed or terminated, hashed once: a new process checks
    each remembered definition against its running code this way (a few us per function).
    """
    out: list[bytes] = []
    return xxhash.xxh3_128_digest(b"".join(out)) if _encode_code(code, out) else None


def _encode_code(code: types.CodeType, out: list[bytes]) -> bool:
    groups = (code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars)
    names = "\x01".join(
        [code.co_name, code.co_qualname, *("\x00".join(group) for group in groups)]
    ).encode()
    table = bytes(getattr(code, "co_exceptiontable", b""))
    counts = (code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount, code.co_flags)
    out.append(b"code %d,%d,%d,%d;" % counts)
    for piece in (names, code.co_code, table):
        out.append(b"%d:" % len(piece))
        out.append(piece)
    out.append(b"%d:" % len(code.co_consts))
    return all(_encode_literal(const, out) for const in code.co_consts)


def _encode_literal(value: Any, out: list[bytes]) -> bool:
    """Append a constant as compiled code holds it; False for another kind of value. Types
    are exact (``True`` is not ``1``), floats by their bits (``-0.0`` is not ``0.0``, nor a
    NaN another NaN), frozensets (``x in {1, 2}``) by their sorted element encodings."""
    kind = type(value)
    if kind is str:
        data = value.encode("utf-8", "surrogatepass")
        out.append(b"s%d:" % len(data))
        out.append(data)
    elif kind is int:
        out.append(b"i%x;" % value)  # hex: no digit limit, unlike str() of a huge int
    elif kind is bool:
        out.append(b"T" if value else b"F")
    elif kind is float:
        out.append(b"f" + struct.pack("<d", value))  # every bit: NaN signs and payloads too
    elif value is None:
        out.append(b"N")
    elif value is Ellipsis:
        out.append(b"E")
    elif kind is bytes:
        out.append(b"b%d:" % len(value))
        out.append(value)
    elif kind is complex:
        out.append(b"j" + struct.pack("<dd", value.real, value.imag))
    elif kind is tuple:
        out.append(b"(%d:" % len(value))
        return all(_encode_literal(item, out) for item in value)
    elif kind is frozenset:
        items: list[bytes] = []
        for item in value:
            encoded: list[bytes] = []
            if not _encode_literal(item, encoded):
                return False
            items.append(b"".join(encoded))
        out.append(b"{%d:" % len(items))
        out.extend(sorted(items))  # each self-delimiting, so sorted order is unambiguous
    elif kind is types.CodeType:
        out.append(b"c")
        return _encode_code(value, out)
    else:
        return False
    return True


_STATEMENT_LISTS = ("body", "orelse", "finalbody")


def _function_definitions(
    tree: ast.Module,
) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    """Every ``def`` in the tree, nested ones included, with all docstrings stripped.

    Definitions are statements, so only statement lists are walked (``ast.walk`` would visit
    every expression too, several times slower). Each docstring is stripped exactly once, as
    :func:`_strip_docstrings` does for a snippet: a second pass would strip a second string.
    """
    found: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
    pending: list[list[ast.stmt]] = [tree.body]
    while pending:
        for statement in pending.pop():
            if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                _strip_docstring(statement)
                if not isinstance(statement, ast.ClassDef):
                    found.append(statement)
            for field in _STATEMENT_LISTS:
                block = getattr(statement, field, None)
                if block:
                    pending.append(block)
            for handler in getattr(statement, "handlers", ()):  # try / except (*)
                pending.append(handler.body)
            for case in getattr(statement, "cases", ()):  # match
                pending.append(case.body)
    return found


_SOURCE_MEMO_LOCK = threading.Lock()
_SOURCE_MEMO: dict[tuple[types.CodeType, str, int, int], bytes | None] = {}


def _snippet_source(code: types.CodeType) -> bytes | None:
    """AST dump of the lines ``inspect`` finds for ``code``, if they compile back to it.

    Finding a function's lines tokenizes its file, so the answer is remembered per code object
    for as long as the file's size and mtime stay the same.
    """
    try:
        info = os.stat(code.co_filename)
    except (OSError, ValueError):
        stamp = None
    else:
        stamp = (code, code.co_filename, info.st_mtime_ns, info.st_size)
        with _SOURCE_MEMO_LOCK:
            if stamp in _SOURCE_MEMO:
                return _SOURCE_MEMO[stamp]
    try:
        lines, _ = inspect.getsourcelines(code)
    except (OSError, TypeError, IndexError):
        normalized = None
    else:
        normalized = _normalized_source_of(code, textwrap.dedent("".join(lines)))
    if stamp is not None:
        with _SOURCE_MEMO_LOCK:
            if len(_SOURCE_MEMO) > 16384:
                _SOURCE_MEMO.clear()
            _SOURCE_MEMO[stamp] = normalized
    return normalized


@functools.lru_cache(maxsize=4096)
def _normalized_source_of(code: types.CodeType, source: str) -> bytes | None:
    try:
        tree = ast.parse(source)
    except SyntaxError:  # a lambda in the middle of a statement: not a parseable snippet
        return None
    for node in ast.walk(tree):
        if code.co_name == "<lambda>":
            if not isinstance(node, ast.Lambda):
                continue
        elif not (
            isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == code.co_name
        ):
            continue
        if _source_matches(node, code):
            _strip_docstrings(node)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                # Decorators count through the specs they attach (see _function_parts), so
                # that @parameterize's arguments for one output leave the others' keys alone.
                node.decorator_list = []
            return _text(ast.dump(node, annotate_fields=True, include_attributes=False))
    return None


def _source_matches(node: ast.AST, code: types.CodeType) -> bool:
    """Whether the source compiles to the running code (the file may have been edited).

    The snippet is compiled inside the scopes it came from (an enclosing function holding its
    free variables, the class of a method), so closures, ``super()`` and name mangling come
    out as in the original.
    """
    statement: ast.stmt = ast.Expr(value=node) if isinstance(node, ast.Lambda) else node  # type: ignore[assignment]
    path = getattr(code, "co_qualname", code.co_name).split(".")
    if len(path) >= 2 and path[-2] != "<locals>":
        statement = ast.ClassDef(
            name=path[-2],
            bases=[],
            keywords=[],
            body=[statement],
            decorator_list=[],
            **_EMPTY_TYPE_PARAMS,
        )
    free = [name for name in code.co_freevars if name != "__class__"]
    if free:
        assign = [
            ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=ast.Constant(value=None))
            for name in free
        ]
        arguments = ast.arguments(
            posonlyargs=[],
            args=[],
            vararg=None,
            kwonlyargs=[],
            kw_defaults=[],
            kwarg=None,
            defaults=[],
        )
        statement = ast.FunctionDef(
            name="_fingerprint_scope_",
            args=arguments,
            body=[*assign, statement],
            decorator_list=[],
            returns=None,
            **_EMPTY_TYPE_PARAMS,
        )
    module = ast.fix_missing_locations(ast.Module(body=[statement], type_ignores=[]))
    try:
        compiled = compile(
            module, code.co_filename, "exec", flags=code.co_flags & _FUTURE_FLAGS, dont_inherit=True
        )
    except (SyntaxError, ValueError, TypeError):
        return False
    target = _code_shape(code)
    return any(
        candidate.co_name == code.co_name and _code_shape(candidate) == target
        for candidate in _walk_code(compiled)
    )


_EMPTY_TYPE_PARAMS: dict[str, Any] = (
    {"type_params": []} if "type_params" in ast.FunctionDef._fields else {}
)


def _code_shape(code: types.CodeType) -> tuple[Any, ...]:
    """The instructions, names and constants of code, blind to scopes and line numbers."""
    shape: list[Any] = [code.co_argcount, code.co_kwonlyargcount, code.co_posonlyargcount]
    for ins in dis.get_instructions(code):
        op = ins.opname
        if op in _SHAPE_IGNORED:
            continue
        if op in _NAME_LOADS or op in _NAME_LOADS_EXTRA:
            shape.append(("LOAD", str(ins.argval)))
        elif op in _NAME_STORES:
            shape.append(("STORE", str(ins.argval)))
        elif op in _NAME_DELETES:
            shape.append(("DELETE", str(ins.argval)))
        elif op in ("LOAD_ATTR", "LOAD_METHOD"):  # 3.11 picks by how the name was imported
            shape.append(("ATTR", str(ins.argval)))
        elif ins.opcode in dis.hasconst and isinstance(ins.argval, types.CodeType):
            shape.append(("CODE", _code_shape(ins.argval)))
        elif ins.opcode in dis.hasconst:  # by its bits: repr prints every NaN as `nan`
            encoded: list[bytes] = []
            token = b"".join(encoded) if _encode_literal(ins.argval, encoded) else None
            shape.append(("CONST", op, type(ins.argval).__name__, token or repr(ins.argval)))
        elif ins.opcode in dis.hasjrel or ins.opcode in dis.hasjabs:
            shape.append((op,))  # targets move when scope opcodes differ
        else:
            shape.append((op, repr(ins.argval)))
    return tuple(shape)


def _strip_docstrings(root: ast.AST) -> None:
    for node in ast.walk(root):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            _strip_docstring(node)


def _strip_docstring(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
    body = node.body
    first = body[0] if body else None
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        node.body = body[1:] or [ast.Pass()]


def _bytecode_digest(code: types.CodeType, docstring: str | None, fp: _CodeFingerprinter) -> bytes:
    """Digest of code without source: instructions and constants, never line numbers."""
    consts: list[bytes] = []
    for position, const in enumerate(code.co_consts):
        if isinstance(const, types.CodeType):
            consts.append(_bytecode_digest(const, None, fp))
        elif position == 0 and docstring is not None and const == docstring:
            consts.append(b"<docstring>")
        else:
            consts.append(fp.value(const))
    return _combine(
        b"bytecode",
        _text(f"python-{sys.version_info.major}.{sys.version_info.minor}"),
        _text(code.co_name),
        _int(code.co_argcount),
        _int(code.co_posonlyargcount),
        _int(code.co_kwonlyargcount),
        _int(code.co_flags),
        code.co_code,
        _text(",".join(code.co_names)),
        _text(",".join(code.co_varnames)),
        _text(",".join(code.co_freevars)),
        _text(",".join(code.co_cellvars)),
        bytes(getattr(code, "co_exceptiontable", b"")),
        *consts,
    )
