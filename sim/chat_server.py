"""The chat WebSocket on its own loopback port, as Binance serves it from its own host
(`wss://im.binance.com/chat`), built on trio-websocket's server side so that the simulator owns
the TCP stream: it can close with 1000, with 1002 and one of Netty's reasons, or drop the
connection with no close frame at all (a TCP reset), as reference §8 saw all three.

URL: `ws://HOST:PORT/chat/{listenKey}?token={listenToken}&clientType=web`; a wrong key or token
is refused at the handshake with HTTP 403. The server pings every `ws_ping_interval_s` with
Binance's payload `08 01 08 01`; the client's own pings are answered.
"""

from __future__ import annotations

import logging
import socket
import struct
from urllib.parse import parse_qsl, urlsplit

import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, wrap_server_stream

from sim.chat import Outgoing
from sim.exchange import SimExchange

PING_PAYLOAD = b"\x08\x01\x08\x01"
_log = logging.getLogger("sim.chat")


async def serve_chat(
    exchange: SimExchange,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the exchange's chat sockets; never returns unless cancelled.

    Returns (through `nursery.start`):
        The chatWssUrl base, `ws://HOST:PORT/chat`, which EP-33 hands out from then on.
    """
    listeners = await trio.open_tcp_listeners(port, host=host)
    bound = listeners[0].socket.getsockname()[1]
    exchange.chat_url = f"ws://{host}:{bound}/chat"
    task_status.started(exchange.chat_url)
    await trio.serve_listeners(lambda stream: _connection(exchange, stream), listeners)


async def _connection(exchange: SimExchange, stream: trio.SocketStream) -> None:
    try:
        async with trio.open_nursery() as nursery:
            ws, listen_key = await _handshake(exchange, nursery, stream)
            if ws is not None:
                await _session(exchange, nursery, ws, stream, listen_key)
            nursery.cancel_scope.cancel()
    except Exception:  # noqa: BLE001 - one broken connection must not stop the simulator
        _log.exception("chat connection failed")
        await trio.aclose_forcefully(stream)


async def _handshake(exchange: SimExchange, nursery: trio.Nursery,
                     stream: trio.SocketStream) -> tuple[WebSocketConnection | None, str]:
    try:
        request = await wrap_server_stream(nursery, stream)
        parts = urlsplit(request.path)
        prefix, _, listen_key = parts.path.rpartition("/")
        token = dict(parse_qsl(parts.query)).get("token", "")
        if prefix != "/chat" or not exchange.chat_allowed(listen_key, token):
            await request.reject(403)
            return None, ""
        return await request.accept(), listen_key
    except (ConnectionClosed, trio.BrokenResourceError, trio.ClosedResourceError):
        return None, ""


async def _session(exchange: SimExchange, nursery: trio.Nursery, ws: WebSocketConnection,
                   stream: trio.SocketStream, listen_key: str) -> None:
    sid, feed = exchange.chat_subscribe(listen_key)
    try:
        with trio.CancelScope() as scope:
            nursery.start_soon(_ping, ws, exchange.cfg.ws_ping_interval_s)
            nursery.start_soon(_read, exchange, ws, sid, scope)
            async for out in feed:
                if out.text is not None:
                    await ws.send_message(out.text)
                    continue
                exchange.chat_closed(sid, out.close or "1000")
                await _close(ws, stream, out)
                return
    except ConnectionClosed:
        pass
    finally:
        exchange.chat_unsubscribe(sid)


async def _close(ws: WebSocketConnection, stream: trio.SocketStream, out: Outgoing) -> None:
    if out.close == "drop":
        # SO_LINGER 0: the kernel answers with a reset, and no close frame is ever sent
        stream.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        await stream.aclose()
        return
    with trio.move_on_after(2):
        await ws.aclose(int(out.close or 1000), out.reason or None)


async def _ping(ws: WebSocketConnection, interval: float) -> None:
    while True:
        await trio.sleep(interval)
        with trio.move_on_after(interval):
            try:
                await ws.ping(PING_PAYLOAD)
            except ConnectionClosed:
                return
            except ValueError:
                pass  # the previous ping is still unanswered


async def _read(exchange: SimExchange, ws: WebSocketConnection, sid: int,
                session: trio.CancelScope) -> None:
    try:
        while True:
            message = await ws.get_message()
            if isinstance(message, bytes):
                message = message.decode("utf-8", "replace")
            exchange.receive_frame(message, sid)
    except ConnectionClosed:
        session.cancel()  # the bot closed the socket
