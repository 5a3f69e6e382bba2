"""The notifier: tells the merchant, away from the screen, what happened (Telegram, a JSON webhook).

    bus ──events──▶ inbox ─ apply, decide (de-dup) ─▶ one bounded outbox per channel ─▶ HTTP
                                                          └─ full: the alert is dropped, counted

The inbox loop never awaits anything but its inbox, so the bus never waits on a slow or failing
channel: delivery runs in its own task per channel, paced to `max_per_minute`, each call bounded
by `timeout_s`. Every delivery is an event (AlertSent / AlertFailed, caused by the event that
raised the alert); replay hands the notifier channels that answer from those events and send
nothing (`replay.alerts`). The fatal stop is sent by `alert_stop` after the actors have stopped.
The channels themselves (Telegram, the webhook) are in `actors.notify_channels`.

What an event says, whether it is a duplicate, each channel's pace and the day's summary are the
pure core's (`actors/notify_core.py`); this shell keeps the outboxes and the summary's timer and
folds its inbox into the core's state. That state is a fold of the log: when the supervisor
restarts the notifier, it folds this session so far, its own deliveries included, so a restarted
notifier sends no alert again within `dedup_s`, keeps each channel's pace and keeps the day's
counts. An alert queued but not yet delivered when it died is lost rather than sent twice.

An event type is alerted on by name (`ALERTS`), so a type added later (the price-war guard's
`PriceWarDetected`) is picked up once it exists in `events`; until then its row is inert.
"""

from __future__ import annotations

import time
from collections import Counter
from functools import partial
from typing import Callable, Protocol

import trio

from actors import notify_core
from actors.config import AlertsConfig
from actors.notify_core import (ALERTS, Alert, DayEnded, DaySummary, Duplicate, NewDay, Offer,
                                Sending, alert_for, ms_until)
from actors.spec import ActorContext, ActorSpec
from events import EVENT_TYPES, AdRepriced, AlertFailed, AlertSent, RunStopped

__all__ = ["ALERTS", "Alert", "Channel", "DaySummary", "Notifier", "Outbox", "alert_for",
           "alert_stop", "deliver", "ms_until", "run", "utc_day"]

Outcome = AlertSent | AlertFailed


class Channel(Protocol):
    name: str
    paced: bool  # False for replay's recorded channels: nothing to pace

    async def deliver(self, alert: Alert) -> Outcome | None: ...


# AdRepriced only feeds the daily summary.
SUBSCRIBES: tuple[type, ...] = tuple(
    EVENT_TYPES[name] for name in ALERTS if name in EVENT_TYPES and name != "RunStopped"
) + (AdRepriced,)


# --- delivering ---------------------------------------------------------------------------------


class Outbox:
    """One channel's queue and delivery task: paced, bounded, never blocking the notifier."""

    def __init__(self, channel: Channel, cfg: AlertsConfig, emit,
                 state: notify_core.State | None = None,
                 clock: Callable[[], float] = trio.current_time) -> None:
        self.channel = channel
        self.cfg = cfg
        self.emit = emit
        self.state = state if state is not None else notify_core.State(cfg)  # its pace
        self.clock = clock  # session time, as the logged outcomes that pace a restart carry
        self.send, self.recv = trio.open_memory_channel[Alert](cfg.queue_size)
        self.stats: Counter[str] = Counter()
        self.nursery: trio.Nursery | None = None  # where a drop's AlertFailed is emitted from

    def offer(self, alert: Alert) -> None:
        try:
            self.send.send_nowait(alert)
        except trio.WouldBlock:
            self.stats["dropped"] += 1
            dropped = _failed(self.channel.name, alert, "dropped: the channel's queue is full")
            if self.nursery is not None:
                self.nursery.start_soon(self.emit, dropped, alert.cause)

    async def run(self) -> None:
        async for alert in self.recv:
            if self.channel.paced:
                await trio.sleep_until(getattr(self.channel, "resume_at", 0.0))
                await self._pace()
            outcome = await deliver(self.channel, alert, self.cfg.timeout_s)
            if outcome is not None:
                self.stats["sent" if isinstance(outcome, AlertSent) else "failed"] += 1
                await self.emit(outcome, cause=alert.cause)

    async def _pace(self) -> None:
        # At most max_per_minute sends in any 60 s: wait for the oldest to leave the window.
        now = self.clock()
        at = notify_core.pace(self.state, self.channel.name, now, self.cfg.max_per_minute)
        if at > now:
            await trio.sleep_until(at + (trio.current_time() - now))
        notify_core.apply_step(self.state, Sending(self.channel.name, self.clock()))


