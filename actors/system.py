"""Wire the actors into one nursery around the bus and the log writer, and run them.

Used by every mode that runs actors: live, record, the demo, and replay (which injects a recorded
transport, a recorded chat connector and a MockClock). Nothing here picks real or fake I/O: the
caller passes the httpx client, the WebSocket connector, the clocks and the random seed.
"""

from __future__ import annotations

from functools import partial
from typing import Callable

import httpx
import trio

from actors import ads, chat, limiter, market, notify, orders
from actors.bus import Bus
from actors.calls import requests_made
from actors.config import BotConfig
from actors.restore import Restored, Summarizer
from actors.spec import ActorContext, ActorSpec
from actors.supervise import Fatal, supervise
from c2c.credentials import Credentials
from events import Envelope, RunStopped
from store import EventLog, LogWriter

# Every actor, in start order: each module declares itself (name, subscriptions, build).
ACTORS: dict[str, ActorSpec] = {m.SPEC.name: m.SPEC for m in (limiter, market, ads, orders, chat, notify)}
LIVE_ACTORS = tuple(ACTORS)
RECORD_ACTORS = ("limiter", "market")
QUIET_AFTER_MS = limiter.QUIET_AFTER_MS


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


def _incarnations(spec: ActorSpec, ctx: ActorContext, history):
    """The entry the supervisor runs, again after each failure: the first start builds from
    earlier sessions only; a restart first reads this session so far (`history()`: the writer
    flushed, the log read), so the actor goes on where it stopped and its request ids too."""
    started = False

    async def entry(task_status=trio.TASK_STATUS_IGNORED) -> None:
        nonlocal started
        if not started:
            started = True
            this = ctx
        else:
            so_far = tuple(await history())
            this = ActorContext(inbox=ctx.inbox, emit=ctx.emit, deps=ctx.deps,
                                record_only=ctx.record_only, session_time=ctx.session_time,
                                history=so_far, first_request=max(
                                    ctx.first_request, requests_made(spec.name, so_far)))
        await spec.build(this)(task_status=task_status)

    return entry


async def run_bot(log: EventLog, session: int, deps: BotDeps, *,
                  actors: tuple[str, ...] = LIVE_ACTORS, duration: float | None = None,
                  stop: trio.Event | None = None, taps: tuple[Callable[[Envelope], None], ...] = (),
                  first_seq: int = 1, extra: dict[str, tuple[type, ...]] | None = None,
                  writer=None, rotate: bool = False,
                  task_status=trio.TASK_STATUS_IGNORED) -> str:
    """Run the actors until `duration` passes, `stop` is set, or a fatal error.

    Every event is logged through one LogWriter; on the way out the bus's last events are
    logged and the writer commits them before this returns. `extra` subscribes more inboxes
    (tests, tools) before anything flows; `task_status.started((bus, inboxes))` reports them once
    every actor listens. With `rotate`, `duration` is where the run goes on in a new session
    (app/rotate.py): reaching it stops as "rotated", with no stop alert.

    Returns:
        The stop reason: "duration", "rotated", "stopped", or "fatal: <message>".
    """
    writer = writer or LogWriter(log)
    reason = "stopped"

    async def history() -> list[Envelope]:
        await writer.flush()
        kept = getattr(writer, "envelopes", None)  # replay's in-memory writer keeps its own
        return list(kept) if kept is not None else list(log.events(session))

    summarizer = Summarizer(deps.restored)
    async with trio.open_nursery() as outer:
        await outer.start(writer.run)
        bus = Bus(writer, session, deps.now_ms, first_seq=first_seq)
        for tap in taps:
            bus.tap(tap)
        bus.tap(summarizer.tap)
        try:
            reason = await _run_actors(bus, deps, actors, duration, stop, extra or {},
                                       history, task_status)
        except* Fatal as group:
            reason = f"fatal: {group.exceptions[0]}"
        if rotate and reason == "duration":
            reason = "rotated"
        bus.drain_nowait()
        # Next to last, so a new run reads it instead of the whole history.
        bus.emit_nowait("run", summarizer.summary())
        stopped = RunStopped(reason=reason.split(":")[0], message=reason)
        bus.emit_nowait("run", stopped)
        bus.drain_nowait()
        if "notify" in actors and deps.alert_channels and reason != "rotated":
            # After RunStopped is logged, so the session's end is when the actors stopped.
            await notify.alert_stop(deps.alert_channels, deps.config.alerts, stopped,
                                    bus.emitter("notify"))
            bus.drain_nowait()
        await writer.flush()
        outer.cancel_scope.cancel()
    return reason


async def _run_actors(bus: Bus, deps: BotDeps, actors, duration, stop, extra, history,
                      task_status) -> str:
    record_only = "ads" not in actors
    reason = "stopped"
    unknown = [name for name in actors if name not in ACTORS]
    if unknown:
        raise ValueError(f"unknown actor {unknown[0]!r}; known: {', '.join(ACTORS)}")
    async with trio.open_nursery() as nursery:
        inboxes = {name: bus.subscribe(name, ACTORS[name].subscribes) for name in actors}
        others = {name: bus.subscribe(name, types) for name, types in extra.items()}
        await nursery.start(bus.run)
        sup_emit = bus.emitter("supervisor")
        for name in actors:
            # Request ids go on from the last session's (see actors.restore.carry).
            ctx = ActorContext(inbox=inboxes[name], emit=bus.emitter(name), deps=deps,
                               record_only=record_only, session_time=bus.session_time,
                               first_request=deps.restored.requests.get(name, 0))
            entry = _incarnations(ACTORS[name], ctx, history)
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
