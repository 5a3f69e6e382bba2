"""Pure pieces of the limiter: the sliding request window and the circuit breaker.

Both take the time as an argument (trio's clock in the limiter), so tests drive them directly.
"""

from __future__ import annotations

import math
from enum import Enum


class RateWindow:
    """At most `limit` calls in any window of `window_s` seconds, as Binance counts them.

    Binance counts calls when they arrive, which the client cannot see. So a call holds its slot
    from the moment it is sent until `window_s` after its answer came back: it reached Binance
    no later than its answer, and a later call reaches Binance no earlier than it was sent, so
    no `limit + 1` calls can ever arrive within one window, whatever the network did to them. A
    call still in flight holds its slot until it is answered. (A token bucket of capacity N
    refilled at N/s would let almost 2N calls into one second: a full bucket, then its refill.)
    `reserve` slots are kept for urgent calls (priority <= urgent_priority).
    """

    def __init__(self, limit: int, window_s: float = 1.0, *, reserve: int = 1,
                 urgent_priority: int = 2) -> None:
        if limit < 1:
            raise ValueError("limit must be >= 1")
        self.limit = limit
        self.window_s = window_s
        self.reserve = min(reserve, limit - 1)
        self.urgent_priority = urgent_priority
        self._slots: list[list[float | None]] = []  # [answered_at]; None while in flight

    def _cap(self, priority: int, slow: bool) -> int:
        cap = self.limit if priority <= self.urgent_priority else self.limit - self.reserve
        return max(1, cap // 2) if slow else cap

    def _purge(self, now: float) -> None:
        self._slots = [s for s in self._slots if s[0] is None or s[0] + self.window_s > now]

    def next_slot(self, now: float, priority: int = 5, slow: bool = False) -> float:
        """The earliest time >= now at which a call of `priority` may be sent (math.inf: not
        before one of the calls in flight is answered)."""
        self._purge(now)
        cap = self._cap(priority, slow)
        if len(self._slots) < cap:
            return now
        ends = sorted(math.inf if s[0] is None else s[0] for s in self._slots)
        return ends[len(self._slots) - cap] + self.window_s

    def record(self, now: float) -> list:
        """Note one call sent at `now`; pass the returned slot to `answered`."""
        slot: list[float | None] = [None]
        self._slots.append(slot)
        return slot

    def answered(self, slot: list, now: float) -> None:
        """Note that the call holding `slot` got its answer (or failed) at `now`."""
        slot[0] = now

    def in_window(self, now: float) -> int:
        self._purge(now)
        return len(self._slots)


class BreakerState(str, Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"  # one trial call is allowed


class Breaker:
    """Open after `failures` consecutive failures; stay silent `open_s`; then let one call try."""

    def __init__(self, failures: int = 15, open_s: float = 45.0) -> None:
        self.threshold = failures
        self.open_s = open_s
        self.state = BreakerState.CLOSED
        self.consecutive = 0
        self.opened_at: float | None = None
        self._trial_out = False

    def allows(self, now: float) -> bool:
        """True when a call may be made now (and, half open, claims the single trial)."""
        if self.state is BreakerState.OPEN and now >= (self.opened_at or 0) + self.open_s:
            self.state = BreakerState.HALF_OPEN
            self._trial_out = False
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.HALF_OPEN and not self._trial_out:
            self._trial_out = True
            return True
        return False

    def would_allow(self, now: float) -> bool:
        """Whether `allows(now)` would be True, without claiming the half-open trial."""
        if self.state is BreakerState.OPEN:
            return now >= (self.opened_at or 0) + self.open_s
        return self.state is BreakerState.CLOSED or not self._trial_out

    def reopen_at(self) -> float | None:
        if self.state is BreakerState.OPEN and self.opened_at is not None:
            return self.opened_at + self.open_s
        return None

    def release(self) -> None:
        """Free the half-open trial when its answer was neither a success nor a failure."""
        self._trial_out = False

    def success(self) -> bool:
        """Record a success; True when it closed an open or half-open breaker."""
        was_open = self.state is not BreakerState.CLOSED
        self.state = BreakerState.CLOSED
        self.consecutive = 0
        self._trial_out = False
        return was_open

    def failure(self, now: float) -> bool:
        """Record a failure; True when it (re)opened the breaker."""
        self.consecutive += 1
        if self.state is BreakerState.HALF_OPEN or (
            self.state is BreakerState.CLOSED and self.consecutive >= self.threshold
        ):
            self.state = BreakerState.OPEN
            self.opened_at = now
            self._trial_out = False
            return True
        return False
