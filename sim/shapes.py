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
    "advUpdateTime", "fiatVo", "assetVo", "advVisibleRet",
)
_TAIL_2026 = (
    "abnormalStatusList", "closeReason", "storeInformation", "allowTradeMerchant",
    "adTradeInstructionTagInfoRets",
)
_KYC_2026 = (
    "adAdditionalKycVerifyItems", "isStarTraderAdditionalKycExclusion",
    "isStarTraderCounterpartyConditionsExclusion", "nonTradableRegions", "invisibleType",
    "invisibleTitle", "invisibleReason", "privilegeType",
)
# identifier -> (tradeMethodName, tradeMethodShortName, tradeMethodBgColor), as the book shows
_METHODS = {
    "BANK": ("Bank Transfer", "Bank Transfer", "#F0B90B"),
    "OPay": ("OPay", "OPay", "#1DCF9F"),
    "Opay": ("OPay", "OPay", "#1DCF9F"),
    "PalmPay": ("PalmPay", "PalmPay", "#8B3DFF"),
    "Kuda": ("Kuda Bank", None, "#40196D"),
    "Moniepoint": ("Moniepoint", None, "#0357EE"),
    "Chipper": ("Chipper Cash", "Chipper", "#6B4EFF"),
    "FirstBank": ("First Bank of Nigeria", None, "#003B65"),
}


def trade_method(identifier: str) -> dict:
    name, short, color = _METHODS.get(identifier, (identifier, identifier, "#F0B90B"))
    return {
        "payId": None, "payMethodId": "", "payType": identifier, "payAccount": None,
        "payBank": None, "paySubBank": None, "identifier": identifier, "iconUrlColor": None,
        "tradeMethodName": name, "tradeMethodShortName": short, "tradeMethodBgColor": color,
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
        "commissionRate": Decimal("0.00200000"),
        "takerCommissionRate": None, "minTakerFee": None, "tradeMethodCommissionRates": None,
        "launchCountry": None,
    }


def adv(ad: SimAd, cfg: SimConfig) -> dict:
    """The public book's `adv` object (EP-0) with the 2026 capture's keys in its order, null
    where public search shows null (sample bapi-adv-search_USDT-MXN_..._2026-01-15)."""
    head = {
        "advNo": ad.adv_no, "classify": ad.classify, "tradeType": ad.side, "asset": cfg.asset,
        "fiatUnit": cfg.fiat, "advStatus": None, "priceType": None, "priceFloatingRatio": None,
        "rateFloatingRatio": None, "currencyRate": None, "price": ad.price,
        "initAmount": None, "surplusAmount": _q(ad.surplus), "tradableQuantity": _q(ad.surplus),
        "amountAfterEditing": None, "maxSingleTransAmount": ad.max_amount,
        "minSingleTransAmount": ad.min_amount, "buyerKycLimit": None, "buyerRegDaysLimit": None,
        "buyerBtcPositionLimit": None, "remarks": None, "autoReplyMsg": None,
        "payTimeLimit": ad.pay_time_limit,
        "tradeMethods": [trade_method(p) for p in ad.pay_methods],
    }
    head.update(dict.fromkeys(_FILTERS))
    head.update({"takerAdditionalKycRequired": 0, "minFiatAmountForAdditionalKyc": None,
                 "inventoryType": None, "offlineReason": None, "assetLogo": None,
                 "assetScale": 2, "fiatScale": 2, "priceScale": 2, "fiatSymbol": cfg.fiat_symbol})
    head.update(_quantities(ad))
    head.update(dict.fromkeys(_TAIL_2026))
    head["isSafePayment"] = False
    head.update(dict.fromkeys(_KYC_2026))
    return head


def advertiser(ad: SimAd) -> dict:
    """The book's `advertiser` object with the 2026 keys (positiveRate, activeTimeInSecond)."""
    return {
        "userNo": ad.user_no, "realName": None, "nickName": ad.nickname, "margin": None,
        "marginUnit": None, "orderCount": None, "monthOrderCount": ad.month_orders,
        "monthFinishRate": ad.finish_rate, "positiveRate": ad.positive_rate,
        "advConfirmTime": None, "email": None, "registrationTime": None, "mobile": None,
        "userType": ad.user_type, "tagIconUrls": [], "userGrade": 2, "userIdentity": "",
        "proMerchant": None, "badges": None, "vipLevel": None, "isBlocked": False,
        "activeTimeInSecond": ad.active_s,
    }


def search_item(ad: SimAd, cfg: SimConfig) -> dict:
    """One EP-0 row: adv, advertiser and the 2026 item-level privilege fields (null)."""
    return {"adv": adv(ad, cfg), "advertiser": advertiser(ad), "privilegeDesc": None,
            "privilegeType": None, "privilegeTypeAdTotalCount": None}


def ad_detail(ad: SimAd, cfg: SimConfig) -> dict:
    """My ad as EP-4 lists it (AdDetailResp: flat, with status and price type)."""
    return {
        "advNo": ad.adv_no, "classify": "profession", "tradeType": ad.side, "asset": cfg.asset,
        "fiatUnit": cfg.fiat, "advStatus": ad.status, "priceType": ad.price_type,
        "priceFloatingRatio": _q(ad.price_floating_ratio or Decimal(100), _Q8),
        "rateFloatingRatio": Decimal("0.00000000"),
        "price": ad.price, "initAmount": _q(ad.init_amount, _Q8),
        "surplusAmount": _q(ad.surplus, _Q8), "tradableQuantity": _q(ad.surplus, _Q8),
        "amountAfterEditing": _q(ad.init_amount, _Q8), "minSingleTransAmount": ad.min_amount,
        "maxSingleTransAmount": ad.max_amount, "payTimeLimit": ad.pay_time_limit,
        "tradeMethods": [trade_method(p) for p in ad.pay_methods], "assetScale": 2,
        "fiatScale": 2, "priceScale": 2, "fiatSymbol": cfg.fiat_symbol, "remarks": ad.remarks,
        "autoReplyMsg": ad.auto_reply, "offlineReason": None, "advVisibleRet": None,
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
