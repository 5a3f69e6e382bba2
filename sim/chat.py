"""The chat socket hub: what each open socket is sent, and when (reference §8).

Every message is pushed first as its unread frame, then, `chat_read_delay_s` later, as a read
copy with the same id (and, for a share, once or twice more). The bot's own sends come back at
once with `self:true`, then as read copies with its nickname. Sockets are closed on purpose:
every `ws_close_every_s` (1000, 1002 with one of Netty's reason texts, or a drop with no close
frame), and 0.7 s after an `ILLEGAL_PARAM` error frame.

Pure of sockets: a socket subscribes and reads `Outgoing` items from a memory channel; the
drivers (`sim.chat_server` over TCP, `sim.inprocess` in memory) carry them out and report the
closes back. Due copies and closes go out when `flush(now)` runs, once per market tick.
"""

from __future__ import annotations

import heapq
import itertools
import random
from dataclasses import dataclass, field

import msgspec
import trio

from sim.config import SimConfig
from sim.messages import ERROR_FRAME, ChatMessage, whole_second

ERROR_CLOSE_DELAY_S = 0.7
# Netty's WebSocket08FrameDecoder reasons for its 1002 closes, as BPA's log shows them [NETTY]
NETTY_REASONS = (
    "received a frame that is not masked as expected",
    "data frame using reserved opcode 3",
    "fragmented control frame",
    "control frame using reserved opcode 11",
    "received continuation data frame outside fragmented message",
)
_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True)
class Outgoing:
    """One thing a socket must do: send `text`, or close with `close` ("1000", "1002" with
    `reason`, or "drop": no close frame at all)."""

    text: str | None = None
    close: str | None = None
    reason: str = ""


@dataclass
class _Socket:
    send: trio.MemorySendChannel[Outgoing]
    listen_key: str
    opened_at: float
    closing: bool = False


@dataclass
class ChatStats:
    frames_pushed: int = 0
    read_copies: int = 0
    error_frames: int = 0
    closes: dict[str, int] = field(default_factory=dict)


class ChatHub:
    """The open chat sockets of the account and the frames still due to them."""

    def __init__(self, cfg: SimConfig, rng: random.Random) -> None:
        self.cfg = cfg
        self.rng = rng
        self.stats = ChatStats()
        self._sockets: dict[int, _Socket] = {}
        self._ids = itertools.count(1)
        self._due: list[tuple[float, int, ChatMessage | None, int | None, Outgoing | None]] = []
        self._seq = itertools.count()

    def subscribe(self, listen_key: str, now: float) -> tuple[int, trio.MemoryReceiveChannel]:
        """Open a socket's feed; return its id and the channel its `Outgoing` items arrive on."""
        send, receive = trio.open_memory_channel[Outgoing](1024)
        sid = next(self._ids)
        self._sockets[sid] = _Socket(send, listen_key, now)
        return sid, receive

    def unsubscribe(self, sid: int) -> None:
        sock = self._sockets.pop(sid, None)
        if sock is not None:
            sock.send.close()

    def closed(self, kind: str) -> None:
        """Count a close the server made ("1000", "1002", "drop")."""
        self.stats.closes[kind] = self.stats.closes.get(kind, 0) + 1

    def listen_key(self, sid: int) -> str | None:
        sock = self._sockets.get(sid)
        return sock.listen_key if sock else None

    def deliver(self, messages: list[ChatMessage], now: float) -> None:
        """Push each message's first frame now and schedule its read copies."""
        for msg in messages:
            self._send_all(msg.frame(read=False))
            if msg.type == "auto_reply" or self.rng.random() >= self.cfg.chat_read_copy_share:
                continue
            due = now + self.rng.uniform(*self.cfg.chat_read_delay_s)
            self._schedule(due, msg=msg)
            if self.rng.random() < self.cfg.chat_extra_copy_share:
                for _ in range(self.rng.choice((1, 2))):
                    due += self.rng.uniform(0.5, 5.0)
                    self._schedule(due, msg=msg)

    def error(self, sid: int | None, now: float) -> None:
        """Send the ILLEGAL_PARAM error frame to one socket (all for None), then close it
        normally 0.7 s later, as captured."""
        targets = list(self._sockets) if sid is None else [sid]
        for target in targets:
            self.stats.error_frames += 1
            self._send(target, Outgoing(text=ERROR_FRAME))
            self._schedule(now + ERROR_CLOSE_DELAY_S, sid=target, out=Outgoing(close="1000"))

    def close_kind(self) -> Outgoing:
        """Draw a close from `ws_close_kinds`, with a Netty reason text for 1002."""
        kind = self.rng.choice(self.cfg.faults.ws_close_kinds)
        return Outgoing(close=kind, reason=self.rng.choice(NETTY_REASONS) if kind == "1002" else "")

    def close_all(self, kind: str) -> None:
        """Close every open socket now with `kind` ("1000", "1002" or "drop")."""
        for sid in list(self._sockets):
            reason = self.rng.choice(NETTY_REASONS) if kind == "1002" else ""
            self._close(sid, Outgoing(close=kind, reason=reason))

    def flush(self, now: float) -> None:
        """Send the read copies and closes now due, and close sockets that have lived
        `ws_close_every_s`."""
        while self._due and self._due[0][0] <= now:
            _, _, msg, sid, out = heapq.heappop(self._due)
            if msg is not None:
                msg.read_ms = whole_second(msg.create_ms)
                self.stats.read_copies += 1
                self._send_all(msg.frame(read=True))
            elif sid is not None and out is not None:
                self._close(sid, out)
        lifetime = self.cfg.faults.close_every_s
        if lifetime > 0:
            for sid, sock in list(self._sockets.items()):
                if not sock.closing and now - sock.opened_at >= lifetime:
                    self._close(sid, self.close_kind())

    def _close(self, sid: int, out: Outgoing) -> None:
        sock = self._sockets.get(sid)
        if sock is not None and not sock.closing:
            sock.closing = True
            self._send(sid, out)

    def _schedule(self, due: float, *, msg: ChatMessage | None = None, sid: int | None = None,
                  out: Outgoing | None = None) -> None:
        heapq.heappush(self._due, (due, next(self._seq), msg, sid, out))

    def _send_all(self, frame: dict) -> None:
        self.send_text(_encode(frame).decode())

    def send_text(self, text: str) -> None:
        """Send one frame's text, as it is, to every open socket now."""
        for sid in list(self._sockets):
            self.stats.frames_pushed += self._send(sid, Outgoing(text=text))

    def _send(self, sid: int, out: Outgoing) -> bool:
        sock = self._sockets.get(sid)
        if sock is None or (sock.closing and out.close is None and out.text != ERROR_FRAME):
            return False
        try:
            sock.send.send_nowait(out)
        except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
            return False  # a socket that cannot keep up misses frames, as a real one would
        return True
