"""`run.py backtest`: replay recorded order books through pricing strategies and compare them.

    python run.py backtest bot.db [--session ID ...] --strategy undercut,rank,spread
        [--set step=0.05] [--set filters.min_month_orders=50] [--set backtest.fee_rate=0.001]
        [--set ads.overrides.<advNo>.floor=1500] [--plot chart.png]
        [--sweep step=0.01:0.10:0.01 [--sweep rank=1:3:1]] [--workers N]
        [--objective pnl|volume|equity|fills|margin] [--walk-forward 0.5] [--war-guard-both]
        [--market ASSET/FIAT]

Without --session, the latest session holding any BookSnapshot is used. Settings start from
that session's recorded [strategy], [filters], [ads.overrides] and [backtest]; --set overrides
them, a per-ad key only for the recorded ad with that advNo (a per-ad `name` wins over
--strategy for that ad). The fill model is fitted on the recording first (one line says how).
--sweep takes the same keys (not backtest.*), runs the grid across all cores and ranks it by
the --objective (default realised PnL), then filled volume. --walk-forward F ranks everything on
the first F of the time line and reports the rest, in that order. --war-guard-both runs every
strategy twice, war guard on and off, so the table's war columns (`backtest.wars`) compare what
wars cost with and without it. Results print as a table and are logged as a new "backtest"
session with one BacktestCompleted per strategy (or grid point). A recording of several
markets (`[[markets]]`) is backtested market by market, each with its own fill model and table
(BacktestCompleted.market names it); --market ASSET/FIAT runs one of them.
How fills are inferred is in `backtest.fills`; what is measured in `backtest.metrics`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import msgspec
from msgspec.structs import replace

from actors.config import BacktestConfig
from backtest.engine import StrategyResult, Survey, run_backtest, survey
from backtest.side import RunSpec
from backtest.source import (FILTERS_PREFIX, BacktestError, apply_ad_sets, apply_sets,
                             check_ad_sets, open_source, parse_sets, parse_sweeps, pick_markets,
                             pick_sessions, recorded_ads, recorded_config, recorded_overrides,
                             tapes)
from backtest.table import format_table
from backtest.plot import PlotUnavailable, write_plot
from backtest.cluster import ClusterError, run_grid_on_cluster
from backtest.sweep import OBJECTIVES, ranked, run_grid
from events import AdRepriced, RepriceDecided
from replay.sessions import resolve, session_spec
from store import LogError
from actors.config import OVERRIDE_PREFIX, AdOverride
from strategies import (STRATEGIES, FiltersConfig, StrategyParams, UnknownStrategy, get_strategy,
                        retag)
from strategies.registry import help_lines, keys_of

PLOT_TOP = 5  # sweep results re-run with traces for the chart


RECORDED = ("live", "record", "demo", "sim")  # what a range of sessions takes (no backtests)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the backtest command's arguments to `parser`."""
    parser.add_argument("path", help="the event log (SQLite file) holding recorded books, or a "
                        "Parquet directory written by run.py export")
    parser.add_argument("--session", type=session_spec, action="append", dest="sessions",
                        metavar="ID|FIRST..LAST",
                        help="session to replay, or a range of them (repeatable; default: the "
                             "latest with books)")
    parser.add_argument("--strategy", default=",".join(STRATEGIES), metavar="NAME[,NAME...]",
                        help=f"strategies to compare (default: {','.join(STRATEGIES)})")
    parser.epilog = "strategies:\n" + help_lines()
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--set", action="append", default=[], dest="sets",
                        metavar="KEY=VALUE", help="override a [strategy] key, filters.KEY, or "
                        "one recorded ad's key: ads.overrides.<advNo>.KEY")
    parser.add_argument("--plot", metavar="FILE.png", help="write a chart of prices and fills")
    parser.add_argument("--sweep", action="append", default=[], metavar="KEY=A:B:STEP",
                        help="run a grid of values (repeatable: the grid is their product)")
    parser.add_argument("--workers", type=int, default=None,
                        help="processes for --sweep (default: all cores)")
    parser.add_argument("--cluster", metavar="ADDRESS", default=None,
                        help="run --sweep on a Dask distributed scheduler (tcp://host:8786), or "
                        "'local' for a LocalCluster on this machine (pip install -e '.[cluster]')")
    parser.add_argument("--objective", choices=OBJECTIVES, default="pnl",
                        help="what --sweep and --walk-forward rank by (default: pnl)")
    parser.add_argument("--walk-forward", type=float, default=None, metavar="F",
                        help="rank on the first F (0 < F < 1) of the recording, report the rest")
    parser.add_argument("--war-guard-both", action="store_true",
                        help="run each strategy with the war guard on and off")
    parser.add_argument("--market", default=None, metavar="ASSET/FIAT",
                        help="of a multi-market recording, backtest this market only "
                        "(default: each market in turn)")


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
    except (BacktestError, UnknownStrategy, LogError, PlotUnavailable, ClusterError) as exc:
        print(f"backtest: {exc}", file=sys.stderr)
        return 2


