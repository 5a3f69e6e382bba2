"""Orders: EP-15 (listOrders) and EP-13 (getUserOrderDetail), reference §5.

EP-13 is signed like every C2C call (the gateway refuses it unsigned: `sim.auth`); a body
without a known `adOrderNo` gets 400 -1102 "illegal parameter" (sample).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim import shapes
from sim.params import as_int, page_of, paged
from sim.wire import Request, Response, decode_body, illegal, mandatory, sapi_ok

if TYPE_CHECKING:
    from sim.exchange import SimExchange


def list_orders(ex: SimExchange, req: Request, now: float) -> Response:
    body = decode_body(req.body)
    if not paged(body):
        return mandatory("page|rows")
    orders = sorted(ex.desk.orders.values(), key=lambda o: o.create_ms, reverse=True)
    one = body.get("orderStatus")
    statuses = body.get("orderStatusList") or ([one] if one else [])
    if statuses:
        orders = [o for o in orders if o.status in statuses]
    if body.get("advNo"):
        orders = [o for o in orders if o.adv_no == body["advNo"]]
    chosen = page_of(orders, as_int(body["page"]) or 1, as_int(body["rows"]) or 1)
    return sapi_ok([shapes.order_item(o, ex.cfg_of(o.asset, o.fiat)) for o in chosen], len(orders))


def order_detail(ex: SimExchange, req: Request, now: float) -> Response:
    body = decode_body(req.body)
    order = ex.desk.orders.get(str(body.get("adOrderNo", ""))) if isinstance(body, dict) else None
    if order is None:
        return illegal()
    return sapi_ok(shapes.order_detail(order, ex.cfg_of(order.asset, order.fiat)))