async def deliver(channel: Channel, alert: Alert, timeout_s: float) -> Outcome | None:
    """Deliver `alert` through `channel` within `timeout_s`; a failure is an AlertFailed."""
    with trio.move_on_after(timeout_s):
        try:
            return await channel.deliver(alert)
        except Exception as exc:  # noqa: BLE001 - a channel's bug must not stop the others
            return _failed(channel.name, alert, type(exc).__name__)
    return _failed(channel.name, alert, f"timed out after {timeout_s:g} s")


def _failed(channel: str, alert: Alert, error: str, status: int | None = None) -> AlertFailed:
    return AlertFailed(channel=channel, kind=alert.kind, key=alert.key, error=error, status=status)


class Notifier:
    """The actor: folds its inbox into the core's state, carries out what the core decides,
    and keeps one outbox per channel and the daily summary's timer."""

    def __init__(self, cfg: AlertsConfig, channels, emit, now_ms: Callable[[], int], *,
                 state: notify_core.State | None = None,
                 clock: Callable[[], float] | None = None) -> None:
        self.cfg = cfg
        self.state = state if state is not None else notify_core.State(cfg)
        self.clock = clock or trio.current_time
        self.outboxes = [Outbox(ch, cfg, emit, self.state, self.clock)
                         for ch in channels] if cfg.enabled else []
        self.now_ms = now_ms
        self.duplicates = 0
        self.errors = 0

    def observe(self, env) -> None:
        """Fold one envelope of the inbox and do what the core decides of it."""
        try:
            if env.seq > self.state.seq:  # else a restarted notifier's fold counted it
                notify_core.apply(self.state, env)
            steps = notify_core.decide(self.state, env, env.t)
        except Exception:  # noqa: BLE001 - a bad event costs its own alert only
            self.errors += 1
            return
        self._carry_out(steps)

    def _carry_out(self, steps) -> None:
        for step in steps:
            match step:
                case Offer(alert=alert):
                    notify_core.apply_step(self.state, step)
                    for box in self.outboxes:
                        box.offer(alert)
                case NewDay():
                    notify_core.apply_step(self.state, step)
                case Duplicate():
                    self.duplicates += 1

    async def run(self, inbox, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            for box in self.outboxes:
                box.nursery = nursery
                nursery.start_soon(box.run)
            if self.outboxes and self.cfg.daily_summary_utc and "daily_summary" in self.cfg.kinds:
                nursery.start_soon(self._daily)
            task_status.started()
            async for env in inbox:
                self.observe(env)

    async def _daily(self) -> None:
        while True:
            await trio.sleep(ms_until(self.now_ms(), self.cfg.daily_summary_utc) / 1000)
            ended = DayEnded(utc_day(self.now_ms()))
            self._carry_out(notify_core.decide(self.state, ended, self.clock()))
            await trio.sleep(1.0)  # past the minute's first instant


async def run(inbox, emit, *, config: AlertsConfig, channels=(), now_ms: Callable[[], int],
              state: notify_core.State | None = None,
              session_time: Callable[[], float] | None = None,
              task_status=trio.TASK_STATUS_IGNORED) -> None:
    """Alert on the events in `inbox` through `channels`. Never returns unless cancelled.

    A channel that fails or hangs costs only its own outbox: its alerts fail (AlertFailed) or,
    once its queue is full, are dropped and counted; the inbox is always read at once.
    `state` is the core's fold of this session so far (a restart); `session_time` the bus's
    clock, in which the log dates what the fold reads.
    """
    await Notifier(config, channels, emit, now_ms, state=state,
                   clock=session_time).run(inbox, task_status=task_status)


async def alert_stop(channels, cfg: AlertsConfig, stopped: RunStopped, emit) -> None:
    """Send the run's last alert (why it stopped) through every channel, within stop_timeout_s."""
    if not (cfg.enabled and "run_stopped" in cfg.kinds):
        return
    kind, key, text = ALERTS["RunStopped"](stopped)
    with trio.move_on_after(cfg.stop_timeout_s):
        for channel in channels:
            outcome = await deliver(channel, Alert(kind, key, text), cfg.timeout_s)
            if outcome is not None:
                await emit(outcome)


def utc_day(now_ms: int) -> str:
    """The UTC date of `now_ms`, YYYY-MM-DD."""
    return time.strftime("%Y-%m-%d", time.gmtime(now_ms // 1000))


def _build(ctx: ActorContext):
    """This session's so far when restarted, folded by the core: a restarted notifier sends no
    alert twice within dedup_s, keeps its channels' pace and its day's counts."""
    deps = ctx.deps
    state = notify_core.fold(ctx.history, notify_core.State(deps.config.alerts))
    return partial(run, ctx.inbox, ctx.emit, config=deps.config.alerts,
                   channels=deps.alert_channels, now_ms=deps.now_ms, state=state,
                   session_time=ctx.session_time)


SPEC = ActorSpec(name="notify", subscribes=SUBSCRIBES, build=_build)
