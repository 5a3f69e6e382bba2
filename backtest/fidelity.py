"""How far is the backtest from reality? Measured against the simulator, which knows the truth.

    .venv/bin/python bench/fidelity.py [--minutes 5] [--strategy undercut] [--seed 7]
        [--bot-surplus USDT] [--db PATH] [--virtual]

Runs the demo (the simulated exchange and the bot in this process, over loopback in real time
as `python run.py demo` does, or in memory under MockClock with --virtual) for `--minutes` into
a log (a temporary one unless `--db`), backtests the same strategy over the books that run
recorded, and compares:

- volume per ad and in total: the backtest's fills against the orders the simulator opened on
  the bot's ads, those not cancelled, and those completed by the end; and the backtest blind
  to my recorded ad (every fill inferred from competitors, as for a log without my ad);
- reprices: the backtest's count against the EP-7 calls the simulator accepted;
- decisions: every recorded RepriceDecided re-decided by the ads actor's own core
  (`actors.ads_core`, folded over the session as the actor folded it: `backtest.recheck`).

The demo's ads hold 2,500 USDT each, which a few minutes sell out, so that cap decides the
default run's volume; `--bot-surplus 100000` measures the fill model itself.

This comparison backtests the strategy that ran, whose prices are the recorded ones: it is
self-referential. `--counterfactual [--seeds 5]` is the honest measure: each strategy backtested
on the others' recordings against its own run on the same seed (`backtest.counterfactual`).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path

import httpx
import msgspec
import trio
import trio.testing

from actors.config import config_json
from app.demo import (VIRTUAL_BASE_MS, VIRTUAL_URL, demo_config, run_demo,
                         virtual_now_ms)
from actors.system import LIVE_ACTORS, BotDeps, run_bot
from c2c.credentials import Credentials
from events import AdRepriced, BookSnapshot, Envelope, RepriceDecided
from backtest.recheck import RECHECK_TYPES, DecisionCheck, recheck
from actors.config import BacktestConfig
from backtest.engine import SessionTape, StrategyResult, run_backtest, survey
from backtest.side import RunSpec
from backtest.source import recorded_config, tapes
from run import wall_ms
from sim import DEMO_API_KEY, DEMO_SECRET, SimConfig, SimExchange, SimReport
from sim.inprocess import SimTransport, chat_connector
from store import open_log
from strategies import retag

TARGET = Decimal("0.20")  # the backtest's volume within 20% of the truth
CANCELLED = 6  # SimOrder.status of an order the counterparty cancelled
LIVE_TYPES = (BookSnapshot, RepriceDecided, AdRepriced)


class AdTruth(msgspec.Struct, frozen=True, kw_only=True):
    """What the simulator did on one of the bot's ads."""

    adv_no: str
    side: str
    orders: int = 0
    opened: Decimal = Decimal(0)  # crypto of every order opened on it
    cancelled: Decimal = Decimal(0)
    completed: Decimal = Decimal(0)

    @property
    def kept(self) -> Decimal:
        """Opened minus cancelled: what counterparties took and did not give back."""
        return self.opened - self.cancelled


class LiveCounts(msgspec.Struct, frozen=True, kw_only=True):
    """What the live ads actor did, from the log, for one side."""

    snapshots: int = 0
    decisions: int = 0
    reprices_decided: int = 0
    repriced: int = 0


def truth_of(report: SimReport, orders: Iterable, bot_ads: Iterable) -> list[AdTruth]:
    """Fold the simulator's orders on the bot's ads (SELL first) into one AdTruth per ad."""
    orders, out = list(orders), []
    for ad in bot_ads:
        mine = [o for o in orders if o.adv_no == ad.adv_no]
        out.append(AdTruth(
            adv_no=ad.adv_no, side=ad.side, orders=len(mine),
            opened=sum((o.amount for o in mine), Decimal(0)),
            cancelled=sum((o.amount for o in mine if o.status == CANCELLED), Decimal(0)),
            completed=report.filled_volume.get(ad.adv_no, Decimal(0))))
    return out


