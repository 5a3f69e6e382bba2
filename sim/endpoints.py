"""One handler per Binance endpoint, behind the gateway checks that `SimExchange.handle` makes.

Choices where the reference leaves the wire open: business refusals (187049, 187055, 187022,
83229) come wrapped as HTTP 400 `{"code":-9000,"msg":"<code>"}`, while the fault injector also
sends 187049 bare (`{"code":187049,"msg":...}`); a missing or unknown API key is HTTP 400 -2008;
an EP-7 price with more decimals than the tick is -1102; EP-33 without a clientType header is
-1102 "illegal parameter", as one bot saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Callable

from sim import shapes
from sim.market import TICK
from sim.rules import query_params
from sim.wire import (
    Request, Response, bapi_error, bapi_ok, business, decode_body, illegal, mandatory, sapi_ok,
)

if TYPE_CHECKING:
    from sim.exchange import SimExchange

Handler = Callable[["SimExchange", Request, float], Response]


@dataclass(frozen=True)
class Route:
    """How a path is served: its EP name, its one method, and how it is authenticated."""

    endpoint: str
    method: str
    auth: str  # "public", "signed", or "key" (API key enough, signature checked if present)
    handler: Handler


def _int(value: object, default: int | None = None) -> int | None:
    try:
        return int(value) if value is not None else default
    except (TypeError, ValueError):
        return None


def _paged(body: object) -> bool:
    return isinstance(body, dict) and None not in (_int(body.get("page")), _int(body.get("rows")))


def _page(items: list, page: int, rows: int) -> list:
    start = (max(page, 1) - 1) * rows
    return items[start:start + rows]


def adv_search(ex: SimExchange, req: Request, now: float) -> Response:
    body = decode_body(req.body)
    if not isinstance(body, dict) or body.get("tradeType") not in ("BUY", "SELL"):
        return bapi_error()
    if not body.get("asset") or not body.get("fiat"):
        return bapi_error()
    if not ex.pages.allow(req.client, now):
        ex.stats.soft_limit_hits += 1
        return bapi_ok([], 0)
    if (body["asset"], body["fiat"]) != (ex.cfg.asset, ex.cfg.fiat):
        return bapi_ok([], 0)
    ads = ex.market.book("SELL" if body["tradeType"] == "BUY" else "BUY")
    if body.get("publisherType") == "merchant":
        ads = [a for a in ads if a.user_type == "merchant"]
    if body.get("payTypes"):
        wanted = set(body["payTypes"])
        ads = [a for a in ads if wanted.intersection(a.pay_methods)]
    if body.get("transAmount") not in (None, ""):
        try:
            amount = Decimal(str(body["transAmount"]))
        except InvalidOperation:
            return bapi_error()
        ads = [a for a in ads if a.min_amount <= amount <= a.max_amount]
    page, rows = _int(body.get("page"), 1) or 1, _int(body.get("rows"), 10) or 10
    items = [{"adv": shapes.adv(a, ex.cfg), "advertiser": shapes.advertiser(a)}
             for a in _page(ads, page, rows)]
    return bapi_ok(items, len(ads))


def public_search(ex: SimExchange, req: Request, now: float) -> Response:
    return bapi_ok([], 0)  # the `public` twin of EP-0 answers empty, as captured in 2026


def server_time(ex: SimExchange, req: Request, now: float) -> Response:
    return Response(200, b'{"serverTime":%d}' % ex.server_ms())


def list_ads(ex: SimExchange, req: Request, now: float) -> Response:
    body = decode_body(req.body)
    if not _paged(body):
        return mandatory("page|rows")
    ads = ex.market.bot_ads()
    for key, attr in (("advNo", "adv_no"), ("advStatus", "status"), ("tradeType", "side")):
        if body.get(key) not in (None, ""):
            ads = [a for a in ads if getattr(a, attr) == body[key]]
    chosen = _page(ads, int(body["page"]), int(body["rows"]))
    return sapi_ok([shapes.ad_detail(a, ex.cfg) for a in chosen], len(ads))


def _price(value: object) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        price = Decimal(str(value))
    except InvalidOperation:
        return None
    return price if price > 0 and price == price.quantize(TICK) else None


def update_ad(ex: SimExchange, req: Request, now: float) -> Response:
    body = decode_body(req.body)
    if not isinstance(body, dict) or not body.get("advNo"):
        return mandatory("advNo")
    ad = ex.market.ads.get(str(body["advNo"]))
    if ad is None or not ad.mine:
        return business(187022, "Ad does not exist.")
    if "surplusAmount" in body:
        return business(187049, "Ad update failed, please try again.")
    if ad.status != 1 or ex.on_rest:
        return business(83229, "Merchant is in rest mode; the ad is offline.")
    if "price" not in body:
        return sapi_ok(True)
    price = _price(body["price"])
    if price is None:
        return mandatory("price")
    if abs(price - ex.market.ref) > ex.market.ref * ex.cfg.band:
        return business(187055, "The price is outside the limited range.")
    ex.market.set_price(ad.adv_no, price, now)
    ex.market.watch_bot(ad.adv_no, now, ex.market_rng)
    ex.observe(now, competitor_moved=False)
    return sapi_ok(True)


def _adv_nos(ex: SimExchange, value: object) -> list[str] | None:
    if isinstance(value, list):
        if ex.fault_rng.random() < ex.cfg.status_list_reject_share:
            return None
        return [str(v) for v in value]
    if isinstance(value, str) and value.strip():
        return [v.strip() for v in value.split(",") if v.strip()]
    return None


def update_status(ex: SimExchange, req: Request, now: float) -> Response:
    body = decode_body(req.body)
    if not isinstance(body, dict) or _int(body.get("advStatus")) not in (1, 3, 4):
        return mandatory("advStatus")
    adv_nos = _adv_nos(ex, body.get("advNos"))
    if adv_nos is None:
        return mandatory("advNos")
    status, fails = int(body["advStatus"]), []
    for adv_no in adv_nos:
        ad = ex.market.ads.get(adv_no)
        if ad is None or not ad.mine:
            fails.append({"advNo": adv_no, "errorCode": "187022", "errorMsg": "Ad does not exist."})
        elif status == 1 and ex.on_rest:
            fails.append({"advNo": adv_no, "errorCode": "83229",
                          "errorMsg": "Merchant is in rest mode."})
        else:
            ad.status = status
            if status == 1:
                ex.market.watch_bot(adv_no, now, ex.market_rng)
    ex.observe(now, competitor_moved=False)
    return sapi_ok({"status": not fails, "failList": fails})


def list_orders(ex: SimExchange, req: Request, now: float) -> Response:
    body = decode_body(req.body)
    if not _paged(body):
        return mandatory("page|rows")
    orders = sorted(ex.desk.orders.values(), key=lambda o: o.create_ms, reverse=True)
    one = body.get("orderStatus")
    statuses = body.get("orderStatusList") or ([one] if one else [])
    if statuses:
        orders = [o for o in orders if o.status in statuses]
    if body.get("advNo"):
        orders = [o for o in orders if o.adv_no == body["advNo"]]
    chosen = _page(orders, int(body["page"]), int(body["rows"]))
    return sapi_ok([shapes.order_item(o, ex.cfg) for o in chosen], len(orders))


def order_detail(ex: SimExchange, req: Request, now: float) -> Response:
    body = decode_body(req.body)
    order = ex.desk.orders.get(str(body.get("adOrderNo", ""))) if isinstance(body, dict) else None
    if order is None:
        return illegal()
    return sapi_ok(shapes.order_detail(order, ex.cfg))


def chat_credential(ex: SimExchange, req: Request, now: float) -> Response:
    if not req.headers.get("clienttype"):
        return illegal()
    host = req.headers.get("host", "127.0.0.1")
    return sapi_ok(ex.issue_chat_credential(host, now))


def chat_messages(ex: SimExchange, req: Request, now: float) -> Response:
    params = query_params(req.query)
    page, rows = _int(params.get("page")), _int(params.get("rows"))
    if page is None or rows is None:
        return mandatory("page|rows")
    messages = ex.desk.history(params.get("orderNo") or None)
    return sapi_ok([m.wire() for m in _page(messages, page, rows)], len(messages))


_C2C = "/sapi/v1/c2c/"
_CHAT = _C2C + "chat/"
ROUTES: dict[str, Route] = {
    "/bapi/c2c/v2/friendly/c2c/adv/search": Route("EP-0", "POST", "public", adv_search),
    "/bapi/c2c/v2/public/c2c/adv/search": Route("OTHER", "POST", "public", public_search),
    "/api/v3/time": Route("TIME", "GET", "public", server_time),
    _C2C + "ads/listWithPagination": Route("EP-4", "POST", "signed", list_ads),
    _C2C + "ads/update": Route("EP-7", "POST", "signed", update_ad),
    _C2C + "ads/updateStatus": Route("EP-8", "POST", "signed", update_status),
    _C2C + "orderMatch/listOrders": Route("EP-15", "POST", "signed", list_orders),
    _C2C + "orderMatch/getUserOrderDetail": Route("EP-13", "POST", "key", order_detail),
    _CHAT + "retrieveChatCredential": Route("EP-33", "GET", "signed", chat_credential),
    _CHAT + "retrieveChatMessagesWithPagination": Route("EP-34", "GET", "signed", chat_messages),
}
