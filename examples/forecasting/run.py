"""Weekly demand forecasting with hamilton_fast: generate data, build features, backtest, forecast.

    python examples/forecasting/run.py [--series N] [--weeks N] [--features basic|full] [--out DIR]

Prints a short report (timings per stage, rows, features, backtest WAPE against a seasonal-naive
baseline) and writes `forecast.png` (and `dag.png` when the driver can draw its DAG) next to
the generated data. See README.md in this folder.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

# The feature modules sit next to this script; make them importable however it is started.
sys.path.insert(0, str(Path(__file__).resolve().parent))

import calendar_features
import data
import lags
import loaders
import model
import prices
import target

from hamilton_fast import base, driver

HERE = Path(__file__).resolve().parent
MODULES = (loaders, calendar_features, lags, prices, target, model)
MODEL_OUTPUTS = [
    "feature_names",
    "backtest_cutoff",
    "last_observed_week",
    "backtest_forecast",
    "backtest_wape",
    "seasonal_naive_wape",
    "forecast",
]


def build_driver(features: str = "full") -> driver.Driver:
    """The forecasting dataflow; ``features`` is ``"basic"`` or ``"full"``."""
    return (
        driver.Builder()
        .with_modules(*MODULES)
        .with_config({"features": features})
        .with_adapters(base.DictResult())
        .build()
    )


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=300, help="number of series (300)")
    parser.add_argument("--weeks", type=int, default=156, help="weeks of history (156)")
    parser.add_argument("--features", choices=("basic", "full"), default="full")
    parser.add_argument("--seed", type=int, default=42, help="random seed of the generator")
    parser.add_argument(
        "--out", type=Path, default=HERE / "data", help="folder for data and pictures"
    )
    args = parser.parse_args(argv)
    if args.weeks < 80:
        parser.error("--weeks must be at least 80 (a year of lags plus the 13-week backtest)")
    if args.series < 1:
        parser.error("--series must be at least 1")
    return args


def _node_kinds(dr: driver.Driver) -> dict[str, int]:
    """How many nodes of the last request ran as what (traced, opaque, ...), when known."""
    compiled = getattr(dr, "last_compiled", None)
    counts: dict[str, int] = {}
    for report in getattr(compiled, "reports", ()):
        counts[report.kind] = counts.get(report.kind, 0) + 1
    return counts


def plot_forecasts(
    history: pl.DataFrame,
    backtest: pl.DataFrame,
    forecast: pl.DataFrame,
    path: Path,
    n_series: int = 4,
    weeks_shown: int = 78,
) -> Path | None:
    """History, backtest and forecast for a few series, as a PNG; None without matplotlib."""
    try:
        import matplotlib as mpl
    except ImportError:
        return None
    mpl.use("Agg")
    import matplotlib.pyplot as plt

    ids = history.get_column("series_id").unique().sort()
    step = max(1, ids.len() // n_series)
    chosen = ids.gather(list(range(0, ids.len(), step))[:n_series]).to_list()
    start = history.select(pl.col("week").max() - pl.duration(weeks=weeks_shown)).item()
    fig, axes = plt.subplots(2, 2, figsize=(13, 7), sharex=True, squeeze=False)
    for ax, series_id in zip(axes.ravel(), chosen, strict=False):
        mine = pl.col("series_id") == series_id
        past = history.filter(mine, pl.col("week") >= start)
        test = backtest.filter(mine)
        ahead = forecast.filter(mine)
        ax.plot(past["week"], past["demand"], color="0.25", lw=1.2, label="actual demand")
        ax.plot(test["week"], test["seasonal_naive"], color="0.6", ls=":", label="seasonal naive")
        ax.plot(test["week"], test["forecast"], color="tab:orange", lw=1.8, label="backtest")
        ax.plot(ahead["week"], ahead["forecast"], color="tab:blue", lw=1.8, label="forecast")
        if test.height:
            ax.axvspan(test["week"].min(), test["week"].max(), color="tab:orange", alpha=0.07)
        ax.set_title(series_id, fontsize=10)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8, loc="upper left")
    fig.suptitle("Weekly demand: 13-week backtest (shaded) and 13-week forecast")
    fig.autofmt_xdate()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _draw_dag(dr: driver.Driver, path: Path) -> Path | None:
    """The DAG picture, if this version of the driver can draw one."""
    if not hasattr(dr, "display_all_functions"):
        return None
    try:
        dr.display_all_functions(str(path))
    except Exception as exc:  # e.g. no graphviz binary: the rest of the demo still counts
        print(f"  (DAG picture skipped: {type(exc).__name__}: {str(exc).splitlines()[0]})")
        return None
    return path if path.exists() else None


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the demo; print the report; return its figures (and frames) for tests."""
    args = _parse(argv)
    out: Path = args.out
    timings: dict[str, float] = {}

    tic = time.perf_counter()
    panel_path, plan_path = data.write_panel(
        out / "demand_history.parquet", args.series, args.weeks, args.seed
    )
    timings["generate"] = time.perf_counter() - tic

    tic = time.perf_counter()
    dr = build_driver(args.features)
    timings["build"] = time.perf_counter() - tic

    inputs = {"panel_path": str(panel_path), "plan_path": str(plan_path)}
    tic = time.perf_counter()
    computed = dr.execute(["feature_frame", "target"], inputs=inputs)
    features = computed["feature_frame"]
    timings["features query"] = time.perf_counter() - tic
    checks = [
        f"{c.node} {c.validator} {'ok' if c.passes else 'FAILED'}" for c in dr.validation_results
    ]
    kinds = _node_kinds(dr)

    tic = time.perf_counter()
    # The feature table computed above stands in for its node: the model stage runs alone.
    result = dr.execute(MODEL_OUTPUTS, inputs=inputs, overrides={"feature_frame": features})
    timings["model"] = time.perf_counter() - tic

    history_rows = pl.scan_parquet(panel_path).select(pl.len()).collect().item()
    plan_rows = pl.scan_parquet(plan_path).select(pl.len()).collect().item()
    feature_names: list[str] = result["feature_names"]
    wape, naive = result["backtest_wape"], result["seasonal_naive_wape"]
    forecast: pl.DataFrame = result["forecast"]

    plot = plot_forecasts(
        features.filter(pl.col("demand").is_not_null()),
        result["backtest_forecast"],
        forecast,
        out / "forecast.png",
    )
    dag = _draw_dag(dr, out / "dag.png")

    first_test_week = result["backtest_cutoff"] + dt.timedelta(weeks=1)
    traced = kinds.get("column", 0) + kinds.get("scalar", 0)
    in_query = f" ({traced} column nodes in one Polars query)" if traced else ""
    written = ", ".join(str(p) for p in (plot, dag) if p is not None)
    report = [
        f"hamilton_fast forecasting demo: {args.series} series x {args.weeks} weeks, "
        f"features={args.features}",
        f"  generate        {timings['generate']:6.2f} s  {history_rows:,} history rows + "
        f"{plan_rows:,} plan rows -> {out}",
        f"  build           {timings['build']:6.2f} s  {len(dr.list_available_variables())} nodes",
        f"  features query  {timings['features query']:6.2f} s  {features.height:,} rows x "
        f"{len(feature_names)} features{in_query}",
        f"  model           {timings['model']:6.2f} s  ridge regression; backtest weeks "
        f"{first_test_week} to {result['last_observed_week']}",
        f"checks: {'; '.join(checks)}",
        f"backtest WAPE {wape:.3f} vs seasonal naive {naive:.3f} ({wape / naive - 1:+.0%})",
        f"forecast: {forecast.height:,} rows, {forecast['week'].n_unique()} weeks from "
        f"{forecast['week'].min()}",
        f"wrote: {written or 'no pictures (pip install matplotlib for the forecast plot)'}",
    ]
    print("\n".join(report))
    return {
        "series": args.series,
        "weeks": args.weeks,
        "features": args.features,
        "history_rows": history_rows,
        "plan_rows": plan_rows,
        "feature_rows": features.height,
        "n_features": len(feature_names),
        "feature_names": feature_names,
        "checks": checks,
        "backtest_wape": wape,
        "seasonal_naive_wape": naive,
        "backtest_cutoff": result["backtest_cutoff"],
        "last_observed_week": result["last_observed_week"],
        "timings": timings,
        "plot": plot,
        "dag": dag,
        "inputs": inputs,
        "feature_frame": features,
        "forecast": forecast,
    }


if __name__ == "__main__":
    main()
