"""Every failure becomes a typed error with an action, and keeps its bytes out of str()."""

from __future__ import annotations

import pickle

import pytest

from c2c.decode import decode_envelope
from c2c.errors import (
    Action,
    AdUpdateConflict,
    ApiCallError,
    Backoff,
    C2CError,
    ClockRejected,
    FatalApiError,
    IpBanned,
    MalformedResponse,
    MerchantResting,
    PriceOutOfRange,
    RateLimited,
    RequestRejected,
    ServerError,
    WafBlocked,
    classify,
)

A = Action


@pytest.mark.parametrize(
    ("status", "code", "msg", "action"),
    [
        (400, -1021, "Timestamp outside of the recvWindow.", A.RESYNC_AND_RETRY),
        (400, -1022, "Signature for this request is not valid.", A.RESYNC_AND_RETRY),
        # Reference §7: -1000 with HTTP 404 is a wrong method (permanent), with 500 unknown.
        (404, -1000, "Request method 'GET' is not supported", A.ABORT),
        (500, -1000, "An unknown error occurred while processing the request.",
         A.BACKOFF_AND_RETRY),
        (400, 83628, "Too many attempts, please try again after 30s.", A.AD_COOLDOWN),
        (400, 83762, "Ad remaining balance should not be less than 10", A.AD_COOLDOWN),
        (400, 83723, "You do not have rights to update Sell Ads ...", A.PAUSE_AD),
        (400, -1003, "Too many requests", A.BACKOFF_AND_RETRY),
        (429, None, None, A.BACKOFF_AND_RETRY),
        (502, None, None, A.BACKOFF_AND_RETRY),
        (503, -1, "busy", A.BACKOFF_AND_RETRY),
        (400, 187049, "", A.REFETCH_AND_RETRY),
        (400, 187040, "", A.REFETCH_AND_RETRY),
        (400, 187031, "", A.REFETCH_AND_RETRY),
        (400, 83229, "rest mode", A.PAUSE_AD),
        (400, 83230, "taking a break", A.PAUSE_AD),
        (400, 187055, "price in limited range", A.FIND_VALID_PRICE),
        (418, None, None, A.IP_BANNED),
        (418, -1003, "banned", A.IP_BANNED),
        (403, None, None, A.WAF_PAUSE),
        (451, 0, "Service unavailable from a restricted location", A.FATAL),
        (400, -2008, "Invalid Api-Key ID.", A.FATAL),
        (401, -2014, "API-key format invalid.", A.FATAL),
        (401, -2015, "Invalid API-key, IP, or permissions for action.", A.FATAL),
        (400, -1102, "illegal parameter", A.ABORT),
        (400, 2, "illegal parameter", A.ABORT),
        (400, 187022, "wrong advNo", A.PAUSE_AD),
        (200, None, None, A.ABORT),
    ],
)
def test_each_binance_failure_maps_to_its_action(status, code, msg, action):
    assert classify(status, code, msg) is action


@pytest.mark.parametrize(
    ("msg", "action"),
    [
        ("187049", A.REFETCH_AND_RETRY),
        ("error 187055: price out of range", A.FIND_VALID_PRICE),
        ("83230", A.PAUSE_AD),
        ("-1021", A.RESYNC_AND_RETRY),
        ("El precio está en un rango limitado", A.FIND_VALID_PRICE),
        ("187022", A.PAUSE_AD),
        ("83628", A.AD_COOLDOWN),
        # Numbers that are amounts are not codes (issue 11): nothing named, so a backoff.
        ("Ad remaining balance should not be less than 10000", A.BACKOFF_AND_RETRY),
        ("Order amount 250000.00 exceeds the maximum 200000", A.BACKOFF_AND_RETRY),
        ("limit 83628.5 reached", A.BACKOFF_AND_RETRY),
        ("system busy", A.BACKOFF_AND_RETRY),
        ("", A.BACKOFF_AND_RETRY),
        (None, A.BACKOFF_AND_RETRY),
    ],
)
def test_minus_9000_wrapper_is_classified_by_what_its_msg_names(msg, action):
    assert classify(400, -9000, msg) is action