def _names(spec: str) -> list[str]:
    names = [n.strip() for n in spec.split(",") if n.strip()]
    if not names:
        raise BacktestError("--strategy needs at least one name")
    for name in names:
        get_strategy(name)
    return names


def build_specs(names: Sequence[str], cfg: StrategyParams, filters: FiltersConfig,
                sets: dict[str, str], grid: Sequence[dict[str, str]] | None,
                overrides: dict[str, AdOverride] | None = None) -> list[RunSpec]:
    """Return one RunSpec per strategy name and grid point, with `sets` then the point applied.

    Each strategy starts from `cfg`'s common keys and takes only the [strategy] keys it owns
    (`--strategy undercut,rank --sweep rank=1:3:1` runs undercut once and rank three times).

    Args:
        overrides: the recorded per-ad overrides, which per-ad `sets` keys then change.

    Raises:
        BacktestError: a value that does not fit its field, or a [strategy] key none of the
            strategies takes.
    """
    _check_owned(names, [*sets, *(grid[0] if grid else {})])
    specs, seen = [], set()
    for name in names:
        for point in grid or [{}]:
            point = {k: v for k, v in point.items() if _applies(k, name)}
            if (name, tuple(point.items())) in seen:
                continue  # the grid varies only keys this strategy does not take
            seen.add((name, tuple(point.items())))
            both = {k: v for k, v in {**sets, **point}.items() if _applies(k, name)}
            c, f = apply_sets(retag(cfg, name), filters, both)
            ads = apply_ad_sets(c, f, overrides or {}, both)
            label = " ".join(f"{k}={v}" for k, v in point.items())
            specs.append(RunSpec(name=name, cfg=c, filters=f, overrides=ads, label=label))
    return specs


def _is_strategy_key(key: str) -> bool:
    return not key.startswith((FILTERS_PREFIX, OVERRIDE_PREFIX, BACKTEST_PREFIX))


def _applies(key: str, name: str) -> bool:
    return not _is_strategy_key(key) or key in keys_of(name)


def _check_owned(names: Sequence[str], keys: Sequence[str]) -> None:
    for key in keys:
        if _is_strategy_key(key) and not any(key in keys_of(n) for n in names):
            owners = [n for n in STRATEGIES if key in keys_of(n)]
            raise BacktestError(f"{key} is a key of strategy {', '.join(owners)}, not of "
                                f"{', '.join(names)} (see --help)")


BACKTEST_PREFIX = "backtest."


def backtest_config(session, items: Sequence[str]) -> BacktestConfig:
    """Return the session's recorded [backtest] with the --set backtest.KEY=VALUE `items`.

    Raises:
        BacktestError: an unknown key or a bad value.
    """
    try:
        raw = msgspec.json.decode(session.config)
        raw = raw.get("bot", raw) if isinstance(raw, dict) else {}
        base = raw.get("backtest", {}) if isinstance(raw, dict) else {}
    except msgspec.DecodeError:
        base = {}
    data = dict(base) if isinstance(base, dict) else {}
    for item in items:
        key, _, value = item.partition("=")
        key = key.strip().removeprefix(BACKTEST_PREFIX)
        if key not in BacktestConfig.__struct_fields__:
            raise BacktestError(f"unknown setting {BACKTEST_PREFIX}{key} (backtest: "
                                f"{', '.join(BacktestConfig.__struct_fields__)})")
        data[key] = value.strip()
    try:
        return msgspec.convert(data, BacktestConfig, strict=False)
    except msgspec.ValidationError as exc:
        raise BacktestError(f"bad backtest setting: {exc}") from None


