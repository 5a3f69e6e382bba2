"""What-if replay: the recorded market, other decisions.

With another strategy or other parameters the bot makes requests the recording never made (a
different price update) and makes its routine calls at other moments. `WhatIfSender` answers
each call with the recorded answer to the same request that was current at that moment (the
book as it stood then), rewrites my ads' prices in the order book to the prices this run set,
and synthesizes answers to EP-7 and EP-8 by the wire layer's success shapes. Synthesized or
rewritten answers carry the header `x-replay: synthesized`, so the log says which they are.
"""

from __future__ import annotations

import bisect
import json
from collections import defaultdict
from decimal import Decimal

import trio

from actors.senders import RawReply
from c2c.http import request_identity
from events import ApiRequest, ApiResponse, Envelope

MARK = (("x-replay", "synthesized"),)
OK_TRUE = b'{"code":"000000","message":"success","data":true,"success":true}'
OK_STATUS = (b'{"code":"000000","message":"success","data":{"status":true,"failList":[]},'
             b'"success":true}')


class WhatIfSender:
    def __init__(self, envelopes: list[Envelope]) -> None:
        self.t0 = 0.0
        self.my_prices: dict[str, Decimal] = {}
        self.synthesized = 0
        self.by_identity: dict[tuple, list[tuple[float, ApiResponse]]] = defaultdict(list)
        ids: dict[str, tuple] = {}
        for env in envelopes:
            e = env.event
            if isinstance(e, ApiRequest):
                ids[e.request_id] = request_identity(e)
            elif isinstance(e, ApiResponse) and e.request_id in ids and e.final:
                self.by_identity[ids[e.request_id]].append((env.t - e.elapsed_ms / 1000, e))

    async def send(self, req: ApiRequest, build) -> RawReply:
        if req.endpoint == "EP-7":
            body = json.loads(req.body or "{}")
            if "price" in body:  # a floating ad's ratio update leaves its recorded price shown
                self.my_prices[str(body.get("advNo"))] = Decimal(str(body["price"]))
            return await self._synth(OK_TRUE)
        if req.endpoint == "EP-8":
            return await self._synth(OK_STATUS)
        answer = self._current(request_identity(req))
        if answer is None:
            await trio.sleep_forever()  # the recording never asked this: no answer to give
        await trio.sleep(answer.elapsed_ms / 1000)
        if req.endpoint == "EP-0" and self.my_prices:
            self.synthesized += 1
            return RawReply(answer.status, answer.headers + MARK, self._rewrite(answer.body))
        return RawReply(answer.status, answer.headers, answer.body)

    async def _synth(self, body: bytes) -> RawReply:
        self.synthesized += 1
        await trio.sleep(0.05)
        return RawReply(200, MARK, body)

    def _current(self, identity: tuple) -> ApiResponse | None:
        answers = self.by_identity.get(identity)
        if not answers:
            return None
        now = trio.current_time() - self.t0
        i = bisect.bisect_right([t for t, _ in answers], now)
        return answers[max(0, i - 1)][1]

    def _rewrite(self, body: bytes) -> bytes:
        """The recorded book with my ads at this run's prices, re-sorted as Binance sorts."""
        try:
            page = json.loads(body)
            items = page["data"]
        except (ValueError, KeyError, TypeError):
            return body
        if not isinstance(items, list) or not items:
            return body
        for item in items:
            adv = item.get("adv", {})
            if adv.get("advNo") in self.my_prices:
                adv["price"] = str(self.my_prices[adv["advNo"]])
        side = items[0].get("adv", {}).get("tradeType")
        items.sort(key=lambda i: Decimal(str(i["adv"]["price"])), reverse=side == "BUY")
        return json.dumps(page).encode()