@pytest.mark.parametrize(
    ("body", "status", "cls", "code"),
    [
        (b'{"code":-1021,"msg":"Timestamp outside recvWindow"}', 400, ClockRejected, -1021),
        (b'{"code":-9000,"msg":"187049"}', 400, AdUpdateConflict, -9000),
        (b'{"code":187055,"msg":"limited range"}', 400, PriceOutOfRange, 187055),
        (b'{"code":"187055","message":"limited range","success":false}', 200, PriceOutOfRange,
         187055),
        (b'{"code":-9000,"msg":"83229"}', 200, MerchantResting, -9000),
        (b'{"code":-1003,"msg":"Too many requests"}', 429, RateLimited, -1003),
        (b'{"code":-2015,"msg":"Invalid API-key"}', 401, FatalApiError, -2015),
        (b'{"code":-1102,"msg":"illegal parameter"}', 400, RequestRejected, -1102),
        (b'{"code":"000002","message":"illegal parameter","data":null,"success":false}', 400,
         RequestRejected, 2),
        (b'{"code":"100001005","message":"Please log in first.","success":false}', 401,
         RequestRejected, 100001005),
    ],
)
def test_error_envelopes_raise_the_class_of_their_action(body, status, cls, code):
    with pytest.raises(cls) as info:
        decode_envelope("EP-7", status, {}, body)
    err = info.value
    assert isinstance(err, ApiCallError) and err.code == code and err.status == status
    assert err.action is cls.action and err.raw == body


def test_418_keeps_retry_after_and_bans_the_ip():
    headers = [("Retry-After", "7200"), ("Content-Type", "application/json")]
    with pytest.raises(IpBanned) as info:
        decode_envelope("EP-0", 418, headers, b'{"code":-1003,"msg":"Way too many requests"}')
    assert info.value.retry_after_s == 7200.0
    assert info.value.action is Action.IP_BANNED


def test_429_with_a_plain_text_body_is_still_rate_limited_with_retry_after():
    with pytest.raises(RateLimited) as info:
        decode_envelope("EP-0", 429, {"retry-after": "3"}, b"Too Many Requests")
    assert info.value.retry_after_s == 3.0


def test_a_cloudfront_403_html_page_is_a_waf_pause():
    html = b"<html><body><h1>403 ERROR</h1>The request could not be satisfied.</body></html>"
    with pytest.raises(WafBlocked) as info:
        decode_envelope("EP-0", 403, {}, html)
    assert info.value.raw == html and "<html>" not in str(info.value)


def test_5xx_is_backoff_with_an_unknown_outcome_whatever_the_body():
    for body in (b"<html>502 Bad Gateway</html>", b"", b'{"code":-1000,"msg":"unknown"}'):
        with pytest.raises(ServerError) as info:
            decode_envelope("EP-7", 502, {}, body)
        assert info.value.action is Action.BACKOFF_AND_RETRY
        assert info.value.outcome_unknown and isinstance(info.value, RateLimited)


def test_451_restricted_location_is_fatal():
    body = (b'{"code":0,"msg":"Service unavailable from a restricted location according to '
            b"'b. Eligibility'\"}")
    with pytest.raises(FatalApiError) as info:
        decode_envelope("EP-4", 451, {}, body)
    assert "restricted location" in str(info.value)


MALFORMED_200 = {
    "html page": b"<!DOCTYPE html><html><head><title>Binance</title></head></html>",
    "truncated json": b'{"code":"000000","message":"success","data":[{"advNo":"1',
    "empty body": b"",
    "whitespace body": b"  \n",
    "envelope-less list": b'[{"adv":{"advNo":"1","price":"1"}}]',
    "envelope-less object": b'{"serverTime":1499827319559}',
    "code of the wrong type": b'{"code":["000000"],"data":[]}',
    "success flag of the wrong type": b'{"code":"000000","success":"yes","data":[]}',
    "json number": b"42",
}


@pytest.mark.parametrize("case", sorted(MALFORMED_200))
def test_malformed_200_bodies_are_typed_errors_that_never_print_their_bytes(case):
    body = MALFORMED_200[case]
    with pytest.raises(MalformedResponse) as info:
        decode_envelope("EP-4", 200, {}, body)
    err = info.value
    assert err.raw == body and err.endpoint == "EP-4" and err.status == 200
    for text in (str(err), repr(err)):
        assert "EP-4" in text
        if len(body.strip()) > 3:
            assert body.decode() not in text


