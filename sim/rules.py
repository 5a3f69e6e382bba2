"""Binance's pacing rules: the 5-per-second rule, EP-0's page gap, and the per-minute counts
that the weight headers report. Pure: callers pass trio's time. Signing lives in `sim.auth`."""

from __future__ import annotations

from collections import deque


class SlidingWindow:
    """Times of events within the last `span` seconds."""

    def __init__(self, span: float = 1.0) -> None:
        self.span = span
        self._times: deque[float] = deque()

    def _expire(self, now: float) -> None:
        while self._times and self._times[0] <= now - self.span:
            self._times.popleft()

    def count(self, now: float) -> int:
        """Return how many events fall in (now - span, now]."""
        self._expire(now)
        return len(self._times)

    def add(self, now: float) -> int:
        """Record an event; return the count in the window including it."""
        self._expire(now)
        self._times.append(now)
        return len(self._times)

    def oldest(self) -> float | None:
        return self._times[0] if self._times else None


class RateRule:
    """At most `limit` admitted requests per key in any `span`-second sliding window.

    Refused requests do not enter the window, so a client that waits is served again as soon as
    its oldest admitted request is `span` seconds old.
    """

    def __init__(self, limit: int = 5, span: float = 1.0) -> None:
        self.limit = limit
        self.span = span
        self._windows: dict[str, SlidingWindow] = {}

    def admit(self, key: str, now: float) -> float | None:
        """Admit a request, or return the seconds to wait (the Retry-After) when over the limit."""
        window = self._windows.setdefault(key, SlidingWindow(self.span))
        if window.count(now) >= self.limit:
            oldest = window.oldest() or now
            return max(oldest + self.span - now, 0.0)
        window.add(now)
        return None


class PageGate:
    """EP-0 pages asked less than `gap` seconds after the previous one come back empty."""

    def __init__(self, gap: float = 0.1) -> None:
        self.gap = gap
        self._last: dict[str, float] = {}

    def allow(self, key: str, now: float) -> bool:
        """Record an EP-0 request; False when it came too soon after the previous one."""
        last = self._last.get(key)
        self._last[key] = now
        return last is None or now - last >= self.gap


class WeightMeter:
    """Per client, the requests of the last minute: what the weight headers report.

    C2C weights are unpublished except listUserOrderHistory = 1 (reference §7), so every call
    weighs 1.
    """

    def __init__(self, span: float = 60.0) -> None:
        self.span = span
        self._windows: dict[str, SlidingWindow] = {}

    def add(self, key: str, now: float) -> int:
        """Count one request; return the client's count over the last `span` seconds."""
        return self._windows.setdefault(key, SlidingWindow(self.span)).add(now)
