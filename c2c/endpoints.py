"""Pure builders of the C2C calls the bot makes, as unsigned `events.ApiRequest`s.

A builder only describes the call: the limiter (or `c2c.client.call`) adds the timestamp and the
signature when it sends. JSON bodies are compact msgspec output with Decimal written as a JSON
number, since Binance's bots send `{"advNo":"...","price":17.92}` and a string price is untested.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Literal

import msgspec

from events import ApiRequest

Want = Literal["sellers", "buyers"]
PublisherType = Literal["merchant", "all"]
MAX_ROWS = 20  # EP-0 refuses more (reference §3, BNP commit 0bf56e1)

SAPI_C2C = "/sapi/v1/c2c"
SEARCH_PATH = "/bapi/c2c/v2/friendly/c2c/adv/search"
TIME_PATH = "/api/v3/time"

PRIORITY = {
    "TIME": 0,
    "EP-13": 1,
    "EP-7": 1,
    "EP-8": 1,
    "EP-33": 2,
    "EP-15": 3,
    "EP-34": 4,
    "EP-4": 4,
    "EP-0": 5,
    "EP-0S": 5,
}
EFFECTS = frozenset({"EP-7", "EP-8"})
ACTIVE_ORDER_STATUSES = (1, 2, 3)  # wait for payment, wait for release, appealing

_json = msgspec.json.Encoder(decimal_format="number")


def _body(payload: dict) -> str:
    return _json.encode(payload).decode()


def _sapi(request_id: str, endpoint: str, method: str, path: str, **fields) -> ApiRequest:
    return ApiRequest(
        request_id=request_id,
        endpoint=endpoint,
        method=method,
        base="sapi",
        path=SAPI_C2C + path,
        effect=endpoint in EFFECTS,
        priority=PRIORITY[endpoint],
        **fields,
    )


def ads_list_for(ad_side: Literal["SELL", "BUY"]) -> Want:
    """Return the EP-0 list in which my ad of `ad_side` competes (a SELL ad among sellers)."""
    if ad_side == "SELL":
        return "sellers"
    if ad_side == "BUY":
        return "buyers"
    raise ValueError(f"ad side must be 'SELL' or 'BUY', not {ad_side!r}")


def search_ads(
    request_id: str,
    *,
    asset: str,
    fiat: str,
    want: Want,
    page: int,
    rows: int = 20,
    pay_types: Sequence[str] = (),
    trans_amount: Decimal | None = None,
    publisher_type: PublisherType = "merchant",
    signed_twin: bool = False,
    no_wait: bool = False,
) -> ApiRequest:
    """Build EP-0, the public order book search (unsigned, on the bapi host).

    Binance's `tradeType` is the taker's side: sellers' ads are what a buyer sees, so
    want="sellers" sends tradeType BUY and want="buyers" sends SELL. `rows` is at most 20
    (larger values are refused, reference §3). `publisher_type` "merchant" asks for merchants'
    ads only; "all" sends `publisherType: null`, which lists users' ads too, and those can rank
    first (reference §3, the 2026 USDT/MXN capture). `signed_twin` sends the same body to
    `POST /sapi/v1/c2c/ads/search` ("EP-0S"), the merchant API's signed twin of the search with
    the same `data[].adv/advertiser` items (reference §3 [SAPI74; BPA]): the book can still be
    read while the public host is paused. `no_wait` has the limiter refuse an EP-0 at once
    rather than hold it behind a pause of the public host (the caller then asks the twin).
    """
    if want not in ("sellers", "buyers"):
        raise ValueError(f"want must be 'sellers' or 'buyers', not {want!r}")
    if not 1 <= rows <= MAX_ROWS:
        raise ValueError(f"rows must be within 1..{MAX_ROWS}, not {rows}")
    if publisher_type not in ("merchant", "all"):
        raise ValueError(f"publisher_type must be 'merchant' or 'all', not {publisher_type!r}")
    payload: dict = {
        "asset": asset,
        "fiat": fiat,
        "tradeType": "BUY" if want == "sellers" else "SELL",
        "page": page,
        "rows": rows,
        "publisherType": "merchant" if publisher_type == "merchant" else None,
        "payTypes": list(pay_types),
        "countries": [],
    }
    if trans_amount is not None:
        payload["transAmount"] = _money(trans_amount, "trans_amount")
    purpose = f"{asset}/{fiat} {want} p{page}"
    if signed_twin:
        return _sapi(request_id, "EP-0S", "POST", "/ads/search", body=_body(payload),
                     purpose=purpose)
    return ApiRequest(
        request_id=request_id, endpoint="EP-0", method="POST", base="bapi", path=SEARCH_PATH,
        body=_body(payload), signed=False, priority=PRIORITY["EP-0"], purpose=purpose,
        no_wait=no_wait,
    )


def list_my_ads(request_id: str, *, page: int, rows: int = 20) -> ApiRequest:
    """Build EP-4, one page of my ads."""
    return _sapi(request_id, "EP-4", "POST", "/ads/listWithPagination",
                 body=_body({"page": page, "rows": rows}))


def _money(value: Decimal, name: str) -> Decimal:
    if not isinstance(value, Decimal):
        raise TypeError(f"{name} must be a Decimal, not {type(value).__name__}")
    if not value.is_finite() or value <= 0:
        raise ValueError(f"{name} must be a positive finite Decimal, not {value}")
    return value


def update_price(request_id: str, *, adv_no: str, price: Decimal) -> ApiRequest:
    """Build EP-7, a price-only ad update: the body is exactly {"advNo", "price"}.

    Nothing else can be sent (a surplusAmount in the update is one reported cause of 187049).
    The caller rounds `price` to the market's tick; it is written as a JSON number.

    Raises:
        TypeError: `price` is not a Decimal (a float would carry binary noise).
        ValueError: `price` is not positive and finite.
    """
    body = _body({"advNo": adv_no, "price": _money(price, "price")})
    return _sapi(request_id, "EP-7", "POST", "/ads/update", body=body, purpose=adv_no)


def update_ratio(request_id: str, *, adv_no: str, ratio: Decimal) -> ApiRequest:
    """Build EP-7 for a floating-price ad: the body is exactly {"advNo", "priceFloatingRatio"}.

    A floating ad's price is the reference price times the ratio (percent); BPA moves its
    floating ads with this body (reference §4). The ratio is written as a JSON number, as the
    price is; the caller rounds it (strategies.floating).

    Raises:
        TypeError: `ratio` is not a Decimal.
        ValueError: `ratio` is not positive and finite.
    """
    body = _body({"advNo": adv_no, "priceFloatingRatio": _money(ratio, "ratio")})
    return _sapi(request_id, "EP-7", "POST", "/ads/update", body=body, purpose=adv_no)


def update_status(
    request_id: str, *, adv_nos: Sequence[str], status: int, as_string: bool = False
) -> ApiRequest:
    """Build EP-8: set ads online (1), offline (3) or closed (4).

    `as_string` sends advNos as "a,b" instead of a JSON list (a fallback no Binance document
    confirms).
    """
    if isinstance(adv_nos, str):
        raise TypeError("adv_nos must be a sequence of advNo strings, not one string")
    nos = list(adv_nos)
    body = _body({"advNos": ",".join(nos) if as_string else nos, "advStatus": status})
    return _sapi(request_id, "EP-8", "POST", "/ads/updateStatus", body=body, purpose=",".join(nos))


def order_detail(request_id: str, *, order_no: str, signed: bool) -> ApiRequest:
    """Build EP-13, one order's detail; `signed=False` is the adaptive first try."""
    return _sapi(request_id, "EP-13", "POST", "/orderMatch/getUserOrderDetail",
                 body=_body({"adOrderNo": order_no}), signed=signed, purpose=order_no)


