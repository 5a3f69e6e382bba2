"""`python run.py replay PATH [--session ID|FIRST..LAST ...] [--set key=value ...] [--strategy NAME]`.

Without --set or --strategy: replay the session (each session of a range in turn, streaming:
`replay.stream`) and compare; exit 0 and one summary line a session when the events are the
same, exit 1 and the first divergence of each session that differs otherwise. With them: a what-if replay that
writes a new session (mode "replay") and says how the decisions differed. `--set` takes
`SECTION.KEY=VALUE` (`strategy.step=0.05`) or one ad's key, `ads.overrides.<advNo>.KEY=VALUE`,
for an ad the session managed.
"""

from __future__ import annotations

import argparse
import sys

import msgspec

from strategies import STRATEGIES, UnknownStrategy, retag
from strategies.registry import all_keys
from actors.config import (BotConfig, ConfigError, cli_value, load_config, session_config,
                           split_ad_key)
from events import MyAdsLoaded
from events.codec import SchemaTooNew, SchemaUnsupported
from replay.runner import decisions_summary, replay_session
from replay.sessions import resolve, session_spec
from store import LogError, open_log


REPLAYABLE = ("live", "record", "demo", "sim")  # a range skips backtests and what-if replays


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", help="the SQLite event log")
    p.add_argument("--session", type=session_spec, action="append", default=None,
                   metavar="ID|FIRST..LAST",
                   help="session id, or a range of them replayed in turn (repeatable; "
                        "default: the latest recorded run, not a backtest)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="what-if: replay with this config value changed (repeatable); one "
                        "ad's own: ads.overrides.<advNo>.KEY=VALUE")
    p.add_argument("--strategy", default=None, choices=list(STRATEGIES),
                   help=f"what-if: replay with this strategy ({', '.join(STRATEGIES)})")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--judge", choices=("auto", "process", "inline"), default="auto",
                   help="where the comparison runs: in a second process on another core "
                        "(process), in this one (inline), or the former for a session of "
                        "50 000 events or more when two cores are there (auto, the default)")


def with_overrides(bot: BotConfig, sets: list[str], strategy: str | None) -> BotConfig:
    """Apply `section.key=value` and `ads.overrides.<advNo>.key=value` overrides (and a
    strategy name) to a config; a list key takes comma-separated values.

    Raises:
        ConfigError: a malformed override, an unknown key or a bad value.
    """
    if strategy:
        try:  # the new strategy keeps the common keys; set its own with --set strategy.KEY
            bot = msgspec.structs.replace(bot, strategy=retag(bot.strategy, strategy))
        except UnknownStrategy as exc:
            raise ConfigError(f"--strategy: {exc}") from None
    data = msgspec.to_builtins(bot)
    for item in sets:
        key, sep, value = item.partition("=")
        ad = split_ad_key(key) if sep else None
        if ad is not None:
            data["ads"]["overrides"].setdefault(ad[0], {})[ad[1]] = cli_value(ad[1], value)
            continue
        section, dot, field = key.partition(".")
        if not sep or not dot or section not in data or not isinstance(data[section], dict):
            raise ConfigError(f"--set wants SECTION.KEY=VALUE (e.g. strategy.step=0.05), got {item!r}")
        if field not in data[section] and not (section == "strategy" and field in all_keys()):
            raise ConfigError(f"unknown config key {key!r}")
        data[section][field] = cli_value(field, value)
    return load_config(data)


def main(args) -> int:
    try:
        log = open_log(args.path, create=False)
    except LogError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with log:
        try:
            sids = resolve(log, args.session, modes=REPLAYABLE) or [latest_replayable(log)]
        except LogError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        codes = [_one(log, sid, args) for sid in sids]
    if len(sids) > 1 and 2 not in codes:
        same = codes.count(0)
        print(f"sessions {', '.join(map(str, sids))}: {same} of {len(sids)} replayed identical")
    return max(codes)


def latest_replayable(log) -> int:
    """The newest session a run recorded (live, record, demo, sim): a backtest or a what-if
    replay saved after it is not what `replay` with no `--session` means.

    Raises:
        LogError: the log holds no such session.
    """
    recorded = [s.id for s in log.sessions() if s.mode in REPLAYABLE]
    if not recorded:
        log.latest_session()  # no session at all: its one-line error
        raise LogError(log.path, f"no recorded session to replay in {log.path} "
                                 f"(only backtests or what-if replays)")
    return max(recorded)


def _one(log, sid: int, args) -> int:
    try:
        info = log.session(sid)
        if info.mode == "backtest":
            raise LogError(log.path, f"session {sid} is a backtest's results, not a run: replay "
                                     f"takes a live, record, demo or sim session")
        whatif = bool(args.set or args.strategy)
        bot = with_overrides(session_config(info.config).bot, args.set, args.strategy) \
            if whatif else None
        if whatif:
            _check_managed(log, sid, args.set)
        result = replay_session(log, sid, bot=bot, whatif=whatif,
                                progress=not args.no_progress, judge=args.judge)
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


def _check_managed(log, sid: int, sets: list[str]) -> None:
    """A per-ad --set must name an ad the session managed, or it would change nothing."""
    named = {ad[0] for item in sets if (ad := split_ad_key(item.partition("=")[0]))}
    managed = {ad.adv_no for env in log.events(sid, types=(MyAdsLoaded,)) for ad in env.event.ads}
    unknown = sorted(named - managed)
    if unknown:
        raise ConfigError(f"ads.overrides names advNo {', '.join(unknown)} which session {sid} "
                          f"never managed (its ads: {', '.join(sorted(managed)) or 'none'})")


def _report(result) -> int:
    if result.equal:
        print(f"replay of session {result.session} is identical: {result.compared} events "
              f"compared, {result.simulated_s:.1f}s simulated in "
              f"{result.total_s or result.wall_s:.2f}s ({result.speed:.0f}x real time)")
        return 0
    print(f"replay of session {result.session} DIVERGES "
          f"({result.compared} recorded events, {result.produced} replayed)")
    for miss in result.unrecorded[:3]:
        print(f"  {miss}")
    if result.divergence is not None:
        print(result.divergence.render())
    return 1
