"""`python run.py replay PATH [--session ID] [--set key=value ...] [--strategy NAME]`.

Without --set or --strategy: replay the session and compare; exit 0 and one summary line when the
events are the same, exit 1 and the first divergence otherwise. With them: a what-if replay that
writes a new session (mode "replay") and says how the decisions differed.
"""

from __future__ import annotations

import argparse
import sys

import msgspec

from actors.config import BotConfig, ConfigError, load_config, session_config
from events.codec import SchemaTooNew, SchemaUnsupported
from replay.runner import decisions_summary, replay_session
from store import LogError, open_log


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", help="the SQLite event log")
    p.add_argument("--session", type=int, default=None, help="session id (default: the latest)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="what-if: replay with this config value changed (repeatable)")
    p.add_argument("--strategy", default=None, help="what-if: replay with this strategy")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def with_overrides(bot: BotConfig, sets: list[str], strategy: str | None) -> BotConfig:
    """Apply `section.key=value` overrides (and a strategy name) to a config.

    Raises:
        ConfigError: a malformed override, an unknown key or a bad value.
    """
    data = msgspec.to_builtins(bot)
    for item in sets:
        key, sep, value = item.partition("=")
        section, dot, field = key.partition(".")
        if not sep or not dot or section not in data or not isinstance(data[section], dict):
            raise ConfigError(f"--set wants SECTION.KEY=VALUE (e.g. strategy.step=0.05), got {item!r}")
        if field not in data[section]:
            raise ConfigError(f"unknown config key {key!r}")
        data[section][field] = value
    if strategy:
        data["strategy"]["name"] = strategy
    return load_config(data)


def main(args) -> int:
    try:
        log = open_log(args.path, create=False)
    except LogError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with log:
        try:
            sid = args.session if args.session is not None else log.latest_session().id
            info = log.session(sid)
            whatif = bool(args.set or args.strategy)
            bot = with_overrides(session_config(info.config).bot, args.set, args.strategy) \
                if whatif else None
            result = replay_session(log, sid, bot=bot, whatif=whatif,
                                    progress=not args.no_progress)
        except (LogError, ConfigError, SchemaTooNew, SchemaUnsupported) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if whatif:
            recorded = list(log.events(sid))
            print(f"what-if replay of session {sid} written as session {result.whatif_session}: "
                  f"{result.produced} events, {result.synthesized} answers synthesized, "
                  f"{result.simulated_s:.1f}s simulated in {result.wall_s:.2f}s "
                  f"({result.speed:.0f}x real time)")
            for line in decisions_summary(recorded, result.produced_events):
                print("  " + line)
            return 0
    return _report(result)


def _report(result) -> int:
    if result.equal:
        print(f"replay of session {result.session} is identical: {result.compared} events "
              f"compared, {result.simulated_s:.1f}s simulated in {result.wall_s:.2f}s "
              f"({result.speed:.0f}x real time)")
        return 0
    print(f"replay of session {result.session} DIVERGES "
          f"({result.compared} recorded events, {result.produced} replayed)")
    for miss in result.unrecorded[:3]:
        print(f"  {miss}")
    if result.divergence is not None:
        print(result.divergence.render())
    return 1
