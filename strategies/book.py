"""Reading a book from one ad's point of view: which ads compete with it, and what "better" means.

A SELL ad competes among SELL ads, which the exchange lists by price ascending (lower is better
for the customer); a BUY ad competes among BUY ads listed descending (higher is better).
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from operator import attrgetter

from events import BookAd, BookSnapshot, MyAd
from strategies.params import FiltersConfig

_by_price = attrgetter("price")


def is_better(side: str, a: Decimal, b: Decimal) -> bool:
    """Return whether price `a` is strictly better than `b` for the customer of a `side` ad."""
    return a < b if side == "SELL" else a > b


def step_better(side: str, price: Decimal, step: Decimal) -> Decimal:
    """Return `price` moved `step` in the customer's favour (down for SELL, up for BUY)."""
    return price - step if side == "SELL" else price + step


def other_side(side: str) -> str:
    """Return the opposite side ("SELL" <-> "BUY")."""
    return "BUY" if side == "SELL" else "SELL"


def label(ad: BookAd) -> str:
    """Name an ad for a merchant: "Bob (advNo 123)", or just the advNo when it has no nickname."""
    return f"{ad.nickname} (advNo {ad.adv_no})" if ad.nickname else f"advNo {ad.adv_no}"


@lru_cache(maxsize=64)
def _excluded_names(names: tuple[str, ...]) -> frozenset[str]:
    return frozenset(n.casefold() for n in names)


def _passes(ad: BookAd, my_ad: MyAd, filters: FiltersConfig, names: frozenset[str],
            pays: frozenset[str]) -> bool:
    if ad.mine or ad.adv_no == my_ad.adv_no:
        return False
    if ad.month_orders < filters.min_month_orders or ad.finish_rate < filters.min_finish_rate:
        return False
    if filters.merchants_only and ad.user_type == "user":
        return False
    if names and ad.nickname.casefold() in names:
        return False
    if pays and ad.pay_methods and pays.isdisjoint(ad.pay_methods):
        return False
    # My max_amount 0 means "not known" (MyAd's default), which must not hide every competitor.
    if filters.overlapping_limits and my_ad.max_amount > 0:
        if ad.min_amount > my_ad.max_amount or my_ad.min_amount > ad.max_amount:
            return False
    return True


def competitors(book: BookSnapshot, my_ad: MyAd, filters: FiltersConfig) -> list[BookAd]:
    """List the ads of `book` that `my_ad` prices against, best first for the book's side.

    Excluded: my own ads (flagged `mine` or sharing my advNo), nicknames in `exclude_nicknames`
    (case-insensitive), ads sharing no pay method with mine (when `shared_pay_method` and both
    lists are non-empty), ads whose fiat limits do not overlap mine (when `overlapping_limits`
    and my limits are known), ads below `min_month_orders` or `min_finish_rate`, and, with
    `merchants_only`, ads whose advertiser EP-0 marks as a `user` rather than a `merchant`.
    Ties keep the book's order, which is the exchange's own ranking.
    """
    names = _excluded_names(filters.exclude_nicknames)
    pays = frozenset(my_ad.pay_methods) if filters.shared_pay_method else frozenset()
    ads = [ad for ad in book.ads if _passes(ad, my_ad, filters, names, pays)]
    ads.sort(key=_by_price, reverse=book.ad_side == "BUY")
    return ads


def market_best(book: BookSnapshot) -> BookAd | None:
    """Return the best ad of `book` that is not mine, unfiltered (what a customer sees first)."""
    best = None
    sell = book.ad_side == "SELL"
    for ad in book.ads:
        if ad.mine:
            continue
        if best is None or (ad.price < best.price if sell else ad.price > best.price):
            best = ad
    return best
