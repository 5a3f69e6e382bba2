"""Rebuild actor state from the log, so a restarted run picks up where the last one stopped.

A run that stops logs a SessionSummary last (`Summarizer`, a bus tap folding as events pass):
`restore` starts from the newest session that has one and folds only the sessions after it, so
start-up reads one event plus whatever crashed runs left, not months of history.

Pure folds over earlier sessions' events: the orders seen and their last status, the orders
already greeted (a ChatSendRequest is durable before its frame leaves, so counting requests
rather than sends means a restart never greets twice), the chat message ids already seen, and
when the last run was last heard of, so a restart right after a crash keeps Binance's limit
across the two processes.

A run that ends cleanly also leaves what the next session carries on with (`carry`): the
request number each actor reached, each host's pause, each ad's reprices of the last minute.
A run rotated to a new session (app/rotate.py) thereby goes on as if nothing had happened, and
the new session's replay, which restores the same summary, starts the same way.
"""

from __future__ import annotations

from typing import Iterable

import msgspec

from actors import chat_core, orders_core
from actors.calls import request_number
from events import (ApiRequest, BreakerOpened, ChatMessageReceived, ChatSendRequest,
                    DryRunSkipped, Envelope, LimiterBackoff, OrderOpened, OrderStatusChanged,
                    RepriceDecided, SessionSummary)

RESTORE_TYPES = (OrderOpened, OrderStatusChanged, ChatSendRequest, ChatMessageReceived,
                 DryRunSkipped)
LIVE_MODES = ("live", "demo")
# Runs that end with a summary restore can start from: a record run's carries the orders it
# was given on, and its own request numbers and pauses.
SUMMARY_MODES = ("live", "demo", "record")
MAX_SEEN_IDS = 50_000  # chat ids carried by a summary: duplicates arrive within minutes
CALLING_MODES = ("live", "demo", "record")  # runs whose limiter called Binance

ACTIVE = orders_core.ACTIVE
CARRY_TYPES = (ApiRequest, LimiterBackoff, BreakerOpened, RepriceDecided)


class Restored(msgspec.Struct, kw_only=True):
    orders: dict[str, int] = {}
    greeted: set[str] = set()
    seen_ids: set[str] = set()
    last_event_ms: int = 0  # wall clock of the last event an earlier run committed
    requests: dict[str, int] = {}  # actor -> the request number it reached
    paused_until_ms: dict[str, int] = {}  # host -> wall ms its pause or open breaker ends
    reprices_ms: dict[str, list[int]] = {}  # advNo -> wall ms of its reprices, last minute

    @property
    def open_orders(self) -> set[str]:
        return {o for o, status in self.orders.items() if status in ACTIVE}

    def copy(self) -> Restored:
        """A copy whose containers a fold may change without touching this one."""
        return Restored(orders=dict(self.orders), greeted=set(self.greeted),
                        seen_ids=set(self.seen_ids), last_event_ms=self.last_event_ms,
                        requests=dict(self.requests), paused_until_ms=dict(self.paused_until_ms),
                        reprices_ms={k: list(v) for k, v in self.reprices_ms.items()})


def fold(envelopes: Iterable[Envelope], state: Restored | None = None) -> Restored:
    """Apply events in order to `state` (a new one by default) and return it: the orders and
    chat actors' own folds (`orders_core.apply`, `chat_core.apply`) onto its containers."""
    state = state or Restored()
    orders = orders_core.State(state.orders)
    chat = chat_core.State(greeted=state.greeted, seen=state.seen_ids, open_orders=set())
    for env in envelopes:
        orders_core.apply(orders, env)
        chat_core.apply(chat, env)
    return state


REPRICE_WINDOW_MS = 60_000  # a rate cap counts the reprices of the last minute


