"""The living order book: competitor ads that drift, undercut and answer the bot; the bot's ads.

Pure state: every step takes trio's time as an argument, so the same seed and the same calls
give the same book. A side's "better" price is lower for SELL ads (what a buyer sees first) and
higher for BUY ads.

Chance comes from `Streams`, one random source per kind of draw (the reference's drift, the
competitors' moves, their reactions to the bot, order arrivals, the customer's choice, order
sizes, the bot's own orders). Each of the first ones is drawn the same number of times every
tick whatever the bot does, so two runs with one seed and different bots see the same drift,
the same arrival times, the same choice and size draws: they differ only through the bot's
actions (its price moves the book; reactions and the bot's orders draw from streams of their
own).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal

from sim.config import SimConfig

TICK = Decimal("0.01")
SIDES = ("SELL", "BUY")
_NAMES = (
    "Adaeze", "Bayo", "Chidi", "Dami", "Emeka", "Funke", "Gbenga", "Halima", "Ife", "Jide",
    "Kemi", "Lanre", "Musa", "Ngozi", "Obi", "Peju", "Rotimi", "Sade", "Tunde", "Uche",
)
_SUFFIXES = ("FX", "Trade", "P2P", "Xchange", "Crypto", "Pay", "Deals", "Hub")
_OTHER_PAY = ("PalmPay", "Kuda", "Moniepoint", "Chipper", "Opay", "FirstBank")


@dataclass
class SimAd:
    """One ad in the book, the bot's or a competitor's; competitors carry their behaviour."""

    adv_no: str
    side: str  # the ad's tradeType
    nickname: str
    user_no: str
    user_type: str
    price: Decimal
    surplus: Decimal
    init_amount: Decimal
    min_amount: Decimal
    max_amount: Decimal
    pay_methods: tuple[str, ...]
    month_orders: int
    finish_rate: float
    status: int = 1
    pay_time_limit: int = 15
    changed_at: float = 0.0
    mine: bool = False
    margin: Decimal = Decimal("0")
    floor: Decimal = Decimal("0")
    ceiling: Decimal = Decimal("0")
    reactive: bool = False
    classify: str = "profession"
    fights: bool = False  # undercuts the best rival now and then (merchants, some users)
    positive_rate: float = 0.99
    active_s: int = 30
    remarks: str | None = None
    auto_reply: str | None = None
    price_floating_ratio: Decimal | None = None
    price_type: int = 1  # 2: floating, the price follows the reference times the ratio
    order_at: float = -math.inf  # when the last order opened on it (trio time)
    asset: str = ""  # the market it is listed in
    fiat: str = ""

    @property
    def listed(self) -> bool:
        return self.status == 1 and self.surplus * self.price >= self.min_amount


def quantize(price: Decimal) -> Decimal:
    """Round a price to the market's tick."""
    return price.quantize(TICK, rounding=ROUND_HALF_UP)


def beats(side: str, a: Decimal, b: Decimal) -> bool:
    """True when price `a` is strictly better than `b` for an ad on `side`."""
    return a < b if side == "SELL" else a > b


RATIO_PLACES = Decimal("0.00000001")  # EP-4 writes priceFloatingRatio with 8 places


def floating_price(ref: Decimal, ratio: Decimal) -> Decimal:
    """The price of a floating ad: the reference times its ratio (percent), on the tick."""
    return quantize(ref * ratio / 100)


def one_better(side: str, price: Decimal) -> Decimal:
    return price - TICK if side == "SELL" else price + TICK


def new_id(rng: random.Random, lead: int) -> str:
    """A ~20-digit id as Binance writes them (larger than an int64)."""
    return str(lead * 10**19 + rng.randrange(10**18, 10**19))


class Streams:
    """The market's independent random streams, all seeded from the market's source.

    `drift`, `moves`, `arrivals`, `choice` and `sizes` are drawn a fixed number of times per
    tick; `reactions` and `orders` only when the bot causes it (a reprice that beats a
    reactive competitor, an order on the bot's ad), so their draws never shift the others.
    """

    def __init__(self, rng: random.Random) -> None:
        self.drift, self.moves, self.reactions, self.arrivals, self.choice, self.sizes, \
            self.orders = (random.Random(rng.getrandbits(64)) for _ in range(7))


