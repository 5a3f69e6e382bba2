"""The notifier's pure core: which alert an event raises, what the notifier already offered and
sent, each channel's pace, and the day's summary; how a logged event changes that; and what an
event, or the summary's hour, calls for.

The notifier (actors/notify.py) is a shell around this: it folds every envelope of its inbox into
the state with `apply`, asks `decide` what the envelope calls for (and, at
`alerts.daily_summary_utc`, what the day's end calls for), and carries the answer out: it queues
each `Offer` to every channel's outbox and applies it with `apply_step` (as it does `NewDay`),
and counts each `Duplicate`. Each outbox asks `pace` when its next send may go and notes it with
`apply_step(Sending)`. Its deliveries are logged (AlertSent / AlertFailed, caused by the event
that raised the alert), and the same `apply` folds them: a notifier restarted by the supervisor
folds its session so far and sends no alert again within `dedup_s`, keeps each channel's pace
and keeps the day's counts.

    state  = fold of OrderOpened / OrderStatusChanged / AdRepriced / AdPaused / AdResumed /
             BreakerOpened / PriceWarDetected (the day's counts; when each alert was raised)
             and AlertSent / AlertFailed (what was offered and sent, and when)
    decide(state, envelope, now)      -> [Offer(alert)] | [Duplicate(key)] | []
    decide(state, DayEnded(day), now) -> [Offer(summary), NewDay(key)] | []
    pace(state, channel, now, per_minute) -> when the channel's next send may go

Nothing here does I/O or reads a clock: it needs no trio.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any, Callable, Iterable

import msgspec

from actors.config import AlertsConfig, parse_hhmm
from events import (AdPaused, AdRepriced, AlertFailed, AlertSent, BreakerOpened, Envelope,
                    OrderOpened, OrderStatusChanged)

STATUS_KIND = {2: ("order_paid", "marked paid by the buyer"),
               3: ("order_appeal", "is under appeal"),
               6: ("order_cancelled", "was cancelled"),
               7: ("order_cancelled", "was cancelled by the system")}
DAY_MS = 86_400_000
PACE_WINDOW_S = 60.0
# Raising events remembered for dating their alerts' outcomes; an outcome comes within a channel's
# queue and timeout, thousands of alerts sooner than this.
RAISED_CAP = 4096


class Alert:
    __slots__ = ("kind", "key", "text", "cause")

    def __init__(self, kind: str, key: str, text: str, cause: int | None = None) -> None:
        self.kind, self.key, self.text, self.cause = kind, key, text, cause

    def __repr__(self) -> str:
        return f"Alert({self.kind!r}, {self.key!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Alert) and (self.kind, self.key, self.text, self.cause) == (
            other.kind, other.key, other.text, other.cause)


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


def alert_for(env: Envelope) -> Alert | None:
    """The alert one logged event raises, or None."""
    fn = ALERTS.get(type(env.event).__name__)
    said = fn(env.event) if fn is not None else None
    return Alert(*said, cause=env.seq) if said else None


_COUNTED = {AdRepriced: "reprices", AdPaused: "pauses", BreakerOpened: "breaker"}


class DaySummary:
    """What the daily summary counts, folded from the events the notifier sees."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.volume: dict[str, Decimal] = {}
        self.open: dict[str, OrderOpened] = {}

    def apply(self, event) -> None:
        # By exact type first: the notifier sees every event in the bench, most counted by none.
        kind = type(event)
        if kind is OrderOpened:
            self.counts["orders"] += 1
            self.open[event.order_no] = event
        elif kind is OrderStatusChanged:
            no, status = event.order_no, event.new_status
            if status == 4 and no in self.open:
                self.counts["completed"] += 1
                o = self.open.pop(no)
                key = f"{o.side} {o.asset}"
                self.volume[key] = self.volume.get(key, Decimal(0)) + o.amount
            elif status in (6, 7):
                self.counts["cancelled"] += 1
        elif (counted := _COUNTED.get(kind)) is not None:
            self.counts[counted] += 1

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


class State:
    """What the notifier decides from: its settings and what the log says so far.

    Attributes:
        kinds, dedup_s: `alerts.kinds` and `alerts.dedup_s`.
        offered: alert key -> the session time (`t`) of the event whose alert was last offered;
            the same key within `dedup_s` of it is a duplicate.
        raised: seq -> `t` of the last RAISED_CAP (up to twice that) events that raise an
            alert, which date the outcomes a restarted notifier folds (an outcome's cause is
            the raising event).
        sent_at: channel -> session times of its sends within the last minute (its pace).
        day: the counts since the last daily summary; summaries: the summaries' keys offered.
        seq: the last envelope folded: a restarted notifier folds its session so far, then
            meets the unread rest of it again in its inbox and must not count it twice.
    """

    def __init__(self, cfg: AlertsConfig | None = None) -> None:
        cfg = cfg or AlertsConfig()
        self.kinds = frozenset(cfg.kinds)
        self.dedup_s = cfg.dedup_s
        self.offered: dict[str, float] = {}
        self.raised: dict[int, float] = {}
        self.sent_at: dict[str, list[float]] = {}
        self.day = DaySummary()
        self.summaries: set[str] = set()
        self.seq = 0


