"""The fill model: which recorded orders my virtual ad would have taken, as expected values.

Binance does not publish trades, only ads. An order shows up between two consecutive snapshots
of one side (`detect_orders`, shared by every strategy of a pass):

- an ad whose `surplus` (crypto left) fell: one order of the drop (two snapshots cannot tell
  one order from several), mine included;
- a sell-out: an ad that vanished from a complete snapshot, or a competitor's ad whose surplus
  rose again (topped up), when one order could have emptied it (its surplus was worth at most
  its `max_amount` plus its `min_amount`): one order of all it had. An ad too large for one
  order that vanishes was paused or closed, not sold out, and counts nothing; my own ad's
  surplus rising is a cancelled order handing its crypto back, not an arrival.

Each order is a customer who came to the book during the interval, at the earlier or at the
later book: its chance at any ad is the mean of the chances there. Where they went is the
choice model
(`backtest.choice`): a customer takes the i-th ad of the listed book with probability p_i,
falling geometrically with rank (p_i proportional to decay**(i-1)), the decay estimated from
the ranks at which the recording's orders landed. The counterfactual book is the earlier
snapshot, and again the later one, with my recorded ad taken out and my virtual ad put in at
the price it showed (ties stay ahead of me, since the exchange's order among equal prices is
unknown), so my expected share of the order is the mean of p at my rank in each. Nothing is winner-takes-all: a strategy that sits second
gets the second rank's share, as customers give it.

Then my ad's own rules apply:

- pay methods (`pay_methods`, on by default): when both ads list any and share none, the
  customer could not have paid me;
- size: when the recording has orders on my own recorded ad, where they sat between its
  limits (0 at `min_amount`, 1 at the least of `max_amount` and what its surplus could sell)
  is averaged over both sides, and the order takes that place between my virtual ad's limits
  (the sizes customers bring to my ads); otherwise the customer's own order at the other ad,
  held within my limits and what my remaining surplus can sell. When what remains is worth
  less than my `min_amount`, my ad is not listed and takes nothing (the ad is not
  replenished; an order opened counts even if it is later cancelled, which the book cannot
  tell).
- price: my ad shows the price it had before my latest reprice until the reaction time
  (measured in the log: decision to acknowledged reprice) has passed, then the new one; an
  interval straddling the switch splits the order's chance between the two.

What I take is counted for me; the recorded book is not rewritten, since the market beyond the
first-order effect cannot be known. The shares are expectations, so fills counts are fractions.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

import msgspec

from backtest.choice import Calibration, choice_probability
from events import BookSnapshot, MyAd

CRYPTO_QUANTUM = Decimal("0.00000001")
UNLIMITED = Decimal("Infinity")
SHARE_FLOOR = Decimal("0.0001")  # shares below this are not worth a fill


class Order(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One order seen in the recording between two snapshots of one side."""

    adv_no: str  # the ad it went to
    rank: int  # that ad's place in the earlier book (1 = best)
    listed: int  # ads in the earlier book
    qty: Decimal  # crypto
    price: Decimal  # the earlier snapshot's price of that ad
    pay_methods: tuple[str, ...] = ()
    mine: bool = False  # it went to my recorded ad
    steady: bool = True  # the ad's price stayed within tolerance, so its rank is known
    later_rank: int = 0  # its place in the later book (0: gone, take `rank`)
    later_listed: int = 0
    low: Decimal = Decimal(0)  # the ad's order limits then (fiat): its min_amount
    high: Decimal = Decimal(0)  # and the least of its max_amount and what its surplus sold

    def share(self) -> Decimal | None:
        """Where the order's fiat sits between the ad's limits (0 at min, 1 at max)."""
        if self.high <= self.low:
            return None
        return min(max((self.fiat - self.low) / (self.high - self.low), Decimal(0)), Decimal(1))

    @property
    def fiat(self) -> Decimal:
        return self.qty * self.price


class Fill(msgspec.Struct, frozen=True, kw_only=True):
    """My expected share of one recorded order: `qty` crypto at my price, `chance` of it."""

    qty: Decimal
    price: Decimal  # mine
    chance: Decimal  # the probability the customer came to me (the fills count adds these)
    competitor: str
    competitor_price: Decimal


def _one_order_empties(ad, surplus: Decimal) -> bool:
    return surplus * ad.price <= ad.max_amount + ad.min_amount


