"""The chat socket over real loopback TCP, where the socket itself matters (reference §8): the
server's pings with Binance's payload, 1002 closes with Netty's reasons, drops with no close
frame, and a refused credential after a close."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest
import trio
from trio_websocket import ConnectionClosed, ConnectionRejected, open_websocket_url
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Ping, Request

from sim import Faults, SimConfig, SimExchange, serve_sim
from sim.chat import NETTY_REASONS
from sim.chat_server import PING_PAYLOAD

# Real processes, sockets or the real clock (see tests/conftest.py).
pytestmark = pytest.mark.e2e

ERROR_FRAME = '{"content":"ILLEGAL_PARAM","self":false,"type":"error"}'  # as captured


def wall_ms() -> int:
    return int(time.time() * 1000)


async def start(nursery, **kw) -> SimExchange:
    exchange = SimExchange(SimConfig(seed=7, **kw), now_ms=wall_ms)
    server = await nursery.start(serve_sim, exchange, "127.0.0.1", 0)
    assert server.chat_url == exchange.chat_url and server.chat_url.startswith("ws://127.0.0.1:")
    return exchange


def socket_url(exchange: SimExchange) -> str:
    cred = exchange.issue_chat_credential("ignored", trio.current_time())
    return f"{cred['chatWssUrl']}/{cred['listenKey']}?token={cred['listenToken']}&clientType=web"


async def test_the_server_pings_with_binances_payload_ref_s8(nursery):
    exchange = await start(nursery, ws_ping_interval_s=0.2)
    parts = urlsplit(socket_url(exchange))
    stream = await trio.open_tcp_stream(parts.hostname, parts.port)
    client = WSConnection(ConnectionType.CLIENT)
    await stream.send_all(client.send(Request(host=parts.netloc,
                                              target=f"{parts.path}?{parts.query}")))
    events = []
    with trio.fail_after(3):
        while not any(isinstance(e, Ping) for e in events):
            client.receive_data(await stream.receive_some())
            events += list(client.events())
    await stream.aclose()
    assert isinstance(events[0], AcceptConnection)
    ping = next(e for e in events if isinstance(e, Ping))
    assert ping.payload == PING_PAYLOAD == b"\x08\x01\x08\x01"


@pytest.mark.parametrize(("kind", "code"), [("1000", 1000), ("1002", 1002), ("drop", 1006)])
async def test_closes_reach_a_trio_websocket_client_as_captured_ref_s8(nursery, kind, code):
    exchange = await start(nursery, faults=Faults(ws_close_every_s=0.5, ws_close_kinds=(kind,)))
    address = socket_url(exchange)
    with trio.fail_after(5), pytest.raises(ConnectionClosed) as closed:
        async with open_websocket_url(address) as ws:
            while True:
                await ws.get_message()
    reason = closed.value.reason
    assert reason.code == code
    assert (reason.reason in NETTY_REASONS) == (kind == "1002")
    with trio.fail_after(5), pytest.raises(ConnectionRejected) as refused:
        async with open_websocket_url(address):
            pass
    assert refused.value.status_code == 403
    assert exchange.report().chat_closes == {kind: 1}


async def test_an_error_frame_then_a_normal_close_over_tcp_ref_s8(nursery):
    exchange = await start(nursery, faults=Faults(ws_illegal_param_probability=1.0))
    with trio.fail_after(5), pytest.raises(ConnectionClosed) as closed:
        async with open_websocket_url(socket_url(exchange)) as ws:
            await ws.send_message('{"type":"text"}')
            assert await ws.get_message() == ERROR_FRAME
            started = trio.current_time()
            await ws.get_message()
    assert closed.value.reason.code == 1000
    assert 0.6 <= trio.current_time() - started <= 1.5
