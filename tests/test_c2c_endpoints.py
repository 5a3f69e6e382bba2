"""Request builders and the httpx requests they become: method, path, headers, body, signature."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from decimal import Decimal
from urllib.parse import parse_qsl

import msgspec
import pytest

from c2c import endpoints
from c2c.credentials import Credentials, Secret
from c2c.http import (
    USER_AGENTS,
    build_http_request,
    http_request_identity,
    pick_user_agent,
    request_identity,
)
from c2c.signing import sign

API_KEY = "test-api-key-0123456789"
SECRET = "s3cr3t-NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP"
CREDS = Credentials(API_KEY, SECRET)
TS = 1_768_441_557_876
UA = USER_AGENTS[0]
URLS = {"sapi_url": "https://api.binance.com", "bapi_url": "https://p2p.binance.com"}


def build(req, **kw):
    args = {**URLS, "credentials": CREDS, "timestamp_ms": TS, "user_agent": UA, **kw}
    return build_http_request(req, **args)


def assert_signed(request, secret: str = SECRET, recv_window: str = "60000") -> dict[str, str]:
    """Recompute the HMAC with hashlib over the query exactly as sent; return the params."""
    query = request.url.query.decode()
    head, _, signature = query.rpartition("&signature=")
    expected = hmac.new(secret.encode(), head.encode(), hashlib.sha256).hexdigest()
    assert signature == expected
    params = dict(parse_qsl(query))
    assert params["timestamp"] == str(TS)
    assert params["recvWindow"] == recv_window
    assert list(dict(parse_qsl(query)))[-1] == "signature"
    assert request.headers["X-MBX-APIKEY"] == API_KEY
    assert request.headers["clientType"] == "web"
    return params


def body_of(request) -> dict:
    assert request.headers["Content-Type"] == "application/json"
    return json.loads(request.content)


def test_binance_spot_docs_signing_example_reproduces():
    secret = Secret("NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j")
    query = ("symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
             "&recvWindow=5000&timestamp=1499827319559")
    assert sign(secret, query) == "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"


def test_search_for_sellers_posts_unsigned_tradetype_buy_with_browser_headers():
    req = endpoints.search_ads("r1", asset="USDT", fiat="KZT", want="sellers", page=2,
                               pay_types=("KaspiBank",), trans_amount=Decimal("50000"))
    assert (req.endpoint, req.signed, req.effect, req.priority) == ("EP-0", False, False, 5)
    request = build(req)
    assert request.method == "POST"
    assert str(request.url) == "https://p2p.binance.com/bapi/c2c/v2/friendly/c2c/adv/search"
    assert "X-MBX-APIKEY" not in request.headers
    assert request.headers["User-Agent"] == UA
    assert request.headers["Origin"] == "https://p2p.binance.com"
    assert request.headers["Referer"].startswith("https://p2p.binance.com")
    assert body_of(request) == {
        "asset": "USDT", "fiat": "KZT", "tradeType": "BUY", "page": 2, "rows": 20,
        "publisherType": "merchant", "payTypes": ["KaspiBank"], "countries": [],
        "transAmount": 50000,
    }


def test_search_for_buyers_sends_tradetype_sell_and_my_ad_side_picks_the_list():
    req = endpoints.search_ads("r1", asset="USDT", fiat="RUB",
                               want=endpoints.ads_list_for("BUY"), page=1)
    assert json.loads(req.body)["tradeType"] == "SELL"
    assert "transAmount" not in json.loads(req.body)
    assert endpoints.ads_list_for("SELL") == "sellers"
    with pytest.raises(ValueError):
        endpoints.ads_list_for("sell")


def test_list_my_ads_is_a_signed_post_with_page_and_rows():
    request = build(endpoints.list_my_ads("r2", page=3))
    assert request.method == "POST"
    assert request.url.path == "/sapi/v1/c2c/ads/listWithPagination"
    assert request.url.host == "api.binance.com"
    assert_signed(request)
    assert body_of(request) == {"page": 3, "rows": 20}


def test_update_price_body_is_exactly_advno_and_price_as_a_json_number():
    req = endpoints.update_price("r3", adv_no="13844792446345093120", price=Decimal("17.92"))
    assert (req.endpoint, req.effect, req.priority, req.purpose) == (
        "EP-7", True, 1, "13844792446345093120")
    request = build(req)
    assert request.url.path == "/sapi/v1/c2c/ads/update"
    assert_signed(request)
    assert request.content == b'{"advNo":"13844792446345093120","price":17.92}'


def test_update_price_refuses_a_float_or_a_non_positive_price():
    with pytest.raises(TypeError):
        endpoints.update_price("r", adv_no="1", price=17.92)
    for bad in (Decimal("0"), Decimal("-1"), Decimal("NaN"), Decimal("Infinity")):
        with pytest.raises(ValueError):
            endpoints.update_price("r", adv_no="1", price=bad)


def test_update_status_sends_a_list_or_a_comma_string_fallback():
    as_list = build(endpoints.update_status("r4", adv_nos=["11", "22"], status=3))
    assert as_list.url.path == "/sapi/v1/c2c/ads/updateStatus"
    assert_signed(as_list)
    assert body_of(as_list) == {"advNos": ["11", "22"], "advStatus": 3}
    as_text = endpoints.update_status("r5", adv_nos=("11", "22"), status=1, as_string=True)
    assert json.loads(as_text.body) == {"advNos": "11,22", "advStatus": 1}
    assert as_text.effect and as_text.priority == 1


def test_signed_order_detail_posts_adorderno():
    request = build(endpoints.order_detail("r6", order_no="22844932279676706816", signed=True))
    assert request.url.path == "/sapi/v1/c2c/orderMatch/getUserOrderDetail"
    assert_signed(request)
    assert body_of(request) == {"adOrderNo": "22844932279676706816"}


def test_unsigned_order_detail_sends_the_key_but_no_timestamp_or_signature():
    req = endpoints.order_detail("r7", order_no="228", signed=False)
    request = build(req)
    assert request.url.query == b""
    assert request.headers["X-MBX-APIKEY"] == API_KEY
    assert request.headers["clientType"] == "web"
    assert (req.priority, req.effect) == (1, False)


def test_list_orders_polls_active_statuses_by_default():
    req = endpoints.list_orders("r8", page=1)
    request = build(req)
    assert request.url.path == "/sapi/v1/c2c/orderMatch/listOrders"
    assert_signed(request)
    assert body_of(request) == {"page": 1, "rows": 20, "orderStatusList": [1, 2, 3]}
    assert req.priority == 3


def test_chat_credential_is_a_signed_get_without_body():
    req = endpoints.chat_credential("r9")
    request = build(req)
    assert (request.method, request.url.path) == ("GET", "/sapi/v1/c2c/chat/retrieveChatCredential")
    assert request.content == b"" and "Content-Type" not in request.headers
    assert assert_signed(request).keys() == {"recvWindow", "timestamp", "signature"}
    assert req.priority == 2


def test_chat_messages_put_page_rows_and_order_in_the_signed_query():
    request = build(endpoints.chat_messages("r10", page=2, rows=50, order_no="228"))
    assert request.method == "GET"
    assert request.url.path == "/sapi/v1/c2c/chat/retrieveChatMessagesWithPagination"
    params = assert_signed(request)
    assert request.url.query.decode().startswith("page=2&rows=50&orderNo=228&recvWindow=")
    assert params["orderNo"] == "228"


def test_query_values_needing_percent_encoding_are_signed_as_sent():
    req = endpoints.chat_messages("r11", page=1, order_no="a b&c=d/é")
    request = build(req, recv_window_ms=5000)
    params = assert_signed(request, recv_window="5000")
    assert params["orderNo"] == "a b&c=d/é"


def test_server_time_is_an_unsigned_get_on_the_sapi_host_without_key():
    req = endpoints.server_time("t1")
    assert (req.endpoint, req.priority, req.signed) == ("TIME", 0, False)
    request = build(req)
    assert str(request.url) == "https://api.binance.com/api/v3/time"
    assert "X-MBX-APIKEY" not in request.headers


def test_priorities_put_time_and_effects_before_the_book():
    reqs = [
        endpoints.search_ads("a", asset="USDT", fiat="KZT", want="sellers", page=1),
        endpoints.list_my_ads("b", page=1),
        endpoints.chat_messages("c", page=1),
        endpoints.list_orders("d", page=1),
        endpoints.chat_credential("e"),
        endpoints.update_price("f", adv_no="1", price=Decimal("1.5")),
        endpoints.server_time("g"),
    ]
    ordered = sorted(reqs, key=lambda r: r.priority)
    assert [r.endpoint for r in ordered] == [
        "TIME", "EP-7", "EP-33", "EP-15", "EP-4", "EP-34", "EP-0"]


def test_signed_request_without_credentials_is_refused():
    with pytest.raises(ValueError, match="EP-4"):
        build(endpoints.list_my_ads("r", page=1), credentials=None)


def test_identity_ignores_signing_and_key_order_but_not_the_price():
    req = endpoints.update_price("r", adv_no="1", price=Decimal("17.90"))
    sent_early = build(req, timestamp_ms=TS)
    sent_late = build(req, timestamp_ms=TS + 5000)
    assert http_request_identity(sent_early) == http_request_identity(sent_late)
    assert http_request_identity(sent_early) == request_identity(req)
    reordered = msgspec.structs.replace(req, request_id="other-id",
                                        body='{"price":17.90,"advNo":"1"}')
    assert request_identity(reordered) == request_identity(req)
    cheaper = endpoints.update_price("r", adv_no="1", price=Decimal("17.89"))
    assert request_identity(cheaper) != request_identity(req)


def test_identity_of_a_query_call_matches_after_signing():
    req = endpoints.chat_messages("r", page=1, order_no="228")
    assert http_request_identity(build(req)) == request_identity(req) == (
        "GET", "/sapi/v1/c2c/chat/retrieveChatMessagesWithPagination",
        "orderNo=228&page=1&rows=20", "")


def test_user_agent_choice_is_a_function_of_the_seed():
    picks = [pick_user_agent(random.Random(7)) for _ in range(3)]
    assert len(set(picks)) == 1 and picks[0] in USER_AGENTS
    spread = {pick_user_agent(random.Random(seed)) for seed in range(50)}
    assert len(spread) > 1
    assert all("Mozilla/5.0" in ua for ua in USER_AGENTS)
