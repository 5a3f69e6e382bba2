"""The backtest chart: best prices and each strategy's prices over time, fills and equity
beneath.

matplotlib is imported only here and only when a plot is asked for, with the Agg backend, so
the bot runs without it and the chart renders without a display.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from backtest.engine import StrategyResult


class PlotUnavailable(Exception):
    """matplotlib is not installed."""


def _series(points: Sequence[tuple[float, object]], end: float | None) -> tuple[list, list]:
    xs = [t for t, p in points if p is not None]
    ys = [float(p) for _, p in points if p is not None]
    if xs and end is not None and end > xs[-1]:
        xs.append(end)
        ys.append(ys[-1])
    return xs, ys


def write_plot(path: str | Path, results: Sequence[StrategyResult]) -> None:
    """Write a PNG of `results` (each run with trace=True) to `path`.

    Raises:
        PlotUnavailable: matplotlib is missing.
        OSError: the file cannot be written.
    """
    try:
        import matplotlib
    except ImportError:
        raise PlotUnavailable("--plot needs matplotlib (pip install 'p2pbot[plot]')") from None
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, (top, bottom, money) = plt.subplots(3, 1, sharex=True, figsize=(11, 9),
                                             gridspec_kw={"height_ratios": [3, 1, 1]})
    try:
        _draw(top, bottom, results)
        _draw_equity(money, results)
        fig.tight_layout()
        fig.savefig(path, format="png", dpi=100)
    finally:
        plt.close(fig)


def _draw(top, bottom, results: Sequence[StrategyResult]) -> None:
    traced = [r for r in results if r.trace is not None]
    best = traced[0].trace.best if traced else {}
    ends = [pts[-1][0] for pts in best.values() if pts]
    end = max(ends) if ends else None
    for side, points in best.items():
        xs, ys = _series(points, None)
        if xs:
            top.plot(xs, ys, drawstyle="steps-post", color="black", linewidth=1.6,
                     alpha=0.5 if side == "BUY" else 0.9, label=f"best {side} ad")
    for r in traced:
        for side, points in r.trace.mine.items():
            xs, ys = _series(points, end)
            if xs:
                top.plot(xs, ys, drawstyle="steps-post", linewidth=1,
                         label=f"{r.spec.title} ({side})")
        xs, ys = _series(r.trace.filled, end)
        bottom.plot(xs or [0.0], ys or [0.0], drawstyle="steps-post", label=r.spec.title)
    top.set_ylabel("price (fiat)")
    top.legend(fontsize="small", loc="best")
    top.grid(alpha=0.3)
    bottom.set_ylabel("filled (crypto)")
    bottom.legend(fontsize="small", loc="upper left")
    bottom.grid(alpha=0.3)


def _draw_equity(axis, results: Sequence[StrategyResult]) -> None:
    ends = [r.trace.equity[-1][0] for r in results if r.trace is not None and r.trace.equity]
    end = max(ends) if ends else None
    for r in results:
        if r.trace is not None:
            xs, ys = _series(r.trace.equity, end)
            axis.plot(xs or [0.0], ys or [0.0], drawstyle="steps-post", label=r.spec.title)
    axis.axhline(0.0, color="black", linewidth=0.6, alpha=0.5)
    axis.set_ylabel("equity (fiat)")
    axis.set_xlabel("t (s)")
    axis.legend(fontsize="small", loc="upper left")
    axis.grid(alpha=0.3)
