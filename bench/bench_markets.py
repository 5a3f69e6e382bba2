"""Reaction time per market with 1, 2 and 4 markets in one process, within one request budget.

The whole bot (every actor, the real limiter at 5 requests/s) against the in-process simulator
serving 1, 2 or 4 markets (USDT/NGN, BTC/NGN, ETH/NGN, USDC/NGN; my SELL and BUY ad in each),
under trio's MockClock: `--duration` virtual seconds per run. The simulator measures, per ad,
the time from a competitor taking rank 1 from it to it being rank 1 again (`sim.report`), and
counts requests refused for the account's rate (violations). Reactions are pooled per market.

Two scenarios: my ads managed in every market ("all"), or in the first half of them, the
others only watched ("half": the merchant also follows those books, e.g. as references).
Two schedules of the market actor's budget, same seeds, same simulated markets:
- weighted: the market actor's (`actors.market_core.interval`): my ads' sides, and books that
  moved in the last 30 s, get larger shares; every stream within its poll_interval_s;
- round robin: every (market, side) stream an equal share (the counterfactual).

    python bench/bench_markets.py [--duration 600] [--seeds 3,5,7] [--markets 1,2,4]

Reactions are counted for managed ads only.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import msgspec  # noqa: E402

import actors.market_core  # noqa: E402
from actors.config import load_config  # noqa: E402
from app.demo import VIRTUAL_URL, demo_config, demo_markets, run_virtual, virtual_now_ms  # noqa: E402
from sim import SimConfig, SimExchange  # noqa: E402
from store import open_log  # noqa: E402

WEIGHTED = actors.market_core.interval


def round_robin(cfg, streams, stream, now, *, weighted=True):
    return WEIGHTED(cfg, streams, stream, now, weighted=False)


def one_run(n: int, seed: int, duration: float, schedule: str,
            scenario: str) -> tuple[dict, int, int]:
    """Run the bot on `n` markets; return ({market: [reaction s]}, violations, requests)."""
    actors.market_core.interval = WEIGHTED if schedule == "weighted" else round_robin
    sim_cfg = SimConfig(seed=seed, markets=demo_markets(n))
    exchange = SimExchange(sim_cfg, now_ms=virtual_now_ms)
    managed_markets = [m.asset for m in sim_cfg.market_configs()]
    if scenario == "half":
        managed_markets = managed_markets[:(n + 1) // 2]
    market_of = {a.adv_no: f"{a.asset}/{a.fiat}" for a in exchange.bot_ads
                 if a.asset in managed_markets}
    raw = msgspec.to_builtins(demo_config(VIRTUAL_URL, sim_cfg))
    raw["ads"]["adv_nos"] = sorted(market_of)
    with tempfile.TemporaryDirectory() as tmp, open_log(Path(tmp) / "b.db") as log:
        _, report = run_virtual(log, duration=duration, seed=seed, exchange=exchange,
                                cfg=load_config(raw))
    actors.market_core.interval = WEIGHTED
    out: dict[str, list[float]] = {}
    for adv_no, reactions in exchange.tracker.reactions.items():
        if adv_no in market_of:
            out.setdefault(market_of[adv_no], []).extend(reactions)
    return out, report.violations, sum(exchange.stats.by_endpoint.values())


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--duration", type=float, default=600.0, help="virtual seconds per run")
    p.add_argument("--seeds", default="3,5,7")
    p.add_argument("--markets", default="1,2,4")
    args = p.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"{args.duration:.0f} virtual s per run, seeds {seeds}; reaction = competitor takes "
          "rank 1 -> my ad rank 1 again (simulator's measure)")
    print(f"{'markets':>7} {'ads in':<6} {'schedule':<11} {'market':<9} {'n':>5} {'p50 s':>7} "
          f"{'p95 s':>7} {'violations':>10} {'req/s':>6} {'wall s':>7}")
    for n, scenario in ((int(m), s) for m in args.markets.split(",") for s in ("all", "half")):
        if scenario == "half" and n == 1:
            continue
        medians = {}
        for schedule in ("weighted", "round-robin"):
            pooled: dict[str, list[float]] = {}
            violations = requests = 0
            started = time.perf_counter()
            for seed in seeds:
                got, v, r = one_run(n, seed, args.duration, schedule, scenario)
                violations += v
                requests += r
                for market, xs in got.items():
                    pooled.setdefault(market, []).extend(xs)
            wall = time.perf_counter() - started
            rate = requests / (args.duration * len(seeds))
            for market, xs in pooled.items():
                medians[(schedule, market)] = statistics.median(xs) if xs else float("nan")
                print(f"{n:>7} {scenario:<6} {schedule:<11} {market:<9} {len(xs):>5} "
                      f"{statistics.median(xs):>7.3f} {pct(xs, 0.95):>7.3f} {violations:>10} "
                      f"{rate:>6.2f} {wall:>7.1f}")
        for market in sorted({m for _, m in medians}):
            w, r = medians.get(("weighted", market)), medians.get(("round-robin", market))
            if w and r:
                print(f"{n:>7} {scenario:<6} ratio p50 round-robin / weighted, {market}: "
                      f"{r / w:.2f}")


if __name__ == "__main__":
    main()
