"""Binance's rules as the simulator enforces them, through `SimExchange.handle` (no sockets)."""

from __future__ import annotations

import random
from decimal import Decimal

import msgspec
import trio

from c2c.credentials import Secret
from c2c.signing import signed_query
from sim import DEMO_API_KEY, DEMO_SECRET, Faults, SimConfig, SimExchange
from sim.wire import Request

BASE_MS = 1_768_000_000_000
EP0 = "/bapi/c2c/v2/friendly/c2c/adv/search"
EP7 = "/sapi/v1/c2c/ads/update"
HEADERS = {"x-mbx-apikey": DEMO_API_KEY, "clienttype": "web", "host": "127.0.0.1:9"}


def make(**kw) -> SimExchange:
    return SimExchange(SimConfig(seed=7, **kw),
                       now_ms=lambda: BASE_MS + int(trio.current_time() * 1000))


def signed(ex: SimExchange, path: str, body: object = None, *, method: str = "POST",
           params: tuple = (), secret: str = DEMO_SECRET, skew_ms: int = 0,
           headers: dict | None = None):
    query = signed_query(list(params), ex.now_ms() + skew_ms, Secret(secret))
    raw = b"" if body is None else msgspec.json.encode(body)
    return ex.handle(Request(method, path, query, HEADERS if headers is None else headers, raw))


async def paced(ex: SimExchange, *args, **kw):
    await trio.sleep(0.25)  # stay under 5 requests per second
    return signed(ex, *args, **kw)


def search(ex: SimExchange, trade_type: str = "BUY", **extra):
    body = {"asset": "USDT", "fiat": "NGN", "tradeType": trade_type, "page": 1, "rows": 10,
            "payTypes": [], "publisherType": None, **extra}
    return ex.handle(Request("POST", EP0, "", {}, msgspec.json.encode(body)))


def sell_ad(ex: SimExchange):
    return next(a for a in ex.bot_ads if a.side == "SELL")


async def test_sixth_request_in_one_second_is_refused_with_429_and_counted(autojump_clock):
    ex = make()
    answers = [signed(ex, "/api/v3/time", method="GET").status for _ in range(6)]
    assert answers == [200] * 5 + [429]
    refused = signed(ex, "/api/v3/time", method="GET")
    assert refused.json() == {"code": -1003, "msg": "Too many requests"}
    assert ("retry-after", "1") in refused.headers
    await trio.sleep(1.0)
    assert signed(ex, "/api/v3/time", method="GET").status == 200
    report = ex.report()
    assert (report.violations, report.max_requests_1s, report.requests_total) == (2, 7, 8)


async def test_ep0_pages_sooner_than_100ms_come_back_empty_and_count_as_soft_hits(autojump_clock):
    ex = make()
    first = search(ex).json()
    await trio.sleep(0.05)
    too_soon = search(ex).json()
    await trio.sleep(0.1)
    later = search(ex, page=2).json()
    assert len(first["data"]) == 10 and first["total"] == 13
    assert (too_soon["data"], too_soon["total"], too_soon["success"]) == ([], 0, True)
    assert len(later["data"]) == 3
    assert ex.report().soft_limit_hits == 1


async def test_ep0_lists_sell_ads_ascending_for_buy_and_buy_ads_descending_for_sell(autojump_clock):
    ex = make()
    sells = search(ex, "BUY").json()
    await trio.sleep(0.2)
    buys = search(ex, "SELL", rows=20).json()
    sell_prices = [Decimal(i["adv"]["price"]) for i in sells["data"]]
    buy_prices = [Decimal(i["adv"]["price"]) for i in buys["data"]]
    assert sell_prices == sorted(sell_prices) and buy_prices == sorted(buy_prices, reverse=True)
    assert {i["adv"]["tradeType"] for i in sells["data"]} == {"SELL"}
    item = buys["data"][0]
    assert list(sells) == ["code", "message", "messageDetail", "data", "total", "success"]
    assert item["adv"]["priceScale"] == 2
    assert isinstance(item["advertiser"]["monthFinishRate"], float)
    assert any(i["advertiser"]["nickName"] == "SimBotMerchant" for i in buys["data"])
    assert ex.handle(Request("GET", EP0)).json()["code"] == "000002"


async def test_ep0_filters_by_pay_method_and_merchant_publisher(autojump_clock):
    ex = make()
    page = search(ex, payTypes=["OPay"], publisherType="merchant", rows=20).json()["data"]
    assert page and all("OPay" in [m["identifier"] for m in i["adv"]["tradeMethods"]] for i in page)
    assert all(i["advertiser"]["userType"] == "merchant" for i in page)


