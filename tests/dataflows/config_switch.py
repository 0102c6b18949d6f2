"""Nodes chosen by configuration: `config.when`, `when_not`, `when_in`, `when_not_in`.

Config keys: `scale` ("units", "thousands" or anything else), `region` and `discount` (a float
that is also read directly as a node parameter, as is `scale`).
"""

import polars as pl
from hamilton.function_modifiers import config


@config.when(scale="thousands")
def revenue__thousands(units_sold: pl.Series, unit_price: pl.Series) -> pl.Series:
    """Revenue in thousands."""
    return units_sold * unit_price / 1000


@config.when(scale="units")
def revenue__units(units_sold: pl.Series, unit_price: pl.Series) -> pl.Series:
    """Revenue in units of currency."""
    return units_sold * unit_price


@config.when_not_in(scale=["units", "thousands"])
def revenue__millions(units_sold: pl.Series, unit_price: pl.Series) -> pl.Series:
    """Revenue in millions, for any other scale."""
    return units_sold * unit_price / 1_000_000


@config.when(scale="units")
def scale_label__units() -> str:
    """Label for revenue in plain units."""
    return "units"


@config.when_not(scale="units")
def scale_label__scaled(scale: str) -> str:
    """Label naming the configured scale; `scale` is the config value itself."""
    return f"per {scale}"


@config.when_in(region=["eu", "uk"])
def tax_rate__europe() -> float:
    """VAT-like rate for European regions."""
    return 0.2


@config.when_not_in(region=["eu", "uk"])
def tax_rate__elsewhere() -> float:
    """Sales tax rate elsewhere."""
    return 0.07


def revenue_after_tax(revenue: pl.Series, tax_rate: float) -> pl.Series:
    """Revenue net of tax."""
    return revenue * (1 - tax_rate)


def discounted_price(unit_price: pl.Series, discount: float) -> pl.Series:
    """Unit price after the configured `discount` fraction."""
    return unit_price * (1 - discount)


def discount_pct(discount: float) -> float:
    """The configured discount as a percentage."""
    return discount * 100
