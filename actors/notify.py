"""The notifier: tells the merchant, away from the screen, what happened (Telegram, a JSON webhook).

    bus ──events──▶ inbox ─ alert_for() ─ de-dup ─▶ one bounded outbox per channel ─▶ HTTP
                                                          └─ full: the alert is dropped, counted

The inbox loop never awaits anything but its inbox, so the bus never waits on a slow or failing
channel: delivery runs in its own task per channel, paced to `max_per_minute`, each call bounded
by `timeout_s`. Every delivery is an event (AlertSent / AlertFailed, caused by the event that
raised the alert); replay hands the notifier channels that answer from those events and send
nothing (`replay.alerts`). The fatal stop is sent by `alert_stop` after the actors have stopped.
The channels themselves (Telegram, the webhook) are in `actors.notify_channels`.

An event type is alerted on by name (`ALERTS`), so a type added later (the price-war guard's
`PriceWarDetected`) is picked up once it exists in `events`; until then its row is inert.
"""

from __future__ import annotations

import time
from collections import Counter
from decimal import Decimal
from functools import partial
from typing import Callable, Protocol

import trio

from actors.config import AlertsConfig, parse_hhmm
from actors.spec import ActorContext, ActorSpec
from events import (EVENT_TYPES, AdPaused, AdRepriced, AdResumed, AlertFailed, AlertSent,
                    BreakerOpened, Envelope, OrderOpened, OrderStatusChanged, RunStopped)

Outcome = AlertSent | AlertFailed
STATUS_KIND = {2: ("order_paid", "marked paid by the buyer"),
               3: ("order_appeal", "is under appeal"),
               6: ("order_cancelled", "was cancelled"),
               7: ("order_cancelled", "was cancelled by the system")}
DAY_MS = 86_400_000


class Alert:
    __slots__ = ("kind", "key", "text", "cause")

    def __init__(self, kind: str, key: str, text: str, cause: int | None = None) -> None:
        self.kind, self.key, self.text, self.cause = kind, key, text, cause

    def __repr__(self) -> str:
        return f"Alert({self.kind!r}, {self.key!r})"


class Channel(Protocol):
    name: str
    paced: bool  # False for replay's recorded channels: nothing to pace

    async def deliver(self, alert: Alert) -> Outcome | None: ...


# --- what to say --------------------------------------------------------------------------------


def _order_opened(e: OrderOpened) -> tuple[str, str, str]:
    who = f" with {e.counterparty}" if e.counterparty else ""
    return ("order_opened", f"order_opened:{e.order_no}",
            f"New order {e.order_no}{who}: I {e.side.lower()} {e.amount} {e.asset} at "
            f"{e.price} {e.fiat} = {e.total_price} {e.fiat} (ad {e.adv_no})")


def _status(e: OrderStatusChanged) -> tuple[str, str, str] | None:
    if e.new_status not in STATUS_KIND:
        return None
    kind, what = STATUS_KIND[e.new_status]
    return kind, f"{kind}:{e.order_no}", f"Order {e.order_no} {what}"


def _price_war(e) -> tuple[str, str, str]:
    fields = {k: getattr(e, k) for k in e.__struct_fields__}
    subject = fields.get("adv_no", "")
    detail = ", ".join(f"{k}={v}" for k, v in fields.items())
    return "price_war", f"price_war:{subject}", f"Price war detected: {detail}"


ALERTS: dict[str, Callable[..., tuple[str, str, str] | None]] = {
    "OrderOpened": _order_opened,
    "OrderStatusChanged": _status,
    "AdPaused": lambda e: ("ad_paused", f"ad_paused:{e.adv_no}",
                           f"Ad {e.adv_no} paused: {e.reason} (code {e.code})"),
    "AdResumed": lambda e: ("ad_resumed", f"ad_resumed:{e.adv_no}", f"Ad {e.adv_no} is online again"),
    "BreakerOpened": lambda e: ("breaker_opened", f"breaker_opened:{e.host}",
                                f"Circuit breaker open on {e.host or 'the API'} after "
                                f"{e.failures} failures: no calls for {e.open_s:g} s"),
    "RunStopped": lambda e: ("run_stopped", "run_stopped", f"Bot stopped: {e.message or e.reason}"),
    # Added by the price-war guard; alerted on as soon as the type exists in `events`.
    "PriceWarDetected": _price_war,
}
# AdRepriced only feeds the daily summary.
SUBSCRIBES: tuple[type, ...] = tuple(
    EVENT_TYPES[name] for name in ALERTS if name in EVENT_TYPES and name != "RunStopped"
) + (AdRepriced,)


def alert_for(env: Envelope) -> Alert | None:
    """The alert one logged event raises, or None."""
    fn = ALERTS.get(type(env.event).__name__)
    said = fn(env.event) if fn is not None else None
    return Alert(*said, cause=env.seq) if said else None


