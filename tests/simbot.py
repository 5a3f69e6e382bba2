"""The real bot against the strict simulator in this process (sim.inprocess), under MockClock.

The same exchange code that `python run.py sim` serves over loopback, reached through memory,
so a scenario of minutes runs in a fraction of a second and every time the same way.
"""

from __future__ import annotations

import random
from contextlib import asynccontextmanager

import httpx
import trio

from actors.config import BotConfig, config_json, load_config
from actors.system import LIVE_ACTORS, BotDeps, run_bot
from app.demo import VIRTUAL_BASE_MS, VIRTUAL_URL, demo_config
from c2c.credentials import Credentials
from sim import DEMO_API_KEY, DEMO_SECRET, SimConfig, SimExchange
from sim.inprocess import SimTransport, chat_connector
from store import open_log


def virtual_ms() -> int:
    return VIRTUAL_BASE_MS + int(trio.current_time() * 1000)


def bot_config(sim_cfg: SimConfig, **sections) -> BotConfig:
    """The demo's bot.toml for the in-process simulator, with `sections` merged over it."""
    base = msgspec_to_dict(demo_config(VIRTUAL_URL, sim_cfg))
    for name, values in sections.items():
        base.setdefault(name, {}).update(values)
    return load_config(base)


def msgspec_to_dict(cfg: BotConfig) -> dict:
    import msgspec

    return msgspec.to_builtins(cfg)


class Recorder(SimTransport):
    """The in-process transport, keeping every request the bot sent (with its headers)."""

    def __init__(self, exchange: SimExchange) -> None:
        super().__init__(exchange, rng=random.Random(1))
        self.sent: list[tuple[float, httpx.Request]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((trio.current_time(), request))
        return await super().handle_async_request(request)

    def paths(self, suffix: str) -> list[tuple[float, httpx.Request]]:
        return [(t, r) for t, r in self.sent if r.url.path.endswith(suffix)]


class Run:
    def __init__(self, exchange: SimExchange, transport: Recorder) -> None:
        self.exchange = exchange
        self.transport = transport
        self.seen: list = []  # (trio time, envelope)
        self.reason: str | None = None
        self.bus = None  # the bot's bus, for a test that emits as an actor would

    def events(self, *types):
        return [env.event for _, env in self.seen if not types or isinstance(env.event, types)]

    def timed(self, *types):
        return [(t, env.event) for t, env in self.seen if isinstance(env.event, types)]


@asynccontextmanager
async def bot_on_sim(tmp_path, sim_cfg: SimConfig, cfg: BotConfig | None = None, *,
                     actors=LIVE_ACTORS, seed: int = 3, restored=None, dry_run: bool = False,
                     alert_channels: tuple = ()):
    """Start the simulator's market and the bot; yield a Run; stop both on exit.

    `alert_channels` are the notifier's (none by default); `dry_run` runs as `live --dry-run`
    does.
    """
    exchange = SimExchange(sim_cfg, now_ms=virtual_ms)
    cfg = cfg or bot_config(sim_cfg)
    transport = Recorder(exchange)
    run = Run(exchange, transport)
    log = open_log(tmp_path / "bot.db")
    sid = log.start_session("live", config_json(cfg, actors=actors, seed=seed, dry_run=dry_run),
                            virtual_ms())
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        await nursery.start(exchange.run_market)
        async with httpx.AsyncClient(transport=transport) as client:
            deps = BotDeps(config=cfg, client=client, connect=chat_connector(exchange),
                           credentials=Credentials(DEMO_API_KEY, DEMO_SECRET),
                           now_ms=virtual_ms, seed=seed, restored=restored, dry_run=dry_run,
                           alert_channels=alert_channels)

            done = trio.Event()

            async def _bot(task_status=trio.TASK_STATUS_IGNORED):
                try:
                    run.reason = await run_bot(
                        log, sid, deps, actors=actors, stop=stop, task_status=task_status,
                        taps=(lambda env: run.seen.append((trio.current_time(), env)),))
                finally:
                    done.set()

            run.bus, _ = await nursery.start(_bot)
            try:
                yield run
            finally:
                stop.set()
                await done.wait()
        nursery.cancel_scope.cancel()
    log.end_session(sid, virtual_ms(), run.reason or "")
    log.close()
