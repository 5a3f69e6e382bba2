"""The chat actor: the only one that speaks WebSocket, one socket per account.

EP-33 gives a credential; the socket URL and frames come from `c2c.chat`. Every frame in and out is
an event (ChatFrameReceived / ChatFrameSent), so replay can serve recorded frames. Incoming
messages become ChatMessageReceived once per message id: Binance pushes each message at least twice
(unread, then a read copy with the same id, reference §8), and only the read copy names the sender
(`fromNickname`), which then becomes a ChatNicknameSeen. Frames without an id (`auto_reply`) are
logged and never answered, nor are our own echoes (`self: true`), `system` frames and the server's
`error` frames (ChatServerError; the server closes the socket after one, and any close is followed
by a fresh credential and a new socket). A new order gets the configured greeting
once ever, and keyword auto-replies answer counterparties' messages. A reply is first a
ChatSendRequest, which the bus makes durable before it comes back here to be sent: a crash can
lose a reply but never repeat one. After each (re)connect EP-34 backfills the history of open
orders; the socket is re-opened with a fresh credential when it drops and before the credential
gets old.

What a message or an order calls for is decided by the pure core (`actors/chat_core.py`); this
shell keeps the socket, draws the replies' uuids from its seeded rng, emits, and folds its inbox
and what it emits into the core's state. That state is a fold of the log: earlier sessions'
greetings and messages on a new run, and this session's so far when the supervisor restarts
the actor, so a restarted chat greets no order twice and receives no message twice. A dry run
sends nothing: each reply is a DryRunSkipped naming its order and reason, which the fold of a
restarted dry run counts as said.
"""

from __future__ import annotations

import random
import re
import uuid as uuidlib
from functools import partial
from typing import AsyncContextManager, Callable

import trio

from actors import chat_core
from actors.calls import Calls, decode_reply
from actors.chat_core import Emit, Heard, Recent, Reply
from actors.config import BotConfig
from actors.spec import ActorContext, ActorSpec
from c2c import endpoints
from c2c.chat import parse_frame, socket_url, text_frame
from c2c.decode import parse_chat_credential, parse_chat_messages
from c2c.errors import C2CError
from c2c.models import ChatMessage, ChatServerFrame
from events import (ChatConnected, ChatDisconnected, ChatFrameReceived, ChatFrameSent,
                    ChatMessageSent, ChatSendRequest, ChatServerError, DecodeFailed,
                    DryRunSkipped, Envelope, OrderOpened, OrderStatusChanged)

Connect = Callable[[str], AsyncContextManager]
TERMINAL = chat_core.TERMINAL
HEALTHY_SOCKET_S = 60.0


