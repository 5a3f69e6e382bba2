"""The simulator without sockets: an httpx transport and a chat connector over `SimExchange`.

The same exchange as `serve_sim` serves, reached through memory instead of loopback, so the whole
system (bot and market) can run under trio's MockClock: an hour of trading in seconds, with the
same answers, signature checks and limits. Used to build long sessions for benchmarks and for
fast whole-system tests; the demo and the end-to-end tests use real sockets.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from urllib.parse import parse_qsl, urlsplit

import random

import httpx
import trio

from sim.exchange import SimExchange
from sim.wire import Request


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
        return httpx.Response(resp.status, headers=list(resp.headers), content=resp.body,
                              request=request)


class _Socket:
    def __init__(self, exchange: SimExchange) -> None:
        self.exchange = exchange
        self.feed, self.frames = exchange.subscribe()

    async def get_message(self) -> str:
        try:
            return await self.frames.receive()
        except trio.EndOfChannel:
            raise ConnectionResetError("the simulator closed the chat socket") from None

    async def send_message(self, text: str) -> None:
        self.exchange.record_bot_frame(text)

    def close(self) -> None:
        self.exchange.unsubscribe(self.feed)
        self.feed.close()


def chat_connector(exchange: SimExchange):
    """A `connect(url)` for the chat actor that opens a socket on the in-process exchange."""

    @asynccontextmanager
    async def connect(url: str):
        parts = urlsplit(url)
        token = dict(parse_qsl(parts.query)).get("token", "")
        if not exchange.chat_allowed(parts.path.rpartition("/")[2], token):
            raise ConnectionRefusedError("chat socket refused: bad listenKey or token")
        sock = _Socket(exchange)
        try:
            yield sock
        finally:
            sock.close()

    return connect
