"""``@config``: choose between function variants by the driver's config, as Hamilton does.

A function decorated with ``@config.when(region="US")`` becomes a node only when the config
says ``region == "US"``; its name loses the ``__suffix`` so several variants can share a node
name (``cost__us`` and ``cost__eu`` both define ``cost``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from hamilton_fast.errors import ModifierError
from hamilton_fast.function_modifiers.base import ModifierSpec, attach

__all__ = ["ConfigSpec", "config"]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class ConfigSpec(ModifierSpec):
    """Keep the function only when ``resolves(config)`` is true; rename it to ``target_name``.

    ``description`` is a stable text form of the condition (error messages and cache keys use it).
    """

    resolves: Callable[[Mapping[str, Any]], bool]
    description: str
    target_name: str | None = None
    config_used: tuple[str, ...] = ()

    @property
    def decorator_name(self) -> str:
        return "config"


def _pairs(kind: str, pairs: Mapping[str, Any]) -> str:
    return f"{kind}(" + ", ".join(f"{k}={v!r}" for k, v in sorted(pairs.items())) + ")"


class config:
    """Decorator factory: ``@config.when(key=value)`` and friends, or ``@config(resolves)``.

    Example:
        >>> import polars as pl
        >>> @config.when(scale="thousands")
        ... def spend__thousands(raw: pl.Expr) -> pl.Expr:
        ...     return raw / 1e3
    """

    def __init__(
        self,
        resolves: Callable[[Mapping[str, Any]], bool],
        target_name: str | None = None,
        config_used: Collection[str] | None = None,
        *,
        _description: str | None = None,
    ) -> None:
        if not callable(resolves):
            raise ModifierError(
                f"@config expects a function config -> bool, got {resolves!r}.\n"
                "Hint: use @config.when(key=value) for the common case."
            )
        self._spec = ConfigSpec(
            resolves=resolves,
            description=_description or f"config({getattr(resolves, '__qualname__', resolves)})",
            target_name=target_name,
            config_used=tuple(config_used or ()),
        )

    def __call__(self, fn: F) -> F:
        if fn.__name__.endswith("__"):
            raise ModifierError(
                f"@config on `{fn.__name__}`: a config variant's name may not end with `__`.\n"
                "Hint: the node name is the part before the last `__`, e.g. `signups__v2` "
                "defines `signups`."
            )
        return attach(fn, self._spec)

    @staticmethod
    def when(name: str | None = None, **key_value_pairs: Any) -> config:
        """Keep the function when every ``config[key] == value``."""
        pairs = dict(key_value_pairs)
        return config(
            lambda cfg: all(cfg.get(k) == v for k, v in pairs.items()),
            target_name=name,
            config_used=list(pairs),
            _description=_pairs("when", pairs),
        )

    @staticmethod
    def when_not(name: str | None = None, **key_value_pairs: Any) -> config:
        """Keep the function when every ``config[key] != value``."""
        pairs = dict(key_value_pairs)
        return config(
            lambda cfg: all(cfg.get(k) != v for k, v in pairs.items()),
            target_name=name,
            config_used=list(pairs),
            _description=_pairs("when_not", pairs),
        )

    @staticmethod
    def when_in(name: str | None = None, **key_value_group_pairs: Collection[Any]) -> config:
        """Keep the function when every ``config[key]`` is one of the given values."""
        pairs = {k: list(v) for k, v in key_value_group_pairs.items()}
        return config(
            lambda cfg: all(cfg.get(k) in v for k, v in pairs.items()),
            target_name=name,
            config_used=list(pairs),
            _description=_pairs("when_in", pairs),
        )

    @staticmethod
    def when_not_in(name: str | None = None, **key_value_group_pairs: Collection[Any]) -> config:
        """Keep the function when no ``config[key]`` is one of the given values."""
        pairs = {k: list(v) for k, v in key_value_group_pairs.items()}
        return config(
            lambda cfg: all(cfg.get(k) not in v for k, v in pairs.items()),
            target_name=name,
            config_used=list(pairs),
            _description=_pairs("when_not_in", pairs),
        )
