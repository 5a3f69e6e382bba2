"""Turn an `ApiRequest` into the `httpx.Request` that goes on the wire, and back into identity.

Signing happens here, at send time, so the logged ApiRequest holds no timestamp and no
signature. `request_identity` and `http_request_identity` give the same key for a request
before and after signing: that is how replay finds the recorded answer.
"""

from __future__ import annotations

import hashlib
import random
from decimal import Decimal
from urllib.parse import parse_qsl, urlencode

import httpx
import msgspec

from c2c.credentials import Credentials
from c2c.signing import RECV_WINDOW_MS, signed_query
from events import ApiRequest

USER_AGENTS: tuple[str, ...] = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
)
P2P_ORIGIN = "https://p2p.binance.com"
_SIGNING_PARAMS = frozenset({"timestamp", "recvWindow", "signature"})
_exact_json = msgspec.json.Decoder(float_hook=Decimal)
_canonical_json = msgspec.json.Encoder(decimal_format="number", order="sorted")


def pick_user_agent(rng: random.Random) -> str:
    """Pick one browser User-Agent with the injected, seeded random source."""
    return rng.choice(USER_AGENTS)


def user_agent_for(salt: int, request_id: str) -> str:
    """Return the browser User-Agent of one request: a pure function of a seeded salt and the id.

    The tutorial asks for a rotating browser UA on EP-0 (reference §3: bots send browser UAs);
    tying the pick to the request id keeps it the same on every replay of a session, whatever
    order trio runs the tasks in.
    """
    digest = hashlib.blake2b(f"{salt}:{request_id}".encode(), digest_size=8).digest()
    return USER_AGENTS[int.from_bytes(digest, "big") % len(USER_AGENTS)]


def build_http_request(
    req: ApiRequest,
    *,
    sapi_url: str,
    bapi_url: str,
    credentials: Credentials | None,
    timestamp_ms: int,
    user_agent: str,
    recv_window_ms: int = RECV_WINDOW_MS,
) -> httpx.Request:
    """Build the request exactly as sent.

    Signed calls get `recvWindow`, `timestamp` and, last, the signature of the query string as
    sent, plus `X-MBX-APIKEY` and `clientType: web`. An unsigned call to the merchant API (EP-13's
    adaptive first try) keeps the key and clientType but has no signature. EP-0 goes to the bapi
    host with no key, a browser User-Agent and p2p.binance.com as Origin and Referer.

    Raises:
        ValueError: a signed call without credentials.
    """
    if req.signed:
        if credentials is None:
            raise ValueError(f"{req.endpoint} is signed but no credentials were given")
        query = signed_query(req.query, timestamp_ms, credentials.secret, recv_window_ms)
    else:
        query = urlencode(req.query)
    base = bapi_url if req.base == "bapi" else sapi_url
    url = base.rstrip("/") + req.path + (f"?{query}" if query else "")
    content = None if req.body is None else req.body.encode()
    return httpx.Request(req.method, url, headers=_headers(req, credentials, user_agent),
                         content=content)


def _headers(req: ApiRequest, credentials: Credentials | None, user_agent: str) -> dict[str, str]:
    headers = {"User-Agent": user_agent}
    if req.base == "bapi":
        headers.update({"Origin": P2P_ORIGIN, "Referer": P2P_ORIGIN + "/"})
    elif credentials is not None and req.path.startswith("/sapi/"):
        headers.update({"X-MBX-APIKEY": credentials.api_key, "clientType": "web"})
    if req.body is not None:
        headers["Content-Type"] = "application/json"
    return headers


def _canonical_query(pairs: list[tuple[str, str]] | tuple[tuple[str, str], ...]) -> str:
    return urlencode(sorted((k, v) for k, v in pairs if k not in _SIGNING_PARAMS))


def _canonical_body(body: bytes | str | None) -> str:
    if not body:
        return ""
    try:
        value = _exact_json.decode(body)
        return _canonical_json.encode(value).decode()
    except (msgspec.DecodeError, TypeError):
        return body.decode(errors="replace") if isinstance(body, bytes) else body


def request_identity(req: ApiRequest) -> tuple[str, str, str, str]:
    """Return (method, path, canonical query, canonical body) of a logged request.

    The query loses timestamp/recvWindow/signature and is sorted; the body is JSON re-encoded
    with sorted keys (numbers kept exact), so two requests for the same thing compare equal.
    """
    return (req.method.upper(), req.path, _canonical_query(req.query), _canonical_body(req.body))


def http_request_identity(request: httpx.Request) -> tuple[str, str, str, str]:
    """Return the same identity as `request_identity` for the httpx.Request actually sent."""
    pairs = parse_qsl(request.url.query.decode(), keep_blank_values=True)
    return (request.method.upper(), request.url.path, _canonical_query(pairs),
            _canonical_body(request.content))