def _survey(log, sessions, cfg: BacktestConfig, market=None) -> Survey:
    reprices = (e for s in sessions
                for e in log.events(s.id, types=(RepriceDecided, AdRepriced)))
    if market is not None:
        ads = {a.adv_no for tape in tapes(log, sessions, market) for a in tape.my_ads}
        reprices = (e for e in reprices if e.event.adv_no in ads)
    return survey(tapes(log, sessions, market), reprices, cfg)
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
    own = [s for s in args.sets if s.strip().startswith(BACKTEST_PREFIX)]
    sets = parse_sets([s for s in args.sets if s not in own])
    grid = parse_sweeps(args.sweep) if args.sweep else None
    cluster = getattr(args, "cluster", None)
    if cluster and not grid:
        raise BacktestError("--cluster runs a --sweep grid; give --sweep KEY=A:B:STEP")
    split = args.walk_forward
    if split is not None and not 0 < split < 1:
        raise BacktestError(f"--walk-forward wants a fraction between 0 and 1, got {split:g}")
    with open_source(args.path) as log:
        sessions = pick_sessions(log, resolve(log, args.sessions, modes=RECORDED) or None)
        ids = [s.id for s in sessions]
        specs = build_specs(names, *recorded_config(sessions[-1]), sets, grid,
                            recorded_overrides(sessions[-1]))
        check_ad_sets([*sets, *(grid[0] if grid else {})], recorded_ads(log, sessions), ids)
        markets = pick_markets(sessions, getattr(args, "market", None))
        saved = []
        for market in markets:
            if len(markets) > 1 or getattr(args, "market", None):
                print(f"market {market[0]}/{market[1]}:")
            # One market's recording needs no filter: its books are all of that market.
            only = market if len(markets) > 1 or getattr(args, "market", None) else None
            if only is not None and cluster:
                raise BacktestError("--cluster runs one-market recordings only; use --workers")
            saved += _run_market(args, log, sessions, ids, specs, own, grid, cluster, split,
                                 only)
        if hasattr(log, "start_session"):
            sid = _save(log, args, ids, saved, now_ms)
            print(f"saved as backtest session {sid} in {args.path}")
        else:
            print(f"not saved: {args.path} is a Parquet export (results are saved to logs only)")
    return 0


def _run_market(args, log, sessions, ids, specs, own, grid, cluster, split, market):
    """Backtest one market (None: every book of the sessions); print its table; plot; return
    the results to save."""
    fitted = _survey(log, sessions, backtest_config(sessions[-1], own), market)
    cal = fitted.calibration
    print(cal.describe())
    fit, rest = fitted.split(split) if split is not None else (None, None)

    def run_all(specs, window, trace=False, progress=None):
        if grid and cluster:
            return run_grid_on_cluster(args.path, ids, specs, cluster, progress, cal, window)
        if grid:
            return run_grid(args.path, ids, specs, args.workers, progress, cal, window,
                            market)
        return run_backtest(tapes(log, sessions, market), specs, trace=trace,
                            on_progress=progress, calibration=cal, window=window)

    if getattr(args, "war_guard_both", False):
        specs = with_and_without_guard(specs)
    with _progress("grid points" if grid else "snapshots", len(specs) if grid else None
                   ) as progress:
        results = run_all(specs, fit, trace=bool(args.plot) and fit is None,
                          progress=progress)
    if grid or fit is not None:
        results = ranked(results, args.objective)
    if not results[0].summary.snapshots:
        where = f" of {market[0]}/{market[1]}" if market is not None else ""
        raise BacktestError(f"no BookSnapshot{where} in session {ids} of {args.path}")
    if fit is not None:
        print(f"walk-forward: ranked by {args.objective} on t {fit[0]:.0f}..{fit[1]:.0f} s;"
              f" the rest, t {rest[0]:.0f}..{rest[1]:.0f} s, in that order:")
        results = run_all([r.spec for r in results], rest, trace=bool(args.plot))
    print(format_table(results, numbered=bool(grid) or fit is not None))
    if market is not None:
        name = f"{market[0]}/{market[1]}"
        for r in results:
            r.summary = replace(r.summary, market=name)
    saved = [r.summary for r in results]
    if args.plot:
        if grid:
            top = [r.spec for r in results[:PLOT_TOP]]
            results = run_backtest(tapes(log, sessions, market), top, trace=True,
                                   calibration=cal, window=rest)
        _plot(_plot_path(args.plot, market), results)
    return saved


def _plot_path(path: str, market) -> str:
    """The chart file of one market: chart.png -> chart-BTC-NGN.png (one market: as given)."""
    if market is None:
        return path
    stem, dot, ext = path.rpartition(".")
    tag = f"-{market[0]}-{market[1]}"
    return f"{stem}{tag}.{ext}" if dot else f"{path}{tag}"


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


def _save(log, args: argparse.Namespace, ids: list[int], summaries: Sequence,
          now_ms: Callable[[], int]) -> int:
    config = {"command": "backtest", "sources": ids, "strategy": args.strategy,
              "set": list(args.sets), "sweep": list(args.sweep), "objective": args.objective,
              "walk_forward": args.walk_forward, "market": getattr(args, "market", None)}
    started = now_ms()
    sid = log.start_session("backtest", msgspec.json.encode(config).decode(), started)
    log.append_events(sid, list(summaries), source="backtest", ts_ms=started)
    log.end_session(sid, now_ms(), "done")
    return sid


def _plot(path: str, results: Sequence[StrategyResult]) -> None:
    try:
        write_plot(path, results)
    except OSError as exc:
        raise BacktestError(f"cannot write {path}: {exc.strerror or exc}") from None
    print(f"chart written to {path}")
