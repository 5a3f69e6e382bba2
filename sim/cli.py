"""`python run.py sim`: serve the simulator until Ctrl-C, then print what it measured."""

from __future__ import annotations

import argparse
import time

import trio

from sim.config import DEMO_API_KEY, DEMO_SECRET, Faults, SimConfig
from sim.exchange import SimExchange
from sim.server import SimServer, serve_sim


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the simulator's options to `parser`."""
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--error-rate", type=float, default=0.0, help="0..1 of requests fail")
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--latency-spike-ms", type=int, default=0)
    parser.add_argument("--latency-spike-probability", type=float, default=0.0)
    parser.add_argument("--drop-ws-every", type=float, default=0.0, metavar="S",
                        help="close chat sockets S seconds after they open (0: never)")
    parser.add_argument("--clock-skew-ms", type=int, default=0)
    parser.add_argument("--status-list-reject-share", type=float, default=0.0,
                        help="0..1 of EP-8 calls with a JSON list of advNos refused with -1102")


def config_from_args(args: argparse.Namespace) -> SimConfig:
    """Build the SimConfig that the command line asks for."""
    faults = Faults(
        error_rate=args.error_rate, latency_ms=args.latency_ms,
        latency_spike_ms=args.latency_spike_ms,
        latency_spike_probability=args.latency_spike_probability,
        drop_ws_every_s=args.drop_ws_every, clock_skew_ms=args.clock_skew_ms,
    )
    return SimConfig(seed=args.seed, faults=faults,
                     status_list_reject_share=args.status_list_reject_share)


def banner(server: SimServer, exchange: SimExchange) -> str:
    """Return what to tell the user: where to point the bot and with which keys."""
    ads = ", ".join(f"{a.side} {a.adv_no}" for a in exchange.bot_ads)
    return "\n".join([
        f"simulated Binance C2C on {server.base_url} ({exchange.cfg.asset}/{exchange.cfg.fiat},"
        f" seed {exchange.cfg.seed}); Ctrl-C stops it and prints the report",
        "environment for the bot (demo credentials, valid only here):",
        f"  export BINANCE_API_KEY={DEMO_API_KEY}",
        f"  export BINANCE_API_SECRET={DEMO_SECRET}",
        "bot.toml:",
        "  [exchange]",
        f'  sapi_url = "{server.base_url}"',
        f'  bapi_url = "{server.base_url}"',
        f"the bot's ads: {ads}",
    ])


async def _serve(exchange: SimExchange, host: str, port: int) -> None:
    async with trio.open_nursery() as nursery:
        server = await nursery.start(serve_sim, exchange, host, port)
        print(banner(server, exchange), flush=True)


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def main(args: argparse.Namespace) -> int:
    """Serve until interrupted, then print the report. Returns the exit status."""
    exchange = SimExchange(config_from_args(args), now_ms=lambda: int(time.time() * 1000))
    try:
        trio.run(_serve, exchange, args.host, args.port)
    except BaseException as exc:  # Ctrl-C and bind failures may arrive wrapped in groups
        leaves = _leaves(exc)
        if not all(isinstance(e, (KeyboardInterrupt, OSError)) for e in leaves):
            raise
        failed = [e for e in leaves if isinstance(e, OSError)]
        if failed:
            reason = failed[0].strerror or failed[0]
            print(f"sim: cannot serve on {args.host}:{args.port}: {reason}")
            return 1
    print(exchange.report().render())
    return 0
