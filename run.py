"""The composition root: parses the command line and chooses real, recorded or simulated I/O.

    python run.py                  the demo: the simulator and the bot against it, over loopback
    python run.py live ...         trade on a Binance account
    python run.py record ...       record the public order book only (no credentials)
    python run.py sim ...          serve only the simulated exchange
    python run.py replay PATH      replay a recorded session deterministically
    python run.py backtest PATH    backtest pricing strategies on recorded order books
    python run.py sessions PATH    list the sessions in a log
    python run.py upgrade PATH     convert a log of the previous layout
    python run.py export PATH --to DIR   write Parquet for analysis
"""

from __future__ import annotations

import argparse
import sys
import time

SUBCOMMANDS = {
    "demo": "run the simulator and the bot against it over loopback (the default)",
    "live": "trade on a Binance account (BINANCE_API_KEY / BINANCE_API_SECRET)",
    "record": "record the public order book only, for backtests (no credentials)",
    "sim": "serve only the simulated Binance C2C exchange until Ctrl-C",
    "replay": "replay a recorded session deterministically (or what-if with other decisions)",
    "backtest": "backtest pricing strategies against recorded order books",
    "sessions": "list the sessions in an event log, with the bytes each takes",
    "upgrade": "convert a log of the previous layout to the current one (resumable)",
    "export": "write sessions' books, decisions, reprices, orders and fills as Parquet",
}


def build_parser() -> argparse.ArgumentParser:
    from strategies.registry import help_lines

    parser = argparse.ArgumentParser(
        prog="python run.py",
        description="Binance P2P (C2C) merchant bot. With no subcommand, runs the demo.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="subcommands:\n" + "\n".join(
            f"  {k:<9} {v}{'' if k not in MODULES or _load(MODULES[k]) else ' [not built yet]'}"
            for k, v in SUBCOMMANDS.items())
        + "\n\nstrategies ([strategy] name, --strategy):\n" + help_lines(),
    )
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND")
    from app import cli as bot_cli

    bot_cli.add_demo_arguments(sub.add_parser("demo", help=SUBCOMMANDS["demo"]))
    bot_cli.add_live_arguments(sub.add_parser("live", help=SUBCOMMANDS["live"]))
    bot_cli.add_record_arguments(sub.add_parser("record", help=SUBCOMMANDS["record"]))
    bot_cli.add_sessions_arguments(sub.add_parser("sessions", help=SUBCOMMANDS["sessions"]))
    for name, module in MODULES.items():
        built = _load(module)
        help_ = SUBCOMMANDS[name] + ("" if built else " [not built yet]")
        p = sub.add_parser(name, help=help_, description=help_)
        if built:
            built.add_arguments(p)
        else:
            p.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


MODULES = {"sim": "sim.cli", "replay": "replay.cli", "backtest": "backtest.cli",
           "upgrade": "app.upgrade", "export": "app.export"}


def _load(module: str):
    """The subcommand's module, or None while it is not built yet."""
    import importlib

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            return None
        raise


def _not_built(name: str) -> int:
    print(f"error: 'python run.py {name}' is not built yet", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        argv = ["demo", *argv]
    args = build_parser().parse_args(argv)
    from app import cli as bot_cli

    handlers = {
        "demo": bot_cli.demo_main,
        "live": bot_cli.live_main,
        "record": bot_cli.record_main,
        "sessions": bot_cli.sessions_main,
        "backtest": _load(MODULES["backtest"]).main,
        "sim": _load(MODULES["sim"]).main,
    }
    if args.command in handlers:
        return handlers[args.command](args, now_ms=wall_ms)
    built = _load(MODULES[args.command])
    return built.main(args) if built else _not_built(args.command)


def wall_ms() -> int:
    """The real wall clock in milliseconds: chosen here, injected everywhere else."""
    return time.time_ns() // 1_000_000


if __name__ == "__main__":
    sys.exit(main())
