"""Pure decoding of C2C responses: envelope, typed payloads, rate-limit headers, paging.

Every failure is a `C2CError`: `MalformedResponse` when the bytes cannot be understood,
an `ApiCallError` subclass when Binance (or its edge) said no. Nothing here performs I/O, so the
limiter, the actors, replay and the simulator's tests share one reading of every answer.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import TypeVar

import functools

import msgspec

from c2c.errors import C2CError, MalformedResponse, api_error
from c2c.models import (
    ChatCredential,
    ChatMessage,
    MyAdDetail,
    Order,
    OrderDetail,
    SearchItem,
    ServerTime,
    StatusUpdateResult,
)

Headers = Mapping[str, str] | Sequence[tuple[str, str]]
T = TypeVar("T")

_SUCCESS = "000000"
MAX_RETRY_AFTER_S = 3 * 24 * 3600.0
# Deeply nested JSON ("[[[[...") overflows msgspec's recursion guard as a RecursionError.
_DECODE_ERRORS = (msgspec.DecodeError, RecursionError)


class _Wire(msgspec.Struct, kw_only=True):
    """The union of both envelope shapes, every field optional, payload left undecoded."""

    code: int | str | None = None
    success: bool | None = None
    message: str | None = None
    msg: str | None = None
    data: msgspec.Raw = msgspec.Raw(b"null")
    total: int | None = None


class Envelope(msgspec.Struct, frozen=True, kw_only=True):
    """A successful C2C envelope: `data` is the payload's raw JSON, `total` counts paged items."""

    data: msgspec.Raw
    total: int | None = None


class SearchPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[SearchItem]
    total: int


class Weights(msgspec.Struct, frozen=True, kw_only=True):
    used_weight_1m: int | None = None
    sapi_ip_weight_1m: int | None = None
    sapi_uid_weight_1m: int | None = None


_wire_decoder = msgspec.json.Decoder(_Wire)


def _header(headers: Headers, name: str) -> str | None:
    items = headers.items() if isinstance(headers, Mapping) else headers
    lowered = name.lower()
    for key, value in items:
        if key.lower() == lowered:
            return value
    return None


def _int_code(code: int | str | None) -> int | None:
    if isinstance(code, int) or code is None:
        return code
    text = code.strip()
    digits = text.removeprefix("-")
    return int(text) if digits.isascii() and digits.isdigit() and len(digits) < 19 else None


def _fail_status(endpoint: str, status: int, headers: Headers, body: bytes, why: str) -> C2CError:
    """An error whose body says nothing usable: a refusal when HTTP said no, else malformed."""
    if 200 <= status < 300:
        return MalformedResponse(endpoint, status, why, raw=body)
    return api_error(endpoint, status, None, why, raw=body, retry_after_s=retry_after_s(headers))


class _Recent(OrderedDict):
    """The last `kept` values by key, least recently used dropped first."""

    def __init__(self, kept: int) -> None:
        super().__init__()
        self.kept = kept

    def find(self, key):
        found = self.get(key)
        if found is not None:
            self.move_to_end(key)
        return found

    def keep(self, key, value):
        self[key] = value
        if len(self) > self.kept:
            self.popitem(last=False)
        return value


ENVELOPES_KEPT = 8  # the limiter classifies each answer, then its caller decodes it again
_ENVELOPES: _Recent = _Recent(ENVELOPES_KEPT)


def decode_envelope(endpoint: str, status: int, headers: Headers, body: bytes) -> Envelope:
    """Check one response and return its successful envelope.

    Raises:
        MalformedResponse: a 2xx whose body is empty, not JSON, or not a C2C envelope.
        ApiCallError: an error envelope (gateway `{code:int,msg}` or C2C `{code:"...",
            success:false}`), or a non-2xx status, classified into its subclass.
    """
    key = (status, body) if body.__class__ is bytes else None
    known = _ENVELOPES.find(key) if key is not None else None
    if known is not None:
        # The same status and bytes as a recent success (only successes are kept): the same
        # envelope, whatever the endpoint or headers, which only an error's text reads.
        return known
    if not body.strip():
        raise _fail_status(endpoint, status, headers, body, "empty body")
    try:
        wire = _wire_decoder.decode(body)
    except _DECODE_ERRORS as exc:
        why = "not a C2C envelope" if isinstance(exc, msgspec.ValidationError) else "not JSON"
        raise _fail_status(endpoint, status, headers, body, why) from None
    code = _int_code(wire.code)
    # Success is code "000000" (success not false), or success:true with no code at all: the
    # schema makes every field of CommonRet optional (reference §4) and bots accept either.
    ok = (wire.code == _SUCCESS and wire.success is not False) or (
        wire.code is None and wire.success is True)
    if ok and 200 <= status < 300:
        known = Envelope(data=wire.data, total=wire.total)
        return known if key is None else _ENVELOPES.keep(key, known)
    if wire.code is None or ok:
        raise _fail_status(endpoint, status, headers, body,
                           "no C2C envelope" if not ok else "success envelope on an error status")
    text = wire.msg if wire.msg is not None else wire.message
    raise api_error(endpoint, status, code, text, raw=body, retry_after_s=retry_after_s(headers))


