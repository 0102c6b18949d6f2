"""A seeded, synthetic weekly demand panel, shaped like a retailer's sales history.

Every series (one product in one store) is simulated as

    expected demand = level x trend x yearly season x holiday lift x price effect x promo lift
                      x post-promo dip

and the observed demand is a Poisson draw around it with multiplicative gamma noise. On top of
that, like real data:

* some series start late (new products), so they have less than three years of history;
* some weeks are missing: the row is absent (a till or feed outage), not zero;
* prices have a regular (list) price with occasional permanent changes, and promotions that
  cut the price for one or two weeks; a promotion lifts demand through the price elasticity
  and a display effect, and the week after it sells a little less (customers stocked up).

Two files are written: the **history** (``series_id``, ``store_id``, ``category``, ``week``,
``demand``, ``price``, ``regular_price``, ``promo``, ``holiday``) and the **plan** for the
``horizon`` weeks after it (the same columns without ``demand``): next quarter's prices and
promotions are decided in advance, so a forecast may use them.

Both files are sorted by ``series_id``, then ``week``. The features rely on that order
(``shift`` and ``rolling_mean`` ``.over(series_id)`` read rows in order); the loader completes
and re-sorts the calendar anyway, so the lags stay correct for any input order.

Example:
    >>> history, plan = generate_panel(n_series=3, n_weeks=60, seed=1, horizon=4)
    >>> history.columns[:4], plan.height
    (['series_id', 'store_id', 'category', 'week'], 12)
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl

__all__ = ["FIRST_WEEK", "HOLIDAYS", "generate_panel", "holiday_weeks", "write_panel"]

FIRST_WEEK = dt.date(2022, 1, 3)  # a Monday

# category: (yearly amplitude, peak week of year, holiday sensitivity)
CATEGORIES: dict[str, tuple[float, float, float]] = {
    "grocery": (0.08, 51.0, 0.35),
    "beverages": (0.30, 29.0, 0.45),
    "garden": (0.65, 22.0, 0.15),
    "toys": (0.35, 50.0, 0.90),
    "household": (0.12, 12.0, 0.20),
}

# holiday: size of its lift (multiplied by the category's sensitivity, in log space)
HOLIDAYS: dict[str, float] = {
    "new_year": 0.15,
    "easter": 0.35,
    "memorial_day": 0.25,
    "independence_day": 0.45,
    "labor_day": 0.25,
    "thanksgiving": 0.60,
    "christmas": 1.00,
}


def _easter(year: int) -> dt.date:
    """Gregorian Easter Sunday (the anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    weekday = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * weekday) // 451
    month, day = divmod(h + weekday - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    """The n-th given weekday of a month (n = -1: the last one)."""
    if n > 0:
        first = dt.date(year, month, 1)
        return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


def holiday_weeks(first: dt.date, n_weeks: int) -> dict[dt.date, float]:
    """Monday of each week that contains a holiday -> the size of its lift."""
    weeks: dict[dt.date, float] = {}
    last = first + dt.timedelta(weeks=n_weeks)
    for year in range(first.year - 1, last.year + 1):
        dates = {
            "new_year": dt.date(year, 1, 1),
            "easter": _easter(year),
            "memorial_day": _nth_weekday(year, 5, 0, -1),
            "independence_day": dt.date(year, 7, 4),
            "labor_day": _nth_weekday(year, 9, 0, 1),
            "thanksgiving": _nth_weekday(year, 11, 3, 4),
            "christmas": dt.date(year, 12, 25),
        }
        for name, day in dates.items():
            monday = day - dt.timedelta(days=day.weekday())
            if first <= monday < last:
                weeks[monday] = max(weeks.get(monday, 0.0), HOLIDAYS[name])
    return weeks


def _promotions(rng: np.random.Generator, n_series: int, n_weeks: int) -> np.ndarray:
    """Discount depth per series and week (0 outside promotions); promotions last 1-2 weeks."""
    frequency = rng.uniform(0.03, 0.10, size=(n_series, 1))
    starts = rng.random((n_series, n_weeks)) < frequency
    depth_of_event = rng.choice([0.10, 0.15, 0.20, 0.25, 0.30, 0.40], size=(n_series, n_weeks))
    two_weeks = rng.random((n_series, n_weeks)) < 0.4
    depth = np.where(starts, depth_of_event, 0.0)
    carried = np.where(starts & two_weeks, depth, 0.0)
    depth[:, 1:] = np.maximum(depth[:, 1:], carried[:, :-1])
    return depth


def _regular_prices(rng: np.random.Generator, n_series: int, n_weeks: int) -> np.ndarray:
    """List prices with a few permanent changes (mostly increases)."""
    base = np.round(np.exp(rng.normal(np.log(5.0), 0.7, size=(n_series, 1))), 2)
    changes = rng.random((n_series, n_weeks)) < 1.5 / 52
    steps = np.where(changes, rng.normal(0.04, 0.05, size=(n_series, n_weeks)), 0.0)
    return np.round(base * np.exp(np.cumsum(steps, axis=1)), 2)


def generate_panel(
    n_series: int = 300, n_weeks: int = 156, seed: int = 42, horizon: int = 13
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Simulate ``n_weeks`` of history and a ``horizon``-week price/promotion plan.

    Returns ``(history, plan)``, both sorted by ``series_id``, ``week``.
    """
    rng = np.random.default_rng(seed)
    total = n_weeks + horizon
    weeks = [FIRST_WEEK + dt.timedelta(weeks=t) for t in range(total)]
    week_of_year = np.array([w.isocalendar().week for w in weeks], dtype=float)
    holidays = holiday_weeks(FIRST_WEEK, total)
    holiday_size = np.array([holidays.get(w, 0.0) for w in weeks])

    names = list(CATEGORIES)
    category = rng.integers(0, len(names), size=n_series)
    amplitude, peak, sensitivity = (
        np.array([CATEGORIES[names[c]][i] for c in category])[:, None] for i in range(3)
    )
    amplitude = amplitude * rng.uniform(0.7, 1.3, size=(n_series, 1))
    angle = 2 * np.pi * (week_of_year[None, :] - peak) / 52.18
    season = amplitude * (np.cos(angle) + 0.25 * np.cos(2 * angle))

    level = np.exp(rng.normal(np.log(60.0), 0.9, size=(n_series, 1)))
    growth = rng.normal(0.04, 0.12, size=(n_series, 1))  # per year
    trend = growth * np.arange(total)[None, :] / 52.0

    regular = _regular_prices(rng, n_series, total)
    depth = _promotions(rng, n_series, total)
    price = np.round(regular * (1.0 - depth), 2)
    promo = depth > 0
    elasticity = rng.uniform(1.2, 2.8, size=(n_series, 1))
    after_promo = np.zeros_like(promo)
    after_promo[:, 1:] = promo[:, :-1] & ~promo[:, 1:]

    log_mean = (
        np.log(level)
        + trend
        + season
        + sensitivity * holiday_size[None, :]
        - elasticity * np.log(price / regular)
        + 0.15 * promo
        - 0.15 * after_promo
    )
    noise = rng.gamma(shape=40.0, scale=1 / 40.0, size=(n_series, total))
    demand = rng.poisson(np.exp(log_mean) * noise)

    # New products start late; feed outages drop about 2% of the weeks.
    start = np.where(
        rng.random(n_series) < 0.15, rng.integers(13, max(14, n_weeks // 2), n_series), 0
    )
    observed = (np.arange(total)[None, :] >= start[:, None]) & (
        rng.random((n_series, total)) > 0.02
    )
    in_plan = (np.arange(total)[None, :] >= n_weeks) & (np.arange(total)[None, :] >= start[:, None])

    width = len(str(n_series))
    panel = pl.DataFrame(
        {
            "series_id": np.repeat([f"S{i:0{width}d}" for i in range(n_series)], total),
            "store_id": np.repeat([f"store_{i % 12:02d}" for i in range(n_series)], total),
            "category": np.repeat([names[c] for c in category], total),
            "week": np.tile(np.array(weeks, dtype="datetime64[D]"), n_series),
            "demand": demand.ravel(),
            "price": price.ravel(),
            "regular_price": regular.ravel(),
            "promo": promo.ravel().astype(np.int8),
            "holiday": np.tile((holiday_size > 0).astype(np.int8), n_series),
            "_observed": observed.ravel(),
            "_plan": in_plan.ravel(),
            "_history": (np.arange(total) < n_weeks)[None, :].repeat(n_series, 0).ravel(),
        }
    ).with_columns(pl.col("week").cast(pl.Date), pl.col("demand").cast(pl.Int64))
    history = panel.filter(pl.col("_history") & pl.col("_observed"))
    plan = panel.filter(pl.col("_plan")).drop("demand")
    private = ["_observed", "_plan", "_history"]
    return history.drop(private), plan.drop(private)


def write_panel(
    path: str | Path,
    n_series: int = 300,
    n_weeks: int = 156,
    seed: int = 42,
    *,
    plan_path: str | Path | None = None,
    horizon: int = 13,
) -> tuple[Path, Path]:
    """Write the history to ``path`` and the plan to ``plan_path`` (default: ``*_plan``).

    Returns both paths.
    """
    path = Path(path)
    plan_path = Path(plan_path) if plan_path else path.with_name(f"{path.stem}_plan.parquet")
    path.parent.mkdir(parents=True, exist_ok=True)
    history, plan = generate_panel(n_series, n_weeks, seed, horizon)
    history.write_parquet(path)
    plan.write_parquet(plan_path)
    return path, plan_path
