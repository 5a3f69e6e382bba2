"""The chat side of `SimExchange`: credentials, the sockets' feeds, the bot's frames and the
scripted chat events tests use. A mixin: it works on the exchange's cfg, desk, chat hub, stats,
fault_rng and clock."""

from __future__ import annotations

import random
from typing import Callable

import msgspec
import trio

from sim.chat import ChatHub, Outgoing
from sim.config import SimConfig
from sim.messages import ChatMessage
from sim.orders import OrderDesk
from sim.report import Stats


class ChatSide:
    """Chat methods of SimExchange (see `sim.exchange`)."""

    cfg: SimConfig
    desk: OrderDesk
    chat: ChatHub
    stats: Stats
    fault_rng: random.Random
    chat_url: str | None
    now_ms: Callable[[], int]
    _id_rng: random.Random
    _credentials: dict[str, tuple[str, float]]
    _sender: int | None = None

    def _now(self) -> float:
        raise NotImplementedError

    def issue_chat_credential(self, host: str, now: float) -> dict:
        """Mint a listenKey and token (earlier ones stay valid for `credential_ttl_s`)."""
        key = f"c2c_{self._id_rng.getrandbits(128):032x}_v2"
        token = f"TOKEN{self._id_rng.getrandbits(128):032x}"
        self._credentials[key] = (token, now + self.cfg.credential_ttl_s)
        return {"chatWssUrl": self.chat_url or f"ws://{host}/chat", "listenKey": key,
                "listenToken": token}

    def chat_allowed(self, listen_key: str, token: str) -> bool:
        """True when the key was issued, the token is its own and it has not expired."""
        issued = self._credentials.get(listen_key)
        return issued is not None and issued[0] == token and self._now() < issued[1]

    def chat_subscribe(self, listen_key: str) -> tuple[int, trio.MemoryReceiveChannel[Outgoing]]:
        """Open a socket's feed; `chat_unsubscribe` it after."""
        return self.chat.subscribe(listen_key, self._now())

    def chat_unsubscribe(self, sid: int) -> None:
        self.chat.unsubscribe(sid)

    def chat_closed(self, sid: int, kind: str) -> None:
        """A socket was closed by the server; its credential is refused from now on when
        `revoke_credential_on_close`."""
        key = self.chat.listen_key(sid)
        self.chat.closed(kind)
        if key is not None and self.cfg.revoke_credential_on_close:
            self._credentials.pop(key, None)
        self.chat.unsubscribe(sid)

    def close_chat_sockets(self, kind: str = "1000") -> None:
        """Close every open chat socket now: "1000", "1002" (a Netty reason) or "drop"."""
        self.chat.close_all(kind)

    def push_chat(self, order_no: str, kind: str = "text", content: str = "Hello") -> None:
        """Script a chat event on an order now: "text" (a counterparty message, with its read
        copies), "system" (an nlp_third_party warning), "auto_reply", or "error" (the
        ILLEGAL_PARAM frame on every socket, then a close)."""
        now = self._now()
        if kind == "error":
            self.chat.error(None, now)
            return
        order = self.desk.orders[order_no]
        if kind == "text":
            messages = self.desk.counterparty_text(order, content)[:1]
        elif kind == "system":
            messages = [self.desk.nlp_warning(order, self.now_ms())]
        else:
            messages = [self.desk.auto_reply(order)]
        self.chat.deliver(messages, now)

    def push_frame(self, text: str) -> None:
        """Send a frame's text as it is to every open socket now: for tests that replay the
        captured frames of reference §8 byte for byte, or whose point is a mangled frame."""
        self.chat.send_text(text)

    def receive_frame(self, text: str, sid: int) -> None:
        """The drivers' entry for a frame the bot sent on socket `sid`."""
        self._sender = sid
        try:
            self.record_bot_frame(text)
        finally:
            self._sender = None

    def record_bot_frame(self, text: str) -> None:
        """Take a frame the bot sent: echo a message for a known order (and keep it in the
        history), or answer ILLEGAL_PARAM on the socket it came from (`receive_frame`; every
        socket when called directly) when the faults or the config say so."""
        self.stats.frames_from_bot += 1
        now, sid = self._now(), self._sender
        chance = self.cfg.faults.ws_illegal_param_probability
        if chance > 0 and self.fault_rng.random() < chance:
            self.chat.error(sid, now)
            return
        try:
            frame = msgspec.json.decode(text)
        except msgspec.DecodeError:
            frame = None
        msg: ChatMessage | None = None
        if isinstance(frame, dict):
            msg = self.desk.record_bot_frame(frame)
        if msg is not None:
            self.chat.deliver([msg], now)
        elif self.cfg.ws_bad_frame_answer == "illegal_param":
            self.chat.error(sid, now)

