"""A scripted Binance for actor tests: an httpx.MockTransport handler with Binance's shapes.

Tests set its state (book, my ads, orders) and its faults (a queue of canned answers per
endpoint path) and read back every request it received, with trio's (virtual) time of arrival.
"""

from __future__ import annotations

import json
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import httpx
import trio

from c2c.credentials import Secret
from c2c.signing import verify

API_KEY = "testKey-0123456789"
SECRET = "testSecret-do-not-leak-7f3a9c"

PATHS = {
    "/bapi/c2c/v2/friendly/c2c/adv/search": "EP-0",
    "/sapi/v1/c2c/ads/search": "EP-0S",
    "/sapi/v1/c2c/ads/listWithPagination": "EP-4",
    "/sapi/v1/c2c/ads/update": "EP-7",
    "/sapi/v1/c2c/ads/updateStatus": "EP-8",
    "/sapi/v1/c2c/orderMatch/getUserOrderDetail": "EP-13",
    "/sapi/v1/c2c/orderMatch/listOrders": "EP-15",
    "/sapi/v1/c2c/chat/retrieveChatCredential": "EP-33",
    "/sapi/v1/c2c/chat/retrieveChatMessagesWithPagination": "EP-34",
    "/api/v3/time": "TIME",
}


def ok(data, total=None) -> httpx.Response:
    body = {"code": "000000", "message": "success", "data": data, "success": True}
    if total is not None:
        body["total"] = total
    return httpx.Response(200, json=body)


def gateway_error(code: int, msg: str, status: int = 400, headers=None) -> httpx.Response:
    return httpx.Response(status, json={"code": code, "msg": msg}, headers=headers or {})


def book_item(adv_no, price, side, *, nick="rival", pay=("BANK",), surplus="500.00",
              lo="1000.00", hi="900000.00", orders=100, rate=0.99) -> dict:
    return {
        "adv": {"advNo": adv_no, "tradeType": side, "asset": "USDT", "fiatUnit": "NGN",
                "price": str(price), "surplusAmount": surplus, "minSingleTransAmount": lo,
                "maxSingleTransAmount": hi, "priceScale": 2,
                "tradeMethods": [{"identifier": p, "payType": p} for p in pay]},
        "advertiser": {"userNo": "u" + adv_no, "nickName": nick, "monthOrderCount": orders,
                       "monthFinishRate": rate, "userType": "merchant"},
    }


def my_ad(adv_no, side, price, status=1) -> dict:
    return {"advNo": adv_no, "advStatus": status, "tradeType": side, "asset": "USDT",
            "fiatUnit": "NGN", "price": str(price), "priceType": 1, "surplusAmount": "1000.00",
            "minSingleTransAmount": "1000.00", "maxSingleTransAmount": "900000.00",
            "priceScale": 2, "tradeMethods": [{"identifier": "BANK"}]}


class FakeBinance:
    def __init__(self) -> None:
        self.requests: list[tuple[float, str, httpx.Request]] = []
        self.book: dict[str, list[dict]] = {"SELL": [], "BUY": []}
        self.my_ads: list[dict] = []
        self.orders: list[dict] = []
        self.details: dict[str, dict] = {}
        self.canned: dict[str, list] = {}
        self.server_offset_ms = 0
        self.now_ms = lambda: 1_768_000_000_000 + int(trio.current_time() * 1000)
        self.on_request = None

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def calls(self, endpoint: str) -> list[tuple[float, httpx.Request]]:
        return [(t, r) for t, ep, r in self.requests if ep == endpoint]

    def push(self, endpoint: str, *answers) -> None:
        """Answer the next calls to `endpoint` with these (Response or Exception) first."""
        self.canned.setdefault(endpoint, []).extend(answers)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        endpoint = PATHS.get(request.url.path, "?")
        self.requests.append((trio.current_time(), endpoint, request))
        if self.on_request is not None:
            self.on_request(endpoint, request)
        if self.canned.get(endpoint):
            answer = self.canned[endpoint].pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer
        if request.url.path.startswith("/sapi/") and "signature=" in str(request.url):
            if not verify(Secret(SECRET), urlsplit(str(request.url)).query):
                return gateway_error(-1022, "Signature for this request is not valid.")
        return getattr(self, "_" + endpoint.replace("-", "_").lower())(request)

    def _body(self, request) -> dict:
        return json.loads(request.content or b"{}")

    def _ep_0(self, request):
        body = self._body(request)
        side = "SELL" if body["tradeType"] == "BUY" else "BUY"
        rows, page = body["rows"], body["page"]
        items = self.book[side][(page - 1) * rows: page * rows]
        return httpx.Response(200, json={"code": "000000", "message": None, "messageDetail": None,
                                         "data": items, "total": len(self.book[side]),
                                         "success": True})

    def _ep_0s(self, request):
        body = self._body(request)
        side = "SELL" if body["tradeType"] == "BUY" else "BUY"
        rows, page = body["rows"], body["page"]
        return ok(self.book[side][(page - 1) * rows: page * rows], total=len(self.book[side]))

    def _ep_4(self, request):
        return ok(self.my_ads, total=len(self.my_ads))

    def _ep_7(self, request):
        body = self._body(request)
        for ad in self.my_ads:
            if ad["advNo"] == body["advNo"]:
                ad["price"] = str(Decimal(str(body["price"])))
                for side in self.book.values():
                    for item in side:
                        if item["adv"]["advNo"] == body["advNo"]:
                            item["adv"]["price"] = ad["price"]
                return ok(True)
        return gateway_error(-9000, "187022")

    def _ep_8(self, request):
        body = self._body(request)
        nos = body["advNos"] if isinstance(body["advNos"], list) else body["advNos"].split(",")
        for ad in self.my_ads:
            if ad["advNo"] in nos:
                ad["advStatus"] = body["advStatus"]
        return ok({"status": True, "failList": []})

    def _ep_13(self, request):
        no = self._body(request).get("adOrderNo")
        if no not in self.details:
            return gateway_error(-1102, "illegal parameter")
        return ok(self.details[no])

    def _ep_15(self, request):
        active = [o for o in self.orders if o["orderStatus"] in (1, 2, 3)]
        return ok(active, total=len(active))

    def _ep_33(self, request):
        return ok({"chatWssUrl": "ws://chat.test/chat", "listenKey": "c2c_" + "a" * 32 + "_v2",
                   "listenToken": "TOKEN" + "b" * 32})

    def _ep_34(self, request):
        return ok([], total=0)

    def _time(self, request):
        return httpx.Response(200, json={"serverTime": self.now_ms() + self.server_offset_ms})


def query_of(request: httpx.Request) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(str(request.url)).query))
