"""My ads: EP-4 (list), EP-7 (update) and EP-8 (updateStatus), reference §4 and §7.

EP-7 is a selective update: only the fields sent change (`price` as a JSON number or a string,
`priceFloatingRatio` likewise, `minSingleTransAmount`, `maxSingleTransAmount`, `payTimeLimit`, `remarks`,
`autoReplyMsg`). Its refusals, in the order checked:

    advNo missing                      400 -1102 "Mandatory parameter 'advNo'..." (sample)
    a field malformed                  400 -1102 naming it (a price finer than the tick too)
    advNo not one of my ads            -9000/187022 (BNP)
    > ep7_burst_limit updates of the ad within ep7_burst_window_s
                                       83628 "Too many attempts, please try again after 30s."
                                       (sample), and the ad stays refused for ep7_cooldown_s
    suspension in force                83723 with its end in UTC (sample)
    rest mode                          -9000/83229 or 83230 bare (rest_mode_answer)
    ad offline or closed               -9000/187022 or -9000/83229 (offline_ad_update; unknown)
    surplusAmount sent, or an order opened on the ad within order_race_window_s
                                       -9000/187049 (AutoP2P; BNP)
    remaining balance below 10         83762 "Ad remaining balance should not be less than 10"
    price outside the band             -9000/187055 (AutoP2P); for a floating ad (priceType 2),
                                       the price its new ratio gives at today's reference

A floating ad's `priceFloatingRatio` (percent, at most 8 places as EP-4 writes it) sets its price
to reference × ratio / 100 at once and as the reference drifts. What Binance does with a ratio
sent for a fixed ad, or a price for a floating one, is not known: here the ratio is stored and
the fixed price stays, and a floating ad's price goes back to its ratio at the next market step.

Success: `{"code":"000000","message":"success","data":<ep7_success>,"success":true}`.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from sim import answers, shapes
from sim.market import RATIO_PLACES, TICK, floating_price
from sim.params import as_int, page_of, paged
from sim.rules import SlidingWindow
from sim.wire import Request, Response, decode_body, ep7_ok, mandatory, sapi_ok

if TYPE_CHECKING:
    from sim.exchange import SimExchange

MIN_BALANCE = Decimal("10")
_MONEY_FIELDS = {"price": "price", "priceFloatingRatio": "price_floating_ratio",
                 "minSingleTransAmount": "min_amount", "maxSingleTransAmount": "max_amount"}
_TEXT_FIELDS = {"remarks": "remarks", "autoReplyMsg": "auto_reply"}
_PLACES = {"price": TICK, "priceFloatingRatio": RATIO_PLACES}


class UpdateGuard:
    """83628: more than `limit` updates of one ad within `window` seconds, then `cooldown`
    seconds of refusals for that ad. Attempts during the cooldown do not extend it."""

    def __init__(self, limit: int, window: float, cooldown: float) -> None:
        self.limit, self.window, self.cooldown = limit, window, cooldown
        self._recent: dict[str, SlidingWindow] = {}
        self._until: dict[str, float] = {}

    def admit(self, adv_no: str, now: float) -> bool:
        """Record an update attempt on `adv_no`; False when it must get 83628."""
        if self.limit <= 0:
            return True
        if now < self._until.get(adv_no, -math.inf):
            return False
        if self._recent.setdefault(adv_no, SlidingWindow(self.window)).add(now) > self.limit:
            self._until[adv_no] = now + self.cooldown
            return False
        return True


def list_ads(ex: SimExchange, req: Request, now: float) -> Response:
    body = decode_body(req.body)
    if not paged(body):
        return mandatory("page|rows")
    ads = [a for market in ex.markets.values() for a in market.bot_ads()]
    for key, attr in (("advNo", "adv_no"), ("advStatus", "status"), ("tradeType", "side")):
        if body.get(key) not in (None, ""):
            ads = [a for a in ads if getattr(a, attr) == body[key]]
    chosen = page_of(ads, as_int(body["page"]) or 1, as_int(body["rows"]) or 1)
    return sapi_ok([shapes.ad_detail(a, ex.cfg_of(a.asset, a.fiat)) for a in chosen], len(ads))


def _money(value: object, tick: Decimal | None) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount <= 0:
        return None
    return amount if tick is None or amount == amount.quantize(tick) else None


def _changes(body: dict) -> dict | Response:
    """The fields an update sets, by SimAd attribute; or the -1102 naming a malformed one."""
    changes: dict = {}
    for key, attr in _MONEY_FIELDS.items():
        if key in body:
            value = _money(body[key], _PLACES.get(key))
            if value is None:
                return mandatory(key)
            changes[attr] = value
    if "payTimeLimit" in body:
        minutes = as_int(body["payTimeLimit"])
        if minutes is None or minutes <= 0:
            return mandatory("payTimeLimit")
        changes["pay_time_limit"] = minutes
    for key, attr in _TEXT_FIELDS.items():
        if key in body:
            changes[attr] = None if body[key] is None else str(body[key])
    return changes


def _refusal(ex: SimExchange, ad, body: dict, now: float) -> Response | None:
    cfg = ex.cfg
    if not ex.update_guard.admit(ad.adv_no, now):
        return answers.answer("83628")
    if now < ex.suspended_until:
        return answers.suspended(ad.side, ex.server_ms() + int((ex.suspended_until - now) * 1000))
    if ex.on_rest:
        return answers.answer(cfg.rest_mode_answer)
    if ad.status != 1:
        return answers.answer(cfg.offline_ad_update)
    if "surplusAmount" in body or now - ad.order_at < cfg.order_race_window_s:
        return answers.answer("187049")
    if ad.surplus < MIN_BALANCE:
        return answers.answer("83762")
    return None


def update_ad(ex: SimExchange, req: Request, now: float) -> Response:
    body = decode_body(req.body)
    if not isinstance(body, dict) or not body.get("advNo"):
        return mandatory("advNo")
    changes = _changes(body)
    if isinstance(changes, Response):
        return changes
    market = ex.market_of(str(body["advNo"]))
    ad = market.ads[str(body["advNo"])] if market is not None else None
    if ad is None or not ad.mine:
        return answers.answer("187022")
    refusal = _refusal(ex, ad, body, now)
    if refusal is not None:
        return refusal
    price = changes.pop("price", None)
    ratio = changes.get("price_floating_ratio")
    if ratio is not None and ad.price_type == 2:
        price = floating_price(market.ref, ratio)
    if price is not None and abs(price - market.ref) > market.ref * ex.cfg.band:
        return answers.answer("187055")
    if changes.get("min_amount", ad.min_amount) > changes.get("max_amount", ad.max_amount):
        return mandatory("minSingleTransAmount")
    for attr, value in changes.items():
        setattr(ad, attr, value)
    if price is not None:
        market.set_price(ad.adv_no, price, now)
        market.watch_bot(ad.adv_no, now)
    ex.observe(now, competitor_moved=False)
    shape = ex.cfg.ep7_success
    if shape == "mix":
        shape = ex.fault_rng.choice(("null", "true", "absent"))
    return ep7_ok(shape)


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
    if not isinstance(body, dict) or as_int(body.get("advStatus")) not in (1, 3, 4):
        return mandatory("advStatus")
    adv_nos = _adv_nos(ex, body.get("advNos"))
    if adv_nos is None:
        return mandatory("advNos")
    status, fails = as_int(body["advStatus"]), []
    for adv_no in adv_nos:
        market = ex.market_of(adv_no)
        ad = market.ads[adv_no] if market is not None else None
        if ad is None or not ad.mine:
            fails.append({"advNo": adv_no, "errorCode": "187022", "errorMsg": "Ad does not exist."})
        elif status == 1 and ex.on_rest:
            fails.append({"advNo": adv_no, "errorCode": "83229",
                          "errorMsg": "Merchant is in rest mode."})
        else:
            ad.status = status
            if status == 1:
                market.watch_bot(adv_no, now)
    ex.observe(now, competitor_moved=False)
    return sapi_ok({"status": not fails, "failList": fails})
