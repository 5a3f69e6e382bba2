"""Rebuild actor state from the log, so a restarted run picks up where the last one stopped.

Pure folds over earlier sessions' events: the orders seen and their last status, the orders
already greeted (a ChatSendRequest is durable before its frame leaves, so counting requests
rather than sends means a restart never greets twice), the chat message ids already seen, and
when the last run was last heard of, so a restart right after a crash keeps Binance's limit
across the two processes.
"""

from __future__ import annotations

from typing import Iterable

import msgspec

from events import (ChatMessageReceived, ChatSendRequest, DryRunSkipped, Envelope, OrderOpened,
                    OrderStatusChanged)

RESTORE_TYPES = (OrderOpened, OrderStatusChanged, ChatSendRequest, ChatMessageReceived,
                 DryRunSkipped)
LIVE_MODES = ("live", "demo")
CALLING_MODES = ("live", "demo", "record")  # runs whose limiter called Binance


class Restored(msgspec.Struct, kw_only=True):
    orders: dict[str, int] = {}
    greeted: set[str] = set()
    seen_ids: set[str] = set()
    last_event_ms: int = 0  # wall clock of the last event an earlier run committed

    @property
    def open_orders(self) -> set[str]:
        return {o for o, status in self.orders.items() if status in (1, 2, 3)}


def fold(envelopes: Iterable[Envelope], state: Restored | None = None) -> Restored:
    """Apply events in order to `state` (a new one by default) and return it."""
    state = state or Restored()
    for env in envelopes:
        event = env.event
        match event:
            case OrderOpened(order_no=order_no, status=status):
                state.orders[order_no] = status
            case OrderStatusChanged(order_no=order_no, new_status=status):
                state.orders[order_no] = status
            case ChatSendRequest(order_no=order_no, reason="greeting"):
                state.greeted.add(order_no)
            case ChatMessageReceived(message_id=message_id) if message_id:
                state.seen_ids.add(message_id)
    return state


def restore(log, *, before_session: int | None = None) -> Restored:
    """Fold every live or demo session of `log` older than `before_session`."""
    state = Restored()
    for info in log.sessions():
        if before_session is not None and info.id >= before_session:
            continue
        if info.mode in LIVE_MODES:
            fold(log.events(info.id, types=RESTORE_TYPES), state)
        if info.mode in CALLING_MODES and info.events:
            last = next(log.events(info.id, after_seq=info.events - 1), None)
            if last is not None:
                state.last_event_ms = max(state.last_event_ms, last.ts_ms)
    return state
