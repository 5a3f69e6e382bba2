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
    """

    price: Decimal | None
    rule: str
    reason: str
    competitor: str | None = None
    competitor_price: Decimal | None = None
    clamp: str | None = None


class UnknownStrategy(KeyError):
    """No strategy is registered under that name; the message lists the known ones."""

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(name)
        self.name = name
        self.known = known

    def __str__(self) -> str:
        return f"unknown strategy {self.name!r} (known: {', '.join(self.known)})"


class RateCap:
    """At most `max_per_min` reprices in any sliding 60-second window.

    Time is passed in (seconds, any origin: trio's clock live, the envelope's `t` in backtests),
    so the cap is as deterministic as its caller. A cap of 0 allows nothing.
    """

    WINDOW_S = 60.0

    def __init__(self, max_per_min: int) -> None:
        if max_per_min < 0:
            raise ValueError(f"max_per_min must be >= 0, got {max_per_min}")
        self.max_per_min = max_per_min
        self._times: deque[float] = deque()

    def _expire(self, now_s: float) -> None:
        times = self._times
        while times and now_s - times[0] >= self.WINDOW_S:
            times.popleft()

    def allows(self, now_s: float) -> bool:
        """Return whether one more reprice fits in the window ending at `now_s`."""
        self._expire(now_s)
        return len(self._times) < self.max_per_min

    def record(self, now_s: float) -> None:
        """Count a reprice actually sent at `now_s`."""
        self._expire(now_s)
        self._times.append(now_s)

    def next_allowed(self, now_s: float) -> float:
        """Return the earliest time at or after `now_s` when `allows` will be true."""
        self._expire(now_s)
        if len(self._times) < self.max_per_min:
            return now_s
        if self.max_per_min == 0:
            return math.inf  # a time: never
        return self._times[-self.max_per_min] + self.WINDOW_S
