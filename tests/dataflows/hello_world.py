"""Hamilton's hello-world dataflow, written against Polars Series.

Inputs: `spend` and `signups` (Series). Columns and scalars mixed, so result builders must broadcast
`spend_mean` and `spend_std_dev`.
"""

import polars as pl


def avg_3wk_spend(spend: pl.Series) -> pl.Series:
    """Rolling three-week average of spend."""
    return spend.rolling_mean(3)


def spend_per_signup(spend: pl.Series, signups: pl.Series) -> pl.Series:
    """Cost per signup."""
    return spend / signups


def spend_mean(spend: pl.Series) -> float:
    """Average spend."""
    return spend.mean()


def spend_zero_mean(spend: pl.Series, spend_mean: float) -> pl.Series:
    """Spend shifted to mean zero."""
    return spend - spend_mean


def spend_std_dev(spend: pl.Series) -> float:
    """Sample standard deviation of spend."""
    return spend.std()


def spend_zero_mean_unit_variance(spend_zero_mean: pl.Series, spend_std_dev: float) -> pl.Series:
    """Spend standardised to mean zero and unit variance."""
    return spend_zero_mean / spend_std_dev
