"""Nodes whose bodies cannot be expressed as Polars expressions.

Each one leaves the expression world in a different way: NumPy through `.to_numpy()`, `len`,
Python control flow on a computed value, a Series built from a Python list, a data-dependent
window size, and a Python float out of `float(...)`. Inputs: `spend` (Float64), `signups` (Int64).

Unlike the other dataflows this module uses `from __future__ import annotations`, so both
libraries must resolve its annotations from strings.
"""

from __future__ import annotations

import numpy as np
import polars as pl


def log_spend(spend: pl.Series) -> pl.Series:
    """log(1 + |spend|) computed by NumPy."""
    return pl.Series(np.log1p(np.abs(spend.to_numpy())))


def spend_rank(spend: pl.Series) -> pl.Series:
    """0-based rank of each spend value, ties broken by position (NumPy's stable argsort)."""
    order = np.argsort(spend.to_numpy(), kind="stable")
    ranks = np.empty_like(order)
    ranks[order] = np.arange(len(order))
    return pl.Series(ranks)


def n_weeks(spend: pl.Series) -> int:
    """Number of rows, through `len`."""
    return len(spend)


def spend_adjusted(spend: pl.Series) -> pl.Series:
    """Shift to a zero minimum when spend is positive on average, otherwise negate."""
    if spend.mean() > 0:
        return spend - spend.min()
    return -spend


def signup_bucket(signups: pl.Series) -> pl.Series:
    """A label per row, built element by element in Python."""
    labels = []
    for value in signups.to_list():
        if value >= 50:
            labels.append("high")
        elif value >= 10:
            labels.append("mid")
        else:
            labels.append("low")
    return pl.Series(labels)


def smoothing_window(n_weeks: int, signups: pl.Series) -> int:
    """A window size that depends on the data: at least 2, at most a third of the rows."""
    return max(2, min(n_weeks // 3, int(signups.max()) % 7 + 2))


def spend_smoothed(spend: pl.Series, smoothing_window: int) -> pl.Series:
    """Rolling mean over the data-dependent window."""
    return spend.rolling_mean(smoothing_window)


def total_spend(spend: pl.Series) -> float:
    """Total spend as a Python float."""
    return float(spend.sum())


def spend_share(spend: pl.Series, total_spend: float) -> pl.Series:
    """Each week's share of the total."""
    return spend / total_spend


def weekly_budget(total_spend: float, n_weeks: int) -> float:
    """Plain Python arithmetic on two Python scalars."""
    return total_spend / n_weeks
