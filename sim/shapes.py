"""Wire shapes of ads, orders and credentials, with the captured samples' keys in their order.

Money goes out as Decimal (msgspec writes a JSON string); counts, scales, statuses and times as
integers; rates such as monthFinishRate as floats: the types the real wire uses.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from sim.config import SimConfig
from sim.market import SimAd
from sim.orders import SimOrder

_Q2 = Decimal("0.01")
_Q8 = Decimal("0.00000001")
_FILTERS = (
    "userTradeCountFilterTime", "userBuyTradeCountMin", "userBuyTradeCountMax",
    "userSellTradeCountMin", "userSellTradeCountMax", "userAllTradeCountMin",
    "userAllTradeCountMax", "userTradeCompleteRateFilterTime", "userTradeCompleteCountMin",
    "userTradeCompleteRateMin", "userTradeVolumeFilterTime", "userTradeType",
    "userTradeVolumeMin", "userTradeVolumeMax", "userTradeVolumeAsset", "createTime",
    "advUpdateTime", "fiatVo", "assetVo", "advVisibleRet", "assetLogo",
)


def trade_method(identifier: str) -> dict:
    return {
        "payId": None, "payMethodId": "", "payType": identifier, "payAccount": None,
        "payBank": None, "paySubBank": None, "identifier": identifier, "iconUrlColor": None,
        "tradeMethodName": identifier, "tradeMethodShortName": identifier,
        "tradeMethodBgColor": "#F0B90B",
    }


def _q(value: Decimal, quantum: Decimal = _Q2) -> Decimal:
    return value.quantize(quantum, rounding=ROUND_DOWN)


def _quantities(ad: SimAd) -> dict:
    dynamic_max = min(ad.max_amount, _q(ad.surplus * ad.price))
    return {
        "isTradable": ad.listed,
        "dynamicMaxSingleTransAmount": dynamic_max,
        "minSingleTransQuantity": _q(ad.min_amount / ad.price),
        "maxSingleTransQuantity": _q(ad.max_amount / ad.price),
        "dynamicMaxSingleTransQuantity": _q(dynamic_max / ad.price),
        "tradableQuantity": _q(ad.surplus),
        "commissionRate": Decimal("0.00100000"),
        "tradeMethodCommissionRates": [],
        "launchCountry": None,
    }


def adv(ad: SimAd, cfg: SimConfig) -> dict:
    """The public book's `adv` object (EP-0), null where public search shows null."""
    head = {
        "advNo": ad.adv_no, "classify": "mass", "tradeType": ad.side, "asset": cfg.asset,
        "fiatUnit": cfg.fiat, "advStatus": None, "priceType": None, "priceFloatingRatio": None,
        "rateFloatingRatio": None, "currencyRate": None, "price": ad.price,
        "initAmount": _q(ad.init_amount, _Q8), "surplusAmount": _q(ad.surplus),
        "amountAfterEditing": _q(ad.init_amount, _Q8), "maxSingleTransAmount": ad.max_amount,
        "minSingleTransAmount": ad.min_amount, "buyerKycLimit": None, "buyerRegDaysLimit": None,
        "buyerBtcPositionLimit": None, "remarks": None, "autoReplyMsg": "",
        "payTimeLimit": ad.pay_time_limit,
        "tradeMethods": [trade_method(p) for p in ad.pay_methods],
    }
    head.update(dict.fromkeys(_FILTERS))
    head.update({"assetScale": 2, "fiatScale": 2, "priceScale": 2, "fiatSymbol": cfg.fiat_symbol})
    head.update(_quantities(ad))
    return head


def advertiser(ad: SimAd) -> dict:
    return {
        "userNo": ad.user_no, "realName": None, "nickName": ad.nickname, "margin": None,
        "marginUnit": None, "orderCount": None, "monthOrderCount": ad.month_orders,
        "monthFinishRate": ad.finish_rate, "advConfirmTime": 0, "email": None,
        "registrationTime": None, "mobile": None, "userType": ad.user_type, "tagIconUrls": [],
        "userGrade": 2, "userIdentity": "", "proMerchant": None, "isBlocked": None,
    }


