"""The bus: the one place events get their seq, reach the log, and then reach the actors.

Actors emit into one inbound channel. The bus task takes events in arrival order, wraps each in an
Envelope (session, seq, wall-clock ts, trio time, source, cause), queues it to the log writer, and
only then delivers it to the subscribers of its type. An event with an effect outside (an EP-7 or
EP-8 request, a chat send) is made durable (`writer.flush()`) before anyone sees it, so a crash can
never hide an effect that left the process.

API replies (ApiResponse / ApiError) go to the actor whose request they answer: request ids are
prefixed by the requesting actor's name ("ads-12"), and subscribers of those types get them too.

Emitting never blocks (the inbound channel is unbounded): were it bounded, an actor waiting to emit
while the bus waits to deliver into that actor's full inbox would deadlock both. Inboxes are
bounded, so a slow actor slows the bus down instead of growing memory without limit.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Awaitable, Callable, Protocol

import trio

from events import AnyEvent, ApiError, ApiRequest, ApiResponse, ChatSendRequest, Envelope

Emit = Callable[..., Awaitable[None]]


class Writer(Protocol):
    def append_nowait(self, envelope: Envelope) -> None: ...

    async def flush(self) -> None: ...


def has_effect(event: AnyEvent) -> bool:
    """True for events that stand for an effect outside the process (write-ahead)."""
    return (isinstance(event, ApiRequest) and event.effect) or isinstance(event, ChatSendRequest)


def reply_to(event: AnyEvent) -> str | None:
    """The actor an API reply belongs to, from its request id prefix."""
    if isinstance(event, (ApiResponse, ApiError)):
        return event.request_id.rsplit("-", 1)[0]
    return None


class Bus:
    """Assigns seq, logs, and fans events out to subscribers by type.

    Args:
        writer: the log writer (append_nowait / flush).
        session: the session id written into every envelope.
        now_ms: the injected wall clock, in milliseconds.
        inbox_size: capacity of each subscriber's inbox.
        first_seq: the seq the next event gets (1 for a new session).
    """

    def __init__(self, writer: Writer, session: int, now_ms: Callable[[], int], *,
                 inbox_size: int = 1024, first_seq: int = 1) -> None:
        self._writer = writer
        self._session = session
        self._now_ms = now_ms
        self._inbox_size = inbox_size
        self._seq = first_seq - 1
        self._t0: float | None = None
        self._send_in, self._recv_in = trio.open_memory_channel[tuple](math.inf)
        self._by_type: dict[type, list[trio.MemorySendChannel]] = defaultdict(list)
        self._by_name: dict[str, trio.MemorySendChannel] = {}
        self._taps: list[Callable[[Envelope], None]] = []
        self.last_seq = self._seq

    def session_time(self) -> float:
        """Seconds since the bus started: the `t` that envelopes carry (virtual under MockClock)."""
        return round(trio.current_time() - (self._t0 or 0.0), 6)

    def subscribe(self, name: str, types: tuple[type, ...] = ()) -> trio.MemoryReceiveChannel:
        """Open an inbox for actor `name` receiving `types` and replies to its own requests."""
        send, recv = trio.open_memory_channel[Envelope](self._inbox_size)
        self._by_name[name] = send
        for t in types:
            self._by_type[t].append(send)
        return recv

    def tap(self, fn: Callable[[Envelope], None]) -> None:
        """Call `fn` synchronously with every envelope once logged (status screens, counters)."""
        self._taps.append(fn)

    def emitter(self, source: str) -> Emit:
        """Return `emit(event, cause=None)` for actor `source`; it never blocks."""
        send = self._send_in.clone()

        async def emit(event: AnyEvent, cause: int | None = None) -> None:
            send.send_nowait((source, cause, event))

        return emit

    def emit_nowait(self, source: str, event: AnyEvent, cause: int | None = None) -> None:
        """Emit from synchronous code (the supervisor, signal handlers)."""
        self._send_in.send_nowait((source, cause, event))

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Move events from emitters to the log and the subscribers. Never returns unless cancelled."""
        self._t0 = trio.current_time()
        task_status.started()
        async for item in self._recv_in:
            # Take whatever else is already queued without a scheduler pass per event.
            while True:
                source, cause, event = item
                await self._publish(self._envelope(source, cause, event))
                try:
                    item = self._recv_in.receive_nowait()
                except (trio.WouldBlock, trio.EndOfChannel):
                    break

    def _envelope(self, source: str, cause: int | None, event: AnyEvent) -> Envelope:
        self._seq += 1
        self.last_seq = self._seq
        return Envelope(session=self._session, seq=self._seq, ts_ms=self._now_ms(),
                        t=self.session_time(),
                        source=source, cause=cause, event=event)

    async def _publish(self, env: Envelope) -> None:
        self._writer.append_nowait(env)
        if has_effect(env.event):
            await self._writer.flush()
        for fn in self._taps:
            fn(env)
        targets = list(self._by_type.get(type(env.event), ()))
        owner = reply_to(env.event)
        if owner is not None and owner in self._by_name:
            own = self._by_name[owner]
            if own not in targets:
                targets.append(own)
        for send in targets:
            try:
                try:
                    send.send_nowait(env)
                except trio.WouldBlock:
                    await send.send(env)  # a full inbox slows the bus down: backpressure
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass  # the subscriber is gone (stopping); the event is logged all the same

    def drain_nowait(self) -> None:
        """Log whatever is still queued (on shutdown), and show it to the taps, without
        delivering it to the actors (they have stopped)."""
        while True:
            try:
                source, cause, event = self._recv_in.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                return
            env = self._envelope(source, cause, event)
            self._writer.append_nowait(env)
            for fn in self._taps:
                fn(env)
