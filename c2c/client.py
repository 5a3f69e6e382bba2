"""One small async helper that performs a C2C call over httpx, for tools and tests.

The bot itself does not use it: the limiter actor performs HTTP with the pure pieces
(`build_http_request`, `decode`, `classify`) so that it can log every attempt as an event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import msgspec

from c2c.credentials import Credentials
from c2c.decode import error_code, parse_server_time
from c2c.endpoints import server_time
from c2c.http import build_http_request
from c2c.timesync import ClockOffset
from events import ApiRequest

log = logging.getLogger(__name__)

_CLOCK_CODES = frozenset({-1021, -1022})
_AUTH_STATUSES = frozenset({401, 403})


async def call(
    client: httpx.AsyncClient,
    req: ApiRequest,
    *,
    sapi_url: str,
    bapi_url: str,
    credentials: Credentials | None,
    clock: ClockOffset,
    now_ms: Callable[[], int],
    user_agent: str,
) -> httpx.Response:
    """Send one call and return Binance's final answer, whatever its status.

    A signed call rejected with -1021/-1022 resyncs `clock` from GET /api/v3/time (offset from
    the round trip's midpoint) and is sent once more with a fresh timestamp and signature.
    EP-13 built unsigned is the adaptive first try: on 401/403 or -1021/-1022 it is sent signed.

    Raises:
        httpx.HTTPError: the transport failed.
        C2CError: the clock resync itself got an unusable answer.
    """
    send = _Sender(client, sapi_url, bapi_url, credentials, clock, now_ms, user_agent)
    if req.endpoint == "EP-13" and not req.signed:
        response = await send(req)
        if response.status_code not in _AUTH_STATUSES and not _clock_refused(response):
            return response
        log.info("EP-13 unsigned try refused (HTTP %s); signing", response.status_code)
        req = msgspec.structs.replace(req, signed=True)
    response = await send(req)
    if req.signed and _clock_refused(response):
        log.info("%s refused the timestamp (code %s); resyncing the clock",
                 req.endpoint, error_code(response.content))
        await send.resync(req.request_id)
        response = await send(req)
    return response


def _clock_refused(response: httpx.Response) -> bool:
    return error_code(response.content) in _CLOCK_CODES


class _Sender:
    def __init__(self, client, sapi_url, bapi_url, credentials, clock, now_ms, user_agent):
        self.client = client
        self.urls = {"sapi_url": sapi_url, "bapi_url": bapi_url}
        self.credentials = credentials
        self.clock = clock
        self.now_ms = now_ms
        self.user_agent = user_agent

    async def __call__(self, req: ApiRequest) -> httpx.Response:
        request = build_http_request(
            req, **self.urls, credentials=self.credentials,
            timestamp_ms=self.clock.now(self.now_ms()), user_agent=self.user_agent,
        )
        response = await self.client.send(request)
        await response.aread()
        log.debug("%s %s %s -> HTTP %s", req.endpoint, req.method, req.path, response.status_code)
        return response

    async def resync(self, request_id: str) -> int:
        sent = self.now_ms()
        response = await self(server_time(f"{request_id}/time"))
        received = self.now_ms()
        server_ms = parse_server_time(response.status_code, response.headers, response.content)
        offset = self.clock.update(sent, received, server_ms)
        log.info("clock offset now %d ms (round trip %d ms)", offset, received - sent)
        return offset
