"""One chat message and the shapes it takes on the wire (reference §8, samples chat-ws-frame_*
and sapi-chat-retrieveChatMessagesWithPagination_2026-01-16).

On the socket, keys are alphabetical, `id` a string and `createTime` int ms:
- the first delivery is `status:"unread"` with a millisecond createTime and no `fromNickname`;
- a read copy repeats `id` and `uuid` with `status:"read"`, the createTime rounded up to the
  whole second, and `fromNickname` ("" often, else the sender's; the bot's own on its echoes);
- `system` frames carry no `uuid`, and their read copies no `fromNickname`;
- `auto_reply` frames carry neither `id` nor `uuid`, arrive `status:"read"` and `self:false`.
EP-34 lists the same messages in the 2026 capture's key order (id, uuid, type, orderNo, content,
status, createTime, self), the createTime of a read message whole-second, the auto_reply with
its id and uuid and `self:true`; `fromNickName` (the schema's spelling) only when asked for,
since the 2026 capture has neither spelling.
"""

from __future__ import annotations

from dataclasses import dataclass

ERROR_FRAME = '{"content":"ILLEGAL_PARAM","self":false,"type":"error"}'


def whole_second(ms: int) -> int:
    """The read copy's createTime: `…655493` becomes `…656000` (sample)."""
    return -(-ms // 1000) * 1000


@dataclass
class ChatMessage:
    """One chat message as the socket pushes it and EP-34 lists it.

    Attributes:
        from_nick: the sender's nickname ("" for system messages).
        read_nick: the `fromNickname` its read copies carry, chosen once.
        read_ms: when the read copy went out (None: still unread).
    """

    id: str
    uuid: str
    type: str
    order_no: str
    content: str
    self_sent: bool
    create_ms: int
    from_nick: str
    read_nick: str = ""
    read_ms: int | None = None

    @property
    def status(self) -> str:
        return "unread" if self.read_ms is None else "read"

    def frame(self, read: bool) -> dict:
        """The socket frame: the first delivery (read=False) or a read copy."""
        if self.type == "auto_reply":
            return {"content": self.content, "createTime": self.create_ms,
                    "orderNo": self.order_no, "self": False, "status": "read",
                    "type": "auto_reply"}
        frame: dict = {"content": self.content,
                       "createTime": whole_second(self.create_ms) if read else self.create_ms}
        if read and self.type != "system":
            frame["fromNickname"] = self.read_nick
        frame.update({"id": self.id, "orderNo": self.order_no, "self": self.self_sent,
                      "status": "read" if read else "unread", "type": self.type})
        if self.type != "system":
            frame["uuid"] = self.uuid
        return frame

    def history(self, with_nickname: bool = False) -> dict:
        """The EP-34 item."""
        read = self.read_ms is not None or self.type == "auto_reply"
        item = {
            "id": self.id, "uuid": self.uuid, "type": self.type, "orderNo": self.order_no,
            "content": self.content, "status": "read" if read else "unread",
            "createTime": whole_second(self.create_ms) if read else self.create_ms,
            "self": self.self_sent,
        }
        if with_nickname:
            item["fromNickName"] = self.from_nick
        return item