@functools.cache
def _decoder_for(type_) -> msgspec.json.Decoder:
    # msgspec.json.decode(type=...) looks its decoder up on every call; a page of 20 ads is
    # decoded several times a second, so keep one Decoder per payload type.
    return msgspec.json.Decoder(type_)


def _payload(endpoint: str, status: int, raw: msgspec.Raw, body: bytes, type_: type[T]) -> T:
    try:
        return _decoder_for(type_).decode(raw)
    except _DECODE_ERRORS as exc:
        raise MalformedResponse(endpoint, status, f"unexpected payload: {exc}", raw=body) from None


def _paged(endpoint: str, status: int, headers: Headers, body: bytes, item: type[T]):
    env = decode_envelope(endpoint, status, headers, body)
    items = _payload(endpoint, status, env.data, body, list[item])
    if env.total is None or env.total < 0:
        # Paging stops on `total`; guessing it could silently drop orders or ads.
        raise MalformedResponse(endpoint, status, "paged answer without a total", raw=body)
    return items, env.total


PAGES_KEPT = 8  # the last pages of each side: a quiet book answers the same page again
_PAGES: _Recent = _Recent(PAGES_KEPT)


class _SearchWire(msgspec.Struct, kw_only=True):
    """An EP-0 answer read in one pass: `_Wire` with the page's items typed (see `search_page`)."""

    code: int | str | None = None
    success: bool | None = None
    message: str | None = None
    msg: str | None = None
    data: list[SearchItem] | None = None
    total: int | None = None


_search_decoder = msgspec.json.Decoder(_SearchWire)


def search_page(status: int, body: bytes) -> SearchPage | None:
    """The SearchPage of a successful EP-0 (or EP-0S) answer, read in one pass over its bytes,
    or None for anything else, which `parse_search` and `decode_envelope` then read as ever.

    The envelope and its payload are one JSON document: reading the envelope with its payload
    left raw (`decode_envelope`) and then the payload (`_payload`) scans a 40 KB page twice.
    A page that decodes here is one both of those accept, to the same items: a 2xx, a success
    envelope (the same test as `decode_envelope`'s), a list of ads and a total >= 0. The page is
    kept with the last pages, so that the limiter classifying the answer (`classify_reply`)
    and the market decoding it read the bytes once between them.
    """
    if body.__class__ is not bytes or not 200 <= status < 300:
        return None
    key = (status, body)
    page = _PAGES.find(key)
    if page is not None:
        return page
    try:
        wire = _search_decoder.decode(body)
    except _DECODE_ERRORS:
        return None
    ok = (wire.code == _SUCCESS and wire.success is not False) or (
        wire.code is None and wire.success is True)
    if not ok or wire.data is None or wire.total is None or wire.total < 0:
        return None
    return _PAGES.keep(key, SearchPage(items=wire.data, total=wire.total))


def parse_search(status: int, headers: Headers, body: bytes) -> SearchPage:
    """Decode an EP-0 page (the same bytes as one of the last pages: the same SearchPage, which
    callers only read; half the pages of a quiet hour repeat the one before, and decoding
    20 ads costs ~0.1 ms where looking a page up costs a hash of its bytes)."""
    page = search_page(status, body)
    if page is not None:
        return page
    items, total = _paged("EP-0", status, headers, body, SearchItem)
    return _PAGES.keep((status, body), SearchPage(items=items, total=total))


def parse_my_ads(status: int, headers: Headers, body: bytes) -> tuple[list[MyAdDetail], int]:
    """Decode an EP-4 page of my ads into (ads, total)."""
    return _paged("EP-4", status, headers, body, MyAdDetail)


