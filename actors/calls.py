"""Request/reply over the bus for actors that poll: emit an ApiRequest, await its final answer.

The actor's inbox loop hands every envelope to `Calls.deliver` first; replies wake the waiting
caller, anything else is the actor's to handle. While `pump` waits on an empty inbox, the bus
hands a reply to a waiting caller straight (`take`): the pump would have taken it next and
done just that, a scheduler pass later. Request ids are "<actor>-<n>", deterministic per
actor, so replay can match them and the bus can route replies; a restarted actor goes on from the
number its last incarnation reached (`first`), so ids stay unique in the session.
"""

from __future__ import annotations

from typing import Callable

import trio

from c2c.errors import ApiCallError, C2CError
from events import ApiError, ApiRequest, ApiResponse, DecodeFailed, Envelope


class _Reply:
    """One caller's final answer, set once by `Calls.deliver` (a memory channel per call cost
    twice as much: each poll's page is a call)."""

    __slots__ = ("env", "done")

    def __init__(self) -> None:
        self.env: Envelope | None = None
        self.done = trio.Event()

    def send_nowait(self, env: Envelope) -> None:
        if self.env is not None:
            raise trio.WouldBlock  # a second final answer, as the one-slot channel did
        self.env = env
        self.done.set()


class Calls:
    def __init__(self, source: str, emit, *, first: int = 0) -> None:
        self.source = source
        self.emit = emit
        self._n = first
        self._prefix = source + "-"
        self._waiting: dict[str, _Reply] = {}
        self._inbox = None  # the inbox `pump` reads, once it does
        register = getattr(emit, "register_calls", None)  # the bus's emitters have it
        if register is not None:
            register(self)

    def new_id(self) -> str:
        self._n += 1
        return f"{self.source}-{self._n}"

    async def call(self, build: Callable[[str], ApiRequest], cause: int | None = None) -> Envelope:
        """Emit `build(request_id)` and return the envelope of its final ApiResponse or ApiError."""
        req = build(self.new_id())
        reply = self._waiting[req.request_id] = _Reply()
        try:
            await self.emit(req, cause=cause)
            await reply.done.wait()
            return reply.env
        finally:
            self._waiting.pop(req.request_id, None)

    def deliver(self, env: Envelope) -> bool:
        """Route a reply to its waiting caller; True when `env` was a reply to this actor."""
        event = env.event
        if not isinstance(event, (ApiResponse, ApiError)):
            return False
        if not event.request_id.startswith(self._prefix):
            return False
        if event.final:
            send = self._waiting.get(event.request_id)
            if send is not None:
                send.send_nowait(env)
        return True

    def take(self, env: Envelope) -> bool:
        """Deliver a reply to its waiting caller now, if `pump` is parked on this actor's empty
        inbox (nothing before the reply is left to handle); False: put it in the inbox."""
        inbox = self._inbox
        if inbox is None or not inbox.statistics().tasks_waiting_receive:
            return False
        event = env.event
        reply = self._waiting.get(event.request_id)
        if reply is None or reply.env is not None:
            return False  # no one waits (or a second answer): the pump decides, as ever
        if event.final:
            reply.send_nowait(env)
        return True

    async def pump(self, inbox, handle=None) -> None:
        """Feed the inbox to `deliver`, passing other events to `handle`. Returns at end of inbox."""
        self._inbox = inbox
        try:
            async for env in inbox:
                if not self.deliver(env) and handle is not None:
                    await handle(env)
        finally:
            self._inbox = None


async def decode_reply(emit, env: Envelope, parse):
    """Parse a reply with `parse(status, headers, body)`.

    Returns the parsed value, or None for an ApiError or a Binance error answer. A body that
    cannot be understood is logged as DecodeFailed (with its raw bytes) and also gives None.
    """
    event = env.event
    if not isinstance(event, ApiResponse):
        return None
    try:
        return parse(event.status, event.headers, event.body)
    except ApiCallError:
        return None
    except C2CError as exc:
        await emit_decode_failed(emit, env, exc)
        return None


async def emit_decode_failed(emit, env: Envelope, exc: Exception) -> None:
    await emit(DecodeFailed(source=env.event.endpoint, error=type(exc).__name__,
                            message=str(exc)[:300], raw=env.event.body[:4096]), cause=env.seq)


def request_number(request_id: str) -> tuple[str, int | None]:
    """Split "<actor>-<n>" into the actor and its number (None when the tail is no number)."""
    actor, _, n = request_id.rpartition("-")
    return actor, int(n) if n.isdigit() else None


def requests_made(source: str, history) -> int:
    """The highest request number actor `source` used in `history` (0 for none)."""
    n = 0
    for env in history:
        event = env.event
        if isinstance(event, ApiRequest):
            actor, number = request_number(event.request_id)
            if actor == source and number is not None:
                n = max(n, number)
    return n
