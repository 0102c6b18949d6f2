"""The forecast target, guarded by data-quality checks that run inside the feature query.

The checks are computed in the same Polars query as the features (no second pass over the
data); a failure stops the run with an error naming the node, the check and the figure.
"""

from __future__ import annotations

import polars as pl

from hamilton_fast.function_modifiers import check_output


@check_output(
    data_type=pl.Int64,
    max_fraction_nans=0.5,
    mean_in_range=(0.0, 1e6),
    importance="fail",
)
def target(demand: pl.Expr) -> pl.Expr:
    """Units sold per series and week, the model's target.

    Null for weeks missing from the feed and for the plan weeks; those must stay a minority
    of rows, and the mean must be a plausible, non-negative number of units.
    """
    return demand
