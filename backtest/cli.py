"""`run.py backtest`: replay recorded order books through pricing strategies and compare them.

    python run.py backtest bot.db [--session ID ...] --strategy undercut,rank,spread
        [--set step=0.05] [--set filters.min_month_orders=50]
        [--set ads.overrides.<advNo>.floor=1500] [--plot chart.png]
        [--sweep step=0.01:0.10:0.01 [--sweep rank=1:3:1]] [--workers N] [--war-guard-both]

Without --session, the latest session holding any BookSnapshot is used. Settings start from
that session's recorded [strategy], [filters] and [ads.overrides]; --set overrides them, a
per-ad key only for the recorded ad with that advNo (a per-ad `name` wins over --strategy for
that ad). --sweep takes the same keys, runs the grid across all cores and ranks it by filled
volume, then margin. --war-guard-both runs every strategy twice, war guard on and off, so the
table's war columns (`backtest.wars`) compare what wars cost with and without it. Results print
as a table and are
logged as a new "backtest" session with one BacktestCompleted per strategy (or grid point).
How fills are inferred is in `backtest.fills`; what is measured in `backtest.metrics`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import msgspec
from msgspec.structs import replace

from backtest.engine import StrategyResult, run_backtest
from backtest.side import RunSpec
from backtest.source import (BacktestError, apply_ad_sets, apply_sets, check_ad_sets,
                                    parse_sets, parse_sweeps, pick_sessions, recorded_ads,
                                    recorded_config, recorded_overrides, tapes)
from backtest.table import format_table
from backtest.plot import PlotUnavailable, write_plot
from backtest.sweep import ranked, run_grid
from store import LogError, open_log
from actors.config import AdOverride
from strategies import STRATEGIES, FiltersConfig, StrategyConfig, UnknownStrategy, get_strategy

PLOT_TOP = 5  # sweep results re-run with traces for the chart


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the backtest command's arguments to `parser`."""
    parser.add_argument("path", help="the event log (SQLite file) holding recorded books")
    parser.add_argument("--session", type=int, action="append", dest="sessions", metavar="ID",
                        help="session to replay (repeatable; default: the latest with books)")
    parser.add_argument("--strategy", default=",".join(STRATEGIES), metavar="NAME[,NAME...]",
                        help=f"strategies to compare (default: {','.join(STRATEGIES)})")
    parser.add_argument("--set", action="append", default=[], dest="sets",
                        metavar="KEY=VALUE", help="override a [strategy] key, filters.KEY, or "
                        "one recorded ad's key: ads.overrides.<advNo>.KEY")
    parser.add_argument("--plot", metavar="FILE.png", help="write a chart of prices and fills")
    parser.add_argument("--sweep", action="append", default=[], metavar="KEY=A:B:STEP",
                        help="run a grid of values (repeatable: the grid is their product)")
    parser.add_argument("--workers", type=int, default=None,
                        help="processes for --sweep (default: all cores)")
    parser.add_argument("--war-guard-both", action="store_true",
                        help="run each strategy with the war guard on and off")


def main(args: argparse.Namespace, *, now_ms: Callable[[], int]) -> int:
    """Run the backtest described by `args`; print the table; log the results.

    Args:
        args: parsed by a parser given `add_arguments`.
        now_ms: wall-clock milliseconds for the backtest session's timestamps (run.py
            injects the real clock; tests a fixed one).

    Returns:
        0 on success, 2 after printing one line on stderr when it cannot run.
    """
    try:
        return _run(args, now_ms)
    except (BacktestError, UnknownStrategy, LogError, PlotUnavailable) as exc:
        print(f"backtest: {exc}", file=sys.stderr)
        return 2


def _names(spec: str) -> list[str]:
    names = [n.strip() for n in spec.split(",") if n.strip()]
    if not names:
        raise BacktestError("--strategy needs at least one name")
    for name in names:
        get_strategy(name)
    return names


