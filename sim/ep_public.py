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
from sim.wire import Request, Response, bapi_error, bapi_ok, decode_body

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
    if (body["asset"], body["fiat"]) != (ex.cfg.asset, ex.cfg.fiat):
        return bapi_ok([], 0)
    ads = ex.market.book("SELL" if body["tradeType"] == "BUY" else "BUY")
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
            return bapi_error()
        ads = [a for a in ads if a.min_amount <= amount <= a.max_amount]
    items = [shapes.search_item(a, ex.cfg) for a in page_of(ads, *paging)]
    return bapi_ok(items, len(ads))


def public_search(ex: SimExchange, req: Request, now: float) -> Response:
    return bapi_ok([], 0)  # the `public` twin of EP-0 answers empty, as captured in 2026


def server_time(ex: SimExchange, req: Request, now: float) -> Response:
    weight = str(ex.api_weight.add(req.client, now))
    headers = (("content-type", "application/json"), ("x-mbx-used-weight", weight),
               ("x-mbx-used-weight-1m", weight))
    return Response(200, b'{"serverTime":%d}' % ex.server_ms(), headers)
