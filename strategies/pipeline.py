"""The one decision pipeline that the ads actor and the backtester both call.

    strategy -> war guard -> round to the tick -> clamp to my side's bound -> hold if unchanged
             -> hold inside the deadband -> hold when the rate cap is exhausted

Rounding goes away from the price the quote was made against, so it never crosses it: one step
better than a SELL competitor rounds down, a SELL margin bound above the best buyer rounds up.
A quote against nothing rounds towards my side (SELL up, BUY down). Each side then has one bound:
a SELL ad the floor (rounded up), a BUY ad the ceiling (rounded down), so neither is crossed.
The other side's bound never moves it: a merchant's floor is usually above its ceiling (sell
never below 1500, buy never above 1490), and that spread is the point, not an error.

A floating-price ad (strategies.floating) is placed through its ratio instead of the tick: the
ratio is rounded the same way round (never across the competitor, never across the bound), and
its price is what the ratio gives at the ad's reference.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from msgspec.structs import replace

from events import BookSnapshot, MyAd
from strategies.params import FiltersConfig, StrategyParams
from strategies.quote import Quote, RateCap
from strategies import floating
from strategies.registry import get_strategy
from strategies.war import WarGuard

_TICKS = {scale: Decimal(1).scaleb(-scale) for scale in range(0, 13)}


def tick_of(my_ad: MyAd) -> Decimal:
    """Return the smallest price increment of `my_ad`'s market (10**-price_scale)."""
    tick = _TICKS.get(my_ad.price_scale)
    return tick if tick is not None else Decimal(1).scaleb(-my_ad.price_scale)


def _rounds_up(quote: Quote, raw: Decimal, side: str) -> bool:
    ref = quote.competitor_price
    if ref is None or raw == ref:
        return side == "SELL"
    return raw > ref


def _round(quote: Quote, raw: Decimal, side: str, tick: Decimal) -> Decimal:
    up = _rounds_up(quote, raw, side)
    return raw.quantize(tick, rounding=ROUND_CEILING if up else ROUND_FLOOR)


def _place_floating(quote: Quote, raw: Decimal, my_ad: MyAd, cfg: StrategyParams,
                    tick: Decimal) -> tuple[Decimal, Decimal, str | None]:
    ratio = floating.ratio_for(my_ad, raw, up=_rounds_up(quote, raw, my_ad.side))
    price = floating.price_at(my_ad, ratio, tick)
    clamp = None
    if my_ad.side == "SELL" and price < cfg.floor:
        ratio, clamp = floating.ratio_for(my_ad, cfg.floor, up=True), "floor"
    elif my_ad.side == "BUY" and price > cfg.ceiling:
        ratio, clamp = floating.ratio_for(my_ad, cfg.ceiling, up=False), "ceiling"
    if clamp is not None:
        price = floating.price_at(my_ad, ratio, tick)
    return price, ratio, clamp


def _clamp(price: Decimal, side: str, cfg: StrategyParams,
           tick: Decimal) -> tuple[Decimal, str | None]:
    if side == "SELL":
        if price < cfg.floor:
            return cfg.floor.quantize(tick, rounding=ROUND_CEILING), "floor"
    elif price > cfg.ceiling:
        return cfg.ceiling.quantize(tick, rounding=ROUND_FLOOR), "ceiling"
    return price, None


def _hold(quote: Quote, rule: str, why: str, clamp: str | None) -> Quote:
    return replace(quote, price=None, rule=rule, reason=f"{quote.reason}; {why}", clamp=clamp,
                   ratio=None)


def _out_of_bounds(price: Decimal, side: str, cfg: StrategyParams) -> bool:
    return price < cfg.floor if side == "SELL" else price > cfg.ceiling


def evaluate(book: BookSnapshot, my_ad: MyAd, cfg: StrategyParams, filters: FiltersConfig,
             opposite: BookSnapshot | None = None, *,
             rate_cap: RateCap | None = None, now_s: float = 0.0,
             war: WarGuard | None = None) -> Quote:
    """Decide `my_ad`'s price on `book`: run strategy `cfg.name`, then round, clamp and gate it.

    The rate cap's 60 s window is only consulted: the caller records a reprice when it sends
    one, and waits out the cap's gap since the last reprice (`RateCap.gap_wait`) before sending.
    `war`, my ad's price-war guard, may hold or back off the strategy's quote (strategies.war).
    Only the bound of my ad's side applies: the floor to a SELL ad, the ceiling to a BUY ad.
    A hold while my current price breaks that bound (it changed) still moves the price to it.

    Returns:
        A Quote whose price is None (hold) or a new price on the tick, within the bounds.

    Raises:
        UnknownStrategy: `cfg`'s strategy is not registered.
        ValueError: `book` lists the other side's ads.
    """
    if book.ad_side != my_ad.side:
        raise ValueError(f"a {my_ad.side} ad competes in the {my_ad.side} book, "
                         f"not the {book.ad_side} one")
    quote = get_strategy(cfg.name).fn(book, my_ad, cfg, filters, opposite)
    if war is not None:
        quote = war.check(quote, book, my_ad, filters, opposite, now_s)
    current = my_ad.price
    if quote.price is None:
        if not _out_of_bounds(current, my_ad.side, cfg):
            return quote
        raw = current
    else:
        raw = quote.price
    tick = tick_of(my_ad)
    ratio = None
    if floating.is_floating(my_ad):
        price, ratio, clamp = _place_floating(quote, raw, my_ad, cfg, tick)
    else:
        price, clamp = _clamp(_round(quote, raw, my_ad.side, tick), my_ad.side, cfg, tick)
    if clamp is not None:
        quote = replace(quote, reason=f"{quote.reason}; clamped to {clamp} {price}")
    if ratio is not None:
        if ratio == my_ad.floating_ratio:
            return _hold(quote, "unchanged", f"already at ratio {ratio}% ({my_ad.price})", clamp)
        quote = replace(quote, ratio=ratio,
                        reason=f"{quote.reason}; ratio {ratio}% gives {price}")
    return _gate(quote, price, clamp, my_ad, cfg, rate_cap, now_s)


def _gate(quote: Quote, price: Decimal, clamp: str | None, my_ad: MyAd, cfg: StrategyParams,
          rate_cap: RateCap | None, now_s: float) -> Quote:
    current = my_ad.price
    if price <= 0:
        return _hold(quote, "non_positive", f"refusing price {price}", clamp)
    if price == current:
        return _hold(quote, "unchanged", f"already at {price}", clamp)
    band = cfg.deadband_ticks * cfg.step
    if abs(price - current) < band and not _out_of_bounds(current, my_ad.side, cfg):
        return _hold(quote, "deadband",
                     f"move {price - current} is inside the deadband {band}", clamp)
    if rate_cap is not None and not rate_cap.window_allows(now_s):
        # No clock reading in the reason: a replay must explain itself in the same words.
        return _hold(quote, "rate_cap", f"{rate_cap.max_per_min} reprices in the last 60 s",
                     clamp)
    return replace(quote, price=price, clamp=clamp)