def build_specs(names: Sequence[str], cfg: StrategyConfig, filters: FiltersConfig,
                sets: dict[str, str], grid: Sequence[dict[str, str]] | None,
                overrides: dict[str, AdOverride] | None = None) -> list[RunSpec]:
    """Return one RunSpec per strategy name and grid point, with `sets` then the point applied.

    Args:
        overrides: the recorded per-ad overrides, which per-ad `sets` keys then change.

    Raises:
        BacktestError: a value that does not fit its field.
    """
    specs = []
    for name in names:
        for point in grid or [{}]:
            both = {**sets, **point}
            c, f = apply_sets(cfg, filters, both)
            c = replace(c, name=name)
            ads = apply_ad_sets(c, f, overrides or {}, both)
            label = " ".join(f"{k}={v}" for k, v in point.items())
            specs.append(RunSpec(name=name, cfg=c, filters=f, overrides=ads, label=label))
    return specs


def with_and_without_guard(specs: Sequence[RunSpec]) -> list[RunSpec]:
    """Return each spec twice: war guard on, then off (labelled "war_guard=on/off")."""
    out = []
    for spec in specs:
        for on in (True, False):
            label = " ".join(p for p in (spec.label, f"war_guard={'on' if on else 'off'}") if p)
            out.append(replace(spec, cfg=replace(spec.cfg, war_guard=on), label=label))
    return out


def _run(args: argparse.Namespace, now_ms: Callable[[], int]) -> int:
    names = _names(args.strategy)
    sets = parse_sets(args.sets)
    grid = parse_sweeps(args.sweep) if args.sweep else None
    with open_log(args.path, create=False) as log:
        sessions = pick_sessions(log, args.sessions)
        ids = [s.id for s in sessions]
        specs = build_specs(names, *recorded_config(sessions[-1]), sets, grid,
                            recorded_overrides(sessions[-1]))
        check_ad_sets([*sets, *(grid[0] if grid else {})], recorded_ads(log, sessions), ids)
        if getattr(args, "war_guard_both", False):
            specs = with_and_without_guard(specs)
        with _progress("grid points" if grid else "snapshots", len(specs) if grid else None
                       ) as progress:
            if grid:
                results = ranked(run_grid(args.path, ids, specs, args.workers, progress))
            else:
                results = run_backtest(tapes(log, sessions), specs, trace=bool(args.plot),
                                       on_progress=progress)
        if not results[0].summary.snapshots:
            raise BacktestError(f"no BookSnapshot in session {ids} of {args.path}")
        print(format_table(results, numbered=bool(grid)))
        sid = _save(log, args, ids, results, now_ms)
        print(f"saved as backtest session {sid} in {args.path}")
        if args.plot:
            if grid:
                top = [r.spec for r in results[:PLOT_TOP]]
                results = run_backtest(tapes(log, sessions), top, trace=True)
            _plot(args.plot, results)
    return 0


@contextmanager
def _progress(unit: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """Show progress on stderr when it is a terminal; yield the callback taking a count done."""
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn,
                               TextColumn, TimeElapsedColumn)

    console = Console(stderr=True)
    columns = [SpinnerColumn(), TextColumn(f"backtest: {{task.completed:,}} {unit}"),
               TimeElapsedColumn()]
    if total is not None:
        columns[1:2] = [TextColumn(f"backtest {unit}"), BarColumn(), MofNCompleteColumn()]
    with Progress(*columns, console=console, disable=not console.is_terminal) as progress:
        task = progress.add_task("backtest", total=total)
        yield lambda n: progress.update(task, completed=n)


def _save(log, args: argparse.Namespace, ids: list[int], results: Sequence[StrategyResult],
          now_ms: Callable[[], int]) -> int:
    config = {"command": "backtest", "sources": ids, "strategy": args.strategy,
              "set": list(args.sets), "sweep": list(args.sweep)}
    started = now_ms()
    sid = log.start_session("backtest", msgspec.json.encode(config).decode(), started)
    log.append_events(sid, [r.summary for r in results], source="backtest", ts_ms=started)
    log.end_session(sid, now_ms(), "done")
    return sid


def _plot(path: str, results: Sequence[StrategyResult]) -> None:
    try:
        write_plot(path, results)
    except OSError as exc:
        raise BacktestError(f"cannot write {path}: {exc.strerror or exc}") from None
    print(f"chart written to {path}")
