"""The demo: the simulated exchange and the bot against it over loopback, then a summary.

Needs no keys and no network beyond 127.0.0.1: the simulator serves Binance's endpoints and chat
socket on a free port, and the bot is configured exactly as a live run pointed at it.
"""

from __future__ import annotations

import os
import random

import trio
import trio_websocket
import httpx

from actors.notify_channels import channels_from_env
from app.cli import run_with_screen, summary_line
from app.rotate import Sessions
from actors.config import BotConfig, config_json, load_config
from actors.restore import restore
from app.status import StatusView
from actors.system import LIVE_ACTORS, BotDeps
from c2c.credentials import Credentials
from sim import DEMO_API_KEY, DEMO_SECRET, Faults, SimConfig, SimExchange, serve_sim
from sim.config import DEMO_MARKETS, demo_markets  # noqa: F401 - the demo's markets

def demo_config(base_url: str, sim: SimConfig, strategy: str = "undercut") -> BotConfig:
    """The bot.toml a user would write to trade on the simulator at `base_url`: a `[market]`
    table for a one-market simulator, a `[[markets]]` entry per market otherwise."""
    # Users' ads can lead the simulated book as they lead real ones (reference §3): a
    # merchants-only search would leave the bot blind to them (measured: reaction p95
    # 8.8 s instead of 1.3 s, BENCHMARKS.md).
    markets = [{"asset": m.asset, "fiat": m.fiat, "pages": 2, "poll_interval_s": 5,
                "publisher_type": "all"} for m in sim.market_configs()]
    return load_config({
        "exchange": {"sapi_url": base_url, "bapi_url": base_url},
        **({"markets": markets} if sim.markets else {"market": markets[0]}),
        # floor and ceiling are fiat prices for every market: the default ceiling (1,000,000)
        # would hold a BTC/NGN BUY ad far below its book.
        "strategy": {"name": strategy, "step": "0.01", "max_reprices_per_min": 60,
                     **({"ceiling": "1000000000000"} if sim.markets else {})},
        "orders": {"poll_interval_s": 2.0},
        "ads": {"refresh_s": 30.0},
        "chat": {"auto_replies": {"bank": "Bank details are in the order page.",
                                  "paid": "Thanks, checking the payment now."}},
    })


def run_demo(log, args, *, now_ms, exchange: SimExchange | None = None) -> int:
    """Run the demo for args.duration seconds into `log`; print the summary. Returns 0 or 1.

    Args:
        exchange: the simulator to trade on (default: a new one seeded with args.seed).
    """
    if exchange is None:
        faults = Faults(error_rate=args.error_rate,
                        public_error_rate=getattr(args, "public_error_rate", 0.0))
        markets = demo_markets(getattr(args, "markets", 1))
        exchange = SimExchange(SimConfig(seed=args.seed, faults=faults, markets=markets),
                               now_ms=now_ms)
    sim_cfg = exchange.cfg
    view = StatusView()
    placeholder = demo_config("http://127.0.0.1:0", sim_cfg, args.strategy)
    # The simulator's port is only known once it listens; replay does not need it.
    sid = log.start_session("demo", config_json(placeholder, actors=LIVE_ACTORS, seed=args.seed),
                            now_ms())
    restored = restore(log, before_session=sid)
    reason = trio.run(_demo, log, sid, exchange, sim_cfg, args, view, restored, now_ms)
    log.end_session(sid, now_ms(), reason)
    _print_summary(sid, args, view, exchange, reason)
    return 1 if reason.startswith("fatal") else 0


