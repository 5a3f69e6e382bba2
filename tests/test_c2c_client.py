"""c2c.client.call end to end over injected transports: clock resync, adaptive auth, secrecy."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from decimal import Decimal
from urllib.parse import parse_qsl

import httpx
import msgspec
import pytest
import respx

from c2c import endpoints
from c2c.client import call
from c2c.credentials import Credentials
from c2c.decode import decode_envelope, parse_my_ads
from c2c.errors import C2CError
from c2c.http import USER_AGENTS, build_http_request
from c2c.timesync import ClockOffset
from events.codec import encode

SECRET = "Zq7vK2mN9pX4wR8tY1uE6oI3aS5dF0gHjKlQwErTyUiOpAsDfGhJkLzXcVbNm123"
API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SAPI = "https://api.binance.com"
BAPI = "https://p2p.binance.com"
SERVER_AHEAD_MS = 5_000
OK_ADS = b'{"code":"000000","message":"success","data":[],"total":0,"success":true}'
TOO_EARLY = b'{"code":-1021,"msg":"Timestamp for this request is outside of the recvWindow."}'


class FakeWall:
    """Wall-clock ms that advance 20 ms on every read."""

    def __init__(self, start: int = 1_768_000_000_000) -> None:
        self.ms = start

    def __call__(self) -> int:
        self.ms += 20
        return self.ms


class FakeBinance:
    """A transport handler that checks signatures and a server clock SERVER_AHEAD_MS ahead."""

    def __init__(self, wall: FakeWall, *, detail_needs_signature: bool = False) -> None:
        self.wall = wall
        self.detail_needs_signature = detail_needs_signature
        self.seen: list[httpx.Request] = []

    def server_ms(self) -> int:
        return self.wall.ms + SERVER_AHEAD_MS

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        if request.url.path == "/api/v3/time":
            return httpx.Response(200, json={"serverTime": self.server_ms()})
        query = request.url.query.decode()
        if "signature=" not in query:
            return httpx.Response(401 if self.detail_needs_signature else 200, content=OK_ADS)
        head, _, sig = query.rpartition("&signature=")
        if sig != hmac.new(SECRET.encode(), head.encode(), hashlib.sha256).hexdigest():
            return httpx.Response(400, json={"code": -1022, "msg": "Signature not valid."})
        stamp = int(dict(parse_qsl(query))["timestamp"])
        if not 0 <= self.server_ms() - stamp <= 1_000:  # a tight recvWindow shows the resync
            return httpx.Response(400, content=TOO_EARLY)
        return httpx.Response(200, content=OK_ADS, headers={"X-SAPI-USED-UID-WEIGHT-1M": "3"})


def kwargs(wall: FakeWall, clock: ClockOffset, creds: Credentials | None = None) -> dict:
    return {"sapi_url": SAPI, "bapi_url": BAPI,
            "credentials": creds or Credentials(API_KEY, SECRET), "clock": clock, "now_ms": wall, "user_agent": USER_AGENTS[0]}


def stamp_of(request: httpx.Request) -> int:
    return int(dict(parse_qsl(request.url.query.decode()))["timestamp"])


async def test_minus_1021_resyncs_from_the_round_trip_midpoint_and_retries_once():
    wall, clock = FakeWall(), ClockOffset()
    binance = FakeBinance(wall)
    async with httpx.AsyncClient(transport=httpx.MockTransport(binance)) as client:
        response = await call(client, endpoints.list_my_ads("r1", page=1), **kwargs(wall, clock))
    assert response.status_code == 200 and response.content == OK_ADS
    ads = "/sapi/v1/c2c/ads/listWithPagination"
    assert [r.url.path for r in binance.seen] == [ads, "/api/v3/time", ads]
    # The fake server reads its clock halfway through the 40 ms round trip.
    assert clock.offset_ms == SERVER_AHEAD_MS and clock.round_trip_ms == 40
    first, retry = binance.seen[0], binance.seen[2]
    assert stamp_of(retry) - stamp_of(first) > SERVER_AHEAD_MS - 100
    assert first.url.query != retry.url.query


async def test_a_second_minus_1021_is_returned_not_retried_again():
    wall, clock = FakeWall(), ClockOffset()
    seen = []

    def always_too_early(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if request.url.path == "/api/v3/time":
            return httpx.Response(200, json={"serverTime": wall.ms})
        return httpx.Response(400, content=TOO_EARLY)

    async with httpx.AsyncClient(transport=httpx.MockTransport(always_too_early)) as client:
        response = await call(client, endpoints.list_orders("r2", page=1), **kwargs(wall, clock))
    assert response.status_code == 400 and len(seen) == 3
    with pytest.raises(C2CError) as info:
        decode_envelope("EP-15", response.status_code, response.headers, response.content)
    assert info.value.code == -1021


async def test_order_detail_unsigned_first_then_signed_after_401():
    wall, clock = FakeWall(), ClockOffset(SERVER_AHEAD_MS)
    binance = FakeBinance(wall, detail_needs_signature=True)
    req = endpoints.order_detail("r3", order_no="228", signed=False)
    async with httpx.AsyncClient(transport=httpx.MockTransport(binance)) as client:
        response = await call(client, req, **kwargs(wall, clock))
    assert response.status_code == 200
    unsigned, signed = binance.seen
    assert unsigned.url.query == b"" and b"signature=" in signed.url.query
    assert json.loads(signed.content) == {"adOrderNo": "228"}


async def test_order_detail_that_works_unsigned_is_sent_once():
    wall, clock = FakeWall(), ClockOffset()
    binance = FakeBinance(wall)
    req = endpoints.order_detail("r4", order_no="228", signed=False)
    async with httpx.AsyncClient(transport=httpx.MockTransport(binance)) as client:
        response = await call(client, req, **kwargs(wall, clock))
    assert response.status_code == 200 and len(binance.seen) == 1


async def test_unsigned_search_goes_to_the_bapi_host_through_respx():
    wall, clock = FakeWall(), ClockOffset()
    page = (b'{"code":"000000","message":null,"messageDetail":null,"data":[],"total":0,'
            b'"success":true}')
    with respx.mock(assert_all_called=True) as router:
        route = router.post(f"{BAPI}/bapi/c2c/v2/friendly/c2c/adv/search")
        route.respond(200, content=page)
        async with httpx.AsyncClient() as client:
            req = endpoints.search_ads("r5", asset="USDT", fiat="KZT", want="sellers", page=1)
            response = await call(client, req, **kwargs(wall, clock))
    assert response.content == page
    sent = route.calls.last.request
    assert "X-MBX-APIKEY" not in sent.headers and sent.headers["Origin"] == BAPI


async def test_no_secret_reaches_a_repr_an_error_an_event_or_the_log(caplog):
    caplog.set_level(logging.DEBUG)
    wall, clock = FakeWall(), ClockOffset()
    creds = Credentials(API_KEY, SECRET)
    binance = FakeBinance(wall)
    req = endpoints.update_price("r6", adv_no="1384", price=Decimal("17.92"))
    async with httpx.AsyncClient(transport=httpx.MockTransport(binance)) as client:
        response = await call(client, req, **kwargs(wall, clock, creds))
    built = build_http_request(req, sapi_url=SAPI, bapi_url=BAPI, credentials=creds,
                               timestamp_ms=wall(), user_agent=USER_AGENTS[0])
    texts = [repr(built), str(built.url), repr(built.headers), repr(creds), str(creds),
             repr(creds.secret), repr(req), encode(req).decode(), caplog.text, repr(clock),
             repr(response), repr(binance.seen), msgspec.json.encode(req).decode()]
    for status, body in ((400, TOO_EARLY), (200, b"<html>"), (500, b""), (200, OK_ADS[:20])):
        try:
            parse_my_ads(status, response.headers, body)
        except C2CError as exc:
            texts += [str(exc), repr(exc)]
    assert "r6" in caplog.text or "EP-7" in caplog.text
    assert any("signature=" in t for t in texts)  # the signature may show; the secret never
    for text in texts:
        assert SECRET not in text
        assert SECRET[:16] not in text
