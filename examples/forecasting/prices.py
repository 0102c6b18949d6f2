"""Price and promotion features. Prices and promotions are planned ahead, so these are known
for the forecast weeks as well; only `promo_lag_*` look back, and they read the plan, not
demand."""

from __future__ import annotations

import polars as pl

from hamilton_fast.function_modifiers import config


def price_ratio(price: pl.Expr, series_id: pl.Expr) -> pl.Expr:
    """Price relative to the series' mean price over history and plan."""
    return price / price.mean().over(series_id)


def discount_depth(price: pl.Expr, regular_price: pl.Expr) -> pl.Expr:
    """Share of the regular price taken off (0 outside promotions)."""
    return (1 - price / regular_price).clip(0.0, 1.0)


def promo_x_discount(promo: pl.Expr, discount_depth: pl.Expr) -> pl.Expr:
    """Discount depth during promotions only: a deep promotion lifts more than a shallow one."""
    return promo * discount_depth


@config.when(features="full")
def promo_lag_1(promo: pl.Expr, series_id: pl.Expr) -> pl.Expr:
    """A promotion last week: customers stocked up, so this week sells less."""
    return promo.shift(1).over(series_id)


@config.when(features="full")
def promo_lag_52(promo: pl.Expr, series_id: pl.Expr) -> pl.Expr:
    """A promotion in the same week last year: it inflates the seasonal reference."""
    return promo.shift(52).over(series_id)


@config.when(features="full")
def discount_depth_lag_52(discount_depth: pl.Expr, series_id: pl.Expr) -> pl.Expr:
    """Discount depth in the same week last year."""
    return discount_depth.shift(52).over(series_id)
