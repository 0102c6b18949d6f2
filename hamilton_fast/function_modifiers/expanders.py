"""``@extract_columns``: one node per column of a frame-returning function, as in Hamilton."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from hamilton_fast.errors import ModifierError
from hamilton_fast.function_modifiers.base import ModifierSpec, attach, location_of

__all__ = ["ExtractColumnsSpec", "extract_columns"]

F = TypeVar("F", bound=Callable[..., Any])

_NO_FILL = object()


@dataclass(frozen=True)
class ExtractColumnsSpec(ModifierSpec):
    """Add one column node per name in ``columns``, reading it from the function's frame.

    ``docs`` holds the per-column documentation given as ``(name, doc)`` pairs.
    ``fill_with`` (when ``has_fill``) is used for columns missing from the frame.
    """

    columns: tuple[str, ...]
    docs: tuple[str, ...]
    fill_with: Any = None
    has_fill: bool = False

    @property
    def decorator_name(self) -> str:
        return "extract_columns"


class extract_columns:
    """Expose columns of a returned DataFrame/LazyFrame as nodes of their own.

    Example:
        >>> import polars as pl
        >>> @extract_columns("spend", "signups")
        ... def base_df(path: str) -> pl.LazyFrame:
        ...     return pl.scan_parquet(path)
    """

    def __init__(self, *columns: str | tuple[str, str], fill_with: Any = _NO_FILL) -> None:
        if not columns:
            raise ModifierError(
                "@extract_columns needs at least one column name.\n"
                'Hint: @extract_columns("spend", "signups").'
            )
        names: list[str] = []
        docs: list[str] = []
        for column in columns:
            if isinstance(column, tuple) and len(column) == 2:
                names.append(str(column[0]))
                docs.append(str(column[1]))
            elif isinstance(column, str):
                names.append(column)
                docs.append("")
            else:
                raise ModifierError(
                    f"@extract_columns: {column!r} is not a column name.\n"
                    'Hint: pass names as strings, or (name, doc) pairs: ("spend", "weekly spend").'
                )
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ModifierError(
                f"@extract_columns lists {', '.join(f'`{n}`' for n in duplicated)} more than once."
                "\nHint: name each column once."
            )
        self._spec = ExtractColumnsSpec(
            columns=tuple(names),
            docs=tuple(docs),
            fill_with=None if fill_with is _NO_FILL else fill_with,
            has_fill=fill_with is not _NO_FILL,
        )

    def __call__(self, fn: F) -> F:
        if fn.__name__ in self._spec.columns:
            raise ModifierError(
                f"@extract_columns on `{fn.__name__}` ({location_of(fn)}) extracts a column with "
                "the function's own name.\nHint: rename the function (e.g. to "
                f"`{fn.__name__}_df`) so the column and the frame are different nodes."
            )
        return attach(fn, self._spec)
