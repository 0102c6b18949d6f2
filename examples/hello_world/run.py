"""Run the hello-world dataflow: build a driver, execute, and show the compiled plan."""

import sys
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))

import my_functions

from hamilton_fast import driver


def main() -> None:
    dr = driver.Builder().with_modules(my_functions).build()
    inputs = {
        "signups": pl.Series([1, 10, 50, 100, 200, 400]),
        "spend": pl.Series([10.0, 10.0, 20.0, 40.0, 40.0, 50.0]),
    }
    outputs = [
        "spend",
        "signups",
        "avg_3wk_spend",
        "spend_per_signup",
        "spend_zero_mean_unit_variance",
    ]
    print(dr.execute(outputs, inputs=inputs))
    print()
    print(dr.explain(outputs, inputs=inputs))


if __name__ == "__main__":
    main()