class DaySummary:
    """What the daily summary counts, folded from the events the notifier sees."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.volume: dict[str, Decimal] = {}
        self.open: dict[str, OrderOpened] = {}

    def apply(self, event) -> None:
        match event:
            case OrderOpened(order_no=no):
                self.counts["orders"] += 1
                self.open[no] = event
            case OrderStatusChanged(order_no=no, new_status=4) if no in self.open:
                self.counts["completed"] += 1
                o = self.open.pop(no)
                key = f"{o.side} {o.asset}"
                self.volume[key] = self.volume.get(key, Decimal(0)) + o.amount
            case OrderStatusChanged(new_status=6 | 7):
                self.counts["cancelled"] += 1
            case AdRepriced():
                self.counts["reprices"] += 1
            case AdPaused():
                self.counts["pauses"] += 1
            case BreakerOpened():
                self.counts["breaker"] += 1

    def text(self, day: str) -> str:
        c = self.counts
        vol = "; ".join(f"{k} {v}" for k, v in sorted(self.volume.items())) or "none"
        return (f"Daily summary {day} (UTC): {c['orders']} new orders, {c['completed']} completed "
                f"({vol}), {c['cancelled']} cancelled, {c['reprices']} reprices, "
                f"{c['pauses']} ad pauses, breaker opened {c['breaker']} times")


def ms_until(now_ms: int, hhmm: str) -> int:
    """Milliseconds from `now_ms` to the next HH:MM UTC (a full day when it is now)."""
    hour, minute = parse_hhmm(hhmm) or (0, 0)
    at = now_ms - now_ms % DAY_MS + (hour * 60 + minute) * 60_000
    return at - now_ms if at > now_ms else at + DAY_MS - now_ms


# --- delivering ---------------------------------------------------------------------------------


class Outbox:
    """One channel's queue and delivery task: paced, bounded, never blocking the notifier."""

    def __init__(self, channel: Channel, cfg: AlertsConfig, emit) -> None:
        self.channel = channel
        self.cfg = cfg
        self.emit = emit
        self.send, self.recv = trio.open_memory_channel[Alert](cfg.queue_size)
        self.stats: Counter[str] = Counter()
        self.nursery: trio.Nursery | None = None  # where a drop's AlertFailed is emitted from
        self._sent_at: list[float] = []

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
        now = trio.current_time()
        self._sent_at = [t for t in self._sent_at if t > now - 60.0]
        if len(self._sent_at) >= self.cfg.max_per_minute:
            await trio.sleep_until(self._sent_at[0] + 60.0)
        self._sent_at.append(trio.current_time())


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
    """The actor's state: the de-duplication window, the day's counts and one outbox per channel."""

    def __init__(self, cfg: AlertsConfig, channels, emit, now_ms: Callable[[], int]) -> None:
        self.cfg = cfg
        self.outboxes = [Outbox(ch, cfg, emit) for ch in channels] if cfg.enabled else []
        self.now_ms = now_ms
        self.last: dict[str, float] = {}
        self.duplicates = 0
        self.errors = 0
        self.day = DaySummary()

    def observe(self, env: Envelope) -> None:
        self.day.apply(env.event)
        alert = alert_for(env)
        if alert is not None and alert.kind in self.cfg.kinds:
            self.offer(alert, env.t)

    def offer(self, alert: Alert, t: float) -> None:
        last = self.last.get(alert.key)
        if last is not None and t - last < self.cfg.dedup_s:
            self.duplicates += 1
            return
        self.last[alert.key] = t
        for box in self.outboxes:
            box.offer(alert)

    async def run(self, inbox, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            for box in self.outboxes:
                box.nursery = nursery
                nursery.start_soon(box.run)
            if self.outboxes and self.cfg.daily_summary_utc and "daily_summary" in self.cfg.kinds:
                nursery.start_soon(self._daily)
            task_status.started()
            async for env in inbox:
                try:
                    self.observe(env)
                except Exception:  # noqa: BLE001 - a restart would leave the bus waiting
                    self.errors += 1  # on this inbox; a bad event costs its own alert only

    async def _daily(self) -> None:
        while True:
            await trio.sleep(ms_until(self.now_ms(), self.cfg.daily_summary_utc) / 1000)
            day = utc_day(self.now_ms())
            self.offer(Alert("daily_summary", f"daily_summary:{day}", self.day.text(day)),
                       trio.current_time())
            self.day = DaySummary()
            await trio.sleep(1.0)  # past the minute's first instant


async def run(inbox, emit, *, config: AlertsConfig, channels=(), now_ms: Callable[[], int],
              task_status=trio.TASK_STATUS_IGNORED) -> None:
    """Alert on the events in `inbox` through `channels`. Never returns unless cancelled.

    A channel that fails or hangs costs only its own outbox: its alerts fail (AlertFailed) or,
    once its queue is full, are dropped and counted; the inbox is always read at once.
    """
    await Notifier(config, channels, emit, now_ms).run(inbox, task_status=task_status)


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
    deps = ctx.deps
    return partial(run, ctx.inbox, ctx.emit, config=deps.config.alerts,
                   channels=deps.alert_channels, now_ms=deps.now_ms)


SPEC = ActorSpec(name="notify", subscribes=SUBSCRIBES, build=_build)
