"""The bus: the one place events get their seq, reach the log, and then reach the actors.

Every emitted event is wrapped in an Envelope (session, seq, wall-clock ts, trio time, source,
cause), queued to the log writer, and only then delivered to the subscribers of its type. An
event with an effect outside (an EP-7 or EP-8 request, a chat send) is made durable
(`writer.flush()`) before anyone sees it, so a crash can never hide an effect that left the
process.

Two paths, one order. When the bus is idle (nothing queued, nothing being published) an event
without an effect is published in the emitter's own step: its seq, the log, the taps and the
inboxes, with no await. Otherwise (an effect to make durable, events already queued ahead of it)
it joins the inbound channel, which the bus task empties in arrival order. A direct publish
happens only when the channel is empty and the task idle, so seqs follow the order of emits and
every inbox receives events in seq order on either path; the direct path saves the bus task's
scheduler pass per event (a third of a replay's passes), which is where the time of a replay
went. A direct publish that finds an inbox full leaves the rest of its delivery to the bus task
(later emits queue behind it), and an error from the writer or a tap is raised by the bus task,
as before, not in the emitting actor.

API replies (ApiResponse / ApiError) go to the actor whose request they answer: request ids are
prefixed by the requesting actor's name ("ads-12"), and subscribers of those types get them too.
An actor whose `actors.calls.Calls` pump waits on its empty inbox gets a reply to a waiting call
handed straight to the caller (`Calls.take`): another scheduler pass saved, the same order.

Emitting never blocks (the inbound channel is unbounded): were it bounded, an actor waiting to emit
while the bus waits to deliver into that actor's full inbox would deadlock both. Inboxes are
bounded, so a slow actor slows the bus down instead of growing memory without limit.
"""

from __future__ import annotations

import math
from typing import Awaitable, Callable, Protocol

import trio

from events import AnyEvent, ApiError, ApiRequest, ApiResponse, ChatSendRequest, Envelope

Emit = Callable[..., Awaitable[None]]
_REPLIES = (ApiResponse, ApiError)
_GONE = (trio.BrokenResourceError, trio.ClosedResourceError)


class Writer(Protocol):
    def append_nowait(self, envelope: Envelope) -> None: ...

    async def flush(self) -> None: ...


def has_effect(event: AnyEvent) -> bool:
    """True for events that stand for an effect outside the process (write-ahead)."""
    return (isinstance(event, ApiRequest) and event.effect) or isinstance(event, ChatSendRequest)


