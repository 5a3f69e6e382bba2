"""Every answer the simulator can give on purpose, by name: the catalogue that the random fault
mix, the public-host faults and the scripted answers of `SimExchange.inject` draw from.

Texts are the captured ones where a capture exists (tests/samples, reference §2 and §7); the
others are marked where they are defined. Kinds:

    "500"            HTTP 500 -1000 "An unknown error occurred..." (sample; outcome unknown)
    "502", "504"     HTML gateway pages from the CDN
    "429", "418"     -1003 with Retry-After; "403" the WAF's HTML page; "451" restricted location
    "-1021"          stale timestamp (sample); "-1022" bad signature
    "-1000-404"      "Request method '<method>' is not supported" (sample)
    "empty-200"      HTTP 200 with an empty body (unknown /sapi/v1/c2c/* paths, reference §7)
    "187049"         {-9000, "187049"}; "187049-bare" {187049, text}; "187022", "187055" and
                     "83229" wrapped in -9000; "83230" bare (BNP reads the top-level code)
    "83628", "83762", "83723", "500000001"   bare, HTTP 400, the captured texts
    "-9000-amount"   a -9000 whose msg holds amounts, not a code
    "401-1002", "400-1102", "400-2014", "401-2015", "-2008"   the signed-call refusals (§2)
    "ok-null", "ok-true", "ok-absent"   EP-7 success bodies (the update is applied)
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timezone

from sim.wire import Response, encode, gateway_error, method_not_supported

_HTML = (("content-type", "text/html"),)

UNKNOWN_ERROR = "An unknown error occurred while processing the request."
STALE = "Timestamp for this request is outside of the recvWindow."
BAD_SIGNATURE = "Signature for this request is not valid."
NOT_AUTHORIZED = "You are not authorized to execute this request."
TIMESTAMP_MALFORMED = ("Mandatory parameter '[timestamp]/[recvWindow]' was not sent, was "
                       "empty/null, or malformed.")
KEY_FORMAT = "API-key format invalid."
KEY_REJECTED = "Invalid API-key, IP, or permissions for action."
KEY_UNKNOWN = "Invalid Api-Key ID."
TOO_MANY_ATTEMPTS = "Too many attempts, please try again after 30s."
LOW_BALANCE = "Ad remaining balance should not be less than 10"
SUSPENDED = ("You do not have rights to update {side} Ads due to Violation of the user transaction "
             "policy or abnormal advertising/trading behaviors.  Suspension in effect until "
             "{until} (UTC+0).")
INCOMPLETE = "You have entered incomplete information. Please update the data."
TAKING_A_BREAK = "You are taking a break. End it before you update your ads."  # not captured
AMOUNT_MSG = "Order amount 250000 exceeds the ad limit 200000"  # shape of a -9000 with numbers

SUCCESS_KINDS = ("ok-null", "ok-true", "ok-absent")
KINDS = (
    "500", "502", "504", "429", "403", "418", "451", "-1021", "-1022", "-1000-404", "empty-200",
    "187049", "187049-bare", "187022", "187055", "83229", "83230", "83628", "83762", "83723",
    "500000001", "-9000-amount", "401-1002", "400-1102", "400-2014", "401-2015", "-2008",
    *SUCCESS_KINDS,
)


def html(status: int, title: str) -> Response:
    page = f"<html><body><h1>{status} {title}</h1></body></html>".encode()
    return Response(status, page, _HTML)


def dropped(how: str = "reset") -> Response:
    """No answer: the connection fails ("reset", "refused", "timeout" or "protocol"), as any
    network between the bot and the edge can make it; for scripted answers only."""
    return Response(0, b"", (), drop=how)


def too_many(retry_after_s: float) -> Response:
    seconds = str(max(1, math.ceil(retry_after_s)))
    return gateway_error(429, -1003, "Too many requests", (("retry-after", seconds),))


def wrapped(code: int) -> Response:
    """A C2C business refusal inside the -9000 wrapper, `{"code":-9000,"msg":"<code>"}`."""
    return gateway_error(400, -9000, str(code))


def suspended(side: str, until_ms: int) -> Response:
    """83723 as captured: the ad side and the suspension's end in UTC, to the minute."""
    until = datetime.fromtimestamp(until_ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")
    label = "Sell" if side == "SELL" else "Buy"
    return gateway_error(400, 83723, SUSPENDED.format(side=label, until=until))


def unsigned(kind: str) -> Response:
    """What a signed call with neither timestamp nor signature gets (`unsigned_detail_answer`)."""
    status, code = int(kind[:3]), int(kind[3:])
    text = {-1002: NOT_AUTHORIZED, -1102: TIMESTAMP_MALFORMED, -2014: KEY_FORMAT,
            -2015: KEY_REJECTED}[code]
    return gateway_error(status, code, text)


_FIXED = {
    "500": lambda: gateway_error(500, -1000, UNKNOWN_ERROR),
    "502": lambda: html(502, "Bad Gateway"),
    "504": lambda: html(504, "Gateway Time-out"),
    "429": lambda: too_many(1.0),
    "403": lambda: Response(403, b"<html><body><h1>403 Forbidden</h1>Request blocked."
                                 b"</body></html>", _HTML),
    "418": lambda: gateway_error(418, -1003, "Way too many requests; IP banned.",
                                 (("retry-after", "120"),)),
    "451": lambda: Response(451, encode({
        "code": 0, "msg": "Service unavailable from a restricted location according to "
        "'b. Eligibility' in https://www.binance.com/en/terms."})),
    "-1021": lambda: gateway_error(400, -1021, STALE),
    "-1022": lambda: gateway_error(400, -1022, BAD_SIGNATURE),
    "empty-200": lambda: Response(200, b"", ()),
    "187049": lambda: wrapped(187049),
    "187049-bare": lambda: gateway_error(400, 187049, "Ad update failed, please try again."),
    "187022": lambda: wrapped(187022),
    "187055": lambda: wrapped(187055),
    "83229": lambda: wrapped(83229),
    "83230": lambda: gateway_error(400, 83230, TAKING_A_BREAK),
    "83628": lambda: gateway_error(400, 83628, TOO_MANY_ATTEMPTS),
    "83762": lambda: gateway_error(400, 83762, LOW_BALANCE),
    "500000001": lambda: gateway_error(400, 500000001, INCOMPLETE),
    "-9000-amount": lambda: gateway_error(400, -9000, AMOUNT_MSG),
    "-2008": lambda: gateway_error(400, -2008, KEY_UNKNOWN),
}


def answer(kind: str, *, method: str = "POST", side: str = "SELL", now_ms: int = 0) -> Response:
    """Return the named answer (not the success shapes, which need the handler).

    Args:
        method: the request's method, for "-1000-404".
        side, now_ms: the ad's side and the server's clock, for "83723" (one day from now).
    """
    if kind in _FIXED:
        return _FIXED[kind]()
    if kind == "-1000-404":
        return method_not_supported(method)
    if kind == "83723":
        return suspended(side, now_ms + 86_400_000)
    if kind in ("401-1002", "400-1102", "400-2014", "401-2015"):
        return unsigned(kind)
    raise ValueError(f"unknown answer kind {kind!r}")


def public_fault(kind: str, rng: random.Random) -> Response:
    """A public-host (BAPI behind CloudFront) fault: "429", "403", "418" or "5xx"."""
    if kind == "5xx":
        return answer(rng.choice(("500", "502", "504")))
    return answer(kind)
