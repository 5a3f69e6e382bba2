"""The public host: EP-0 (BAPI, no key, no signature) and the clock (reference §3, §7).

EP-0 is POST only; `rows` must be an integer in 1..20 and `page` one from 1, else HTTP 400
`000002 illegal parameter` in the BAPI envelope (the refusal body of rows > 20 was not saved;
this is the shape GET gets). `tradeType` is the taker's side. `publisherType` "merchant" keeps
merchants, "user" non-merchants, null or absent all. A short page or `data: []` ends paging.
BAPI answers never carry weight headers; GET /api/v3/time does.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from sim import shapes
from sim.params import as_int, page_of
from sim.wire import Request, Response, bapi_error, bapi_ok, decode_body, mandatory, sapi_ok

if TYPE_CHECKING:
    from sim.exchange import SimExchange

MAX_ROWS = 20
_PUBLISHERS = {"merchant": "merchant", "user": "user"}


def _page_and_rows(body: dict) -> tuple[int, int] | None:
    page, rows = as_int(body.get("page"), 1), as_int(body.get("rows"), 10)
    if page is None or rows is None or page < 1 or not 1 <= rows <= MAX_ROWS:
        return None
    return page, rows


def adv_search(ex: SimExchange, req: Request, now: float) -> Response:
    body = decode_body(req.body)
    if not isinstance(body, dict) or body.get("tradeType") not in ("BUY", "SELL"):
        return bapi_error()
    paging = _page_and_rows(body)
    if paging is None or not body.get("asset") or not body.get("fiat"):
        return bapi_error()
    if not ex.pages.allow(req.client, now):
        ex.stats.soft_limit_hits += 1
        return bapi_ok([], 0)
    items, total = _search(ex, body, paging)
    return bapi_error() if items is None else bapi_ok(items, total)


def sapi_search(ex: SimExchange, req: Request, now: float) -> Response:
    """`POST /sapi/v1/c2c/ads/search`, EP-0's signed twin: the same body and `data[].adv/
    advertiser` items in the SAPI envelope (reference §3 [SAPI74; BPA]); asset, fiat, tradeType,
    page and rows are required (-1102, the captured text). No page gap: that is BAPI's."""
    body = decode_body(req.body)
    if not isinstance(body, dict) or body.get("tradeType") not in ("BUY", "SELL") \
            or not body.get("asset") or not body.get("fiat"):
        return mandatory("tradeType|fiat|asset")
    paging = _page_and_rows(body)
    if paging is None or body.get("page") is None or body.get("rows") is None:
        return mandatory("page|rows")
    items, total = _search(ex, body, paging)
    return mandatory("transAmount") if items is None else sapi_ok(items, total)


def _search(ex: SimExchange, body: dict, paging: tuple[int, int]):
    market = ex.markets.get((body["asset"], body["fiat"]))
    if market is None:
        return [], 0
    ads = market.book("SELL" if body["tradeType"] == "BUY" else "BUY")
    publisher = _PUBLISHERS.get(str(body.get("publisherType")))
    if publisher is not None:
        ads = [a for a in ads if a.user_type == publisher]
    if body.get("payTypes"):
        wanted = set(body["payTypes"])
        ads = [a for a in ads if wanted.intersection(a.pay_methods)]
    if body.get("transAmount") not in (None, ""):
        try:
            amount = Decimal(str(body["transAmount"]))
        except InvalidOperation:
            return None, 0
        ads = [a for a in ads if a.min_amount <= amount <= a.max_amount]
    return [shapes.search_item(a, market.cfg) for a in page_of(ads, *paging)], len(ads)


def public_search(ex: SimExchange, req: Request, now: float) -> Response:
    return bapi_ok([], 0)  # the `public` twin of EP-0 answers empty, as captured in 2026


def server_time(ex: SimExchange, req: Request, now: float) -> Response:
    weight = str(ex.api_weight.add(req.client, now))
    headers = (("content-type", "application/json"), ("x-mbx-used-weight", weight),
               ("x-mbx-used-weight-1m", weight))
    return Response(200, b'{"serverTime":%d}' % ex.server_ms(), headers)
