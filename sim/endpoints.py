"""The routes: which handler serves each Binance path, its one method and how it is
authenticated. The gateway checks (`SimExchange.handle`, `sim.auth`) run before any handler.

Handlers live by family: `sim.ep_public` (EP-0, the clock), `sim.ep_ads` (EP-4, EP-7, EP-8),
`sim.ep_orders` (EP-15, EP-13), `sim.ep_chat` (EP-33, EP-34).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from sim import ep_ads, ep_chat, ep_orders, ep_public
from sim.wire import Request, Response

if TYPE_CHECKING:
    from sim.exchange import SimExchange

Handler = Callable[["SimExchange", Request, float], Response]


@dataclass(frozen=True)
class Route:
    """How a path is served: its EP name, its one method, and whether it is "public" or
    "signed" (every C2C SAPI call is: reference §2, §11)."""

    endpoint: str
    method: str
    auth: str
    handler: Handler


_C2C = "/sapi/v1/c2c/"
_CHAT = _C2C + "chat/"
ROUTES: dict[str, Route] = {
    "/bapi/c2c/v2/friendly/c2c/adv/search": Route("EP-0", "POST", "public", ep_public.adv_search),
    "/bapi/c2c/v2/public/c2c/adv/search": Route("OTHER", "POST", "public",
                                                ep_public.public_search),
    "/api/v3/time": Route("TIME", "GET", "public", ep_public.server_time),
    _C2C + "ads/search": Route("EP-0S", "POST", "signed", ep_public.sapi_search),
    _C2C + "ads/listWithPagination": Route("EP-4", "POST", "signed", ep_ads.list_ads),
    _C2C + "ads/update": Route("EP-7", "POST", "signed", ep_ads.update_ad),
    _C2C + "ads/updateStatus": Route("EP-8", "POST", "signed", ep_ads.update_status),
    _C2C + "orderMatch/listOrders": Route("EP-15", "POST", "signed", ep_orders.list_orders),
    _C2C + "orderMatch/getUserOrderDetail": Route("EP-13", "POST", "signed",
                                                  ep_orders.order_detail),
    _CHAT + "retrieveChatCredential": Route("EP-33", "GET", "signed", ep_chat.chat_credential),
    _CHAT + "retrieveChatMessagesWithPagination": Route("EP-34", "GET", "signed",
                                                        ep_chat.chat_messages),
}