async def test_ep7_refuses_surplus_out_of_band_offline_and_unknown_ads(autojump_clock):
    ex = make()
    ad = sell_ad(ex)
    with_surplus = await paced(ex, EP7, {"advNo": ad.adv_no, "price": 1601.5, "surplusAmount": 10})
    out_of_band = await paced(ex, EP7, {"advNo": ad.adv_no, "price": 1800})
    unknown = await paced(ex, EP7, {"advNo": "123", "price": 1601.5})
    missing = await paced(ex, EP7, {"price": 1601.5})
    await paced(ex, "/sapi/v1/c2c/ads/updateStatus", {"advNos": ad.adv_no, "advStatus": 3})
    offline = await paced(ex, EP7, {"advNo": ad.adv_no, "price": 1601.5})
    assert with_surplus.json() == {"code": -9000, "msg": "187049"} and with_surplus.status == 400
    assert out_of_band.json()["msg"] == "187055"
    assert unknown.json()["msg"] == "187022"
    assert offline.json() == {"code": -9000, "msg": "187022"}  # offline_ad_update default
    assert missing.json() == {"code": -1102, "msg": "Mandatory parameter 'advNo' was not sent, "
                              "was empty/null, or malformed."}
    assert ex.report().reprices_refused == {"187049": 1, "187055": 1, "187022": 2, "-1102": 1}


async def test_ep7_success_shows_the_new_price_in_the_book_at_once(autojump_clock):
    ex = make()
    ad = sell_ad(ex)
    answer = await paced(ex, EP7, {"advNo": ad.adv_no, "price": 1590.01})
    assert answer.json() == {"code": "000000", "message": "success", "data": None, "success": True}
    top = search(ex).json()["data"][0]
    assert (top["adv"]["advNo"], top["adv"]["price"]) == (ad.adv_no, "1590.01")
    assert ex.report().reprices_accepted == 1


async def test_ep8_refuses_a_list_for_the_configured_share_and_accepts_a_comma_string(
    autojump_clock,
):
    ex = make(status_list_reject_share=1.0)
    nos = [a.adv_no for a in ex.bot_ads]
    as_list = await paced(ex, "/sapi/v1/c2c/ads/updateStatus", {"advNos": nos, "advStatus": 3})
    as_text = await paced(ex, "/sapi/v1/c2c/ads/updateStatus",
                          {"advNos": ",".join(nos), "advStatus": 3})
    assert as_list.status == 400 and as_list.json()["code"] == -1102
    assert as_text.json()["data"] == {"status": True, "failList": []}
    assert {a.status for a in ex.bot_ads} == {3}
    shared = make(status_list_reject_share=0.3)
    refused = 0
    for _ in range(40):
        answer = await paced(shared, "/sapi/v1/c2c/ads/updateStatus",
                             {"advNos": nos, "advStatus": 1})
        refused += answer.status == 400
    assert 4 <= refused <= 20


async def test_bad_key_bad_signature_and_stale_timestamp_are_refused(autojump_clock):
    ex = make()
    ep4, body = "/sapi/v1/c2c/ads/listWithPagination", {"page": 1, "rows": 10}
    no_key = await paced(ex, ep4, body, headers={"clienttype": "web"})
    bad_sig = await paced(ex, ep4, body, secret="not-the-secret")
    stale = await paced(ex, ep4, body, skew_ms=-61_000)
    ahead = await paced(ex, ep4, body, skew_ms=1_500)
    good = await paced(ex, ep4, body)
    assert (no_key.status, no_key.json()) == (400, {"code": -2014,
                                                    "msg": "API-key format invalid."})
    assert (bad_sig.status, bad_sig.json()["code"]) == (400, -1022)
    assert (stale.json()["code"], ahead.json()["code"]) == (-1021, -1021)
    ads = good.json()
    assert ads["total"] == 2 and {a["advStatus"] for a in ads["data"]} == {1}
    assert list(ads) == ["code", "message", "data", "total", "success"]


