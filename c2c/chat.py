"""The order chat's WebSocket: its URL, the frame that sends a reply, and incoming frames.

Authentication is the URL itself (listenKey and token), so `socket_url` returns a secret-bearing
string: log `redacted_url` instead.
"""

from __future__ import annotations

import msgspec

from c2c.errors import MalformedResponse
from c2c.models import ChatCredential, ChatMessage, ChatServerFrame

NOT_ANSWERED = frozenset({"auto_reply", "statistics", "risk_alert", "system", "error"})
ANSWERED = frozenset({"text", "image"})  # a counterparty's own words

_frame_decoder = msgspec.json.Decoder(ChatMessage)
_server_frame_decoder = msgspec.json.Decoder(ChatServerFrame)
_encoder = msgspec.json.Encoder()


def socket_url(cred: ChatCredential) -> str:
    """Return the URL that opens the chat socket; it carries the credential, never log it."""
    return f"{cred.chat_wss_url}/{cred.listen_key}?token={cred.listen_token}&clientType=web"


def redacted_url(cred: ChatCredential) -> str:
    """Return the socket URL with the key and token masked, for logs and events."""
    return f"{cred.chat_wss_url}/***?token=***&clientType=web"


def text_frame(*, order_no: str, content: str, uuid: str, create_time_ms: int) -> str:
    """Return the JSON text frame that sends `content` to the order's chat."""
    frame = {
        "type": "text",
        "uuid": uuid,
        "orderNo": order_no,
        "content": content,
        "self": True,
        "clientType": "web",
        "createTime": create_time_ms,
        "sendStatus": 0,
    }
    return _encoder.encode(frame).decode()


def parse_frame(text: str | bytes) -> ChatMessage | ChatServerFrame:
    """Decode one incoming frame into a ChatMessage, or the server's `error` frame.

    Raises:
        MalformedResponse: the frame is not JSON, or neither a message (no `type` or `orderNo`,
            or fields of the wrong type) nor an error frame. The frame is kept in `raw`.
    """
    raw = text.encode(errors="replace") if isinstance(text, str) else text
    try:
        return _frame_decoder.decode(raw)
    except msgspec.ValidationError as exc:
        try:
            return _server_frame_decoder.decode(raw)
        except (msgspec.DecodeError, RecursionError):
            raise MalformedResponse("chat-frame", 0, f"not a chat message: {exc}",
                                    raw=raw) from None
    except (msgspec.DecodeError, RecursionError) as exc:  # RecursionError: "[[[[..." nesting
        raise MalformedResponse("chat-frame", 0, f"not a chat message: {exc}", raw=raw) from None


def should_answer(msg: ChatMessage) -> bool:
    """True for a counterparty's message worth a reply: a text or image that is not our own
    (`self` is the only reliable sign of who wrote it, reference §8) and has an id."""
    return not msg.self_sent and msg.type in ANSWERED and bool(msg.id) and bool(msg.order_no)
