"""Backtest fidelity against a counterfactual: B backtested on A's recording vs B really run.

For each seed and each strategy the simulator and the bot run in memory (`bench/fidelity.py
--virtual`'s runner), recording the books. The simulator's random streams are split
(`sim.market.Streams`), so runs with one seed see the same drift, arrivals, choices and sizes and
differ only through the bot's actions. Then for each ordered pair (A, B) the backtest of B over
A's recording is compared with the run of B on that seed, the truth: filled volume (crypto of
the orders opened on the bot's ads), fills (their number) and realised spread PnL
(`backtest.metrics.realised_pnl` on both). The diagonal (A = B) is the old, self-referential
measure; the off-diagonal pairs are the ones a user asking "what if I had run B" relies on.

The simulator's customers ignore pay methods (its documented behaviour), so the backtest runs
with `backtest.pay_methods = false` here; every other fill-model setting is fitted on A's own
recording.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from statistics import median

import msgspec

from actors.config import BacktestConfig
from backtest.engine import run_backtest, survey
from backtest.metrics import realised_pnl
from backtest.side import RunSpec
from backtest.source import recorded_config, tapes
from strategies import retag
from events import AdRepriced, RepriceDecided
from store import open_log

STRATEGIES = ("undercut", "rank", "spread")
LOW, HIGH = Decimal("0.8"), Decimal("1.25")
R = Decimal("0.001")


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    """Volume (crypto), fills and realised PnL (fiat) of one run or one backtest."""

    volume: Decimal
    fills: Decimal
    pnl: Decimal


class Recording(msgspec.Struct, frozen=True, kw_only=True):
    """One simulator run of one strategy on one seed: its log and the truth."""

    seed: int
    strategy: str
    db: str
    session: int
    truth: Outcome


def truth_of(orders, bot_ads) -> Outcome:
    """Fold the simulator's orders on the bot's ads into volume, count and realised PnL."""
    mine = {a.adv_no for a in bot_ads}
    qty = {"SELL": Decimal(0), "BUY": Decimal(0)}
    notional = dict(qty)
    n = 0
    for o in orders:
        if o.adv_no in mine:
            n += 1
            qty[o.side] += o.amount
            notional[o.side] += o.amount * o.price
    return Outcome(volume=qty["SELL"] + qty["BUY"], fills=Decimal(n),
                   pnl=realised_pnl(qty["SELL"], notional["SELL"], qty["BUY"], notional["BUY"]))


def record(seed: int, strategy: str, minutes: float, bot_surplus: Decimal, folder: Path
           ) -> Recording:
    """Run the bot with `strategy` on the simulator seeded `seed`, in memory."""
    from backtest import fidelity

    db = str(folder / f"{strategy}-{seed}.db")
    args = argparse.Namespace(seed=seed, strategy=strategy, minutes=minutes,
                              bot_surplus=bot_surplus, virtual=True, db=db)
    sid, _report, _truths, exchange = fidelity.record_demo(db, args, keep_exchange=True)
    return Recording(seed=seed, strategy=strategy, db=db, session=sid,
                     truth=truth_of(exchange.desk.orders.values(), exchange.bot_ads))


def backtest(rec: Recording, strategy: str, cfg: BacktestConfig) -> Outcome:
    """Backtest `strategy` over `rec`'s books with the recorded settings."""
    with open_log(rec.db, create=False) as log:
        info = log.session(rec.session)
        strat, filters = recorded_config(info)
        spec = RunSpec(name=strategy, cfg=retag(strat, strategy), filters=filters)
        reprices = list(log.events(rec.session, types=(RepriceDecided, AdRepriced)))
        fitted = survey(tapes(log, [info]), reprices, cfg)
        [result] = run_backtest(tapes(log, [info]), [spec], calibration=fitted.calibration)
    return Outcome(volume=result.summary.filled_volume, fills=result.fills,
                   pnl=result.money.pnl)


def _ratio(a: Decimal, b: Decimal) -> Decimal | None:
    return (a / b).quantize(R) if b else None


class PairFigures(msgspec.Struct, frozen=True, kw_only=True):
    """Per-seed ratios backtest / truth of one (recorded A, backtested B) pair."""

    recorded: str
    backtested: str
    volume: tuple[Decimal, ...]
    fills: tuple[Decimal, ...]
    pnl: tuple[Decimal, ...]

    @property
    def diagonal(self) -> bool:
        return self.recorded == self.backtested


def _spread(values: Sequence[Decimal]) -> str:
    if not values:
        return "-"
    return f"median {median(values):.3f} (min {min(values):.3f}, max {max(values):.3f})"


def pair_line(p: PairFigures) -> str:
    """One summary line for a pair."""
    mark = " [diagonal: self-referential]" if p.diagonal else (
        "" if p.volume and LOW <= median(p.volume) <= HIGH else " (!)")
    return (f"  {p.recorded:>8} -> {p.backtested:<8} volume {_spread(p.volume)}, fills "
            f"{_spread(p.fills)}, pnl {_spread(p.pnl)}{mark}")


def overall_line(pairs: Sequence[PairFigures]) -> str:
    """The headline over the off-diagonal pairs: the median of every run's ratio, and the
    pairs' medians' range."""
    off = [p for p in pairs if not p.diagonal and p.volume]
    vol = [v for p in off for v in p.volume]
    pnl = [v for p in off for v in p.pnl]
    medians = [median(p.volume) for p in off]
    if not vol:
        return "counterfactual fidelity: no off-diagonal pair had a truth to compare"
    pnl_median = f"{median(pnl):.3f}" if pnl else "-"
    return (f"counterfactual fidelity: volume median {median(vol):.3f} (min {min(medians):.3f}, "
            f"max {max(medians):.3f}), pnl median {pnl_median}")


def run(seeds: Sequence[int], minutes: float, bot_surplus: Decimal,
        strategies: Sequence[str] = STRATEGIES, on_line=print) -> list[PairFigures]:
    """Record every (seed, strategy), backtest every pair, print a line per pair; return them.
    The min/max in each line are over seeds; pair medians off [0.8, 1.25] are flagged (!)."""
    cfg = BacktestConfig(pay_methods=False)
    out: dict[tuple[str, str], dict[str, list[Decimal]]] = {
        (a, b): {"volume": [], "fills": [], "pnl": []} for a in strategies for b in strategies}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            recs = {s: record(seed, s, minutes, bot_surplus, Path(tmp)) for s in strategies}
            for a in strategies:
                for b in strategies:
                    got, truth = backtest(recs[a], b, cfg), recs[b].truth
                    for key in ("volume", "fills", "pnl"):
                        r = _ratio(getattr(got, key), getattr(truth, key))
                        if r is not None:
                            out[(a, b)][key].append(r)
    pairs = [PairFigures(recorded=a, backtested=b, **{k: tuple(v) for k, v in d.items()})
             for (a, b), d in out.items()]
    for p in pairs:
        on_line(pair_line(p))
    on_line(overall_line(pairs))
    return pairs