def carry(env: Envelope, state: Restored) -> None:
    """Fold what a next session carries on with (request numbers, pauses, recent reprices)."""
    event = env.event
    match event:
        case ApiRequest(request_id=request_id):
            actor, n = request_number(request_id)
            if n is not None and n > state.requests.get(actor, 0):
                state.requests[actor] = n
        case LimiterBackoff(host=host, delay_s=delay_s) if host and event.reason != "weight":
            _pause(state, host, env.ts_ms + round(delay_s * 1000))
        case BreakerOpened(host=host, open_s=open_s) if host:
            _pause(state, host, env.ts_ms + round(open_s * 1000))
        case RepriceDecided(action="reprice", adv_no=adv_no):
            wait = (event.send_at - event.at) if event.send_at is not None else 0.0
            times = state.reprices_ms.setdefault(adv_no, [])
            times.append(env.ts_ms + round(wait * 1000))
            while times[0] <= times[-1] - REPRICE_WINDOW_MS:
                del times[0]


def _pause(state: Restored, host: str, until_ms: int) -> None:
    state.paused_until_ms[host] = max(state.paused_until_ms.get(host, 0), until_ms)


def summary_of(state: Restored) -> SessionSummary:
    """What a later run needs of `state`: open orders, their greetings, recent chat ids, and
    what a next session carries on with (pauses and reprices only while they still count)."""
    open_orders = {o: st for o, st in state.orders.items() if st in ACTIVE}
    seen = sorted(state.seen_ids)[-MAX_SEEN_IDS:]
    last = state.last_event_ms
    return SessionSummary(orders=open_orders,
                          greeted=tuple(sorted(o for o in state.greeted if o in open_orders)),
                          seen_ids=tuple(seen), last_event_ms=last,
                          requests=dict(state.requests),
                          paused_until_ms={h: t for h, t in state.paused_until_ms.items()
                                           if t > last},
                          reprices_ms={a: tuple(ts) for a, ts in state.reprices_ms.items()
                                       if ts and ts[-1] > last - REPRICE_WINDOW_MS})


def from_summary(summary: SessionSummary) -> Restored:
    return Restored(orders=dict(summary.orders), greeted=set(summary.greeted),
                    seen_ids=set(summary.seen_ids), last_event_ms=summary.last_event_ms,
                    requests=dict(summary.requests),
                    paused_until_ms=dict(summary.paused_until_ms),
                    reprices_ms={a: list(ts) for a, ts in summary.reprices_ms.items()})


class Summarizer:
    """A bus tap: folds this session's events onto the earlier sessions' state as they pass,
    so that `summary()` costs nothing at the end of a day-long run."""

    def __init__(self, restored: Restored) -> None:
        self.state = restored.copy()

    def tap(self, env: Envelope) -> None:
        if isinstance(env.event, RESTORE_TYPES):
            fold((env,), self.state)
        elif isinstance(env.event, CARRY_TYPES):
            carry(env, self.state)
        self.state.last_event_ms = max(self.state.last_event_ms, env.ts_ms)

    def summary(self) -> SessionSummary:
        return summary_of(self.state)


def _summary(log, info) -> SessionSummary | None:
    if not info.events:
        return None
    for env in log.events(info.id, after_seq=max(0, info.events - 2)):
        if isinstance(env.event, SessionSummary):
            return env.event
    return None


def restore(log, *, before_session: int | None = None, summaries: bool = True) -> Restored:
    """The state earlier runs leave to a new one: from the newest live, demo or record session
    older than `before_session` that ended with a SessionSummary, then every session after it
    (`summaries=False` folds every session, as before summaries: the benchmark's baseline)."""
    sessions = [info for info in log.sessions()
                if before_session is None or info.id < before_session]
    start, state = 0, Restored()
    for i in reversed(range(len(sessions)) if summaries else ()):
        if sessions[i].mode in SUMMARY_MODES:
            summary = _summary(log, sessions[i])
            if summary is not None:
                start, state = i + 1, from_summary(summary)
                break
    for info in sessions[start:]:
        if info.mode in LIVE_MODES:
            fold(log.events(info.id, types=RESTORE_TYPES), state)
        if info.mode in CALLING_MODES and info.events:
            last = next(log.events(info.id, after_seq=info.events - 1), None)
            if last is not None:
                state.last_event_ms = max(state.last_event_ms, last.ts_ms)
    return state
