"""What a strategy answers (`Quote`), the reprice budget (`RateCap`) and the registry's error."""

from __future__ import annotations

import math

from collections import deque
from decimal import Decimal

import msgspec


class Quote(msgspec.Struct, frozen=True, kw_only=True):
    """A pricing verdict for one ad on one snapshot.

    Attributes:
        price: the new price, or None to hold (keep the current price).
        rule: which rule decided ("undercut", "lead_by_one", "rank", "deadband", ...).
        reason: one sentence a merchant can read.
        competitor: advNo of the ad priced against, if any.
        competitor_price: that ad's price.
        clamp: "floor" or "ceiling" when a bound changed the price.
        ratio: a floating ad's new priceFloatingRatio, which gives `price`.
    """

    price: Decimal | None
    rule: str
    reason: str
    competitor: str | None = None
    competitor_price: Decimal | None = None
    clamp: str | None = None
    ratio: Decimal | None = None


class UnknownStrategy(KeyError):
    """No strategy is registered under that name; the message lists the known ones."""

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(name)
        self.name = name
        self.known = known

    def __str__(self) -> str:
        return f"unknown strategy {self.name!r} (known: {', '.join(self.known)})"


class RateCap:
    """At most `max_per_min` reprices in any sliding 60-second window, and at least `min_gap_s`
    between two of them.

    The gap keeps one ad's updates from coming in a burst, which Binance refuses with 83628 "Too
    many attempts, please try again after 30s" (reference §7: BPA hit it with no gap between
    updates; its later code waits 0.6 s), at the price of that ad waiting 30 s.
    Time is passed in (seconds, any origin: trio's clock live, the envelope's `t` in backtests),
    so the cap is as deterministic as its caller. A cap of 0 allows nothing.
    """

    WINDOW_S = 60.0

    def __init__(self, max_per_min: int, min_gap_s: float = 0.0) -> None:
        if max_per_min < 0:
            raise ValueError(f"max_per_min must be >= 0, got {max_per_min}")
        if min_gap_s < 0:
            raise ValueError(f"min_gap_s must be >= 0, got {min_gap_s}")
        self.max_per_min = max_per_min
        self.min_gap_s = min_gap_s
        self._times: deque[float] = deque()

    def _expire(self, now_s: float) -> None:
        horizon = max(self.WINDOW_S, self.min_gap_s)
        times = self._times
        while times and now_s - times[0] >= horizon:
            times.popleft()

    def allows(self, now_s: float) -> bool:
        """Return whether one more reprice fits now, in the 60 s window and after the gap."""
        return self.next_allowed(now_s) <= now_s

    def window_allows(self, now_s: float) -> bool:
        """Return whether one more reprice fits in the 60 s window ending at `now_s`."""
        self._expire(now_s)
        recent = sum(1 for t in self._times if now_s - t < self.WINDOW_S)
        return recent < self.max_per_min

    def gap_wait(self, now_s: float) -> float:
        """Seconds until the gap since the last reprice has passed (0 when it has)."""
        self._expire(now_s)
        if not self._times:
            return 0.0
        return max(0.0, self._times[-1] + self.min_gap_s - now_s)

    def too_soon(self, now_s: float) -> bool:
        """True when the last reprice is less than `min_gap_s` old (the 60 s window aside)."""
        return self.gap_wait(now_s) > 0

    def forget_last(self) -> None:
        """Take back the last reprice recorded (it was never sent)."""
        if self._times:
            self._times.pop()

    def record(self, now_s: float) -> None:
        """Count a reprice actually sent at `now_s`."""
        self._expire(now_s)
        self._times.append(now_s)

    def next_allowed(self, now_s: float) -> float:
        """Return the earliest time at or after `now_s` when `allows` will be true."""
        self._expire(now_s)
        if self.max_per_min == 0:
            return math.inf  # a time: never
        at = now_s
        if self._times:
            at = max(at, self._times[-1] + self.min_gap_s)
        if len(self._times) >= self.max_per_min:
            at = max(at, self._times[-self.max_per_min] + self.WINDOW_S)
        return at