def live_counts(envelopes: Iterable[Envelope]) -> dict[str, LiveCounts]:
    """Count, per side, the snapshots logged and what the ads actor decided and sent."""
    counts = {s: dict.fromkeys(LiveCounts.__struct_fields__, 0) for s in ("SELL", "BUY")}
    side_of: dict[str, str] = {}
    sides_by_seq: dict[int, str] = {}
    for env in envelopes:
        match env.event:
            case BookSnapshot(ad_side=side):
                sides_by_seq[env.seq] = side
                counts[side]["snapshots"] += 1
            case RepriceDecided(adv_no=adv_no, action=action) if env.cause in sides_by_seq:
                side = side_of.setdefault(adv_no, sides_by_seq[env.cause])
                counts[side]["decisions"] += 1
                counts[side]["reprices_decided"] += action == "reprice"
            case AdRepriced(adv_no=adv_no) if adv_no in side_of:
                counts[side_of[adv_no]]["repriced"] += 1
    return {s: LiveCounts(**c) for s, c in counts.items()}


def ratio(estimate: Decimal, truth: Decimal) -> Decimal | None:
    """Return estimate / truth to 3 places, None when the truth is 0."""
    return (estimate / truth).quantize(Decimal("0.001")) if truth else None


def within(r: Decimal | None) -> bool:
    """Whether a ratio is within TARGET of 1."""
    return r is not None and abs(r - 1) <= TARGET


def _fmt(r: Decimal | None) -> str:
    return "-" if r is None else f"{r:.3f}{'' if within(r) else ' (!)'}"


def volume_lines(truths: Sequence[AdTruth], result: StrategyResult,
                 inferred: StrategyResult) -> list[str]:
    """Render the volume comparison: one line per ad, then the total.

    `inferred` is the backtest blind to my recorded ad (what a log without it gives): its fills
    are all inferred from competitors' trades.
    """
    def per_side(r: StrategyResult) -> dict[str, Decimal]:
        return {"SELL": r.sell_volume, "BUY": r.buy_volume}

    est, blind = per_side(result), per_side(inferred)
    lines = [f"  {'ad':<21} {'side':<4} {'orders':>6} {'backtest':>9} {'sim open':>9} "
             f"{'ratio':>9} {'sim kept':>9} {'ratio':>9} {'sim done':>9} {'ratio':>9} "
             f"{'inferred':>9} {'ratio':>9}"]
    rows = [(t.adv_no, t.side, t.orders, est[t.side], t.opened, t.kept, t.completed,
             blind[t.side]) for t in truths]
    rows.append(("total", "", *(sum(col) for col in list(zip(*rows))[2:])))
    for name, side, n, b, opened, kept, done, inf in rows:
        lines.append(f"  {name:<21} {side:<4} {n:>6} {b:>9.2f} {opened:>9.2f} "
                     f"{_fmt(ratio(b, opened)):>9} {kept:>9.2f} {_fmt(ratio(b, kept)):>9} "
                     f"{done:>9.2f} {_fmt(ratio(b, done)):>9} {inf:>9.2f} "
                     f"{_fmt(ratio(inf, opened)):>9}")
    return lines


def decision_lines(check: DecisionCheck, live: dict[str, LiveCounts],
                   result: StrategyResult, accepted: int) -> list[str]:
    """Render the reprice counts and the re-decided decisions."""
    decided = sum(c.reprices_decided for c in live.values())
    lines = [
        f"reprices: backtest {result.summary.reprices}, simulator accepted {accepted} "
        f"(ratio {_fmt(ratio(Decimal(result.summary.reprices), Decimal(accepted)))}); "
        f"the live actor decided {decided}",
    ]
    for side, c in live.items():
        skipped = c.snapshots - c.decisions
        lines.append(f"  {side}: {c.snapshots} snapshots, {c.decisions} decided on "
                     f"({skipped} skipped while a reprice was in flight), "
                     f"{c.reprices_decided} reprices decided, {c.repriced} done")
    lines.append(f"decisions re-decided identically: {check.same}/{check.total} "
                 f"({check.share:.1%}); not found: {check.unmatched}")
    for m in check.mismatches[:5]:
        lines.append(f"  seq {m.seq} ad {m.adv_no}: recorded {m.recorded}, again {m.again}: "
                     f"{m.why}")
    return lines


