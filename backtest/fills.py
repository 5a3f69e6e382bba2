"""The fill model: which recorded trades my virtual ad would have taken.

Binance does not publish trades, only ads. An ad's trades show up as its `surplus` (crypto left)
falling between two consecutive snapshots of the same side. The model:

- My recorded ad, when the book lists it (`mine`, same advNo as the virtual ad): its own
  surplus drops are trades that really happened at the price it showed during the interval
  (the later snapshot's, since a reprice decided on the earlier one is live within
  milliseconds). The virtual ad takes them when its price is no worse for the customer than
  that, since those customers took that very offer. This is direct evidence: a backtest of the
  strategy that ran gets the trades it really had.
- A competitor's trade is inferred for an ad present in both snapshots, not mine, whose surplus
  fell while its price stayed within `tolerance` (one strategy step) of the earlier price. It
  traded at the earlier snapshot's price, the one customers saw during the interval. Ads that
  vanished are ignored: sold out, paused and closed look the same, so crediting them would be
  a guess.
- During the interval my virtual ad showed the price decided on the earlier snapshot. A
  competitor's trade at a price strictly worse for the counterparty than mine (SELL: above
  mine; BUY: below mine) would have come to me first; ties stay with the competitor, since the
  exchange's order among equal prices is unknown. But when my recorded ad was listed too, a
  customer who took a competitor priced worse than my recorded ad had my recorded offer in
  front of them and passed it by: only competitors at or ahead of my recorded ad's price are
  diverted, so nothing is counted twice.
- The customer must be able to pay me: when both ads list pay methods, they must share one.
- A competitor's surplus drop is taken as one order (two snapshots cannot tell one order from
  several). Its fiat value at my price must reach my `min_amount`, else that customer could not
  have ordered from me; above my `max_amount` I take only `max_amount` worth. Then my remaining
  surplus caps it; the ad's surplus is not replenished during the run, and an order opened
  counts even if the counterparty cancels it later (the book cannot tell).
- What I take is diverted, not duplicated: it counts once, for me, and the recorded book is not
  rewritten (the competitor's later surplus stays as recorded), because the counterfactual
  market beyond the first-order effect cannot be known. My recorded ad's trades come first,
  then competitors best first, so my limited surplus goes to the trades that would have
  reached me soonest.

Measured against the simulator (bench/fidelity.py) the counterfactual half is the weak one:
the simulator's customers pick an ad by rank alone, ignoring pay methods, and draw the amount
from the chosen ad's own limits, so competitors' order sizes say little about mine there.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

import msgspec

from events import BookAd, BookSnapshot, MyAd

CRYPTO_QUANTUM = Decimal("0.00000001")


class Fill(msgspec.Struct, frozen=True, kw_only=True):
    """Crypto my virtual ad would have traded at its price, taken from a competitor's trade."""

    qty: Decimal
    price: Decimal  # mine
    competitor: str
    competitor_price: Decimal


def _order_qty(drop: Decimal, my_ad: MyAd) -> Decimal:
    fiat = drop * my_ad.price
    if fiat < my_ad.min_amount:
        return Decimal(0)
    if my_ad.max_amount > 0 and fiat > my_ad.max_amount:
        return (my_ad.max_amount / my_ad.price).quantize(CRYPTO_QUANTUM, rounding=ROUND_DOWN)
    return drop


def _worse(sell: bool, price: Decimal, than: Decimal) -> bool:
    return price > than if sell else price < than


def _own_fill(prev: BookSnapshot, real: BookAd, my_ad: MyAd, remaining: Decimal) -> Fill | None:
    earlier = next((ad for ad in prev.ads if ad.adv_no == real.adv_no), None)
    if earlier is None or real.surplus >= earlier.surplus:
        return None
    if _worse(prev.ad_side == "SELL", my_ad.price, real.price):
        return None
    qty = min(earlier.surplus - real.surplus, remaining)
    return Fill(qty=qty, price=my_ad.price, competitor=real.adv_no, competitor_price=real.price)


def infer_fills(prev: BookSnapshot, cur: BookSnapshot, my_ad: MyAd, remaining: Decimal,
                tolerance: Decimal) -> list[Fill]:
    """Return the fills my ad would have taken between `prev` and `cur` (same side, in order).

    Args:
        prev: the earlier snapshot; `my_ad.price` is what my ad showed from then until `cur`.
        cur: the later snapshot.
        my_ad: my virtual ad (price, limits, pay methods; its advNo finds my recorded ad).
        remaining: crypto my ad can still trade.
        tolerance: how far a competitor's price may move and still count as "unchanged".
    """
    if remaining <= 0 or my_ad.price <= 0:
        return []
    sell = prev.ad_side == "SELL"
    mine = my_ad.price
    now = {ad.adv_no: ad for ad in cur.ads}
    real = now.get(my_ad.adv_no)
    real = real if real is not None and real.mine else None
    fills: list[Fill] = []
    own = _own_fill(prev, real, my_ad, remaining) if real is not None else None
    if own is not None:
        fills.append(own)
        remaining -= own.qty
    pays = frozenset(my_ad.pay_methods)
    for ad in prev.ads:
        if remaining <= 0:
            break
        if ad.mine or not _worse(sell, ad.price, mine):
            continue
        if real is not None and _worse(sell, ad.price, real.price):
            continue  # its customer passed my recorded ad by
        later = now.get(ad.adv_no)
        if later is None or later.surplus >= ad.surplus or abs(later.price - ad.price) > tolerance:
            continue
        if pays and ad.pay_methods and pays.isdisjoint(ad.pay_methods):
            continue
        qty = min(_order_qty(ad.surplus - later.surplus, my_ad), remaining)
        if qty <= 0:
            continue
        fills.append(Fill(qty=qty, price=mine, competitor=ad.adv_no, competitor_price=ad.price))
        remaining -= qty
    return fills
