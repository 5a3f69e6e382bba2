"""Floating-price ads: a price that follows a reference, moved through its ratio.

A floating ad's price is reference × ratio / 100 (EP-4's priceType 2 and priceFloatingRatio,
reference §4), and EP-7 changes the ratio (`{advNo, priceFloatingRatio}`, as BPA sends it).
The strategies and the bounds stay in price: the pipeline turns the target price into the ratio
that comes nearest without crossing it, and the price that ratio gives.

The reference is what my ad shows: its price over its ratio, from EP-4 or from my row of the
latest book (BPA derives it the same way). The ratio is rounded to `RATIO_QUANTUM`: the
reference names no precision, BPA rounds it to two places, and EP-4 writes eight, so two places
is a ratio Binance takes on both counts.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from msgspec.structs import replace

from events import BookSnapshot, MyAd

RATIO_QUANTUM = Decimal("0.01")
FLOATING = 2
_HUNDRED = Decimal(100)


def is_floating(ad: MyAd) -> bool:
    """Whether `ad` is a floating-price ad with a ratio to move."""
    return ad.price_type == FLOATING and ad.floating_ratio is not None and ad.floating_ratio > 0


def reference_of(ad: MyAd) -> Decimal:
    """Return the reference price `ad`'s price follows (its price over its ratio)."""
    return ad.price * _HUNDRED / ad.floating_ratio


def ratio_for(ad: MyAd, price: Decimal, *, up: bool) -> Decimal:
    """Return the ratio (on RATIO_QUANTUM) whose price is nearest `price`, rounded up or down."""
    raw = price * _HUNDRED / reference_of(ad)
    return raw.quantize(RATIO_QUANTUM, rounding=ROUND_CEILING if up else ROUND_FLOOR)


def price_at(ad: MyAd, ratio: Decimal, tick: Decimal) -> Decimal:
    """Return the price `ratio` gives `ad` at today's reference, on the tick."""
    return (reference_of(ad) * ratio / _HUNDRED).quantize(tick, rounding=ROUND_HALF_UP)


def moved(ad: MyAd, price: Decimal, ratio: Decimal | None) -> MyAd:
    """Return `ad` at its new `price` (and, for a floating ad, its new `ratio`)."""
    if ratio is None:
        return replace(ad, price=price)
    return replace(ad, price=price, floating_ratio=ratio)


def as_listed(ad: MyAd, book: BookSnapshot) -> MyAd:
    """Return floating `ad` with the price its row in `book` shows (the reference moved)."""
    if not is_floating(ad) or book.ad_side != ad.side:
        return ad
    for row in book.ads:
        if row.adv_no == ad.adv_no:
            return ad if row.price == ad.price else replace(ad, price=row.price)
    return ad