def render(args: argparse.Namespace, sid: int, db: str, truths: Sequence[AdTruth],
           results: tuple[StrategyResult, StrategyResult], check: DecisionCheck,
           live: dict[str, LiveCounts], report: SimReport) -> str:
    """Return the whole report; `results` are the backtest and the one blind to my ad."""
    result, inferred = results
    head = [f"backtest fidelity: {args.strategy}, {report.duration_s:.0f} s of the demo "
            f"(seed {args.seed}), session {sid} in {db}",
            f"volume in crypto (target: within {TARGET:.0%}); sim open = orders opened on the "
            f"bot's ad, kept = open - cancelled, done = completed by the end; inferred = the "
            f"backtest blind to my recorded ad, every fill inferred from competitors:"]
    return "\n".join(head + volume_lines(truths, result, inferred)
                     + decision_lines(check, live, result, report.reprices_accepted))


def command(args: argparse.Namespace) -> str:
    """Return the exact command that reproduces this run."""
    extra = f" --bot-surplus {args.bot_surplus}" if args.bot_surplus is not None else ""
    extra += " --virtual" if args.virtual else ""
    return (f"cd {Path(__file__).resolve().parent.parent} && .venv/bin/python bench/fidelity.py "
            f"--minutes {args.minutes:g} --strategy {args.strategy} --seed {args.seed}{extra}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=5.0, help="demo length (default 5)")
    p.add_argument("--strategy", default="undercut", help="the strategy run and backtested")
    p.add_argument("--seed", type=int, default=7, help="the simulated market's seed")
    p.add_argument("--bot-surplus", type=Decimal, default=None,
                   help="crypto on each of the bot's ads (default: the demo's)")
    p.add_argument("--db", default=None, help="keep the log here (default: a temporary file)")
    p.add_argument("--virtual", action="store_true",
                   help="run in memory under trio's MockClock (seconds, not minutes)")
    p.add_argument("--counterfactual", action="store_true",
                   help="backtest each strategy on every other's recording and compare with "
                   "its own run on the same seed (in memory; see backtest.counterfactual)")
    p.add_argument("--seeds", type=int, default=5,
                   help="--counterfactual: seeds from --seed on (default 5)")
    return p.parse_args(argv)


def _virtual(log, exchange: SimExchange, args: argparse.Namespace) -> int:
    """`app.demo.run_virtual`, keeping the exchange: the same bot and simulator in memory
    under MockClock."""
    cfg = demo_config(VIRTUAL_URL, exchange.cfg, args.strategy)
    sid = log.start_session("demo", config_json(cfg, actors=LIVE_ACTORS, seed=args.seed),
                            VIRTUAL_BASE_MS)

    async def main() -> str:
        async with trio.open_nursery() as nursery:
            await nursery.start(exchange.run_market)
            transport = SimTransport(exchange, rng=random.Random(args.seed))
            async with httpx.AsyncClient(transport=transport) as client:
                deps = BotDeps(config=cfg, client=client, connect=chat_connector(exchange),
                               credentials=Credentials(DEMO_API_KEY, DEMO_SECRET),
                               now_ms=virtual_now_ms, seed=args.seed)
                reason = await run_bot(log, sid, deps, actors=LIVE_ACTORS,
                                       duration=args.minutes * 60)
            exchange.report()  # inside the run, so the report's duration reads trio's clock
            nursery.cancel_scope.cancel()
        return reason

    reason = trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    log.end_session(sid, VIRTUAL_BASE_MS + int(args.minutes * 60_000), reason)
    return sid


def record_demo(db: str, args: argparse.Namespace, keep_exchange: bool = False) -> tuple:
    """Run the demo into the log at `db`; return its session, the exchange's report and truth
    (and the exchange itself when `keep_exchange`).

    Over loopback in real time as `python run.py demo` runs (its summary printed), or with
    `args.virtual` in memory under MockClock.
    """
    sim_cfg = SimConfig(seed=args.seed)
    if args.bot_surplus is not None:
        sim_cfg = msgspec.structs.replace(sim_cfg, bot_surplus=args.bot_surplus)
    with open_log(db) as log:
        if args.virtual:
            exchange = SimExchange(sim_cfg, now_ms=virtual_now_ms)
            sid = _virtual(log, exchange, args)
        else:
            exchange = SimExchange(sim_cfg, now_ms=wall_ms)
            demo = argparse.Namespace(duration=args.minutes * 60, db=db, seed=args.seed,
                                      strategy=args.strategy, error_rate=0.0, quiet=True)
            run_demo(log, demo, now_ms=wall_ms, exchange=exchange)
            sid = log.latest_session().id
    report = exchange.report()
    out = (sid, report, truth_of(report, exchange.desk.orders.values(), exchange.bot_ads))
    return (*out, exchange) if keep_exchange else out


def blind(tape: SessionTape) -> SessionTape:
    """Return `tape` with my own ads taken out of every book, as a log without them reads."""
    def strip(env: Envelope) -> Envelope:
        snap = env.event
        if not isinstance(snap, BookSnapshot):
            return env
        return msgspec.structs.replace(env, event=msgspec.structs.replace(
            snap, ads=tuple(ad for ad in snap.ads if not ad.mine)))

    return msgspec.structs.replace(tape, envelopes=[strip(e) for e in tape.envelopes])


def backtest_session(db: str, sid: int, strategy: str
                     ) -> tuple[tuple[StrategyResult, StrategyResult], DecisionCheck,
                                list[Envelope]]:
    """Backtest `strategy` over session `sid` with its recorded settings, also blind to my
    ads; re-decide its decisions. Returns both results, the check and the events logged."""
    with open_log(db, create=False) as log:
        info = log.session(sid)
        cfg, filters = recorded_config(info)
        spec = RunSpec(name=strategy, cfg=retag(cfg, strategy), filters=filters)
        [tape] = [msgspec.structs.replace(t, envelopes=list(t.envelopes))
                  for t in tapes(log, [info])]
        reprices = list(log.events(sid, types=(RepriceDecided, AdRepriced)))
        cfg = BacktestConfig(pay_methods=False)  # the simulator's customers ignore them
        fitted = survey([tape], reprices, cfg).calibration
        [result] = run_backtest([tape], [spec], calibration=fitted)
        hidden = blind(tape)
        [inferred] = run_backtest([hidden], [spec],
                                  calibration=survey([hidden], reprices, cfg).calibration)
        envelopes = list(log.events(sid, types=RECHECK_TYPES + LIVE_TYPES))
    return (result, inferred), recheck(envelopes, spec.cfg, filters,
                                       pricing_for=spec.pricing_for), envelopes


def counterfactual(args: argparse.Namespace) -> int:
    """Run the counterfactual comparison (`backtest.counterfactual`) and print it."""
    from backtest import counterfactual as cf

    surplus = args.bot_surplus if args.bot_surplus is not None else COUNTERFACTUAL_SURPLUS
    seeds = list(range(args.seed, args.seed + args.seeds))
    print(f"counterfactual: strategies {', '.join(cf.STRATEGIES)}, seeds {seeds}, "
          f"{args.minutes:g} min each in memory, bot ads of {surplus} USDT; ratios backtest of "
          f"B on A's recording / the run of B (min, max over seeds)")
    cf.run(seeds, args.minutes, surplus)
    print(f"command: cd {Path(__file__).resolve().parent.parent} && .venv/bin/python "
          f"bench/fidelity.py --counterfactual --minutes {args.minutes:g} --seed {args.seed} "
          f"--seeds {args.seeds} --bot-surplus {surplus}")
    return 0


COUNTERFACTUAL_SURPLUS = Decimal(100000)  # no run sells out: the fill model decides


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.counterfactual:
        return counterfactual(args)
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or str(Path(tmp) / "fidelity.db")
        sid, report, truths = record_demo(db, args)
        results, check, envelopes = backtest_session(db, sid, args.strategy)
        print(render(args, sid, db, truths, results, check, live_counts(envelopes), report))
    print(f"command: {command(args)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
