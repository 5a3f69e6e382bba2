"""Decoding the real captured samples (tests/samples/) and synthetic answers into typed values."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from c2c.decode import (
    decode_envelope,
    is_last_page,
    parse_chat_credential,
    parse_chat_messages,
    parse_my_ads,
    parse_order_detail,
    parse_orders,
    parse_search,
    parse_server_time,
    search_page,
    parse_status_update,
    parse_update,
    relevant_headers,
    retry_after_s,
    weights,
)
from actors.retries import classify_reply
from c2c import endpoints
from c2c.errors import FatalApiError, MalformedResponse, RateLimited, RequestRejected
from c2c.models import SearchItem, to_book_ad, to_my_ad
from events import BookAd, MyAd

SAMPLES = Path(__file__).parent / "samples"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def ok(data: str, total: int | None = None) -> bytes:
    tail = "" if total is None else f',"total":{total}'
    return f'{{"code":"000000","message":"success","data":{data}{tail},"success":true}}'.encode()


def test_usdt_kzt_first_seller_decodes_to_exact_decimals():
    page = parse_search(200, {}, sample("bapi-adv-search_USDT-KZT_tradeType-BUY_2022-06-20.json"))
    assert page.total == 66 and len(page.items) == 10
    first = page.items[0]
    assert first.adv.adv_no == "11371005216841969664"
    assert first.adv.price == Decimal("461.50") and str(first.adv.price) == "461.50"
    assert first.adv.surplus_amount == Decimal("22.58")
    assert first.adv.trade_type == "SELL"
    assert first.advertiser.nick_name == "Mobax_treid"
    prices = [item.adv.price for item in page.items]
    assert prices == sorted(prices)  # a buyer's view: sellers, cheapest first


def test_book_ad_keeps_what_pricing_needs_and_marks_my_ad():
    page = parse_search(200, {}, sample("bapi-adv-search_USDT-KZT_tradeType-BUY_2022-06-20.json"))
    ad = to_book_ad(page.items[0], frozenset({"11371005216841969664"}))
    assert ad == BookAd(
        adv_no="11371005216841969664", price=Decimal("461.50"), surplus=Decimal("22.58"),
        min_amount=Decimal("5000.00"), max_amount=Decimal("500000.00"),
        pay_methods=("JysanBank",), nickname="Mobax_treid", month_orders=52,
        finish_rate=Decimal("0.9285714285714286"), mine=True, user_type="user",
    )
    assert not to_book_ad(page.items[1], frozenset()).mine


def test_short_page_has_total_7_with_7_rows_and_ends_paging():
    page = parse_search(200, {}, sample(
        "bapi-adv-search_BNB-KZT_tradeType-BUY_short-page_2022-06-20.json"))
    assert (page.total, len(page.items)) == (7, 7)
    assert is_last_page(len(page.items), 10, 1, page.total)


def test_buyers_list_is_descending_and_holds_buy_ads():
    page = parse_search(200, {}, sample("bapi-adv-search_USDT-RUB_tradeType-SELL_2022-06-20.json"))
    assert page.total == 393
    assert {item.adv.trade_type for item in page.items} == {"BUY"}
    prices = [item.adv.price for item in page.items]
    assert prices == sorted(prices, reverse=True)
    assert not is_last_page(len(page.items), 10, 1, page.total)


@pytest.mark.parametrize("name", sorted(p.name for p in SAMPLES.glob("bapi-adv-search_*20*.json")
                                        if "MXN" not in p.name and "GET" not in p.name))
def test_every_captured_search_page_converts_to_book_ads(name):
    page = parse_search(200, {}, sample(name))
    ads = [to_book_ad(item, ()) for item in page.items]
    assert ads and all(ad.price > 0 and ad.max_amount >= ad.min_amount for ad in ads)


def test_2026_rows_decode_with_their_new_fields_ignored():
    rows = msgspec.json.decode(sample("bapi-adv-search_USDT-MXN_data-rows-only_2026-01-15.json"),
                               type=list[SearchItem])
    assert rows[0].adv.price == Decimal("17.90")
    assert rows[0].advertiser.positive_rate == Decimal("0.98265895")
    assert to_book_ad(rows[0], ()).pay_methods[:2] == ("BANK", "BancoRegional")


def test_rows_without_an_envelope_are_rejected_as_malformed():
    with pytest.raises(MalformedResponse):
        parse_search(200, {}, sample("bapi-adv-search_USDT-MXN_data-rows-only_2026-01-15.json"))


def test_empty_public_answer_is_the_last_page():
    page = parse_search(200, {}, sample("bapi-v2-public-adv-search_empty-data_2026-01-15.json"))
    assert (page.items, page.total) == ([], 0)
    assert is_last_page(0, 20, 1, 0)


def test_get_instead_of_post_is_a_rejected_request_with_code_2():
    with pytest.raises(RequestRejected) as info:
        parse_search(400, {}, sample(
            "bapi-adv-search_GET-not-POST_000002-illegal-parameter_http400.json"))
    assert (info.value.code, info.value.message) == (2, "illegal parameter")


@pytest.mark.parametrize(("name", "status", "code"), [
    ("sapi-ads-search_error-1102-missing-params_http400.json", 400, -1102),
    ("sapi-ads-update_error-1102-missing-advNo_http400.json", 400, -1102),
    ("sapi-ads-updateStatus_error-1102-missing-advStatus_http400.json", 400, -1102),
    ("sapi-orderMatch-getUserOrderDetail_error-1102-illegal-parameter_http400.json", 400, -1102),
])
def test_captured_missing_parameter_errors_abort(name, status, code):
    with pytest.raises(RequestRejected) as info:
        decode_envelope("EP-7", status, {}, sample(name))
    assert info.value.code == code and info.value.status == status
    assert "Mandatory parameter" in str(info.value) or "illegal parameter" in str(info.value)


def test_captured_invalid_api_key_is_fatal():
    with pytest.raises(FatalApiError) as info:
        parse_my_ads(400, {}, sample("sapi-ads-search_error-2008-invalid-api-key_http400.json"))
    assert info.value.code == -2008 and "Invalid Api-Key ID." in str(info.value)


def test_captured_wrong_method_404_is_rejected_for_good_not_retried_ref_s7():
    with pytest.raises(RequestRejected) as info:
        parse_my_ads(404, {}, sample("sapi-wrong-http-method_error-1000_http404.json"))
    assert info.value.code == -1000


def test_captured_chat_history_keeps_the_id_as_a_string():
    messages, total = parse_chat_messages(200, {}, sample(
        "sapi-chat-retrieveChatMessagesWithPagination_2026-01-16.json"))
    assert total == 3 and len(messages) == 2
    first, second = messages
    assert first.id == "2055226645140359937"
    assert (first.type, first.self_sent) == ("auto_reply", True)
    assert first.order_no == "22845571053339844608"
    assert first.create_time == 1768593854000 and first.content.startswith("✨ ¡Hola!")
    assert (second.type, second.self_sent) == ("system", False)
    assert second.content == '{"type":"seller_merchant_trading"}'


def test_a_numeric_chat_id_becomes_a_string_without_losing_digits():
    body = ok('[{"id":13844792446345093120,"type":"text","orderNo":"1","content":"hi"}]', 1)
    messages, _ = parse_chat_messages(200, {}, body)
    assert messages[0].id == "13844792446345093120"


def test_my_ads_page_converts_to_my_ad():
    ad = ('{"advNo":"13844792446345093120","classify":"profession","tradeType":"SELL",'
          '"asset":"USDT","fiatUnit":"MXN","advStatus":1,"priceType":1,'
          '"priceFloatingRatio":"100.00000000","price":"17.92","initAmount":"174757.82000000",'
          '"surplusAmount":"1500.5","minSingleTransAmount":"500","maxSingleTransAmount":"20000",'
          '"priceScale":2,"tradeMethods":[{"identifier":"BANK"},{"payType":"STP"}],"extra":{}}')
    details, total = parse_my_ads(200, {}, ok(f"[{ad}]", 1))
    assert total == 1
    assert to_my_ad(details[0]) == MyAd(
        adv_no="13844792446345093120", side="SELL", asset="USDT", fiat="MXN",
        price=Decimal("17.92"), status=1, surplus=Decimal("1500.5"), min_amount=Decimal("500"),
        max_amount=Decimal("20000"), pay_methods=("BANK", "STP"), price_scale=2,
    )


def test_orders_page_decodes_strings_as_decimal_and_derives_the_unit_price():
    order = ('{"orderNumber":"22844932279676706816","advNo":"1384","tradeType":"SELL",'
             '"asset":"USDT","fiat":"MXN","fiatSymbol":"Mex$","amount":"1000.07000000",'
             '"totalPrice":"17921.25000000","orderStatus":1,"createTime":1768441557876}')
    orders, total = parse_orders(200, {}, ok(f"[{order}]", 1))
    assert total == 1 and orders[0].order_number == "22844932279676706816"
    assert orders[0].amount == Decimal("1000.07000000") and orders[0].order_status == 1
    assert orders[0].unit_price.quantize(Decimal("0.01")) == Decimal("17.92")


def test_order_detail_and_price_update_and_status_update_decode():
    detail = parse_order_detail(200, {}, ok(
        '{"orderNumber":"228","advOrderNumber":"1384","tradeType":"BUY","asset":"USDT",'
        '"fiatUnit":"KZT","amount":"10","price":461.5,"totalPrice":"4615","orderStatus":2,'
        '"buyerName":"REAL NAME","createTime":1}'))
    assert (detail.price, detail.order_status, detail.adv_order_number) == (
        Decimal("461.5"), 2, "1384")
    assert not hasattr(detail, "buyer_name")
    assert parse_update(200, {}, ok("true")) is True
    result = parse_status_update(200, {}, ok(
        '{"status":true,"failList":[{"advNo":"22","errorCode":187022,"errorMsg":"offline"}]}'))
    assert result.failed_adv_nos == ("22",) and result.fail_list[0].error_code == 187022


def test_chat_credential_decodes_but_does_not_print_its_token():
    cred = parse_chat_credential(200, {}, ok(
        '{"chatWssUrl":"wss://im.binance.com:443/chat","listenKey":"c2c_abc_v2",'
        '"listenToken":"TOKENdeadbeef"}'))
    assert cred.listen_key == "c2c_abc_v2" and cred.listen_token == "TOKENdeadbeef"
    assert "TOKENdeadbeef" not in repr(cred) and "c2c_abc_v2" not in repr(cred)


def test_server_time_decodes_and_its_errors_are_typed():
    assert parse_server_time(200, {}, b'{"serverTime":1499827319559}') == 1499827319559
    with pytest.raises(MalformedResponse):
        parse_server_time(200, {}, b'{"serverTime":"soon"}')
    with pytest.raises(RateLimited):
        parse_server_time(429, {}, b'{"code":-1003,"msg":"Too many requests"}')


@pytest.mark.parametrize("body", [
    ok('[{"adv":{"advNo":"1","price":"abc"}}]', 1),  # price not a number
    ok('[{"adv":{"advNo":"1","price":"NaN"}}]', 1),  # money must be finite
    ok('[{"adv":{"advNo":1,"price":"1"}}]', 1),  # id of the wrong type
    ok('[{"advertiser":{}}]', 1),  # no adv
    ok('{"adv":{}}', 1),  # an object where a list belongs
    ok('[{"adv":{"advNo":"1","price":"1"}}]'),  # paged answer without total
])
def test_a_success_envelope_with_a_bad_payload_is_malformed(body):
    with pytest.raises(MalformedResponse) as info:
        parse_search(200, {}, body)
    assert info.value.raw == body


@pytest.mark.parametrize(("items", "rows", "page", "total", "last"), [
    (0, 20, 1, 500, True),  # empty page: EP-0's soft limit or the end
    (7, 20, 3, 500, True),  # short page
    (20, 20, 1, 500, False),
    (20, 20, 5, 100, True),  # reached total exactly
    (20, 20, 2, None, False),  # total unknown: only the page length decides
    (20, 20, 1, 0, True),
])
def test_paging_rules(items, rows, page, total, last):
    assert is_last_page(items, rows, page, total) is last


def test_weights_and_retry_after_read_headers_case_insensitively():
    headers = [("x-mbx-used-weight-1m", "57"), ("X-SAPI-USED-UID-WEIGHT-1M", "1200"),
               ("Retry-After", "12"), ("Server", "nginx")]
    assert weights(headers).used_weight_1m == 57
    assert weights(dict(headers)).sapi_uid_weight_1m == 1200
    assert weights(headers).sapi_ip_weight_1m is None
    assert retry_after_s(headers) == 12.0
    assert relevant_headers(headers) == (
        ("x-mbx-used-weight-1m", "57"), ("x-sapi-used-uid-weight-1m", "1200"),
        ("retry-after", "12"))


@pytest.mark.parametrize("value", ["soon", "-5", "inf", "nan", ""])
def test_a_retry_after_that_is_not_a_delay_is_ignored(value):
    assert retry_after_s({"Retry-After": value}) is None
    assert weights({"X-MBX-USED-WEIGHT-1M": value}).used_weight_1m is None


# --- one pass over a book page (c2c.decode.search_page) ---

def _two_passes(status: int, body: bytes):
    """The page as the envelope-then-payload reading gives it (or the error it raises)."""
    from c2c import decode

    try:
        items, total = decode._paged("EP-0", status, {}, body, SearchItem)
    except Exception as exc:  # noqa: BLE001 - the class is what is compared
        return type(exc)
    return items, total


@pytest.mark.parametrize("name", sorted(p.name for p in SAMPLES.glob("bapi-*.json")))
def test_one_pass_reads_every_captured_page_as_the_two_passes_do(name):
    body = sample(name)
    status = 400 if "http400" in name else 200
    page = search_page(status, body)
    slow = _two_passes(status, body)
    if page is None:
        assert not isinstance(slow, tuple) or slow[1] is None  # left to the typed error path
    else:
        assert (page.items, page.total) == slow


def _search_req():
    return endpoints.search_ads("market-1", asset="USDT", fiat="KZT", want="sellers", page=1)


@pytest.mark.parametrize(("body", "envelope_ok"), [
    # a success envelope whose payload is bad: the limiter passes it, the market's decode fails
    (ok('[{"adv":{"advNo":"1","price":"abc"}}]', 1), True),
    (ok('[{"adv":{"advNo":"1","price":"NaN"}}]', 1), True),
    (ok('[{"adv":{"advNo":"1","price":"1"}}]'), True),  # no total
    (ok('[{"adv":{"advNo":"1","price":"1"}}]', -1), True),
    (ok("null", 0), True),
    # not a success envelope: the limiter's typed error, as before
    (b'{"code":"000000","message":7,"data":[],"total":0,"success":true}', False),
    (b'{"code":"000000","data":[],"total":0,"success":false}', False),
    (b'{"code":"083999","data":[],"total":0}', False),
    (b'{"code":-1003,"msg":"Too many requests"}', False),
    (b"<html>502 Bad Gateway</html>", False),
    (b"", False),
])
def test_a_page_the_one_pass_cannot_vouch_for_goes_to_the_two_passes(body, envelope_ok):
    assert search_page(200, body) is None
    action, error = classify_reply(_search_req(), 200, {}, body)
    assert (action is None and error is None) is envelope_ok
    if envelope_ok:
        with pytest.raises(MalformedResponse):
            parse_search(200, {}, body)


def test_a_success_page_in_one_pass_is_the_page_the_market_parses():
    body = ok('[{"adv":{"advNo":"1","price":"450.5"},"advertiser":{"nickName":"a"}}]', 1)
    assert classify_reply(_search_req(), 200, {}, body) == (None, None)
    page = parse_search(200, {}, body)
    assert page is search_page(200, body)  # read once, kept for the market
    assert page.items[0].adv.price == Decimal("450.5") and page.total == 1
    assert search_page(500, body) is None  # a success envelope on an error status
