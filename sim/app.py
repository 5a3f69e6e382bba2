"""The raw ASGI application: HTTP to `SimExchange.handle`. No framework, so nothing stands
between the bot's bytes and Binance's rules. The chat WebSocket has its own listener
(`sim.chat_server`); a WebSocket handshake here is refused with HTTP 403."""

from __future__ import annotations

from typing import Any, Awaitable, Callable

import trio

from sim.exchange import SimExchange
from sim.wire import Request

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]


def make_app(exchange: SimExchange) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """Return the ASGI callable that serves `exchange`."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await _http(exchange, scope, receive, send)
        elif scope["type"] == "websocket":
            await _websocket(exchange, scope, receive, send)
        elif scope["type"] == "lifespan":
            await _lifespan(receive, send)

    return app


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _request(scope: Scope, body: bytes) -> Request:
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    client = scope.get("client") or ("127.0.0.1", 0)
    return Request(
        method=scope["method"], path=scope["path"],
        query=scope.get("query_string", b"").decode("latin-1"),
        headers=headers, body=body, client=client[0],
    )


async def _http(exchange: SimExchange, scope: Scope, receive: Receive, send: Send) -> None:
    resp = exchange.handle(_request(scope, await _read_body(receive)))
    if resp.delay_s:
        await trio.sleep(resp.delay_s)
    headers = [(k.encode(), v.encode()) for k, v in resp.headers]
    headers.append((b"content-length", str(len(resp.body)).encode()))
    await send({"type": "http.response.start", "status": resp.status, "headers": headers})
    await send({"type": "http.response.body", "body": resp.body})


async def _websocket(exchange: SimExchange, scope: Scope, receive: Receive, send: Send) -> None:
    await receive()  # websocket.connect
    await send({"type": "websocket.close", "code": 1008})  # before accept: HTTP 403
