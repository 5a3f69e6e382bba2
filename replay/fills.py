"""The fill model: which recorded trades would have come to my virtual ad instead.

Binance does not publish trades, only ads. A competitor's trades show up as its `surplus`
(crypto left) falling between two consecutive snapshots of the same side. The model:

- A trade is inferred for an ad present in both snapshots, not mine, whose surplus fell while
  its price stayed within `tolerance` (one strategy step) of the earlier price. It traded at the
  earlier snapshot's price, the one customers saw during the interval. Ads that vanished are
  ignored: sold out, paused and closed look the same, so crediting them would be a guess.
- During the interval my virtual ad showed the price decided on the earlier snapshot. A trade
  at a price strictly worse for the counterparty than mine (SELL: above mine; BUY: below mine)
  would have come to me first; ties stay with the competitor, since the exchange's order among
  equal prices is unknown.
- The customer must be able to pay me: when both ads list pay methods, they must share one.
- The surplus drop is taken as one order (two snapshots cannot tell one order from several).
  Its fiat value at my price must reach my `min_amount`, else that customer could not have
  ordered from me; above my `max_amount` I take only `max_amount` worth. Then my remaining
  surplus caps it; the ad's surplus is not replenished during the run.
- What I take is diverted, not duplicated: it counts once, for me, and the recorded book is not
  rewritten (the competitor's later surplus stays as recorded), because the counterfactual
  market beyond the first-order effect cannot be known. Competitors are served best first, so
  my limited surplus goes to the trades that would have reached me soonest.
- Latency is ignored: a reprice decided on a snapshot is live at once.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

import msgspec

from events import BookSnapshot, MyAd

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


def infer_fills(prev: BookSnapshot, cur: BookSnapshot, my_ad: MyAd, remaining: Decimal,
                tolerance: Decimal) -> list[Fill]:
    """Return the fills my ad would have taken between `prev` and `cur` (same side, in order).

    Args:
        prev: the earlier snapshot; `my_ad.price` is what my ad showed from then until `cur`.
        cur: the later snapshot.
        my_ad: my virtual ad (price, limits, pay methods).
        remaining: crypto my ad can still trade.
        tolerance: how far a competitor's price may move and still count as "unchanged".
    """
    if remaining <= 0 or my_ad.price <= 0:
        return []
    sell = prev.ad_side == "SELL"
    mine = my_ad.price
    now = {ad.adv_no: ad for ad in cur.ads}
    pays = frozenset(my_ad.pay_methods)
    fills: list[Fill] = []
    for ad in prev.ads:
        if ad.mine or not (ad.price > mine if sell else ad.price < mine):
            continue
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
        if remaining <= 0:
            break
    return fills
