"""Keep signed timestamps on Binance's clock.

Binance accepts a timestamp no more than 1000 ms ahead of its clock and no more than recvWindow
behind it. The offset is measured from one GET /api/v3/time: the server read its clock somewhere
inside the round trip, and the midpoint is the best guess of when.
"""

from __future__ import annotations


def offset_from_round_trip(sent_ms: int, received_ms: int, server_time_ms: int) -> int:
    """Return server time minus the round trip's midpoint, in milliseconds.

    Args:
        sent_ms: local wall-clock ms when the request left.
        received_ms: local wall-clock ms when the answer arrived.
        server_time_ms: the `serverTime` it carried.
    """
    return server_time_ms - (sent_ms + received_ms) // 2


class ClockOffset:
    """The current estimate of Binance's clock minus ours, applied to every signed timestamp."""

    def __init__(self, offset_ms: int = 0) -> None:
        self.offset_ms = offset_ms
        self.round_trip_ms: int | None = None

    def update(self, sent_ms: int, received_ms: int, server_time_ms: int) -> int:
        """Adopt the offset measured by one round trip and return it."""
        self.offset_ms = offset_from_round_trip(sent_ms, received_ms, server_time_ms)
        self.round_trip_ms = received_ms - sent_ms
        return self.offset_ms

    def now(self, wall_ms: int) -> int:
        """Return the timestamp to sign for the local wall-clock time `wall_ms`."""
        return wall_ms + self.offset_ms

    def __repr__(self) -> str:
        return f"ClockOffset(offset_ms={self.offset_ms}, round_trip_ms={self.round_trip_ms})"