def test_error_text_is_short_and_survives_pickling():
    err = ApiCallError("EP-7", 400, "x" * 5000, code=-1102, raw=b"secret-ish body")
    assert len(str(err)) < 300 and "secret-ish" not in repr(err)
    copy = pickle.loads(pickle.dumps(err))
    assert (type(copy), copy.code, copy.raw, str(copy)) == (ApiCallError, -1102, err.raw, str(err))
    assert issubclass(MalformedResponse, C2CError) and issubclass(ApiCallError, C2CError)


def test_backoff_doubles_from_100ms_caps_at_30s_and_resets_on_success():
    backoff = Backoff()
    delays = [backoff.next_delay() for _ in range(12)]
    assert delays[:5] == [0.1, 0.2, 0.4, 0.8, 1.6]
    assert delays[-1] == 30.0 and max(delays) == 30.0
    backoff.reset()
    assert backoff.next_delay() == 0.1


def test_backoff_honours_a_longer_retry_after_but_not_a_shorter_one():
    backoff = Backoff()
    assert backoff.next_delay(retry_after_s=5.0) == 5.0
    assert backoff.next_delay(retry_after_s=0.05) == 0.2
    assert backoff.next_delay(retry_after_s=3600.0) == 3600.0
    for _ in range(200):
        backoff.next_delay()
    assert backoff.next_delay() == 30.0


def test_a_garbled_huge_retry_after_is_capped_at_binances_longest_ban():
    from c2c.decode import retry_after_s
    assert retry_after_s([("Retry-After", "1e300")]) == 3 * 24 * 3600.0
    assert retry_after_s([("Retry-After", "120")]) == 120.0


@pytest.mark.parametrize(
    ("msg", "inner"),
    [
        ("187049", 187049),  # as captured by BNP (reference §7)
        (" 187022 ", 187022),
        ("error 187055: price out of range", 187055),
        ("Ad remaining balance should not be less than 10000", None),
        ("Order amount 250000 exceeds the ad limit 200000", None),
        ("price 187049.50 is out of range", None),
        ("system busy", None),
    ],
)
def test_a_minus_9000_wrapper_yields_only_a_real_error_code_never_an_amount(msg, inner):
    from c2c.errors import wrapped_code

    assert wrapped_code(msg) == inner
    err = decode_error(400, {"code": -9000, "msg": msg})
    assert err.c2c_code == (inner if inner is not None else -9000)


def decode_error(status, body):
    import json

    with pytest.raises(ApiCallError) as info:
        decode_envelope("EP-7", status, {}, json.dumps(body).encode())
    return info.value


def test_187022_wrapped_is_an_unavailable_ad_that_pauses_it_ref_s7_bnp():
    from c2c.errors import AdUnavailable

    err = decode_error(400, {"code": -9000, "msg": "187022"})
    assert isinstance(err, AdUnavailable) and err.action is Action.PAUSE_AD
    assert err.c2c_code == 187022


def test_83628_as_captured_makes_that_ad_wait_the_30_s_its_message_names():
    from pathlib import Path
    from c2c.errors import AdCoolingDown

    sample = Path(__file__).parent / "samples" / \
        "sapi-ads-update_error-83628-too-many-attempts_http400.json"
    with pytest.raises(AdCoolingDown) as info:
        decode_envelope("EP-7", 400, {}, sample.read_bytes())
    assert info.value.wait_s == 30.0 and info.value.action is Action.AD_COOLDOWN


def test_minus_1000_with_404_is_permanent_as_captured_and_with_500_transient():
    from pathlib import Path

    samples = Path(__file__).parent / "samples"
    with pytest.raises(RequestRejected):
        decode_envelope("EP-4", 404, {}, (samples / "sapi-wrong-http-method_error-1000_http404.json").read_bytes())
    with pytest.raises(ServerError):
        decode_envelope("EP-4", 500, {}, (samples / "sapi-ads-search_error-1000-unknown-error_http500.json").read_bytes())
