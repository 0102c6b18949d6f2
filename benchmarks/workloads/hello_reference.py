"""Inputs and the hand-written Polars query for the hello-world dataflow (`hello.py`)."""

from __future__ import annotations

import polars as pl

HELLO_OUTPUTS = [
    "spend",
    "signups",
    "avg_3wk_spend",
    "spend_per_signup",
    "spend_zero_mean_unit_variance",
]
"""The columns Hamilton's hello-world example asks for (inputs included, as there)."""


def make_hello_inputs(n_rows: int, seed: int) -> dict[str, pl.Series]:
    """Seeded `spend` (positive floats) and `signups` (positive integers, never zero).

    >>> inputs = make_hello_inputs(4, seed=0)
    >>> sorted(inputs), inputs["signups"].min() > 0
    (['signups', 'spend'], True)
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    spend = rng.gamma(shape=2.0, scale=10.0, size=n_rows)
    signups = rng.integers(1, 200, size=n_rows)
    return {
        "spend": pl.Series("spend", spend, dtype=pl.Float64),
        "signups": pl.Series("signups", signups, dtype=pl.Int64),
    }


def handwritten_hello(inputs: dict[str, pl.Series], outputs: list[str]) -> pl.DataFrame:
    """The hello-world dataflow as one bare `with_columns`, the way a Polars user writes it."""
    spend = pl.col("spend")
    frame = pl.DataFrame(inputs).with_columns(
        avg_3wk_spend=spend.rolling_mean(3),
        spend_per_signup=spend / pl.col("signups"),
        spend_zero_mean_unit_variance=(spend - spend.mean()) / spend.std(),
    )
    # At 1,000 rows a redundant `select` costs about as much as the arithmetic; skip it when
    # the columns already come out in the order asked for, as a hand-writer would.
    return frame if frame.columns == outputs else frame.select(outputs)
