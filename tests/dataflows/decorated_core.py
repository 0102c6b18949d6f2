"""Decorators that expand, fill or annotate nodes (both libraries run this module)."""

from typing import TypedDict

import polars as pl
from hamilton.function_modifiers import (
    ParameterizedExtract,
    cache,
    config,
    does,
    extract_columns,
    extract_fields,
    group,
    hamilton_exclude,
    inject,
    parameterize,
    parameterize_extract_columns,
    parameterize_sources,
    parameterize_values,
    schema,
    source,
    tag,
    tag_outputs,
    unpack_fields,
    value,
)


@tag(team="growth", owners=["ana", "bo"])
@extract_columns("spend", "signups")
def base_df(raw: pl.DataFrame) -> pl.DataFrame:
    return raw


@parameterize(
    spend_x2={"col": source("spend"), "k": value(2.0)},
    signups_x3=({"col": source("signups"), "k": value(3)}, "signups, tripled"),
)
def scaled(col: pl.Series, k: float) -> pl.Series:
    """{col} times {k}"""
    return col * k


@parameterize_sources(spend_plus_signups={"a": "spend", "b": "signups"})
def added(a: pl.Series, b: pl.Series) -> pl.Series:
    return a + b


@parameterize_values(parameter="n", assigned_output={("lag_1", "one week"): 1, ("lag_2", ""): 2})
def lagged(spend: pl.Series, n: int) -> pl.Series:
    return spend.shift(n)


@inject(parts=group(source("spend"), source("spend_x2"), value(1.0)))
def total(parts: list[pl.Series]) -> pl.Series:
    result = parts[0]
    for part in parts[1:]:
        result = result + part
    return result


@inject(named=group(a=source("spend"), b=source("signups")))
def ratio(named: dict[str, pl.Series]) -> pl.Series:
    return named["a"] / named["b"]


class Summary(TypedDict):
    mean_spend: float
    max_signups: int


@extract_fields()
def summary(spend: pl.Series, signups: pl.Series) -> Summary:
    return {"mean_spend": spend.mean(), "max_signups": signups.max()}


@extract_fields({"first_spend": float, "label": str})
def facts(spend: pl.Series) -> dict:
    return {"first_spend": spend[0], "label": "weekly"}


@unpack_fields("low", "high")
def bounds(spend: pl.Series) -> tuple[float, float]:
    return (spend.min(), spend.max())


@parameterize_extract_columns(
    ParameterizedExtract(("a_x", "a_y"), {"offset": value(1.0)}),
    ParameterizedExtract(("b_x", "b_y"), {"offset": value(10.0)}),
)
def shifted_frame(raw: pl.DataFrame, offset: float) -> pl.DataFrame:
    return raw.select(pl.col("spend") + offset, pl.col("signups") * 2)


def _sum_all(**values: pl.Series) -> pl.Series:
    result = None
    for series in values.values():
        result = series if result is None else result + series
    return result


@does(_sum_all)
def summed(spend: pl.Series, spend_x2: pl.Series) -> pl.Series:
    pass


@tag_outputs(clicks={"source": "web"}, views={"source": "app"})
@extract_columns("clicks", "views")
def traffic(raw_traffic: pl.DataFrame) -> pl.DataFrame:
    return raw_traffic


@schema.output(("spend", "float"), ("signups", "int"))
def described(raw: pl.DataFrame) -> pl.DataFrame:
    return raw


@cache(behavior="recompute", format="parquet")
def cached_mean(spend: pl.Series) -> float:
    return spend.mean()


@hamilton_exclude
def not_a_node(spend: pl.Series) -> pl.Series:
    return spend


@config.when(mode="a")
def variant__a(spend: pl.Series) -> pl.Series:
    return spend + 1


@config.when_not(mode="a")
def variant__b(spend: pl.Series) -> pl.Series:
    return spend - 1