def detect_orders(prev: BookSnapshot, cur: BookSnapshot, tolerance: Decimal) -> list[Order]:
    """Return the orders between `prev` and `cur` (one side; `cur` patched when incomplete).

    Args:
        tolerance: the relative price move under which an ad's rank still counts as known.
    """
    now = {ad.adv_no: ad for ad in cur.ads}
    place = {ad.adv_no: i for i, ad in enumerate(cur.ads, 1)}
    out: list[Order] = []
    n = len(prev.ads)
    for rank, ad in enumerate(prev.ads, 1):
        later = now.get(ad.adv_no)
        if later is None:
            qty = ad.surplus if cur.complete and _one_order_empties(ad, ad.surplus) else None
        elif later.surplus < ad.surplus:
            qty = ad.surplus - later.surplus
        elif later.surplus > ad.surplus and not ad.mine and _one_order_empties(ad, ad.surplus):
            qty = ad.surplus  # sold out, then topped up
        else:
            qty = None
        if not qty or qty <= 0:
            continue
        steady = later is None or abs(later.price - ad.price) <= tolerance * ad.price
        high = min(ad.max_amount, ad.surplus * ad.price) if ad.max_amount > 0 else \
            ad.surplus * ad.price
        out.append(Order(adv_no=ad.adv_no, rank=rank, listed=n, qty=qty, price=ad.price,
                         pay_methods=ad.pay_methods, mine=ad.mine, steady=steady,
                         low=ad.min_amount, high=high,
                         later_rank=place.get(ad.adv_no, rank),
                         later_listed=len(cur.ads) if ad.adv_no in place else n))
    return out


def my_rank(book: BookSnapshot, price: Decimal) -> tuple[int, int]:
    """Return my rank at `price` in `book` with my recorded ad taken out, and the book's size
    with mine in (ties ahead of me)."""
    ahead = others = 0
    sell = book.ad_side == "SELL"
    for ad in book.ads:
        if ad.mine:
            continue
        others += 1
        if (ad.price <= price) if sell else (ad.price >= price):
            ahead += 1
    return ahead + 1, others + 1


def _size(order: Order, my_ad: MyAd, price: Decimal, remaining: Decimal,
          calibration: Calibration) -> Decimal:
    """Crypto the customer orders from me at `price`, 0 when my ad cannot take them."""
    room = remaining * price
    if room < my_ad.min_amount or room <= 0:
        return Decimal(0)
    high = min(my_ad.max_amount, room) if my_ad.max_amount > 0 else room
    share = calibration.order_share
    if share is not None and high < UNLIMITED:
        fiat = my_ad.min_amount + share * (high - my_ad.min_amount)
    else:
        fiat = min(max(order.fiat, my_ad.min_amount), high)
    return min(fiat / price, remaining).quantize(CRYPTO_QUANTUM, rounding=ROUND_DOWN)


def _p(rank_listed: tuple[int, int], calibration: Calibration) -> Decimal:
    return choice_probability(*rank_listed, calibration.decay)


def infer_fills(prev: BookSnapshot, orders: list[Order], my_ad: MyAd,
                prices: tuple[tuple[Decimal, Decimal], ...], remaining: Decimal,
                calibration: Calibration, cur: BookSnapshot | None = None) -> list[Fill]:
    """Return my expected fills from `orders`, seen between `prev` and `cur`.

    Args:
        prev: the earlier snapshot.
        cur: the later one (None: as `prev`); the customer saw one or the other, so my chance
            is the mean of my chances in both.
        orders: what `detect_orders` found in the interval.
        my_ad: my virtual ad (limits, pay methods).
        prices: (price, share of the interval it was live), one or two of them.
        remaining: crypto my ad can still trade.
        calibration: the choice model and its settings.
    """
    fills: list[Fill] = []
    pays = frozenset(my_ad.pay_methods)
    later = cur if cur is not None else prev
    chances = [(price, weight * (_p(my_rank(prev, price), calibration)
                                 + _p(my_rank(later, price), calibration)) / 2)
               for price, weight in prices if price > 0]
    for order in orders:
        if calibration.pay_methods and pays and order.pay_methods \
                and pays.isdisjoint(order.pay_methods):
            continue
        for price, chance in chances:
            if chance < SHARE_FLOOR or remaining <= 0:
                continue
            qty = (_size(order, my_ad, price, remaining, calibration) * chance).quantize(
                CRYPTO_QUANTUM, rounding=ROUND_DOWN)
            if qty <= 0:
                continue
            fills.append(Fill(qty=qty, price=price, chance=chance, competitor=order.adv_no,
                              competitor_price=order.price))
            remaining -= qty
    return fills