def parse_orders(status: int, headers: Headers, body: bytes) -> tuple[list[Order], int]:
    """Decode an EP-15 page into (orders, total)."""
    return _paged("EP-15", status, headers, body, Order)


def parse_chat_messages(
    status: int, headers: Headers, body: bytes
) -> tuple[list[ChatMessage], int]:
    """Decode an EP-34 page into (messages, total)."""
    return _paged("EP-34", status, headers, body, ChatMessage)


def _single(endpoint: str, status: int, headers: Headers, body: bytes, type_: type[T]) -> T:
    env = decode_envelope(endpoint, status, headers, body)
    return _payload(endpoint, status, env.data, body, type_)


def parse_order_detail(status: int, headers: Headers, body: bytes) -> OrderDetail:
    """Decode EP-13's order."""
    return _single("EP-13", status, headers, body, OrderDetail)


def parse_status_update(status: int, headers: Headers, body: bytes) -> StatusUpdateResult:
    """Decode EP-8's result; its `fail_list` names ads that did not change."""
    return _single("EP-8", status, headers, body, StatusUpdateResult)


def parse_update(status: int, headers: Headers, body: bytes) -> bool:
    """Decode EP-7's answer: True when Binance accepted the new price.

    The success body is uncaptured (reference §4, §10): the schema says `data: boolean`, and
    `true`, `null` or no `data` at all are all plausible, so any success envelope is an
    acceptance; only `data: false` (or an error) says the price was not taken.
    """
    return _single("EP-7", status, headers, body, bool | None) is not False


def parse_chat_credential(status: int, headers: Headers, body: bytes) -> ChatCredential:
    """Decode EP-33's chat socket credential."""
    return _single("EP-33", status, headers, body, ChatCredential)


def parse_server_time(status: int, headers: Headers, body: bytes) -> int:
    """Decode GET /api/v3/time (no C2C envelope) into the server's epoch milliseconds."""
    if 200 <= status < 300:
        try:
            return msgspec.json.decode(body, type=ServerTime).server_time
        except _DECODE_ERRORS:
            pass
    decode_envelope("TIME", status, headers, body)  # raises the error the body describes
    raise MalformedResponse("TIME", status, "no serverTime", raw=body)


def error_code(body: bytes) -> int | None:
    """Return Binance's error code in a body, or None for success or an unreadable body."""
    try:
        wire = _wire_decoder.decode(body)
    except _DECODE_ERRORS:
        return None
    if wire.code == _SUCCESS:
        return None
    return _int_code(wire.code)


def _int_header(headers: Headers, name: str) -> int | None:
    value = _header(headers, name)
    try:
        number = int(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and number >= 0 else None


def weights(headers: Headers) -> Weights:
    """Read the used-weight headers that Binance returns (absent ones are None)."""
    return Weights(
        used_weight_1m=_int_header(headers, "X-MBX-USED-WEIGHT-1M"),
        sapi_ip_weight_1m=_int_header(headers, "X-SAPI-USED-IP-WEIGHT-1M"),
        sapi_uid_weight_1m=_int_header(headers, "X-SAPI-USED-UID-WEIGHT-1M"),
    )


def retry_after_s(headers: Headers) -> float | None:
    """Read Retry-After in seconds; None when absent, negative or not a number.

    Capped at three days, Binance's longest IP ban: a garbled huge value must not silence the
    bot forever.
    """
    value = _header(headers, "Retry-After")
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    if seconds is None or not 0 <= seconds < float("inf"):
        return None
    return min(seconds, MAX_RETRY_AFTER_S)


def is_last_page(items_len: int, rows: int, page: int, total: int | None) -> bool:
    """True when no further page should be asked for.

    An empty page (also how EP-0's soft limit shows) or a short page ends paging, and so does
    reaching `total` (None: not known, only the page's length decides).
    """
    if items_len == 0 or items_len < rows:
        return True
    return total is not None and page * rows >= total


def relevant_headers(headers: Headers) -> tuple[tuple[str, str], ...]:
    """Keep the response headers worth logging (weights, Retry-After) as ApiResponse wants them."""
    keep = {"x-mbx-used-weight-1m", "x-sapi-used-ip-weight-1m", "x-sapi-used-uid-weight-1m",
            "retry-after"}
    items = headers.items() if isinstance(headers, Mapping) else headers
    return tuple((k.lower(), v) for k, v in items if k.lower() in keep)