# --- what the shell observes, and what the core asks for -----------------------------------------

class DayEnded(msgspec.Struct, frozen=True):
    """The daily summary's hour came; `day` is the UTC date (YYYY-MM-DD) it came on."""

    day: str


class Offer(msgspec.Struct, frozen=True):
    """Queue `alert` to every channel; it was raised at session time `at`."""

    alert: Any  # Alert
    at: float


class Duplicate(msgspec.Struct, frozen=True):
    """An alert with key `key` went out less than `dedup_s` ago: say nothing."""

    key: str


class NewDay(msgspec.Struct, frozen=True):
    """The summary `key` is offered: the day's counts start again."""

    key: str


class Sending(msgspec.Struct, frozen=True):
    """`channel` sends one alert now (session time `at`): it counts towards its pace."""

    channel: str
    at: float


Step = Offer | Duplicate | NewDay | Sending


# --- the fold -----------------------------------------------------------------------------------

def apply(state: State, env: Envelope) -> State:
    """Apply one logged event to `state` (in place) and return it."""
    if env.seq > state.seq:
        state.seq = env.seq
    event = env.event
    kind = type(event)
    if kind is AlertSent or kind is AlertFailed:
        _outcome(state, env, event)
        return state
    state.day.apply(event)
    if kind.__name__ in ALERTS:
        raised = state.raised
        raised[env.seq] = env.t
        if len(raised) > 2 * RAISED_CAP:  # keep the newest, in one pass now and then
            state.raised = dict(list(raised.items())[-RAISED_CAP:])
    return state


def _outcome(state: State, env: Envelope, event: AlertSent | AlertFailed) -> None:
    # The shell's own outcomes are not in its inbox: a restarted notifier's fold meets them.
    if event.kind == "daily_summary":
        if event.key not in state.summaries:  # its first outcome: the counts started again
            apply_step(state, NewDay(event.key))
        at = env.t
    else:
        at = state.raised.get(env.cause, env.t) if env.cause is not None else env.t
    if at > state.offered.get(event.key, float("-inf")):
        state.offered[event.key] = at
    if not (isinstance(event, AlertFailed) and event.error.startswith("dropped")):
        # Logged once the call ended, so a little after it left: a restarted pace is no faster.
        times = state.sent_at.setdefault(event.channel, [])
        times.append(env.t)
        times[:] = [t for t in times if t > env.t - PACE_WINDOW_S]


def fold(envelopes: Iterable[Envelope], state: State | None = None) -> State:
    """Apply `envelopes` in order to `state` (a new one by default) and return it."""
    state = state if state is not None else State()
    for env in envelopes:
        apply(state, env)
    return state


def apply_step(state: State, step: Step) -> None:
    """Apply a step as the shell takes it (the log carries its outcome only later, if ever)."""
    match step:
        case Offer(alert=alert, at=at):
            state.offered[alert.key] = at
        case NewDay(key=key):
            state.summaries.add(key)
            state.day = DaySummary()
        case Sending(channel=channel, at=at):
            state.sent_at.setdefault(channel, []).append(at)


# --- the decision -------------------------------------------------------------------------------

def decide(state: State, event: Envelope | DayEnded, now: float = 0.0) -> list[Step]:
    """What `event` (a logged envelope, or the summary's hour) calls for, in order.

    An envelope raises its alert (`alert_for`) when its kind is one of `kinds` and its key was
    not offered within `dedup_s` before the envelope's time; the summary's hour offers the day's
    counts once per day (at `now`, session time) and starts them again.

    Raises:
        Exception: whatever an ALERTS row raises for an event it cannot put in words.
    """
    if isinstance(event, DayEnded):
        key = f"daily_summary:{event.day}"
        if "daily_summary" not in state.kinds or key in state.summaries:
            return []
        return [Offer(Alert("daily_summary", key, state.day.text(event.day)), now), NewDay(key)]
    alert = alert_for(event)
    if alert is None or alert.kind not in state.kinds:
        return []
    last = state.offered.get(alert.key)
    if last is not None and event.t - last < state.dedup_s:
        return [Duplicate(alert.key)]
    return [Offer(alert, event.t)]


def pace(state: State, channel: str, now: float, per_minute: int) -> float:
    """When `channel`'s next send may go (`now`, or later): at most `per_minute` sends in any
    60 s. Forgets the channel's sends older than that."""
    times = state.sent_at.setdefault(channel, [])
    times[:] = [t for t in times if t > now - PACE_WINDOW_S]
    return times[0] + PACE_WINDOW_S if len(times) >= per_minute else now