async def test_clock_skew_makes_an_unsynced_bot_get_1021_until_it_uses_server_time(autojump_clock):
    ex = make(faults=Faults(clock_skew_ms=90_000))
    ep4, body = "/sapi/v1/c2c/ads/listWithPagination", {"page": 1, "rows": 10}
    assert (await paced(ex, ep4, body)).json()["code"] == -1021
    server = (await paced(ex, "/api/v3/time", method="GET")).json()["serverTime"]
    assert server == ex.now_ms() + 90_000
    assert (await paced(ex, ep4, body, skew_ms=90_000)).status == 200


async def test_wrong_method_unknown_path_and_chat_credential_rules(autojump_clock):
    ex = make()
    wrong = await paced(ex, "/sapi/v1/c2c/ads/listWithPagination", method="GET")
    unknown = await paced(ex, "/sapi/v1/c2c/nothing/here", {})
    no_client_type = await paced(ex, "/sapi/v1/c2c/chat/retrieveChatCredential", method="GET",
                                 headers={"x-mbx-apikey": DEMO_API_KEY})
    cred = await paced(ex, "/sapi/v1/c2c/chat/retrieveChatCredential", method="GET")
    assert (wrong.status, wrong.json()) == (
        404, {"code": -1000, "msg": "Request method 'GET' is not supported"})
    assert (unknown.status, unknown.body) == (200, b"")
    assert no_client_type.json() == {"code": -1102, "msg": "illegal parameter"}
    data = cred.json()["data"]
    assert data["chatWssUrl"] == "ws://127.0.0.1:9/chat"
    assert data["listenKey"].startswith("c2c_") and len(data["listenToken"]) == 37
    assert ex.chat_allowed(data["listenKey"], data["listenToken"])
    assert not ex.chat_allowed(data["listenKey"], "TOKENwrong")


async def test_orders_are_listed_and_detailed_and_an_unsigned_detail_is_refused(autojump_clock):
    ex = make(order_rate_per_s=5.0)
    for ad in ex.bot_ads:
        ex.market.set_price(ad.adv_no, ex.market.ref, 0.0)  # the best price on both sides
    with trio.move_on_after(3):
        await ex.run_market()
    listed = (await paced(ex, "/sapi/v1/c2c/orderMatch/listOrders",
                          {"page": 1, "rows": 20, "orderStatusList": [1, 2, 3]})).json()
    assert listed["total"] >= 1
    first = listed["data"][0]
    assert len(first["orderNumber"]) == 20 and isinstance(first["orderStatus"], int)
    await trio.sleep(0.25)
    unsigned = ex.handle(Request("POST", "/sapi/v1/c2c/orderMatch/getUserOrderDetail", "",
                                 HEADERS, msgspec.json.encode({"adOrderNo": first["orderNumber"]})))
    assert (unsigned.status, unsigned.json()["code"]) == (401, -1002)
    detail = (await paced(ex, "/sapi/v1/c2c/orderMatch/getUserOrderDetail",
                          {"adOrderNo": first["orderNumber"]})).json()["data"]
    assert (detail["advOrderNumber"], detail["totalPrice"]) == (first["advNo"], first["totalPrice"])
    missing = await paced(ex, "/sapi/v1/c2c/orderMatch/getUserOrderDetail", {})
    assert missing.json() == {"code": -1102, "msg": "illegal parameter"}
    history = (await paced(ex, "/sapi/v1/c2c/chat/retrieveChatMessagesWithPagination",
                           method="GET", params=(("page", "1"), ("rows", "50")))).json()
    ids = [int(m["id"]) for m in history["data"]]  # newest first; read ones have whole seconds
    assert ids == sorted(ids, reverse=True) and isinstance(history["data"][0]["id"], str)


async def test_error_rate_one_answers_every_signed_call_with_a_reference_error(autojump_clock):
    ex = make(faults=Faults(error_rate=1.0, latency_ms=30))
    statuses = set()
    for _ in range(30):
        answer = await paced(ex, EP7, {"advNo": sell_ad(ex).adv_no, "price": 1601.5})
        statuses.add(answer.status)
        assert answer.delay_s == 0.03
    assert statuses <= {400, 403, 429, 500, 502} and len(statuses) >= 3
    assert ex.report().faults_injected == 30
    assert ex.report().violations == 0


def test_exchanges_built_from_one_rng_state_draw_the_same_ids():
    first = SimExchange(SimConfig(), lambda: 0, rng=random.Random(42))
    second = SimExchange(SimConfig(), lambda: 0, rng=random.Random(42))
    assert [a.adv_no for a in first.bot_ads] == [a.adv_no for a in second.bot_ads]
    assert all(len(a.adv_no) == 20 for a in first.bot_ads)