async def _demo(log, sid, exchange, sim_cfg, args, view, restored, now_ms) -> str:
    async with trio.open_nursery() as nursery:
        server = await nursery.start(serve_sim, exchange, "127.0.0.1", 0)
        cfg = demo_config(server.base_url, sim_cfg, args.strategy)
        creds = Credentials(DEMO_API_KEY, DEMO_SECRET)
        async with httpx.AsyncClient(timeout=10.0) as client, \
                httpx.AsyncClient(timeout=cfg.alerts.timeout_s) as alert_client:
            deps = BotDeps(config=cfg, client=client, connect=trio_websocket.open_websocket_url,
                           credentials=creds, now_ms=now_ms, seed=args.seed,
                           restored=restored, alert_channels=channels_from_env(
                               cfg.alerts, alert_client, os.environ, now_ms))
            reason = await run_with_screen(log, sid, deps, LIVE_ACTORS, args.duration, view,
                                           args.quiet, web=getattr(args, "web", None))
        nursery.cancel_scope.cancel()
    return reason


def _print_summary(sid, args, view: StatusView, exchange, reason: str) -> None:
    report = exchange.report()
    print()
    print(f"demo session {sid} recorded in {args.db} ({reason})")
    print(f"  bot:       {summary_line(view)}")
    for line in view.market_lines():
        print(f"  market:    {line}")
    for line in view.pnl_lines():
        print(f"  profit:    {line}")
    print(f"  exchange:  {report.render() if hasattr(report, 'render') else report}")
    print("try next:")
    print(f"  python run.py replay {args.db} --session {sid}")
    print(f"  python run.py backtest {args.db} --session {sid} --strategy undercut,rank,spread")
    print(f"  python run.py sessions {args.db}")


VIRTUAL_BASE_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z: a virtual run's wall clock origin
VIRTUAL_URL = "http://sim.invalid"


def virtual_now_ms() -> int:
    return VIRTUAL_BASE_MS + int(trio.current_time() * 1000)


def run_virtual(log, *, duration: float, seed: int = 7, strategy: str = "undercut",
                sim_cfg: SimConfig | None = None, quiet: bool = True,
                cfg: BotConfig | None = None,
                exchange: SimExchange | None = None, actors: tuple[str, ...] = LIVE_ACTORS,
                mode: str = "demo") -> tuple[int, object]:
    """Run the demo's bot and simulator in memory under trio's MockClock.

    An hour of trading takes seconds: the same actors and the same exchange, reached through
    `sim.inprocess` instead of sockets; `cfg` replaces the demo's bot.toml (its exchange URLs
    are not used); `exchange` (made with `virtual_now_ms`) replaces the one made from
    `sim_cfg`; `actors` and `mode` make it a record run (RECORD_ACTORS, "record").
    Returns (the first session's id, the simulator's report); a run longer than
    `cfg.log.rotate_after_h` goes on in later sessions.
    """
    from sim.inprocess import SimTransport, chat_connector

    if exchange is None:
        exchange = SimExchange(sim_cfg or SimConfig(seed=seed), now_ms=virtual_now_ms)
    sim_cfg = exchange.cfg
    cfg = cfg or demo_config(VIRTUAL_URL, sim_cfg, strategy)
    sid = log.start_session(mode, config_json(cfg, actors=actors, seed=seed), VIRTUAL_BASE_MS)
    sessions = Sessions(log, sid, virtual_now_ms)
    view = StatusView()

    async def main() -> str:
        async with trio.open_nursery() as nursery:
            await nursery.start(exchange.run_market)
            async with httpx.AsyncClient(transport=SimTransport(exchange, rng=random.Random(seed))) as client:
                deps = BotDeps(config=cfg, client=client, connect=chat_connector(exchange),
                               credentials=Credentials(DEMO_API_KEY, DEMO_SECRET)
                               if {"ads", "orders"} & set(actors) else None,  # record: none
                               now_ms=virtual_now_ms, seed=seed,
                               restored=restore(log, before_session=sid))
                reason = await run_with_screen(log, sessions, deps, actors, duration, view,
                                               quiet)
            nursery.cancel_scope.cancel()
        return reason

    import trio.testing

    reason = trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    log.end_session(sessions.current, VIRTUAL_BASE_MS + int(duration * 1000), reason)
    return sid, exchange.report()
