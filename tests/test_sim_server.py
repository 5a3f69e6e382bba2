"""The simulator over real loopback sockets: HTTP through httpx, chat through trio-websocket."""

from __future__ import annotations

import time

import httpx
import msgspec
import pytest
import trio
from trio_websocket import ConnectionClosed, ConnectionRejected, open_websocket_url

from c2c.credentials import Secret
from c2c.signing import signed_query
from sim import DEMO_API_KEY, DEMO_SECRET, Faults, SimConfig, SimExchange, serve_sim

# Real processes, sockets or the real clock (see tests/conftest.py).
pytestmark = pytest.mark.e2e

HEADERS = {"X-MBX-APIKEY": DEMO_API_KEY, "clientType": "web"}


def wall_ms() -> int:
    return int(time.time() * 1000)


async def start(nursery) -> tuple[SimExchange, str]:
    exchange = SimExchange(SimConfig(seed=7), now_ms=wall_ms)
    server = await nursery.start(serve_sim, exchange, "127.0.0.1", 0)
    assert server.port > 0 and server.base_url == f"http://127.0.0.1:{server.port}"
    return exchange, server.base_url


async def call(client: httpx.AsyncClient, method: str, path: str, body=None, params=()):
    query = signed_query(list(params), wall_ms(), Secret(DEMO_SECRET))
    return await client.request(method, f"{path}?{query}", json=body, headers=HEADERS)


async def credential(client: httpx.AsyncClient) -> dict:
    answer = await call(client, "GET", "/sapi/v1/c2c/chat/retrieveChatCredential")
    return answer.json()["data"]


async def test_signed_calls_over_http_get_binance_shaped_answers(nursery):
    exchange, base = await start(nursery)
    sell = next(a for a in exchange.bot_ads if a.side == "SELL")
    async with httpx.AsyncClient(base_url=base) as client:
        ads = await call(client, "POST", "/sapi/v1/c2c/ads/listWithPagination",
                         {"page": 1, "rows": 10})
        update = await call(client, "POST", "/sapi/v1/c2c/ads/update",
                            {"advNo": sell.adv_no, "price": 1580.55})
        book = await client.post("/bapi/c2c/v2/friendly/c2c/adv/search", json={
            "asset": "USDT", "fiat": "NGN", "tradeType": "BUY", "page": 1, "rows": 10,
            "payTypes": [], "publisherType": None})
        wrong = await client.get("/sapi/v1/c2c/ads/listWithPagination", headers=HEADERS)
    assert ads.status_code == 200 and ads.json()["data"][0]["advNo"] == sell.adv_no
    assert update.json() == {"code": "000000", "message": "success", "data": None, "success": True}
    assert int(dict(update.headers)["x-sapi-used-ip-weight-1m"]) == 2
    top = book.json()["data"][0]["adv"]
    assert (top["advNo"], top["price"]) == (sell.adv_no, "1580.55")
    assert wrong.status_code == 404 and wrong.json()["code"] == -1000
    assert exchange.report().requests_by_endpoint == {"EP-4": 2, "EP-7": 1, "EP-0": 1}


async def test_chat_socket_pushes_counterparty_frames_and_records_the_bots(nursery):
    exchange, base = await start(nursery)
    async with httpx.AsyncClient(base_url=base) as client:
        cred = await credential(client)
        url = f"{cred['chatWssUrl']}/{cred['listenKey']}?token={cred['listenToken']}&clientType=web"
        with trio.fail_after(2):
            async with open_websocket_url(url) as ws:
                order_no = exchange.open_order(exchange.bot_ads[0].adv_no)
                pushed = msgspec.json.decode(await ws.get_message())
                auto_reply = msgspec.json.decode(await ws.get_message())
                await ws.send_message(msgspec.json.encode({
                    "type": "text", "uuid": "self_1", "orderNo": order_no, "content": "Hello!",
                    "self": False, "clientType": "web", "createTime": wall_ms(), "sendStatus": 0,
                }).decode())
                echo = msgspec.json.decode(await ws.get_message())
        history = (await call(client, "GET", "/sapi/v1/c2c/chat/retrieveChatMessagesWithPagination",
                              params=(("page", "1"), ("rows", "20"), ("orderNo", order_no)))).json()
    assert (pushed["orderNo"], pushed["type"], pushed["self"]) == (order_no, "system", False)
    assert (auto_reply["type"], "id" in auto_reply, "uuid" in auto_reply) == ("auto_reply", False,
                                                                            False)
    assert (echo["content"], echo["self"], echo["uuid"]) == ("Hello!", True, "self_1")
    assert exchange.report().chat_frames_from_bot == 1
    assert history["data"][0]["content"] == "Hello!" and history["data"][0]["self"] is True


async def test_chat_socket_with_a_wrong_token_is_refused(nursery):
    exchange, base = await start(nursery)
    async with httpx.AsyncClient(base_url=base) as client:
        cred = await credential(client)
    url = f"{cred['chatWssUrl']}/{cred['listenKey']}?token=TOKEN{'0' * 32}&clientType=web"
    with trio.fail_after(2), pytest.raises(ConnectionRejected) as refused:
        async with open_websocket_url(url):
            pass
    assert refused.value.status_code == 403


async def test_chat_socket_is_closed_periodically_when_asked(nursery):
    faults = Faults(drop_ws_every_s=0.2, ws_close_kinds=("1002",))
    exchange = SimExchange(SimConfig(seed=7, faults=faults), now_ms=wall_ms)
    server = await nursery.start(serve_sim, exchange, "127.0.0.1", 0)
    cred = exchange.issue_chat_credential("unused", trio.current_time())
    url = f"{cred['chatWssUrl']}/{cred['listenKey']}?token={cred['listenToken']}&clientType=web"
    with trio.fail_after(2), pytest.raises(ConnectionClosed) as closed:
        async with open_websocket_url(url) as ws:
            await ws.get_message()
    assert closed.value.reason.code == 1002 and "frame" in closed.value.reason.reason
