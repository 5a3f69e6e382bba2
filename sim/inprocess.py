"""The simulator without sockets: an httpx transport and a chat connector over `SimExchange`.

The same exchange as `serve_sim` serves, reached through memory instead of loopback, so the whole
system (bot and market) can run under trio's MockClock: an hour of trading in seconds, with the
same answers, signature checks and limits. Used to build long sessions for benchmarks and for
fast whole-system tests; the demo and the end-to-end tests use real sockets.
"""

from __future__ import annotations

import random
from contextlib import asynccontextmanager
from urllib.parse import parse_qsl, urlsplit

import httpx
import trio
from trio_websocket import CloseReason, ConnectionClosed, ConnectionRejected

from sim.chat import Outgoing
from sim.exchange import SimExchange
from sim.wire import Request

ABNORMAL_CLOSURE = 1006  # what trio-websocket reports when the TCP stream ends without a close
# How a connection fails when the exchange gives no answer (`Response.drop`): httpx's errors
_DROPS = {"reset": httpx.ReadError, "refused": httpx.ConnectError,
          "timeout": httpx.ReadTimeout, "protocol": httpx.RemoteProtocolError}


class SimTransport(httpx.AsyncBaseTransport):
    """An httpx transport whose server is the simulated exchange, in this process."""

    def __init__(self, exchange: SimExchange, client: str = "127.0.0.1",
                 rng: random.Random | None = None) -> None:
        self.exchange = exchange
        self.client = client
        self.rng = rng or random.Random(0)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        req = Request(method=request.method, path=request.url.path,
                      query=request.url.query.decode("latin-1"),
                      headers={k.lower(): v for k, v in request.headers.items()},
                      body=body, client=self.client)
        resp = self.exchange.handle(req)
        # A loopback round trip on trio's clock, jittered as real ones are: under MockClock
        # requests still take time, and two answers rarely land on the same instant.
        await trio.sleep(resp.delay_s or self.rng.uniform(0.001, 0.004))
        if resp.drop:
            raise _DROPS[resp.drop]("the connection went away without an answer", request=request)
        return httpx.Response(resp.status, headers=list(resp.headers), content=resp.body,
                              request=request)


class _Socket:
    """A chat socket in memory that fails as trio-websocket's client does: a close frame
    raises ConnectionClosed with its code and reason, a drop ConnectionClosed with 1006."""

    def __init__(self, exchange: SimExchange, listen_key: str) -> None:
        self.exchange = exchange
        self.sid, self.feed = exchange.chat_subscribe(listen_key)
        self.closed: CloseReason | None = None

    async def get_message(self) -> str:
        if self.closed is not None:
            raise ConnectionClosed(self.closed)
        try:
            out = await self.feed.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            out = Outgoing(close="drop")
        if out.text is not None:
            return out.text
        kind = out.close or "1000"
        self.exchange.chat_closed(self.sid, kind)
        code = ABNORMAL_CLOSURE if kind == "drop" else int(kind)
        self.closed = CloseReason(code, out.reason or None)
        raise ConnectionClosed(self.closed)

    async def send_message(self, text: str | bytes) -> None:
        if self.closed is not None:
            raise ConnectionClosed(self.closed)
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        self.exchange.receive_frame(text, self.sid)

    def close(self) -> None:
        self.exchange.chat_unsubscribe(self.sid)


def chat_connector(exchange: SimExchange):
    """A `connect(url)` for the chat actor that opens a socket on the in-process exchange; a
    wrong listenKey or token is refused as the handshake would be (ConnectionRejected 403)."""

    @asynccontextmanager
    async def connect(url: str):
        parts = urlsplit(url)
        token = dict(parse_qsl(parts.query)).get("token", "")
        listen_key = parts.path.rpartition("/")[2]
        if not exchange.chat_allowed(listen_key, token):
            raise ConnectionRejected(403, (), b"")
        sock = _Socket(exchange, listen_key)
        try:
            yield sock
        finally:
            sock.close()

    return connect
