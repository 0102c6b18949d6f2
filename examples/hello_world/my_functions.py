"""Hamilton's hello world, written for Polars: each function is a column of the result."""

import polars as pl


def avg_3wk_spend(spend: pl.Series) -> pl.Series:
    """Rolling three-week average spend."""
    return spend.rolling_mean(3)


def spend_per_signup(spend: pl.Series, signups: pl.Series) -> pl.Series:
    """The cost of one signup."""
    return spend / signups


def spend_mean(spend: pl.Series) -> float:
    """Average spend (a scalar node; broadcast in the result frame)."""
    return spend.mean()


def spend_zero_mean(spend: pl.Series, spend_mean: float) -> pl.Series:
    """Spend with the mean removed."""
    return spend - spend_mean


def spend_std_dev(spend: pl.Series) -> float:
    """Standard deviation of spend."""
    return spend.std()


def spend_zero_mean_unit_variance(spend_zero_mean: pl.Series, spend_std_dev: float) -> pl.Series:
    """Spend, standardized."""
    return spend_zero_mean / spend_std_dev
