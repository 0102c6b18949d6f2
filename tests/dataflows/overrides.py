"""A chain whose upstream nodes refuse to run, so that overriding a middle node can be checked.

`raw_signal` -> `signal` -> `signal_doubled` / `signal_plus_base`, and `gain` -> `amplified`.
Overriding `signal` (a Series) or `gain` (a scalar) must cut off the node that computes it.
Inputs: `base` (Float64 Series).
"""

import polars as pl


class UpstreamRanError(RuntimeError):
    """Raised by nodes that must not run because a node downstream of them was overridden."""


def raw_signal(base: pl.Series) -> pl.Series:
    """Never to be computed in these tests."""
    raise UpstreamRanError("`raw_signal` ran although `signal` was overridden")


def signal(raw_signal: pl.Series) -> pl.Series:
    """The overridden middle node."""
    return raw_signal.abs()


def signal_doubled(signal: pl.Series) -> pl.Series:
    """Downstream of the override."""
    return signal * 2


def signal_plus_base(signal: pl.Series, base: pl.Series) -> pl.Series:
    """Downstream of the override and of an input."""
    return signal + base


def signal_total(signal: pl.Series) -> float:
    """A scalar downstream of the override."""
    return signal.sum()


def gain(base: pl.Series) -> float:
    """Never to be computed in these tests."""
    raise UpstreamRanError("`gain` ran although it was overridden")


def amplified(base: pl.Series, gain: float) -> pl.Series:
    """Uses the overridden scalar."""
    return base * gain
