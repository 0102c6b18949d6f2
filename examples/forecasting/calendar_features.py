"""Calendar features: known in advance for every week, history and plan alike.

(Named `calendar_features`, not `calendar`: this folder is first on `sys.path` when `run.py`
runs, and a module called `calendar` would shadow the standard library's, which Polars and
dateutil import.)
"""

from __future__ import annotations

import math

import polars as pl

# Mean weeks per year: ISO years have 52 or 53 weeks.
WEEKS_PER_YEAR = 52.1775


def week_of_year(week: pl.Expr) -> pl.Expr:
    """ISO week number, 1-53."""
    return week.dt.week()


def month(week: pl.Expr) -> pl.Expr:
    """Month of the week's Monday, 1-12."""
    return week.dt.month()


def year(week: pl.Expr) -> pl.Expr:
    """Year of the week's Monday."""
    return week.dt.year()


def is_holiday(holiday: pl.Expr) -> pl.Expr:
    """The week contains a public holiday (a missing week counts as no holiday)."""
    return holiday.fill_null(0) == 1


def holiday_last_year(is_holiday: pl.Expr, series_id: pl.Expr) -> pl.Expr:
    """Whether the week 52 weeks earlier had a holiday: it inflates last year's demand."""
    return is_holiday.shift(52).over(series_id)


def yearly_sin(week_of_year: pl.Expr) -> pl.Expr:
    """First Fourier term of the yearly cycle (sine)."""
    return (week_of_year * (2 * math.pi / WEEKS_PER_YEAR)).sin()


def yearly_cos(week_of_year: pl.Expr) -> pl.Expr:
    """First Fourier term of the yearly cycle (cosine)."""
    return (week_of_year * (2 * math.pi / WEEKS_PER_YEAR)).cos()
