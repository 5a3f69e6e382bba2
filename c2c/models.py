"""Typed C2C payloads as msgspec Structs, and their conversion to the compact event-side types.

The Structs follow the wire (camelCase via `rename="camel"`), ignore fields they do not name and
default the ones Binance leaves out or sends as null. Money is Decimal: Binance sends strings,
a number is accepted too, and a non-finite value (NaN, Infinity) or one above 1e18 is rejected
as malformed.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

import msgspec

from events import BookAd, MyAd

Side = Literal["BUY", "SELL"]
_ZERO = Decimal("0")


class _Wire(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    pass


_MONEY_LIMIT = Decimal("1e18")  # above any real price or amount; keeps arithmetic in 28 digits


def _require_finite(*values: Decimal | None) -> None:
    for value in values:
        if value is not None and not (value.is_finite() and abs(value) < _MONEY_LIMIT):
            raise ValueError("money must be a finite decimal below 1e18")


class TradeMethod(_Wire, frozen=True):
    identifier: str | None = None
    pay_type: str | None = None
    trade_method_name: str | None = None

    @property
    def key(self) -> str:
        """The payment method's identifier (`payType` is deprecated but used when it is alone)."""
        return self.identifier or self.pay_type or ""


class SearchAd(_Wire, frozen=True):
    adv_no: str
    price: Decimal
    trade_type: Side | None = None
    asset: str | None = None
    fiat_unit: str | None = None
    classify: str | None = None
    surplus_amount: Decimal | None = None
    tradable_quantity: Decimal | None = None
    min_single_trans_amount: Decimal | None = None
    max_single_trans_amount: Decimal | None = None
    dynamic_max_single_trans_amount: Decimal | None = None
    price_scale: int | None = None
    pay_time_limit: int | None = None
    is_tradable: bool | None = None
    trade_methods: tuple[TradeMethod, ...] | None = None

    def __post_init__(self) -> None:
        _require_finite(self.price, self.surplus_amount, self.min_single_trans_amount,
                        self.max_single_trans_amount)


class Advertiser(_Wire, frozen=True):
    user_no: str | None = None
    nick_name: str | None = None
    user_type: str | None = None
    month_order_count: int | None = None
    month_finish_rate: Decimal | None = None
    positive_rate: Decimal | None = None
    user_grade: int | None = None
    is_blocked: bool | None = None


class SearchItem(_Wire, frozen=True):
    adv: SearchAd
    advertiser: Advertiser = Advertiser()


class MyAdDetail(_Wire, frozen=True):
    """One of my ads as EP-4 lists it (AdDetailResp, a flat object)."""

    adv_no: str
    trade_type: Side
    asset: str
    fiat_unit: str
    price: Decimal
    adv_status: int
    # 1 fixed, 2 floating (reference §4, SAPI74; captured as the integer 1). A string ("2",
    # "FLOATING") is taken too: no capture shows a floating ad.
    price_type: int | str | None = None
    price_floating_ratio: Decimal | None = None  # percent, "100.00000000" as captured
    surplus_amount: Decimal | None = None
    tradable_quantity: Decimal | None = None
    init_amount: Decimal | None = None
    min_single_trans_amount: Decimal | None = None
    max_single_trans_amount: Decimal | None = None
    price_scale: Annotated[int, msgspec.Meta(ge=0, le=12)] | None = None  # my price's tick
    pay_time_limit: int | None = None
    trade_methods: tuple[TradeMethod, ...] | None = None
    offline_reason: str | None = None

    def __post_init__(self) -> None:
        _require_finite(self.price, self.surplus_amount, self.min_single_trans_amount,
                        self.max_single_trans_amount, self.price_floating_ratio)


FIXED, FLOATING = 1, 2
_PRICE_TYPES = {"1": FIXED, "2": FLOATING, "fixed": FIXED, "floating": FLOATING}


def price_type_of(value: int | str | None) -> int:
    """Return EP-4's priceType as 1 (fixed) or 2 (floating); anything unknown is fixed."""
    if isinstance(value, str):
        return _PRICE_TYPES.get(value.strip().lower(), FIXED)
    return FLOATING if value == FLOATING else FIXED


class Order(_Wire, frozen=True):
    """One order as EP-15 lists it (there is no unit price: see `unit_price`)."""

    order_number: str
    order_status: int
    adv_no: str | None = None
    trade_type: Side | None = None
    asset: str | None = None
    fiat: str | None = None
    fiat_symbol: str | None = None
    amount: Decimal | None = None
    total_price: Decimal | None = None
    create_time: int | None = None
    buyer_nickname: str | None = None
    seller_nickname: str | None = None
    chat_unread_count: int | None = None
    commission: Decimal | None = None
    notify_pay_end_time: int | None = None

    def __post_init__(self) -> None:
        _require_finite(self.amount, self.total_price, self.commission)

    @property
    def unit_price(self) -> Decimal | None:
        """Fiat per unit derived from total / amount, or None when either is missing or zero."""
        if not self.amount or self.total_price is None:
            return None
        return self.total_price / self.amount