def ad_detail(ad: SimAd, cfg: SimConfig) -> dict:
    """My ad as EP-4 lists it (AdDetailResp: flat, with status and price type)."""
    return {
        "advNo": ad.adv_no, "classify": "profession", "tradeType": ad.side, "asset": cfg.asset,
        "fiatUnit": cfg.fiat, "advStatus": ad.status, "priceType": 1,
        "priceFloatingRatio": Decimal("100.00000000"), "rateFloatingRatio": Decimal("0.00000000"),
        "price": ad.price, "initAmount": _q(ad.init_amount, _Q8),
        "surplusAmount": _q(ad.surplus, _Q8), "tradableQuantity": _q(ad.surplus, _Q8),
        "amountAfterEditing": _q(ad.init_amount, _Q8), "minSingleTransAmount": ad.min_amount,
        "maxSingleTransAmount": ad.max_amount, "payTimeLimit": ad.pay_time_limit,
        "tradeMethods": [trade_method(p) for p in ad.pay_methods], "assetScale": 2,
        "fiatScale": 2, "priceScale": 2, "fiatSymbol": cfg.fiat_symbol,
        "offlineReason": None, "advVisibleRet": None,
    }


def _parties(order: SimOrder, bot_nickname: str) -> tuple[str, str]:
    if order.side == "SELL":
        return order.counterparty, bot_nickname
    return bot_nickname, order.counterparty


def order_item(order: SimOrder, cfg: SimConfig) -> dict:
    """One order as EP-15 lists it (OrderMatchListResp)."""
    buyer, seller = _parties(order, cfg.bot_nickname)
    return {
        "orderNumber": order.order_no, "advNo": order.adv_no, "tradeType": order.side,
        "asset": cfg.asset, "fiat": cfg.fiat, "fiatSymbol": cfg.fiat_symbol,
        "amount": _q(order.amount, _Q8), "totalPrice": _q(order.total, _Q8),
        "orderStatus": order.status, "createTime": order.create_ms,
        "currencyTicketSize": "0.01", "assetTicketSize": "0.01", "priceTicketSize": "0.01",
        "buyerNickname": buyer, "sellerNickname": seller, "chatUnreadCount": 0,
        "notifyPayEndTime": order.create_ms + 15 * 60000, "confirmPayEndTime": None,
        "commission": Decimal("0"), "commissionRate": Decimal("0.00000000"),
        "takerAmount": _q(order.amount, _Q8), "takerCommission": Decimal("0"),
        "takerCommissionRate": Decimal("0.00000000"), "additionalKycVerify": 0,
    }


def order_detail(order: SimOrder, cfg: SimConfig) -> dict:
    """One order as EP-13 returns it (OrderMatchResp), with made-up KYC names."""
    buyer, seller = _parties(order, cfg.bot_nickname)
    return {
        "orderNumber": order.order_no, "advOrderNumber": order.adv_no, "tradeType": order.side,
        "asset": cfg.asset, "fiatUnit": cfg.fiat, "fiatSymbol": cfg.fiat_symbol,
        "amount": _q(order.amount, _Q8), "price": order.price, "totalPrice": _q(order.total, _Q8),
        "orderStatus": order.status, "createTime": order.create_ms,
        "notifyPayEndTime": order.create_ms + 15 * 60000,
        "expectedPayTime": order.create_ms + 15 * 60000, "notifyPayedExpireMinute": 15,
        "confirmPayedExpireMinute": 15, "buyerNickname": buyer, "sellerNickname": seller,
        "buyerName": f"{buyer.upper()} SIM", "sellerName": f"{seller.upper()} SIM",
        "payType": order.pay_method, "payMethods": [trade_method(order.pay_method)],
        "selectedPayId": None, "unreadCount": 0, "clientType": "web", "origin": "MAKE_TAKE",
        "commission": Decimal("0"), "commissionRate": Decimal("0.00000000"),
        "takerCommission": Decimal("0"), "takerCommissionRate": Decimal("0.00000000"),
        "takerAmount": _q(order.amount, _Q8), "takerUserNo": f"s{order.order_no[-16:]}",
        "merchantNo": None, "onlineStatus": "online", "avgReleasePeriod": 5, "avgPayPeriod": 4,
        "isComplaintAllowed": True, "additionalKycVerify": 0,
    }
