"""The bot's own subcommands: live, record, the demo, and sessions.

Each `*_main(args) -> int` prints one clear line and returns 2 for a configuration, credential
or log problem instead of a traceback.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time

import httpx
import trio
import trio_websocket

from actors.config import BotConfig, ConfigError, config_json, read_config
from actors.restore import restore
from actors.notify_channels import NotifyConfigError, channels_from_env
from app.rotate import Sessions, run_rotating
from app.status import StatusView
from app.web import WebError, WebView, serve_web, web_bind
from strategies.registry import DEFAULT, STRATEGIES
from actors.system import LIVE_ACTORS, RECORD_ACTORS, BotDeps, run_bot
from c2c.credentials import Credentials, CredentialsError, from_env
from store import LogError, open_log


def add_live_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default=None, help="bot.toml (default: every key's default)")
    p.add_argument("--db", required=True, help="the SQLite event log to append the session to")
    p.add_argument("--duration", type=float, default=None, help="stop cleanly after S seconds")
    p.add_argument("--dry-run", action="store_true",
                   help="record EP-7/EP-8 and chat sends as decisions instead of sending them")
    p.add_argument("--quiet", action="store_true", help="no live status screen")
    p.add_argument("--web", metavar="[HOST:]PORT", default=None, help=WEB_HELP)


WEB_HELP = ("serve the live web page on HOST:PORT (HOST defaults to 127.0.0.1; any other "
            "needs BOT_WEB_TOKEN)")


def add_record_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default=None, help="bot.toml: [market], [limits], [exchange]")
    p.add_argument("--db", required=True, help="the SQLite event log")
    p.add_argument("--duration", type=float, default=None, help="stop cleanly after S seconds")
    p.add_argument("--quiet", action="store_true", help="no live status screen")


def add_demo_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--duration", type=float, default=60.0, help="seconds to run (default 60)")
    p.add_argument("--db", default="demo.db", help="event log to record into (default demo.db)")
    p.add_argument("--seed", type=int, default=7, help="the simulated market's seed")
    p.add_argument("--strategy", default=DEFAULT, choices=list(STRATEGIES),
                   help=f"pricing strategy: {', '.join(STRATEGIES)} (default {DEFAULT})")
    p.add_argument("--error-rate", type=float, default=0.0, help="simulator fault: error share")
    p.add_argument("--public-error-rate", type=float, default=0.0,
                   help="simulator fault: share of EP-0 calls answered 429 (public host only)")
    p.add_argument("--quiet", action="store_true", help="no live status screen")
    p.add_argument("--web", metavar="[HOST:]PORT", default=None, help=WEB_HELP)
    p.add_argument("--markets", type=int, default=1,
                   help="markets the simulator serves and the bot trades in one budget "
                        "(1..4: USDT/NGN, BTC/NGN, ETH/NGN, USDC/NGN; default 1)")


def add_sessions_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", help="the SQLite event log")


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def live_main(args, *, now_ms) -> int:
    try:
        cfg = read_config(args.config)
        creds = from_env()
        check_desk(args, cfg, now_ms)
        log = open_log(args.db)
    except (ConfigError, CredentialsError, LogError, NotifyConfigError, WebError) as exc:
        return _fail(str(exc))
    return _run_mode(log, "live", cfg, creds, LIVE_ACTORS, args, now_ms)


def record_main(args, *, now_ms) -> int:
    try:
        cfg = read_config(args.config)
        log = open_log(args.db)
    except (ConfigError, LogError) as exc:
        return _fail(str(exc))
    return _run_mode(log, "record", cfg, None, RECORD_ACTORS, args, now_ms)


def _run_mode(log, mode: str, cfg: BotConfig, creds: Credentials | None, actors, args,
              now_ms) -> int:
    view = StatusView()
    seed = now_ms() & 0x7FFFFFFF  # stored with the session, so replay draws the same uuids
    dry_run = getattr(args, "dry_run", False)
    with log:
        sid = log.start_session(mode, config_json(cfg, actors=actors, seed=seed,
                                                  dry_run=dry_run), now_ms())
        restored = restore(log, before_session=sid)
        sessions = Sessions(log, sid, now_ms)
        reason = trio.run(_serve, log, sessions, cfg, creds, actors, args, view, restored, seed,
                          now_ms)
        sid = sessions.current
        log.end_session(sid, now_ms(), reason)
    if len(sessions.ids) > 1:
        print(f"sessions {sessions.ids[0]}-{sid} ({mode}, rotated every "
              f"{cfg.log.rotate_after_h:g} h)")
    print(f"session {sid} ({mode}) ended: {reason}. {summary_line(view)}")
    for line in view.market_lines():
        print(f"market: {line}")
    for line in view.pnl_lines():
        print(f"profit: {line}")
    print(f"replay it: python run.py replay {args.db} --session {sid}")
    return 1 if reason.startswith("fatal") else 0


async def _serve(log, sessions, cfg, creds, actors, args, view, restored, seed, now_ms) -> str:
    async with httpx.AsyncClient(timeout=10.0) as client, \
            httpx.AsyncClient(timeout=cfg.alerts.timeout_s) as alert_client:
        deps = BotDeps(config=cfg, client=client, connect=trio_websocket.open_websocket_url,
                       credentials=creds, now_ms=now_ms, seed=seed,
                       dry_run=getattr(args, "dry_run", False), restored=restored,
                       alert_channels=channels_from_env(cfg.alerts, alert_client, os.environ,
                                                        now_ms))
        return await run_with_screen(log, sessions, deps, actors, args.duration, view, args.quiet,
                                     web=getattr(args, "web", None))


def check_desk(args, cfg: BotConfig, now_ms) -> None:
    """Refuse a half-set alert environment or a bad --web before the run starts.

    Raises:
        NotifyConfigError: only one of the Telegram variables is set.
        WebError: --web is not [HOST:]PORT, or binds beyond loopback without BOT_WEB_TOKEN.
    """
    channels_from_env(cfg.alerts, None, os.environ, now_ms)
    if getattr(args, "web", None):
        web_bind(args.web, os.environ)


async def run_with_screen(log, sid, deps, actors, duration, view, quiet, *,
                          web: str | None = None) -> str:
    """Run the bot with signal handling, (on a terminal) the live status screen and, with
    `web` ([HOST:]PORT), the live web page.

    `sid` is the session id, or a `Sessions` whose current session the run starts in and
    which it goes on in a new one every `[log] rotate_after_h` (app/rotate.py)."""
    stop = trio.Event()
    taps = [view.apply]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_watch_signals, stop)
        if web:
            page = WebView(rps=deps.config.limits.rps)
            taps.append(page.apply)
            host, port, token = web_bind(web, os.environ)
            url = await nursery.start(serve_web, page, host, port, token)
            print(f"web page: {url}{'?token=$BOT_WEB_TOKEN' if token else ''}", flush=True)
        if not quiet and sys.stdout.isatty():
            nursery.start_soon(_screen, view)
        if isinstance(sid, Sessions):
            reason = await run_rotating(log, sid, deps, actors=actors, duration=duration,
                                        rotate_after_s=deps.config.log.rotate_after_h * 3600,
                                        stop=stop, taps=tuple(taps))
        else:
            reason = await run_bot(log, sid, deps, actors=actors, duration=duration, stop=stop,
                                   taps=tuple(taps))
        nursery.cancel_scope.cancel()
    return reason


async def _watch_signals(stop: trio.Event) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            if stop.is_set():
                # Second signal: stop at once. Committed batches are safe in the WAL.
                os._exit(130)
            stop.set()


async def _screen(view: StatusView) -> None:
    from rich.live import Live

    with Live(view.render(), refresh_per_second=4, transient=False) as live:
        while True:
            await trio.sleep(0.5)
            live.update(view.render())


def summary_line(view: StatusView) -> str:
    c = view.counts
    return (f"requests={c['requests']} snapshots={c['snapshots']} reprices={c['reprices']} "
            f"orders={c['orders']} chat in/out={c['chat_in']}/{c['chat_out']} "
            f"errors={c['errors']} actor failures={c['actor_failures']}")


def sessions_main(args, *, now_ms=None) -> int:
    try:
        log = open_log(args.path, create=False)
    except LogError as exc:
        return _fail(str(exc))
    with log:
        rows = log.sessions()
        sizes = log.session_bytes()
        print(f"{'id':>4}  {'mode':<8} {'started (UTC)':<20} {'duration':>9} {'events':>8} "
              f"{'bytes':>9}  end")
        for s in rows:
            started = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(s.started_ms / 1000))
            dur = f"{(s.ended_ms - s.started_ms) / 1000:.1f}s" if s.ended_ms else "open"
            size = _bytes(sizes.get(s.id, 0))
            print(f"{s.id:>4}  {s.mode:<8} {started:<20} {dur:>9} {s.events:>8} {size:>9}  "
                  f"{s.end_reason}")
    return 0


def _bytes(n: int) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def demo_main(args, *, now_ms) -> int:
    from app.demo import run_demo

    from app.demo import demo_markets

    try:
        demo_markets(args.markets)
    except ValueError as exc:
        return _fail(str(exc))
    try:
        check_desk(args, BotConfig(), now_ms)
        log = open_log(args.db)
    except (LogError, NotifyConfigError, WebError) as exc:
        return _fail(str(exc))
    with log:
        try:
            return run_demo(log, args, now_ms=now_ms)
        except ConfigError as exc:  # --strategy names no strategy
            return _fail(str(exc))

