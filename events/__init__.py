"""Typed events: every fact the bot logs, the tagged union of them all, and the envelope."""

from __future__ import annotations

from typing import Union

import msgspec

from events.types import *  # noqa: F403 - the event types are this package's API
from events.types import (
    SCHEMA_VERSION,
    ActorFailed,
    ActorStarted,
    AdPaused,
    AdRepriced,
    AdResumed,
    AdStatusChanged,
    AlertFailed,
    AlertSent,
    ApiError,
    ApiRequest,
    ApiResponse,
    BacktestCompleted,
    BookAd,
    BookSnapshot,
    BreakerClosed,
    BreakerOpened,
    ChatConnected,
    ChatDisconnected,
    ChatFrameReceived,
    ChatFrameSent,
    ChatMessageReceived,
    ChatMessageSent,
    ChatNicknameSeen,
    ChatSendRequest,
    ChatServerError,
    ClockSynced,
    DecodeFailed,
    DryRunSkipped,
    Event,
    LimiterBackoff,
    MyAd,
    MyAdsLoaded,
    OrderDetailRefused,
    OrderOpened,
    OrderStatusChanged,
    PriceWarDetected,
    RepriceDecided,
    RepriceDone,
    RepriceFailed,
    RequestDispatched,
    RunStopped,
    SessionSummary,
)

# The one place the union is built. A type left out here cannot be logged (the codec rejects it),
# and tests/test_events.py walks this union so none is left untested.
AnyEvent = Union[
    ApiRequest,
    ApiResponse,
    ApiError,
    RequestDispatched,
    ClockSynced,
    BreakerOpened,
    BreakerClosed,
    LimiterBackoff,
    BookSnapshot,
    MyAdsLoaded,
    RepriceDecided,
    PriceWarDetected,
    AdRepriced,
    RepriceFailed,
    RepriceDone,
    AdPaused,
    AdResumed,
    AdStatusChanged,
    DryRunSkipped,
    OrderOpened,
    OrderStatusChanged,
    OrderDetailRefused,
    ChatConnected,
    ChatDisconnected,
    ChatFrameReceived,
    ChatFrameSent,
    ChatMessageReceived,
    ChatNicknameSeen,
    ChatServerError,
    ChatSendRequest,
    ChatMessageSent,
    DecodeFailed,
    ActorFailed,
    ActorStarted,
    BacktestCompleted,
    RunStopped,
    SessionSummary,
    AlertSent,
    AlertFailed,
]

EVENT_TYPES: dict[str, type[Event]] = {t.__name__: t for t in AnyEvent.__args__}


class Envelope(msgspec.Struct, frozen=True, kw_only=True):
    """An event as logged: filled by the bus's one writer, never by the emitter.

    Attributes:
        session: the session id.
        seq: 1-based, gap-free order of the session's log.
        ts_ms: wall-clock milliseconds from the injected `now_ms()`.
        t: trio's clock, seconds since the session started (virtual time under MockClock).
        source: the actor that emitted the event.
        cause: seq of the event that caused this one, or None.
        event: the fact.
    """

    session: int
    seq: int
    ts_ms: int
    t: float
    source: str
    cause: int | None
    event: AnyEvent


__all__ = [
    "SCHEMA_VERSION",
    "AnyEvent",
    "BookAd",
    "EVENT_TYPES",
    "Envelope",
    "Event",
    "MyAd",
] + [t.__name__ for t in AnyEvent.__args__]
