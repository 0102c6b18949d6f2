"""Loading and saving decorators (both libraries build this module; values compared by hand)."""

import polars as pl
from hamilton.function_modifiers import (
    dataloader,
    datasaver,
    extract_columns,
    load_from,
    save_to,
    source,
    value,
)


@extract_columns("a", "b")
@load_from.parquet(file=source("parquet_path"))
def loaded(df: pl.DataFrame) -> pl.DataFrame:
    return df.with_columns(pl.col("a") * 2)


@load_from.csv(file=source("csv_path"), inject_="raw")
def from_csv(raw: pl.DataFrame, k: int) -> pl.DataFrame:
    return raw.with_columns(pl.col("a") * k)


@save_to.csv(file=source("out_path"), output_name_="saved")
def to_save(from_csv: pl.DataFrame) -> pl.DataFrame:
    return from_csv


@dataloader()
def my_loader(csv_path: str) -> tuple[pl.DataFrame, dict]:
    df = pl.read_csv(csv_path)
    return df, {"rows": df.height}


@datasaver()
def my_saver(to_save: pl.DataFrame, out_path2: str) -> dict:
    to_save.write_csv(out_path2)
    return {"path": out_path2}


def a_plus_b(a: pl.Series, b: pl.Series) -> pl.Series:
    return a + b


@load_from.feather(source=value("unused.arrow"), inject_="frame")
def height(frame: pl.DataFrame) -> int:
    return frame.height
