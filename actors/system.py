"""Wire the actors into one nursery around the bus and the log writer, and run them.

Used by every mode that runs actors: live, record, the demo, and replay (which injects a recorded
transport, a recorded chat connector and a MockClock). Nothing here picks real or fake I/O: the
caller passes the httpx client, the WebSocket connector, the clocks and the random seed.
"""

from __future__ import annotations

import random
from functools import partial
from typing import Callable

import httpx
import trio

from actors import ads, chat, limiter, market, notify, orders
from actors.bus import Bus
from actors.config import BotConfig
from actors.restore import Restored
from actors.supervise import Fatal, supervise
from c2c.credentials import Credentials
from events import (ApiRequest, BookSnapshot, ChatSendRequest, Envelope, MyAdsLoaded,
                    OrderOpened, OrderStatusChanged, RunStopped)
from store import EventLog, LogWriter

LIVE_ACTORS = ("limiter", "market", "ads", "orders", "chat", "notify")
# The rate window plus the log writer's batch delay and a margin: a call the last run sent
# before it died is no later than its last committed event + the batch delay.
QUIET_AFTER_MS = 1100
RECORD_ACTORS = ("limiter", "market")

SUBSCRIPTIONS: dict[str, tuple[type, ...]] = {
    "limiter": (ApiRequest,),
    "market": (MyAdsLoaded,),
    "ads": (BookSnapshot,),
    "orders": (),
    "chat": (OrderOpened, OrderStatusChanged, ChatSendRequest),
    "status": (),
    "notify": notify.SUBSCRIBES,
}


class BotDeps:
    """Everything the actors need from the outside world, chosen by the composition root."""

    def __init__(self, *, config: BotConfig, client: httpx.AsyncClient | None,
                 connect: Callable | None, credentials: Credentials | None,
                 now_ms: Callable[[], int], seed: int = 0, dry_run: bool = False,
                 restored: Restored | None = None, sender=None, decision_clock=None,
                 alert_channels: tuple = ()) -> None:
        self.config = config
        self.alert_channels = alert_channels  # actors.notify channels; replay's send nothing
        # Replay passes the recorded decision times here (see replay.recorded.DecisionTimes).
        self.decision_clock = decision_clock
        self.sender = sender
        self.client = client
        self.connect = connect
        self.credentials = credentials
        self.now_ms = now_ms
        self.seed = seed
        self.dry_run = dry_run
        self.restored = restored or Restored()


def _actor_entry(name: str, inbox, emit, deps: BotDeps, record_only: bool, session_time):
    cfg = deps.config
    if name == "limiter":
        ldeps = limiter.LimiterDeps(client=deps.client, config=cfg, credentials=deps.credentials,
                                    now_ms=deps.now_ms, rng=random.Random(deps.seed),
                                    dry_run=deps.dry_run, sender=deps.sender,
                                    not_before_ms=deps.restored.last_event_ms + QUIET_AFTER_MS
                                    if deps.restored.last_event_ms else 0)
        return partial(limiter.run, inbox, emit, deps=ldeps)
    if name == "market":
        return partial(market.run, inbox, emit, config=cfg,
                       sides=("SELL", "BUY") if record_only else None,
                       wait_for_ads=not record_only,
                       signed_twin=deps.credentials is not None)
    if name == "ads":
        return partial(ads.run, inbox, emit, config=cfg, dry_run=deps.dry_run,
                       session_time=session_time, decision_clock=deps.decision_clock)
    if name == "orders":
        return partial(orders.run, inbox, emit, config=cfg, known=deps.restored.orders)
    if name == "chat":
        r = deps.restored
        return partial(chat.run, inbox, emit, config=cfg, connect=deps.connect,
                       now_ms=deps.now_ms, rng=random.Random(deps.seed + 1),
                       dry_run=deps.dry_run, greeted=r.greeted, seen_ids=r.seen_ids,
                       open_orders=r.open_orders)
    if name == "notify":
        return partial(notify.run, inbox, emit, config=cfg.alerts, channels=deps.alert_channels,
                       now_ms=deps.now_ms)
    raise ValueError(f"unknown actor {name!r}")


async def run_bot(log: EventLog, session: int, deps: BotDeps, *,
                  actors: tuple[str, ...] = LIVE_ACTORS, duration: float | None = None,
                  stop: trio.Event | None = None, taps: tuple[Callable[[Envelope], None], ...] = (),
                  first_seq: int = 1, extra: dict[str, tuple[type, ...]] | None = None,
                  writer=None, task_status=trio.TASK_STATUS_IGNORED) -> str:
    """Run the actors until `duration` passes, `stop` is set, or a fatal error.

    Every event is logged through one LogWriter; on the way out the bus's last events are
    logged and the writer commits them before this returns. `extra` subscribes more inboxes
    (tests, tools) before anything flows; `task_status.started((bus, inboxes))` reports them once
    every actor listens.

    Returns:
        The stop reason: "duration", "stopped", or "fatal: <message>".
    """
    writer = writer or LogWriter(log)
    reason = "stopped"
    async with trio.open_nursery() as outer:
        await outer.start(writer.run)
        bus = Bus(writer, session, deps.now_ms, first_seq=first_seq)
        for tap in taps:
            bus.tap(tap)
        try:
            reason = await _run_actors(bus, deps, actors, duration, stop, extra or {},
                                       task_status)
        except* Fatal as group:
            reason = f"fatal: {group.exceptions[0]}"
        stopped = RunStopped(reason=reason.split(":")[0], message=reason)
        bus.emit_nowait("run", stopped)
        bus.drain_nowait()
        if "notify" in actors and deps.alert_channels:
            # After RunStopped is logged, so the session's end is when the actors stopped.
            await notify.alert_stop(deps.alert_channels, deps.config.alerts, stopped,
                                    bus.emitter("notify"))
            bus.drain_nowait()
        await writer.flush()
        outer.cancel_scope.cancel()
    return reason


async def _run_actors(bus: Bus, deps: BotDeps, actors, duration, stop, extra, task_status) -> str:
    record_only = "ads" not in actors
    reason = "stopped"
    async with trio.open_nursery() as nursery:
        inboxes = {name: bus.subscribe(name, SUBSCRIPTIONS[name]) for name in actors}
        others = {name: bus.subscribe(name, types) for name, types in extra.items()}
        await nursery.start(bus.run)
        sup_emit = bus.emitter("supervisor")
        for name in actors:
            entry = _actor_entry(name, inboxes[name], bus.emitter(name), deps, record_only,
                                 bus.session_time)
            await nursery.start(partial(supervise, name, entry, sup_emit))
        task_status.started((bus, others))
        if duration is not None:
            with trio.move_on_after(duration):
                await (stop.wait() if stop is not None else trio.sleep_forever())
            reason = "stopped" if stop is not None and stop.is_set() else "duration"
        else:
            await (stop.wait() if stop is not None else trio.sleep_forever())
        nursery.cancel_scope.cancel()
    return reason
