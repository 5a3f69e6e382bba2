"""The simulator's answers against Binance's captured samples (tests/samples/) and against the
bot's own decoders in c2c/: the bot must not be able to tell the simulator from Binance."""

from __future__ import annotations

from pathlib import Path

import msgspec
import trio

from c2c import decode
from c2c.credentials import Secret
from c2c.signing import signed_query
from sim import DEMO_API_KEY, DEMO_SECRET, SimConfig, SimExchange
from sim.wire import Request

SAMPLES = Path(__file__).parent / "samples"
HEADERS = {"x-mbx-apikey": DEMO_API_KEY, "clienttype": "web", "host": "127.0.0.1:9"}
EP0 = "/bapi/c2c/v2/friendly/c2c/adv/search"


def sample(name: str):
    return msgspec.json.decode((SAMPLES / name).read_bytes())


def make(**kw) -> SimExchange:
    return SimExchange(SimConfig(seed=7, **kw),
                       now_ms=lambda: 1_768_000_000_000 + int(trio.current_time() * 1000))


async def call(ex: SimExchange, method: str, path: str, body=None, params=()):
    await trio.sleep(0.25)
    query = signed_query(list(params), ex.now_ms(), Secret(DEMO_SECRET))
    raw = b"" if body is None else msgspec.json.encode(body)
    return ex.handle(Request(method, path, query, HEADERS, raw))


def shape(value):
    """Keys and JSON types, recursively; the first element stands for a list."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


async def test_ep0_page_has_the_captured_structure_key_for_key(autojump_clock):
    ex = make()
    ours = (await call(ex, "POST", EP0, {"asset": "USDT", "fiat": "NGN", "tradeType": "BUY",
                                         "page": 1, "rows": 10})).json()
    theirs = sample("bapi-adv-search_USDT-KZT_tradeType-BUY_2022-06-20.json")
    assert list(ours) == list(theirs)
    mine, real = shape(ours["data"][0]), shape(theirs["data"][0])
    latest = shape(sample("bapi-adv-search_USDT-MXN_data-rows-only_2026-01-15.json")[0])
    assert list(mine) == list(latest) and list(mine["adv"]) == list(latest["adv"])
    assert list(mine["advertiser"]) == list(latest["advertiser"])
    assert set(real["adv"]) <= set(mine["adv"])
    assert set(real["advertiser"]) <= set(mine["advertiser"])
    for key in ("price", "surplusAmount", "tradableQuantity", "payTimeLimit", "priceScale"):
        assert mine["adv"][key] == real["adv"][key]
    assert mine["adv"]["tradeMethods"][0].keys() == real["adv"]["tradeMethods"][0].keys()


async def test_gateway_errors_match_the_captured_bodies_byte_for_byte(autojump_clock):
    ex = make()
    cases = [
        (await call(ex, "POST", "/sapi/v1/c2c/ads/update", {"page": 1, "rows": 10}),
         "sapi-ads-update_error-1102-missing-advNo_http400.json", 400),
        (await call(ex, "POST", "/sapi/v1/c2c/ads/updateStatus", {"page": 1, "rows": 10}),
         "sapi-ads-updateStatus_error-1102-missing-advStatus_http400.json", 400),
        (await call(ex, "POST", "/sapi/v1/c2c/orderMatch/getUserOrderDetail", {}),
         "sapi-orderMatch-getUserOrderDetail_error-1102-illegal-parameter_http400.json", 400),
        (await call(ex, "GET", "/sapi/v1/c2c/ads/listWithPagination"),
         "sapi-wrong-http-method_error-1000_http404.json", 404),
        (ex.handle(Request("GET", EP0)),
         "bapi-adv-search_GET-not-POST_000002-illegal-parameter_http400.json", 400),
    ]
    for resp, name, status in cases:
        assert (resp.status, resp.body) == (status, (SAMPLES / name).read_bytes().strip())


async def test_the_bots_decoders_read_every_answer(autojump_clock):
    # EP-7 answers `data: true` here: the bot's decoder reads the default `data: null` as a
    # refusal (a known bot bug the strict default exposes end to end).
    ex = make(ep7_success="true")
    sell = ex.bot_ads[0]
    ex.open_order(sell.adv_no)
    with trio.move_on_after(5):
        await ex.run_market()  # the counterparty says hello
    search = await call(ex, "POST", EP0, {"asset": "USDT", "fiat": "NGN", "tradeType": "SELL",
                                          "page": 1, "rows": 20})
    page = decode.parse_search(search.status, search.headers, search.body)
    assert page.total == len(page.items) == 13
    ads, _ = decode.parse_my_ads(*_parts(await call(
        ex, "POST", "/sapi/v1/c2c/ads/listWithPagination", {"page": 1, "rows": 10})))
    assert {a.adv_no for a in ads} == {a.adv_no for a in ex.bot_ads}
    assert decode.parse_update(*_parts(await call(ex, "POST", "/sapi/v1/c2c/ads/update",
                                                  {"advNo": sell.adv_no, "price": 1601.11})))
    status = decode.parse_status_update(*_parts(await call(
        ex, "POST", "/sapi/v1/c2c/ads/updateStatus", {"advNos": [sell.adv_no], "advStatus": 1})))
    assert not status.fail_list
    orders, total = decode.parse_orders(*_parts(await call(
        ex, "POST", "/sapi/v1/c2c/orderMatch/listOrders", {"page": 1, "rows": 20})))
    assert total >= 1
    detail = decode.parse_order_detail(*_parts(await call(
        ex, "POST", "/sapi/v1/c2c/orderMatch/getUserOrderDetail",
        {"adOrderNo": orders[0].order_number})))
    assert detail.order_number == orders[0].order_number
    messages, _ = decode.parse_chat_messages(*_parts(await call(
        ex, "GET", "/sapi/v1/c2c/chat/retrieveChatMessagesWithPagination",
        params=(("page", "1"), ("rows", "20")))))
    assert messages
    decode.parse_chat_credential(*_parts(await call(
        ex, "GET", "/sapi/v1/c2c/chat/retrieveChatCredential")))
    assert decode.parse_server_time(*_parts(await call(ex, "GET", "/api/v3/time"))) > 0


def _parts(resp):
    return resp.status, resp.headers, resp.body