class Market:
    """Both sides of one asset/fiat book and the reference price they drift around."""

    def __init__(self, cfg: SimConfig, rng: random.Random) -> None:
        self.cfg = cfg
        self.ref0 = cfg.ref_price
        self.ref = cfg.ref_price
        self.ads: dict[str, SimAd] = {}
        self._reactions: dict[str, tuple[float, str]] = {}  # competitor -> (due, bot adv_no)
        for side in SIDES:
            for i in range(cfg.competitors_per_side):
                self._add(self._competitor(rng, side, i))
            self._add(self._bot_ad(rng, side))
        self.streams = Streams(rng)

    @property
    def key(self) -> tuple[str, str]:
        return (self.cfg.asset, self.cfg.fiat)

    def _add(self, ad: SimAd) -> None:
        ad.asset, ad.fiat = self.cfg.asset, self.cfg.fiat
        self.ads[ad.adv_no] = ad

    def _competitor(self, rng: random.Random, side: str, i: int) -> SimAd:
        sign = 1 if side == "SELL" else -1
        merchant = rng.random() >= self.cfg.user_share
        # Some non-merchant ("mass") ads price like merchants and can take rank 1, as in the
        # captured books (reference §3): a bot that searches merchants only misjudges its rank.
        # The others sit further back and never fight.
        fights = merchant or rng.random() < self.cfg.aggressive_user_share
        margin = Decimal(str(round(rng.uniform(0.003, 0.025) + (0 if fights else 0.03), 4)))
        stop = Decimal(str(round(rng.uniform(-0.012, 0.004), 4)))
        limit = self.ref0 * (1 + sign * stop)
        far = self.ref0 * (1 + sign * Decimal("0.04" if fights else "0.07"))
        price = quantize(self.ref0 * (1 + sign * margin))
        pays = [self.cfg.bot_pay_methods[i % len(self.cfg.bot_pay_methods)]] if i % 3 else []
        pays += rng.sample(_OTHER_PAY, rng.randint(1, 2))
        surplus = Decimal(rng.randrange(300, 6000))
        name = f"{_NAMES[(i * 7 + (side == 'BUY') * 3) % len(_NAMES)]}{rng.choice(_SUFFIXES)}"
        return SimAd(
            adv_no=new_id(rng, 1), side=side, nickname=name,
            user_no=f"s{rng.getrandbits(128):032x}",
            user_type="merchant" if merchant else "user", price=price, surplus=surplus,
            init_amount=surplus, min_amount=Decimal(rng.choice((2000, 5000, 10000, 20000))),
            max_amount=Decimal(rng.choice((200000, 500000, 1000000, 3000000))),
            pay_methods=tuple(dict.fromkeys(pays)), month_orders=rng.randrange(20, 3000),
            finish_rate=round(rng.uniform(0.85, 1.0), 4), pay_time_limit=rng.choice((15, 15, 30)),
            margin=margin, floor=min(limit, far), ceiling=max(limit, far),
            reactive=merchant and rng.random() < self.cfg.reactive_share,
            classify="profession" if merchant else "mass", fights=fights,
            positive_rate=round(rng.uniform(0.95, 1.0), 8), active_s=rng.randrange(0, 600),
        )

    def _bot_ad(self, rng: random.Random, side: str) -> SimAd:
        sign = 1 if side == "SELL" else -1
        cfg = self.cfg
        if side in cfg.bot_floating_sides:
            ratio = Decimal(100 + sign * 3)
            return replace(self._fixed_bot_ad(rng, side), price_type=2,
                           price_floating_ratio=ratio, price=floating_price(self.ref0, ratio))
        return self._fixed_bot_ad(rng, side)

    def _fixed_bot_ad(self, rng: random.Random, side: str) -> SimAd:
        sign = 1 if side == "SELL" else -1
        cfg = self.cfg
        return SimAd(
            adv_no=new_id(rng, 1), side=side, nickname=cfg.bot_nickname, user_no="s" + "b0" * 16,
            user_type="merchant", price=quantize(self.ref0 * (1 + sign * Decimal("0.03"))),
            surplus=cfg.bot_surplus, init_amount=cfg.bot_surplus, min_amount=cfg.bot_min_amount,
            max_amount=cfg.bot_max_amount, pay_methods=cfg.bot_pay_methods, month_orders=412,
            finish_rate=0.9871, mine=True,
        )

    def book(self, side: str) -> list[SimAd]:
        """Return the listed ads of one side, best first (ties: the older price first)."""
        ads = [a for a in self.ads.values() if a.side == side and a.listed]
        sign = 1 if side == "SELL" else -1
        return sorted(ads, key=lambda a: (sign * a.price, a.changed_at, a.adv_no))

    def bot_ads(self) -> list[SimAd]:
        return [a for a in self.ads.values() if a.mine]

    def leads(self, adv_no: str) -> bool | None:
        """True when the ad is rank 1 of its side for a customer who can pay it, False when listed
        lower, None when not listed.

        Customers filter the book by payment method, so an ad sharing none of this ad's methods
        does not take its customers and does not count against its lead.
        """
        ad = self.ads[adv_no]
        if not ad.listed:
            return None
        rivals = [a for a in self.book(ad.side)
                  if a.adv_no == adv_no or not ad.pay_methods
                  or set(a.pay_methods) & set(ad.pay_methods)]
        return rivals[0].adv_no == adv_no

    def set_price(self, adv_no: str, price: Decimal, now: float) -> None:
        """Move one ad's price (the bot's reprice, a competitor's move, a scripted test)."""
        ad = self.ads[adv_no]
        if ad.price != price:
            ad.price = price
            ad.changed_at = now

    def follow_reference(self, ad: SimAd, now: float) -> None:
        """Move a floating ad to its ratio of the current reference (a fixed one stays)."""
        if ad.price_type == 2 and ad.price_floating_ratio:
            self.set_price(ad.adv_no, floating_price(self.ref, ad.price_floating_ratio), now)

    def watch_bot(self, adv_no: str, now: float) -> None:
        """Let reactive competitors that the bot's ad now beats answer after a few seconds."""
        rng = self.streams.reactions
        bot = self.ads[adv_no]
        for ad in self.ads.values():
            if ad.reactive and ad.side == bot.side and ad.adv_no not in self._reactions:
                if beats(bot.side, bot.price, ad.price):
                    self._reactions[ad.adv_no] = (now + rng.uniform(2.0, 6.0), adv_no)

    def step(self, now: float, dt: float) -> bool:
        """Advance the market by `dt` seconds: drift, re-anchor, undercut, react.

        Every competitor draws its roll each tick, a due reaction included, so the moves
        stream stays aligned across runs.

        Returns:
            True when a competitor's price changed.
        """
        drift = self.streams.drift.gauss(0.0, self.cfg.volatility * math.sqrt(dt))
        pull = float((self.ref0 - self.ref) / self.ref0) * 0.02 * dt
        self.ref = quantize(self.ref * Decimal(str(1 + drift + pull)))
        moved = False
        for ad in list(self.ads.values()):
            if ad.mine:
                self.follow_reference(ad, now)
                continue
            target = self._decide(self.streams.moves.random(), ad, now, dt)
            if target is not None:
                target = min(max(quantize(target), ad.floor), ad.ceiling)
                if target != ad.price:
                    self.set_price(ad.adv_no, target, now)
                    moved = True
        return moved

    def _decide(self, roll: float, ad: SimAd, now: float, dt: float) -> Decimal | None:
        due = self._reactions.get(ad.adv_no)
        if due is not None and due[0] <= now:
            del self._reactions[ad.adv_no]
            bot = self.ads[due[1]]
            if bot.listed and beats(ad.side, bot.price, ad.price):
                return one_better(ad.side, bot.price)
        if roll < 0.05 * dt:
            sign = 1 if ad.side == "SELL" else -1
            return self.ref * (1 + sign * ad.margin)
        if roll < 0.07 * dt and ad.fights:
            rivals = [a for a in self.book(ad.side) if a.adv_no != ad.adv_no]
            if rivals and beats(ad.side, rivals[0].price, ad.price):
                return one_better(ad.side, rivals[0].price)
        return None
