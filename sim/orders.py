"""Counterparties: they take ads (better ranks more often), and on the bot's ads they chat, pay,
then complete or cancel, each step at a random time after the order opened.

Their chat follows the captured frames (reference §8): a new order brings the system frame
`{"type":"seller_merchant_trading"}` (buyer_ on a BUY ad) and the ad's auto-reply; texts come
from the apps with a UUID; some are followed by Binance's `nlp_third_party` warning with the
`original_message_id`; `*_payed` carries nickName and realName, `*_completed` the symbol.
Chat draws use their own random source, so talk does not move the market."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Callable

from sim.config import SimConfig
from sim.market import SIDES, Market, SimAd, new_id, quantize
from sim.messages import ChatMessage

_QTY = Decimal("0.01")
# Binance writes order amounts with 8 decimals ("amount":"1000.07000000", reference §5); the
# simulator keeps cents for cheap assets and all 8 for one worth more than _COSTLY fiat (BTC in
# NGN), whose cent-rounded amounts would be 0.
_QTY_FINE = Decimal("0.00000001")
_COSTLY = Decimal("100000")
_BUYERS = ("kelechi_b", "tola99", "zainab.o", "mikeade", "ruthy_ng", "femi_trades", "amaka22")
_HELLOS = ("Hello", "Hi, I just placed the order", "Good day, order placed")
_QUESTIONS = (
    "Which bank should I pay to?",
    "Can I pay with OPay?",
    "Please send your bank details, I want to pay now",
)


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
    asset: str = ""
    fiat: str = ""


class OrderDesk:
    """Orders on every ad, the bot's orders in full, and the chat that goes with them."""

    def __init__(self, cfg: SimConfig, now_ms: Callable[[], int],
                 chat_rng: random.Random) -> None:
        self.cfg = cfg
        self.bot_nickname = cfg.bot_nickname
        self.now_ms = now_ms
        self.chat_rng = chat_rng
        self.orders: dict[str, SimOrder] = {}
        self.messages: list[ChatMessage] = []
        self.opened: dict[str, int] = {}
        self.filled: dict[str, Decimal] = {}
        self._next_id = 2055226645140359937

    def open_orders(self, market: Market, now: float, dt: float,
                    rate: float) -> list[ChatMessage]:
        """Let counterparties take ads on both sides; return the chat messages this caused.

        Each side draws its arrival, its customer's choice and its size every tick, an order
        or not, so the bot's actions never shift another tick's draws. The customer takes the
        i-th ad of the listed book (best first, 0-based) with weight 0.5**i.
        """
        out: list[ChatMessage] = []
        streams = market.streams
        for side in SIDES:
            arrives = streams.arrivals.random() < rate * dt
            pick, size = streams.choice.random(), streams.sizes.random()
            book = market.book(side)
            if not book or not arrives:
                continue
            ad = book[_pick(pick, len(book))]
            order = self.take(ad, market.streams.orders, now, size)
            if order is not None:
                out.extend(self.opening_messages(order))
        return out

    def take(self, ad: SimAd, rng: random.Random, now: float,
             size: float | None = None) -> SimOrder | None:
        """Open a counterparty order on `ad`; return it when the ad is the bot's, else None.

        Args:
            rng: draws the bot's order's details (number, counterparty, plan).
            size: a uniform draw in [0, 1) placing the fiat amount between the ad's min and
                what it can sell; None draws it from `rng`.
        """
        cap = min(ad.max_amount, ad.surplus * ad.price)
        if not ad.listed or cap < ad.min_amount:
            return None
        u = rng.random() if size is None else size
        low, high = int(ad.min_amount), int(cap)
        fiat = Decimal(min(high, low + int(u * (high - low + 1))))
        quantum = _QTY if ad.price < _COSTLY else _QTY_FINE
        amount = (fiat / ad.price).quantize(quantum, rounding=ROUND_DOWN)
        ad.surplus -= amount
        ad.order_at = now
        if not ad.mine:
            if not ad.listed:
                ad.surplus = ad.init_amount  # the competitor tops the ad up at once
            return None
        order = SimOrder(
            order_no=new_id(rng, 2), adv_no=ad.adv_no, side=ad.side, price=ad.price,
            amount=amount, total=quantize(amount * ad.price), counterparty=rng.choice(_BUYERS),
            pay_method=rng.choice(ad.pay_methods), create_ms=self.now_ms(), plan=_plan(rng, now),
            asset=ad.asset, fiat=ad.fiat,
        )
        self.orders[order.order_no] = order
        self.opened[ad.adv_no] = self.opened.get(ad.adv_no, 0) + 1
        return order

    def opening_messages(self, order: SimOrder) -> list[ChatMessage]:
        """Post the system message that announces a new order, then the ad's auto-reply."""
        out = [self._system(order, "merchant_trading")]
        if self.cfg.chat_auto_reply:
            out.append(self.auto_reply(order))
        return out

    def auto_reply(self, order: SimOrder) -> ChatMessage:
        """Post the bot's ad auto-reply (`chat_auto_reply`) on an order."""
        reply = self._message(order, "auto_reply", self.cfg.chat_auto_reply or "Hello",
                              self.bot_nickname, self_sent=True)
        reply.uuid = f"{order.order_no}{reply.create_ms}"
        return reply

    def advance(self, markets: Market | dict[tuple[str, str], Market],
                now: float) -> list[ChatMessage]:
        """Run the counterparties' due steps, each order's in its own market (one `Market`, or
        all by (asset, fiat)); return the messages they produced."""
        out: list[ChatMessage] = []
        for order in self.orders.values():
            market = markets if isinstance(markets, Market) else markets[(order.asset,
                                                                          order.fiat)]
            while order.plan and order.plan[0][0] <= now:
                _, action = order.plan.pop(0)
                out.extend(self._act(market, market.streams.orders, order, action))
        return out

    def _act(self, market: Market, rng: random.Random, order: SimOrder,
             action: str) -> list[ChatMessage]:
        if action == "hello":
            return self.counterparty_text(order, rng.choice(_HELLOS))
        if action == "question":
            return self.counterparty_text(order, rng.choice(_QUESTIONS))
        if action == "pay":
            order.status = 2
            paid = self._system(order, "payed", nickName=order.counterparty,
                                realName=f"{order.counterparty.upper()} SIM")
            return [paid, *self.counterparty_text(order, "I have paid, please check")]
        if action == "complete":
            order.status = 4
            self.filled[order.adv_no] = self.filled.get(order.adv_no, Decimal("0")) + order.amount
            return [self._system(order, "completed", symbol=order.asset or self.cfg.asset)]
        order.status = 6
        market.ads[order.adv_no].surplus += order.amount
        return [self._system(order, "cancelled")]

    def _message(self, order: SimOrder, kind: str, content: str, nick: str,
                 self_sent: bool = False, create_ms: int | None = None) -> ChatMessage:
        self._next_id += 1
        ms = self.now_ms() if create_ms is None else create_ms
        msg = ChatMessage(
            id=str(self._next_id), uuid=f"{order.order_no}{ms}", type=kind,
            order_no=order.order_no, content=content, self_sent=self_sent, create_ms=ms,
            from_nick=nick, read_nick=nick,
        )
        self.messages.append(msg)
        return msg

    def counterparty_text(self, order: SimOrder, content: str) -> list[ChatMessage]:
        """A counterparty's text, sometimes followed by Binance's nlp warning."""
        rng = self.chat_rng
        msg = self._message(order, "text", content, order.counterparty)
        msg.uuid = _uuid(rng)
        msg.read_nick = "" if rng.random() < self.cfg.chat_empty_nickname_share else msg.from_nick
        if rng.random() >= self.cfg.chat_nlp_share:
            return [msg]
        return [msg, self.nlp_warning(order, msg.create_ms - 300)]

    def nlp_warning(self, order: SimOrder, original_id: int) -> ChatMessage:
        """Binance's `nlp_third_party` system message about the message `original_id`."""
        warning = f'{{"original_message_id":"{original_id}","type":"nlp_third_party"}}'
        return self._message(order, "system", warning, "")

    def _system(self, order: SimOrder, event: str, **extra: str) -> ChatMessage:
        role = "seller" if order.side == "SELL" else "buyer"
        fields = {**extra, "type": f"{role}_{event}"}
        body = "{" + ",".join(f'"{k}":"{fields[k]}"' for k in sorted(fields)) + "}"
        return self._message(order, "system", body, "")

    def record_bot_frame(self, frame: dict) -> ChatMessage | None:
        """Store a frame the bot sent as its own message (its uuid and its createTime kept);
        None when it names no known order."""
        order = self.orders.get(str(frame.get("orderNo", "")))
        if order is None:
            return None
        sent = frame.get("createTime")
        create_ms = sent if isinstance(sent, int) and not isinstance(sent, bool) else None
        msg = self._message(order, str(frame.get("type", "text")), str(frame.get("content", "")),
                            self.bot_nickname, self_sent=True, create_ms=create_ms)
        if frame.get("uuid") is not None:
            msg.uuid = str(frame["uuid"])  # an integer uuid comes back as a string [BPA-LOG]
        return msg

    def history(self, order_no: str | None) -> list[ChatMessage]:
        """Return the messages of one order (or all), newest first."""
        chosen = [m for m in self.messages if order_no in (None, m.order_no)]
        return chosen[::-1]


def _pick(u: float, n: int) -> int:
    """Map a uniform draw to a 0-based rank among `n` ads weighted 0.5**rank."""
    total = 2.0 * (1.0 - 0.5**n)
    target, acc = u * total, 0.0
    for i in range(n):
        acc += 0.5**i
        if target < acc:
            return i
    return n - 1


def _uuid(rng: random.Random) -> str:
    """A random UUID as the Binance apps send it (drawn from the seeded source)."""
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{h[16:20]}-{h[20:]}"


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
