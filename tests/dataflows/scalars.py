"""Aggregates (scalar nodes) consumed by column nodes.

Inputs: `demand` (Int64) and `store` (String).
"""

import polars as pl


def demand_mean(demand: pl.Series) -> float:
    """Mean demand."""
    return demand.mean()


def demand_std(demand: pl.Series) -> float:
    """Sample standard deviation of demand."""
    return demand.std()


def demand_max(demand: pl.Series) -> int:
    """Largest demand; an int because `demand` is integer."""
    return demand.max()


def store_count(store: pl.Series) -> int:
    """Number of distinct stores."""
    return store.n_unique()


def demand_z(demand: pl.Series, demand_mean: float, demand_std: float) -> pl.Series:
    """Standardised demand."""
    return (demand - demand_mean) / demand_std


def demand_pct_of_max(demand: pl.Series, demand_max: int) -> pl.Series:
    """Demand as a percentage of the peak."""
    return demand * 100 / demand_max


def demand_per_store(demand: pl.Series, store_count: int) -> pl.Series:
    """Demand spread evenly over the stores."""
    return demand / store_count


def demand_range(demand_max: int, demand: pl.Series) -> int:
    """Peak minus trough, a scalar computed from a scalar and a column."""
    return demand_max - demand.min()