def reply_to(event: AnyEvent) -> str | None:
    """The actor an API reply belongs to, from its request id prefix."""
    if isinstance(event, _REPLIES):
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
        self._clock: trio.abc.Clock | None = None
        self._send_in, self._recv_in = trio.open_memory_channel[tuple](math.inf)
        self._by_type: dict[type, list[trio.MemorySendChannel]] = {}
        self._by_name: dict[str, trio.MemorySendChannel] = {}
        self._taps: list[Callable[[Envelope], None]] = []
        self._targets: dict[tuple, tuple] = {}  # (type, owner) -> inboxes, built on first use
        self._owners: dict[tuple, trio.MemorySendChannel | None] = {}  # the reply's owner's inbox
        self._calls: dict[str, object] = {}  # actor -> its Calls (see `Calls.take`)
        self._queued = 0  # items in the inbound channel the bus task has not taken yet
        self._busy = True  # the bus task is publishing (or not running): emits queue
        self._stalled: tuple[Envelope, tuple] | None = None  # a direct delivery to finish
        self._failure: BaseException | None = None  # from the writer or a tap, direct
        self.last_seq = self._seq

    def session_time(self) -> float:
        """Seconds since the bus started: the `t` that envelopes carry (virtual under MockClock)."""
        return round(trio.current_time() - (self._t0 or 0.0), 6)

    def subscribe(self, name: str, types: tuple[type, ...] = ()) -> trio.MemoryReceiveChannel:
        """Open an inbox for actor `name` receiving `types` and replies to its own requests."""
        send, recv = trio.open_memory_channel[Envelope](self._inbox_size)
        self._by_name[name] = send
        for t in types:
            self._by_type.setdefault(t, []).append(send)
        self._targets.clear()
        return recv

    def tap(self, fn: Callable[[Envelope], None]) -> None:
        """Call `fn` synchronously with every envelope once logged (status screens, counters)."""
        self._taps.append(fn)

    def emitter(self, source: str) -> Emit:
        """Return `emit(event, cause=None)` for actor `source`; it never blocks."""
        send = self._send_in.clone()

        async def emit(event: AnyEvent, cause: int | None = None) -> None:
            if self._busy or self._queued or has_effect(event):
                self._queued += 1
                send.send_nowait((source, cause, event))
            else:
                self._direct(self._envelope(source, cause, event))

        def register_calls(calls) -> None:
            self._calls[source] = calls

        emit.register_calls = register_calls
        return emit

    def emit_nowait(self, source: str, event: AnyEvent, cause: int | None = None) -> None:
        """Emit from synchronous code (the supervisor, signal handlers)."""
        self._queued += 1
        self._send_in.send_nowait((source, cause, event))

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Move events from emitters to the log and the subscribers. Never returns unless cancelled."""
        self._t0 = trio.current_time()
        self._clock = trio.lowlevel.current_clock()
        self._busy = False
        task_status.started()
        try:
            async for item in self._recv_in:
                # Take whatever else is already queued without a scheduler pass per event.
                self._busy = True
                while True:
                    self._queued -= 1
                    if item is None:  # a direct publish left work for the task
                        await self._resume()
                    else:
                        source, cause, event = item
                        await self._publish(self._envelope(source, cause, event))
                    try:
                        item = self._recv_in.receive_nowait()
                    except (trio.WouldBlock, trio.EndOfChannel):
                        break
                self._busy = False
        finally:
            self._busy = True

    def _envelope(self, source: str, cause: int | None, event: AnyEvent) -> Envelope:
        seq = self._seq = self._seq + 1
        self.last_seq = seq
        clock = self._clock  # the run's clock, read directly: once per event
        t = round(clock.current_time() - self._t0, 6) if clock is not None else \
            self.session_time()
        return Envelope(session=self._session, seq=seq, ts_ms=self._now_ms(), t=t,
                        source=source, cause=cause, event=event)

    def _targets_of(self, event: AnyEvent) -> tuple:
        cls = event.__class__
        owner = event.request_id.rsplit("-", 1)[0] if cls in _REPLIES else None
        key = (cls, owner)
        targets = self._targets.get(key)
        if targets is None:
            found = list(self._by_type.get(cls, ()))
            own = self._by_name.get(owner) if owner is not None else None
            self._owners[key] = None
            if own is not None and own not in found:
                found.append(own)
                self._owners[key] = own  # only its replies: `Calls.take` may deliver them
            targets = self._targets[key] = tuple(found)
        return targets

    def _taker(self, event: AnyEvent):
        """(the owner's inbox, its Calls) for a reply a Calls may take, else (None, None)."""
        if event.__class__ not in _REPLIES:
            return None, None
        owner = event.request_id.rsplit("-", 1)[0]
        inbox = self._owners.get((event.__class__, owner))
        return (inbox, self._calls.get(owner)) if inbox is not None else (None, None)

    def _direct(self, env: Envelope) -> None:
        try:
            self._writer.append_nowait(env)
            for fn in self._taps:
                fn(env)
        except Exception as exc:  # the bus task raises it, as if it had published this event
            self._failure = exc
            self._hand_over()
            return
        targets = self._targets_of(env.event)
        own, calls = self._taker(env.event)
        for i, send in enumerate(targets):
            if send is own and calls is not None and calls.take(env):
                continue
            try:
                send.send_nowait(env)
            except trio.WouldBlock:
                self._stalled = (env, targets[i:])
                self._hand_over()
                return
            except _GONE:
                pass  # the subscriber is gone (stopping); the event is logged all the same

    def _hand_over(self) -> None:
        self._busy = True  # what is emitted from now on queues behind this
        self._queued += 1
        self._send_in.send_nowait(None)

    async def _resume(self) -> None:
        if self._failure is not None:
            raise self._failure
        env, targets = self._stalled
        self._stalled = None
        await self._deliver(env, targets)

    async def _publish(self, env: Envelope) -> None:
        self._writer.append_nowait(env)
        if has_effect(env.event):
            await self._writer.flush()
        for fn in self._taps:
            fn(env)
        await self._deliver(env, self._targets_of(env.event))

    async def _deliver(self, env: Envelope, targets) -> None:
        own, calls = self._taker(env.event)
        for send in targets:
            if send is own and calls is not None and calls.take(env):
                continue
            try:
                try:
                    send.send_nowait(env)
                except trio.WouldBlock:
                    await send.send(env)  # a full inbox slows the bus down: backpressure
            except _GONE:
                pass  # the subscriber is gone (stopping); the event is logged all the same

    def drain_nowait(self) -> None:
        """Log whatever is still queued (on shutdown), and show it to the taps, without
        delivering it to the actors (they have stopped)."""
        while True:
            try:
                item = self._recv_in.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                return
            self._queued -= 1
            if item is None:
                continue  # a direct publish's leftover delivery: already logged
            env = self._envelope(*item)
            self._writer.append_nowait(env)
            for fn in self._taps:
                fn(env)
