"""Binance's gatekeeping: the 5-per-second rule, EP-0's page gap, the API key, the timestamp
window and the signature. Pure: callers pass trio's time and the server's wall-clock ms."""

from __future__ import annotations

import math
from collections import deque
from urllib.parse import parse_qsl

from c2c.credentials import Secret
from c2c.signing import verify
from sim.wire import Request, Response, gateway_error, mandatory

MAX_RECV_WINDOW_MS = 60000
DEFAULT_RECV_WINDOW_MS = 5000


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


def too_many(retry_after_s: float) -> Response:
    seconds = str(max(1, math.ceil(retry_after_s)))
    return gateway_error(429, -1003, "Too many requests", (("retry-after", seconds),))


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


def stale_timestamp() -> Response:
    return gateway_error(400, -1021, "Timestamp for this request is outside of the recvWindow.")


def query_params(query: str) -> dict[str, str]:
    return dict(parse_qsl(query, keep_blank_values=True))


def check_api_key(req: Request, api_key: str) -> Response | None:
    """Refuse a missing or unknown X-MBX-APIKEY with -2008 (HTTP 400, as captured)."""
    if req.headers.get("x-mbx-apikey", "") != api_key:
        return gateway_error(400, -2008, "Invalid Api-Key ID.")
    return None


def check_signed(req: Request, secret: Secret, server_ms: int) -> Response | None:
    """Check timestamp, recvWindow and the trailing signature of a SIGNED request.

    Returns:
        None when the request may proceed, else the refusal (-1102, -1021 or -1022, HTTP 400).
    """
    params = query_params(req.query)
    try:
        timestamp = int(params["timestamp"])
    except (KeyError, ValueError):
        return mandatory("timestamp")
    if "signature" not in params:
        return mandatory("signature")
    try:
        window = min(int(params.get("recvWindow", DEFAULT_RECV_WINDOW_MS)), MAX_RECV_WINDOW_MS)
    except ValueError:
        return mandatory("recvWindow")
    if timestamp >= server_ms + 1000 or server_ms - timestamp > window:
        return stale_timestamp()
    if not verify(secret, req.query):
        return gateway_error(400, -1022, "Signature for this request is not valid.")
    return None