class OrderDetail(_Wire, frozen=True):
    """One order as EP-13 returns it. Real names and bank details are not decoded on purpose."""

    order_number: str
    order_status: int
    adv_order_number: str | None = None
    trade_type: Side | None = None
    asset: str | None = None
    fiat_unit: str | None = None
    amount: Decimal | None = None
    price: Decimal | None = None
    total_price: Decimal | None = None
    create_time: int | None = None
    notify_pay_end_time: int | None = None
    buyer_nickname: str | None = None
    seller_nickname: str | None = None
    pay_type: str | None = None
    unread_count: int | None = None
    commission: Decimal | None = None

    def __post_init__(self) -> None:
        _require_finite(self.amount, self.price, self.total_price, self.commission)


class ChatCredential(_Wire, frozen=True):
    chat_wss_url: str
    listen_key: str
    listen_token: str

    def __repr__(self) -> str:
        # The key and token open the account's chat socket: keep them out of logs.
        return f"ChatCredential(chat_wss_url={self.chat_wss_url!r}, listen_key=***, token=***)"


class ChatMessage(_Wire, frozen=True):
    """A chat message from EP-34 or the socket; `id` is a str even when the wire sends a number.

    The sender's nickname is spelled `fromNickname` on the socket (the only spelling in 6,623
    real frames, and only on read copies, often "") and `fromNickName` in the REST schema
    (reference §8): both are read, `nickname` gives whichever is set. `auto_reply` frames
    usually have no `id` and no `uuid`.
    """

    type: str
    order_no: str
    id: str | int = ""
    uuid: str | int | None = None
    content: str = ""
    self_sent: bool = msgspec.field(default=False, name="self")
    status: str | None = None
    create_time: int | None = None
    from_nick_name: str | None = None
    from_nickname: str | None = msgspec.field(default=None, name="fromNickname")
    image_url: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str):
            msgspec.structs.force_setattr(self, "id", str(self.id))
        if self.uuid is not None and not isinstance(self.uuid, str):
            msgspec.structs.force_setattr(self, "uuid", str(self.uuid))

    @property
    def nickname(self) -> str:
        """The sender's nickname from either spelling, "" when the frame carries none."""
        return self.from_nickname or self.from_nick_name or ""


class ChatServerFrame(_Wire, frozen=True):
    """A frame that is not a message: `{"content":"ILLEGAL_PARAM","self":false,"type":"error"}`
    (no id, no orderNo; the server closed the socket 0.7 s later, reference §8)."""

    type: Literal["error"]
    content: str = ""


class FailedAd(_Wire, frozen=True):
    adv_no: str | None = None
    error_code: int | str | None = None
    error_msg: str | None = None


class StatusUpdateResult(_Wire, frozen=True):
    """EP-8's answer; check `fail_list` even when the call succeeded."""

    status: bool | None = None
    fail_list: tuple[FailedAd, ...] = ()

    @property
    def failed_adv_nos(self) -> tuple[str, ...]:
        return tuple(f.adv_no for f in self.fail_list if f.adv_no)


class ServerTime(_Wire, frozen=True):
    server_time: int


def _pay_methods(methods: tuple[TradeMethod, ...] | None) -> tuple[str, ...]:
    return tuple(m.key for m in methods or () if m.key)


def to_book_ad(item: SearchItem, my_adv_nos: frozenset[str] | set[str] | tuple[str, ...]) -> BookAd:
    """Compact one EP-0 item into the BookAd that snapshots, strategies and backtests use."""
    adv, who = item.adv, item.advertiser
    return BookAd(
        adv_no=adv.adv_no,
        price=adv.price,
        surplus=adv.surplus_amount if adv.surplus_amount is not None else _ZERO,
        min_amount=adv.min_single_trans_amount or _ZERO,
        max_amount=adv.max_single_trans_amount or _ZERO,
        pay_methods=_pay_methods(adv.trade_methods),
        nickname=who.nick_name or "",
        month_orders=who.month_order_count or 0,
        finish_rate=who.month_finish_rate if who.month_finish_rate is not None else _ZERO,
        mine=adv.adv_no in my_adv_nos,
        user_type=who.user_type or "",
    )


def to_my_ad(detail: MyAdDetail) -> MyAd:
    """Compact one EP-4 ad into the MyAd that the ads actor keeps."""
    return MyAd(
        adv_no=detail.adv_no,
        side=detail.trade_type,
        asset=detail.asset,
        fiat=detail.fiat_unit,
        price=detail.price,
        status=detail.adv_status,
        surplus=detail.surplus_amount if detail.surplus_amount is not None else _ZERO,
        min_amount=detail.min_single_trans_amount or _ZERO,
        max_amount=detail.max_single_trans_amount or _ZERO,
        pay_methods=_pay_methods(detail.trade_methods),
        price_scale=detail.price_scale if detail.price_scale is not None else 2,
        **_floating(detail),
    )


def _floating(detail: MyAdDetail) -> dict:
    # A floating ad without a usable ratio cannot be moved through it: managed as fixed.
    ratio = detail.price_floating_ratio
    if price_type_of(detail.price_type) != FLOATING or ratio is None or ratio <= 0:
        return {}
    return {"price_type": FLOATING, "floating_ratio": ratio}
