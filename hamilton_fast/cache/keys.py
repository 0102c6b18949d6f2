"""Node cache keys, Merkle style: a node's key covers its own parts and its dependencies' keys.

The parts are named (:func:`node_key_parts`) so that a miss can say which one changed.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping

import polars as pl
import xxhash

from hamilton_fast.cache.canonical import FORMAT_VERSION, _text


def node_key_parts(
    kind: str,
    name: str,
    code: str,
    modifiers: str,
    bound_values: Mapping[str, str],
    dependency_keys: Mapping[str, str],
) -> dict[str, str]:
    """The named parts a node's key is built from, so a miss can say which one changed."""
    parts = {
        "format": FORMAT_VERSION,
        "polars": pl.__version__,
        "kind": kind,
        "name": name,
        "code": code,
        "modifiers": modifiers,
    }
    if sys.flags.optimize:  # `python -O` strips asserts: a result may exist only without them
        parts["python-optimize"] = str(sys.flags.optimize)
    for key in sorted(bound_values):
        parts[f"value:{key}"] = bound_values[key]
    for key in sorted(dependency_keys):
        parts[f"dependency:{key}"] = dependency_keys[key]
    return parts


def node_key(
    kind: str,
    name: str,
    code: str,
    modifiers: str,
    bound_values: Mapping[str, str],
    dependency_keys: Mapping[str, str],
) -> str:
    """A node's cache key, Merkle style: every part length-prefixed, in a fixed order.

    >>> a = node_key("column", "x", "c0de", "", {"n": "1"}, {"y": "k1", "z": "k2"})
    >>> a == node_key("column", "x", "c0de", "", {"n": "1"}, {"z": "k2", "y": "k1"})
    True
    >>> a == node_key("column", "x", "c0de", "", {"n": "1"}, {"y": "k1", "z": "k3"})
    False
    """
    return key_of_parts(node_key_parts(kind, name, code, modifiers, bound_values, dependency_keys))


def key_of_parts(parts: Mapping[str, str]) -> str:
    """The key of named parts (as :func:`node_key_parts` gives them), in their order.

    The parts are written as one JSON array of [label, value] pairs: JSON's quoting makes the
    stream unambiguous, and one C call writes it (a warm rerun keys every node).
    """
    stream = _COMPACT_JSON.encode(list(parts.items()))
    return xxhash.xxh3_128_hexdigest(_text(stream))


_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))
"""``json.dumps(..., separators=...)`` builds an encoder per call; the output is the same."""
