"""Run the real actors against a FakeBinance (MockTransport) and a memory WebSocket, under MockClock.

Kept only for test_bad_input's junk-through-the-running-bot tests, whose migration to the
simulator (tests/harness.py) is not finished (issue 12); every other test runs on the simulator."""

from __future__ import annotations

from contextlib import asynccontextmanager
from functools import partial

import httpx
import trio

from actors.config import BotConfig, config_json, load_config
from actors.system import LIVE_ACTORS, BotDeps, run_bot
from c2c.credentials import Credentials
from store import open_log
from tests.fake_binance import API_KEY, SECRET, FakeBinance


class Harness:
    def __init__(self, log, session: int, fake: FakeBinance) -> None:
        self.log = log
        self.session = session
        self.fake = fake
        self.bus = None
        self.inbox = None
        self.emit = None
        self.reason: str | None = None
        self.seen: list = []  # every envelope, as the bus published it

    def events(self, *types):
        return [e.event for e in self.seen if not types or isinstance(e.event, types)]

    async def final_reply(self, request_id: str):
        """Wait for the final ApiResponse or ApiError to the tester's request `request_id`."""
        async for env in self.inbox:
            if getattr(env.event, "request_id", None) == request_id and env.event.final:
                return env

    async def next_event(self, *types):
        async for env in self.inbox:
            rid = getattr(env.event, "request_id", None)
            if rid is not None and not rid.startswith("tester-"):
                continue  # the actors' own calls
            if isinstance(env.event, types):
                return env


def config(**sections) -> BotConfig:
    return load_config(sections)


@asynccontextmanager
async def running_bot(tmp_path, fake: FakeBinance | None = None, *, actors=LIVE_ACTORS,
                      cfg: BotConfig | None = None, connect=None, dry_run=False, restored=None,
                      listen: tuple[type, ...] = (), db_name="bot.db", session_mode="live"):
    """Start the bot; yield a Harness; stop it cleanly on exit (log flushed, run ended)."""
    fake = fake or FakeBinance()
    log = open_log(tmp_path / db_name)
    sid = log.start_session(session_mode, config_json(cfg or BotConfig(), actors=actors, seed=1,
                                                      dry_run=dry_run), fake.now_ms())
    h = Harness(log, sid, fake)
    stop = trio.Event()
    async with httpx.AsyncClient(transport=fake.transport()) as client:
        deps = BotDeps(config=cfg or BotConfig(), client=client, connect=connect,
                       credentials=Credentials(API_KEY, SECRET), now_ms=fake.now_ms, seed=1,
                       dry_run=dry_run, restored=restored)
        async with trio.open_nursery() as nursery:
            async def _run(task_status=trio.TASK_STATUS_IGNORED):
                h.reason = await run_bot(log, sid, deps, actors=actors, stop=stop,
                                         taps=(h.seen.append,), extra={"tester": listen},
                                         task_status=task_status)
            h.bus, inboxes = await nursery.start(_run)
            h.inbox = inboxes["tester"]
            h.emit = h.bus.emitter("tester")
            try:
                yield h
            finally:
                stop.set()
    log.end_session(sid, fake.now_ms(), h.reason or "")