def list_orders(
    request_id: str, *, page: int, rows: int = 20,
    status_list: Sequence[int] = ACTIVE_ORDER_STATUSES,
) -> ApiRequest:
    """Build EP-15, one page of my orders in the given statuses (active ones by default)."""
    body = _body({"page": page, "rows": rows, "orderStatusList": list(status_list)})
    return _sapi(request_id, "EP-15", "POST", "/orderMatch/listOrders", body=body)


def chat_credential(request_id: str) -> ApiRequest:
    """Build EP-33, the chat socket's credential (no parameters)."""
    return _sapi(request_id, "EP-33", "GET", "/chat/retrieveChatCredential")


def chat_messages(
    request_id: str, *, page: int, rows: int = 20, order_no: str | None = None
) -> ApiRequest:
    """Build EP-34, one page of chat history (of one order when `order_no` is given)."""
    query = [("page", str(page)), ("rows", str(rows))]
    if order_no is not None:
        query.append(("orderNo", order_no))
    return _sapi(request_id, "EP-34", "GET", "/chat/retrieveChatMessagesWithPagination",
                 query=tuple(query), purpose=order_no or "")


def server_time(request_id: str) -> ApiRequest:
    """Build the clock read GET /api/v3/time (unsigned, on the sapi host)."""
    return ApiRequest(
        request_id=request_id, endpoint="TIME", method="GET", base="sapi", path=TIME_PATH,
        signed=False, priority=PRIORITY["TIME"],
    )
