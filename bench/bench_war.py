"""What price wars cost with and without the war guard, live on the simulator and in a backtest.

    .venv/bin/python bench/bench_war.py [--minutes 30] [--seeds 1,2,3] [--reactive 0.25] [--duel]

Runs the demo's bot (undercut) against the in-process simulator under MockClock twice per seed,
war guard on (as built) and off (the counterfactual, as before issue 15), on the simulator's
default market: a share `--reactive` of merchant competitors answer every undercut of the bot
a few seconds later (sim.market). For each run: EP-7s sent, wars detected, the bot's fills and
their realised spread PnL (app.pnl), and its SELL and BUY fill VWAPs. Then the guard-off
session is backtested with `--war-guard-both` (backtest.wars: ratchet and war cost).
With `--duel` the market has no reactive competitor but one: the best merchant seller sharing
a pay method with the bot's SELL ad answers every undercut of it (the guard's case), and the
figures are for the SELL ad: EP-7s, the lowest price it was set to, its fill VWAP.
Figures are virtual time, so they do not depend on how busy this machine is.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from msgspec.structs import replace  # noqa: E402

from app.demo import VIRTUAL_URL, demo_config, run_virtual, virtual_now_ms  # noqa: E402
from app.pnl import session_pnl  # noqa: E402
from backtest.cli import with_and_without_guard  # noqa: E402
from backtest.engine import run_backtest  # noqa: E402
from backtest.side import RunSpec  # noqa: E402
from backtest.source import tapes  # noqa: E402
from events import AdRepriced, PriceWarDetected  # noqa: E402
from sim import SimConfig, SimExchange  # noqa: E402
from store import open_log  # noqa: E402


def duel(exchange: SimExchange) -> str:
    """Make one rival of the bot's SELL ad answer its every undercut; return the ad's advNo."""
    market = exchange.market
    mine = next(a for a in market.bot_ads() if a.side == "SELL")
    rival = next(a for a in market.book("SELL") if not a.mine and a.user_type == "merchant"
                 and set(a.pay_methods) & set(mine.pay_methods))
    rival.reactive = True
    return mine.adv_no


def one_run(seed: int, minutes: float, reactive: float, guard: bool, keep: Path | None,
            with_duel: bool = False):
    sim = SimConfig(seed=seed, reactive_share=0.0 if with_duel else reactive)
    exchange = SimExchange(sim, now_ms=virtual_now_ms)
    sell = duel(exchange) if with_duel else None
    base = demo_config(VIRTUAL_URL, sim)
    cfg = replace(base, strategy=replace(base.strategy, war_guard=guard))
    with tempfile.TemporaryDirectory() as tmp:
        path = keep or Path(tmp) / "b.db"
        with open_log(path) as log:
            sid, report = run_virtual(log, duration=minutes * 60, seed=seed, cfg=cfg,
                                      exchange=exchange)
            events = [env.event for env in log.events(sid)]
    [pnl] = session_pnl(events) or [None]
    reprices = [e for e in events if isinstance(e, AdRepriced)
                and (sell is None or e.adv_no == sell)]
    return {
        "ep7": len(reprices),
        "lowest": min((e.new_price for e in reprices), default=None) if sell else None,
        "wars": sum(isinstance(e, PriceWarDetected) for e in events),
        "bought": pnl.bought if pnl else Decimal(0), "sold": pnl.sold if pnl else Decimal(0),
        "sell_vwap": pnl.sell_vwap if pnl else None, "buy_vwap": pnl.buy_vwap if pnl else None,
        "realised": pnl.realised if pnl else Decimal(0), "violations": report.violations,
    }


def backtest_both(path: Path):
    with open_log(path, create=False) as log:
        sessions = [log.latest_session()]
        spec = RunSpec(name="undercut", cfg=demo_config(VIRTUAL_URL, SimConfig()).strategy)
        return run_backtest(tapes(log, sessions), with_and_without_guard([spec]))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--reactive", type=float, default=0.25)
    parser.add_argument("--duel", action="store_true")
    args = parser.parse_args()
    rows = {True: [], False: []}
    for seed in [int(s) for s in args.seeds.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            for guard in (True, False):
                keep = Path(tmp) / "off.db" if not guard else None
                r = one_run(seed, args.minutes, args.reactive, guard, keep, args.duel)
                rows[guard].append(r)
                print(f"seed {seed} guard {'on ' if guard else 'off'}: EP-7 {r['ep7']:4d}  "
                      f"{'lowest SELL ' + str(r['lowest']) + '  ' if args.duel else ''}"
                      f"wars {r['wars']:3d}  sold {r['sold']} at {r['sell_vwap']}  bought "
                      f"{r['bought']} at {r['buy_vwap']}  realised {r['realised']:.2f}  "
                      f"violations {r['violations']}")
            for res in backtest_both(Path(tmp) / "off.db"):
                s, c = res.summary, res.war_cost
                print(f"    backtest {res.spec.label}: reprices {s.reprices}  guard wars "
                      f"{res.guard_wars}  ratchet {c.ratchet}  war cost {c.fiat:.2f}  "
                      f"filled {s.filled_volume}  sell vwap {res.sell_vwap}")
    for guard in (True, False):
        rs = rows[guard]
        print(f"median guard {'on ' if guard else 'off'}: EP-7 "
              f"{statistics.median(r['ep7'] for r in rs)}  wars "
              f"{statistics.median(r['wars'] for r in rs)}  realised "
              f"{statistics.median(r['realised'] for r in rs):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