class Chat:
    def __init__(self, inbox, emit, *, config: BotConfig, connect: Connect, now_ms,
                 rng: random.Random, dry_run: bool = False,
                 state: chat_core.State | None = None, first_request: int = 0) -> None:
        self.inbox = inbox
        self.emit = emit
        self.cfg = config.chat
        self.connect = connect
        self.now_ms = now_ms
        self.rng = rng
        self.dry_run = dry_run
        self.calls = Calls("chat", emit, first=first_request)
        self.state = state if state is not None else chat_core.State(
            greeting=self.cfg.greeting, auto_replies=self.cfg.auto_replies)
        self.ws = None
        self._pending: list[Envelope] = []
        self._connected = trio.Event()

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.calls.pump, self.inbox, self._handle)
            task_status.started()
            await self._keep_connected()

    # --- the socket ---------------------------------------------------------------------------

    async def _keep_connected(self) -> None:
        attempt, delay = 0, 1.0
        while True:
            attempt += 1
            url = await self._credential_url()  # a fresh credential for every socket
            if url is not None:
                opened = trio.current_time()
                reason = await self._session(url, attempt)
                if reason == "refresh":
                    delay = 1.0
                    continue
                await self.emit(ChatDisconnected(reason=reason))
                if trio.current_time() - opened > HEALTHY_SOCKET_S:
                    delay = 1.0  # a socket that lived a while was fine: reconnect promptly
            await trio.sleep(delay)
            delay = min(delay * 2, 30.0)

    async def _credential_url(self) -> str | None:
        env = await self.calls.call(endpoints.chat_credential)
        cred = await decode_reply(self.emit, env, parse_chat_credential)
        return None if cred is None else socket_url(cred)

    async def _session(self, url: str, attempt: int) -> str:
        """Hold one socket open; return why it ended ("refresh" when we closed it on time)."""
        try:
            async with self.connect(url) as ws:
                self.ws = ws
                await self.emit(ChatConnected(attempt=attempt))
                with trio.move_on_after(self.cfg.credential_refresh_s):
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(self._backfill)
                        await self._flush_pending()
                        await self._receive(ws)
                    return "closed by server"
                return "refresh"
        except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            return f"{type(exc).__name__}: {_first_line(exc)}"
        except Exception as exc:  # noqa: BLE001 - trio-websocket's errors and handshake refusals
            exc = _leaf(exc)
            return f"{type(exc).__name__}: {_first_line(exc)}"
        finally:
            self.ws = None

    async def _receive(self, ws) -> None:
        while True:
            text = await ws.get_message()
            if isinstance(text, bytes):
                text = text.decode(errors="replace")
            await self.emit(ChatFrameReceived(text=text))
            try:
                msg = parse_frame(text)
            except C2CError as exc:
                await self.emit(DecodeFailed(source="chat-frame", error=type(exc).__name__,
                                             message=str(exc)[:300], raw=exc.raw[:4096]))
                continue
            if isinstance(msg, ChatServerFrame):
                await self.emit(ChatServerError(content=msg.content[:300]))
                continue
            await self._message(msg, "socket")

    async def _backfill(self) -> None:
        for order_no in sorted(self.state.open_orders):
            env = await self.calls.call(
                lambda rid: endpoints.chat_messages(rid, page=1, order_no=order_no))
            got = await decode_reply(self.emit, env, parse_chat_messages)
            if got is None:
                continue
            for msg in sorted(got[0], key=lambda m: (m.create_time or 0, m.id)):
                await self._message(msg, "history", cause=env.seq)

    # --- messages in --------------------------------------------------------------------------

    async def _message(self, msg: ChatMessage, source: str, cause: int | None = None) -> None:
        await self._carry_out(chat_core.decide(self.state, Heard(msg, source),
                                               trio.current_time()), cause)

    async def _carry_out(self, steps, cause: int | None) -> None:
        for step in steps:
            # Folded before the await: the socket and the backfill hear messages concurrently,
            # and the second copy of one must find it seen.
            match step:
                case Emit(event=event):
                    chat_core.apply_event(self.state, event)
                    await self.emit(event, cause=cause)
                case Reply():
                    chat_core.apply_step(self.state, step)
                    await self._request(step.order_no, step.content, step.reason, step.keyword,
                                        cause)

    # --- messages out -------------------------------------------------------------------------

    async def _handle(self, env: Envelope) -> None:
        event = env.event
        chat_core.apply(self.state, env)
        if isinstance(event, ChatSendRequest):
            if self.ws is None:
                self._pending.append(env)
            else:
                await self._send(env)
            return
        await self._carry_out(chat_core.decide(self.state, event, trio.current_time()), env.seq)

    async def _request(self, order_no, content, reason, keyword, cause) -> None:
        if self.dry_run:
            await self.emit(DryRunSkipped(endpoint="chat", body=f"{order_no}: {content}",
                                          order_no=order_no, reason=reason), cause=cause)
            return
        uid = str(uuidlib.UUID(int=self.rng.getrandbits(128), version=4))
        await self.emit(ChatSendRequest(order_no=order_no, uuid=uid, content=content,
                                        reason=reason, keyword=keyword), cause=cause)

    async def _flush_pending(self) -> None:
        pending, self._pending = self._pending, []
        for env in pending:
            await self._send(env)

    async def _send(self, env: Envelope) -> None:
        req: ChatSendRequest = env.event
        frame = text_frame(order_no=req.order_no, content=req.content, uuid=req.uuid,
                           create_time_ms=self.now_ms())
        try:
            await self.ws.send_message(frame)
        except Exception:  # noqa: BLE001 - the socket dropped: keep the reply for the next one
            self._pending.append(env)
            return
        await self.emit(ChatFrameSent(text=frame), cause=env.seq)
        await self.emit(ChatMessageSent(order_no=req.order_no, uuid=req.uuid,
                                        content=req.content, reason=req.reason), cause=env.seq)


_CREDENTIAL = re.compile(r"(token=)[^&\s'\"]+|c2c_[0-9A-Za-z]+_v2|TOKEN[0-9A-Za-z]+")


def _leaf(exc: BaseException) -> BaseException:
    """The first real error inside nested exception groups (the socket's nursery wraps them)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _first_line(exc: BaseException) -> str:
    """The error's first line with any listenKey or token masked (they open the socket)."""
    text = str(exc).splitlines()[0][:300] if str(exc) else ""
    return _CREDENTIAL.sub(lambda m: (m.group(1) or "") + "***", text)


async def run(inbox, emit, *, config: BotConfig, connect: Connect, now_ms, rng,
              dry_run: bool = False, state: chat_core.State | None = None,
              first_request: int = 0, task_status=trio.TASK_STATUS_IGNORED) -> None:
    """Keep the chat socket and answer in it forever; never returns unless cancelled."""
    await Chat(inbox, emit, config=config, connect=connect, now_ms=now_ms, rng=rng,
               dry_run=dry_run, state=state,
               first_request=first_request).run(task_status=task_status)


def _build(ctx: ActorContext):
    """Earlier sessions' greetings, seen messages and open orders, and this session's so far
    when restarted: a restarted chat greets no order twice and answers no message twice."""
    deps, r = ctx.deps, ctx.deps.restored
    state = chat_core.fold(ctx.history, chat_core.State(
        greeting=deps.config.chat.greeting, auto_replies=deps.config.chat.auto_replies,
        greeted=Recent(r.greeted), seen=Recent(r.seen_ids), open_orders=r.open_orders))
    return partial(run, ctx.inbox, ctx.emit, config=deps.config, connect=deps.connect,
                   now_ms=deps.now_ms, rng=random.Random(deps.seed + 1), dry_run=deps.dry_run,
                   state=state, first_request=ctx.first_request)


SPEC = ActorSpec(name="chat", subscribes=(OrderOpened, OrderStatusChanged, ChatSendRequest),
                 build=_build)
