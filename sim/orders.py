"""Counterparties: they take ads (better ranks more often), and on the bot's ads they chat, pay,
then complete or cancel, each step at a random time after the order opened."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Callable

from sim.market import SIDES, Market, SimAd, new_id, quantize

_QTY = Decimal("0.01")
_BUYERS = ("kelechi_b", "tola99", "zainab.o", "mikeade", "ruthy_ng", "femi_trades", "amaka22")
_HELLOS = ("Hello", "Hi, I just placed the order", "Good day, order placed")
_QUESTIONS = (
    "Which bank should I pay to?",
    "Can I pay with OPay?",
    "Please send your bank details, I want to pay now",
)


@dataclass
class ChatMessage:
    """One chat message as EP-34 lists it and the socket pushes it."""

    id: str
    uuid: str
    type: str
    order_no: str
    content: str
    self_sent: bool
    create_ms: int
    from_nick: str
    status: str = "unread"

    def wire(self) -> dict:
        return {
            "id": self.id, "uuid": self.uuid, "type": self.type, "orderNo": self.order_no,
            "content": self.content, "self": self.self_sent, "status": self.status,
            "createTime": self.create_ms, "fromNickName": self.from_nick,
        }


@dataclass
class SimOrder:
    """An order on one of the bot's ads; `plan` holds the counterparty's future steps."""

    order_no: str
    adv_no: str
    side: str  # the bot's ad's tradeType
    price: Decimal
    amount: Decimal
    total: Decimal
    counterparty: str
    pay_method: str
    create_ms: int
    status: int = 1
    plan: list[tuple[float, str]] = field(default_factory=list)


class OrderDesk:
    """Orders on every ad, the bot's orders in full, and the chat that goes with them."""

    def __init__(self, bot_nickname: str, now_ms: Callable[[], int]) -> None:
        self.bot_nickname = bot_nickname
        self.now_ms = now_ms
        self.orders: dict[str, SimOrder] = {}
        self.messages: list[ChatMessage] = []
        self.opened: dict[str, int] = {}
        self.filled: dict[str, Decimal] = {}
        self._next_id = 2055226645140359937

    def open_orders(self, market: Market, rng: random.Random, now: float, dt: float,
                    rate: float) -> list[ChatMessage]:
        """Let counterparties take ads on both sides; return the chat messages this caused."""
        out: list[ChatMessage] = []
        for side in SIDES:
            book = market.book(side)
            if not book or rng.random() >= rate * dt:
                continue
            ad = rng.choices(book, weights=[0.5**i for i in range(len(book))])[0]
            order = self.take(ad, rng, now)
            if order is not None:
                out.append(self.opening_message(order))
        return out

    def take(self, ad: SimAd, rng: random.Random, now: float) -> SimOrder | None:
        """Open a counterparty order on `ad`; return it when the ad is the bot's, else None."""
        cap = min(ad.max_amount, ad.surplus * ad.price)
        if not ad.listed or cap < ad.min_amount:
            return None
        fiat = Decimal(rng.randrange(int(ad.min_amount), int(cap) + 1))
        amount = (fiat / ad.price).quantize(_QTY, rounding=ROUND_DOWN)
        ad.surplus -= amount
        if not ad.mine:
            if not ad.listed:
                ad.surplus = ad.init_amount  # the competitor tops the ad up at once
            return None
        order = SimOrder(
            order_no=new_id(rng, 2), adv_no=ad.adv_no, side=ad.side, price=ad.price,
            amount=amount, total=quantize(amount * ad.price), counterparty=rng.choice(_BUYERS),
            pay_method=rng.choice(ad.pay_methods), create_ms=self.now_ms(), plan=_plan(rng, now),
        )
        self.orders[order.order_no] = order
        self.opened[ad.adv_no] = self.opened.get(ad.adv_no, 0) + 1
        return order

    def opening_message(self, order: SimOrder) -> ChatMessage:
        """Post the system message that announces a new order."""
        return self._system(order, "merchant_trading")

    def advance(self, market: Market, rng: random.Random, now: float) -> list[ChatMessage]:
        """Run the counterparties' due steps; return the messages they produced."""
        out: list[ChatMessage] = []
        for order in self.orders.values():
            while order.plan and order.plan[0][0] <= now:
                _, action = order.plan.pop(0)
                out.extend(self._act(market, rng, order, action))
        return out

    def _act(self, market: Market, rng: random.Random, order: SimOrder,
             action: str) -> list[ChatMessage]:
        if action == "hello":
            return [self._text(order, rng.choice(_HELLOS))]
        if action == "question":
            return [self._text(order, rng.choice(_QUESTIONS))]
        if action == "pay":
            order.status = 2
            return [self._system(order, "payed"), self._text(order, "I have paid, please check")]
        if action == "complete":
            order.status = 4
            self.filled[order.adv_no] = self.filled.get(order.adv_no, Decimal("0")) + order.amount
            return [self._system(order, "completed")]
        order.status = 6
        market.ads[order.adv_no].surplus += order.amount
        return [self._system(order, "cancelled")]

    def _message(self, order: SimOrder, kind: str, content: str, nick: str,
                 self_sent: bool = False) -> ChatMessage:
        self._next_id += 1
        ms = self.now_ms()
        msg = ChatMessage(
            id=str(self._next_id), uuid=f"{order.order_no}{ms}{self._next_id % 1000:03d}",
            type=kind, order_no=order.order_no, content=content, self_sent=self_sent,
            create_ms=ms, from_nick=nick,
        )
        self.messages.append(msg)
        return msg

    def _text(self, order: SimOrder, content: str) -> ChatMessage:
        return self._message(order, "text", content, order.counterparty)

    def _system(self, order: SimOrder, event: str) -> ChatMessage:
        role = "seller" if order.side == "SELL" else "buyer"
        body = f'{{"type":"{role}_{event}"}}'
        return self._message(order, "system", body, "")

    def record_bot_frame(self, frame: dict) -> bool:
        """Store a frame the bot sent as its own message; False when it names no known order."""
        order = self.orders.get(str(frame.get("orderNo", "")))
        if order is None:
            return False
        msg = self._message(order, str(frame.get("type", "text")), str(frame.get("content", "")),
                            self.bot_nickname, self_sent=True)
        msg.status = "read"
        if frame.get("uuid"):
            msg.uuid = str(frame["uuid"])
        return True

    def history(self, order_no: str | None) -> list[ChatMessage]:
        """Return the messages of one order (or all), newest first."""
        chosen = [m for m in self.messages if order_no in (None, m.order_no)]
        return chosen[::-1]


def _plan(rng: random.Random, now: float) -> list[tuple[float, str]]:
    plan = [(now + rng.uniform(1.0, 3.0), "hello")]
    if rng.random() < 0.5:
        plan.append((now + rng.uniform(3.0, 6.0), "question"))
    if rng.random() < 0.85:
        paid = now + rng.uniform(6.0, 15.0)
        plan += [(paid, "pay"), (paid + rng.uniform(4.0, 10.0), "complete")]
    else:
        plan.append((now + rng.uniform(6.0, 12.0), "cancel"))
    return sorted(plan)
