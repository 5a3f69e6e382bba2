"""One strategy's virtual ad on one side of one market, stepped snapshot by snapshot."""

from __future__ import annotations

from decimal import Decimal
from operator import attrgetter

import msgspec
from msgspec.structs import replace

from actors.config import AdOverride, merge_override
from events import BookSnapshot, MyAd
from backtest.choice import Calibration
from backtest.fills import Order, infer_fills
from backtest.metrics import Metrics, WarTracker, ahead_of
from backtest.wars import WarCost
from actors import ads_core
from strategies import (AnyParams, FiltersConfig, StrategyParams, default_params, get_strategy,
                        retag)
from strategies.book import market_best
from strategies import floating
from strategies.war import WarGuard, guard_enabled

UNLIMITED = Decimal("Infinity")
DEFAULT_SCALE = 2


class RunSpec(msgspec.Struct, frozen=True, kw_only=True):
    """A strategy to backtest: its registered name, parameters and competitor filters.

    `overrides` give one recorded ad (by advNo) its own keys, as `[ads.overrides]` does live;
    they apply over `name`, `cfg` and `filters`, a per-ad `name` included. `cfg` is taken as
    strategy `name`'s (`strategies.retag`: the common keys kept, another strategy's dropped). `label` tells grid
    points apart in a sweep ("step=0.05"); empty for a plain run.
    """

    name: str
    cfg: AnyParams = default_params()
    filters: FiltersConfig = FiltersConfig()
    overrides: dict[str, AdOverride] = {}
    label: str = ""

    def __post_init__(self) -> None:
        get_strategy(self.name)  # fail before the run, with the names known

    @property
    def title(self) -> str:
        """The name shown in tables and plots."""
        return f"{self.name} {self.label}" if self.label else self.name

    def pricing_for(self, adv_no: str) -> tuple[StrategyParams, FiltersConfig]:
        """Return the settings that price ad `adv_no`: this strategy's, its override applied."""
        return merge_override(retag(self.cfg, self.name), self.filters,
                              self.overrides.get(adv_no))

    def params_json(self) -> str:
        """Return this strategy's parameters as JSON."""
        return msgspec.json.encode(retag(self.cfg, self.name)).decode()

    def filters_json(self) -> str:
        """Return the FiltersConfig as JSON."""
        return msgspec.json.encode(self.filters).decode()


class Seen(msgspec.Struct, frozen=True, kw_only=True):
    """What one snapshot shows a side: the book for fills and ranks, the one before, the other
    side's latest snapshot (as the live actor holds it), the orders seen since the one before
    and the mid of the two books."""

    book: BookSnapshot
    prev: BookSnapshot | None
    opposite: BookSnapshot | None
    orders: tuple[Order, ...] = ()
    mid: Decimal | None = None


def patch_book(prev: BookSnapshot, cur: BookSnapshot) -> BookSnapshot:
    """Return incomplete `cur` with the ads of `prev` that it lacks added back, best first.

    A page that failed or came back empty hides ads that are still there; carrying them forward
    as last seen keeps the fill model from mistaking them for gone and the rank from improving.
    """
    shown = {ad.adv_no for ad in cur.ads}
    ads = list(cur.ads) + [ad for ad in prev.ads if ad.adv_no not in shown]
    ads.sort(key=attrgetter("price"), reverse=cur.ad_side == "BUY")
    return replace(cur, ads=tuple(ads))


class Trace:
    """Series for the plot: best prices per side, my prices per side, cumulative fills, equity."""

    def __init__(self) -> None:
        self.best: dict[str, list[tuple[float, Decimal | None]]] = {"SELL": [], "BUY": []}
        self.mine: dict[str, list[tuple[float, Decimal]]] = {"SELL": [], "BUY": []}
        self.filled: list[tuple[float, Decimal]] = []
        self.equity: list[tuple[float, Decimal]] = []

    def add_price(self, side: str, t: float, price: Decimal | None) -> None:
        self.best[side].append((t, price))

    def add_mine(self, side: str, t: float, price: Decimal) -> None:
        self.mine[side].append((t, price))

    def add_fill(self, t: float, qty: Decimal) -> None:
        total = self.filled[-1][1] if self.filled else Decimal(0)
        self.filled.append((t, total + qty))


def _scale_of(book: BookSnapshot) -> int:
    scales = [-ad.price.as_tuple().exponent for ad in book.ads]
    return max(0, max(scales)) if scales else DEFAULT_SCALE


def virtual_ad(book: BookSnapshot, my_ads: tuple[MyAd, ...]) -> MyAd:
    """Return the virtual ad for `book`'s side: my recorded ad of that side, else defaults.

    The defaults: the best other ad's price, price scale of the book's prices, limits 0 to
    unlimited, no pay-method restriction, unlimited surplus.
    """
    for ad in my_ads:
        if (ad.side, ad.asset, ad.fiat) == (book.ad_side, book.asset, book.fiat):
            return ad
    best = market_best(book)
    return MyAd(adv_no=f"virtual-{book.ad_side}", side=book.ad_side, asset=book.asset,
                fiat=book.fiat, price=best.price if best else Decimal(0), status=1,
                surplus=UNLIMITED, min_amount=Decimal(0), max_amount=UNLIMITED,
                price_scale=_scale_of(book))


class SideRun:
    """Fold one side's snapshots: fills since the last one, then the decision, then the rank.

    The decision is `_decide` alone (the strategy pipeline with the rate cap and the reprice
    gap, as the live ads actor runs it); everything else is bookkeeping around it.
    """

    def __init__(self, spec: RunSpec, ad: MyAd, metrics: Metrics, trace: Trace | None,
                 calibration: Calibration = Calibration()) -> None:
        self.cfg, self.filters = spec.pricing_for(ad.adv_no)
        self.ad = ad
        self.remaining = ad.surplus
        self.metrics = metrics
        self.trace = trace
        self.calibration = calibration
        # The ads actor's own per-ad state, decided on by its own core (actors/ads_core.py).
        self.core = ads_core.AdState(ad, self.cfg, self.filters)
        self.wars = WarTracker()
        self.guard = WarGuard(ad.side, self.cfg, acting=guard_enabled(self.cfg))
        self.core.war = self.guard  # the decision consults it (tracking wars even when off)
        self.war_cost = WarCost()
        self.rank = 0
        self.last_t: float | None = None
        self.before = ad.price  # the price shown until the last reprice is live
        self.live_at = float("-inf")  # when the last reprice went live

    def step(self, t: float, snap: BookSnapshot, seen: Seen) -> None:
        """Count the interval since the last snapshot, then decide on `snap` as the live actor."""
        book, prev = seen.book, seen.prev
        if prev is not None and self.last_t is not None:
            self.metrics.add_time(t - self.last_t, self.rank)
            if self.remaining > 0 and seen.orders:
                self._fill(t, prev, seen)
        elif self.trace is not None:
            self.trace.add_mine(self.ad.side, t, self.ad.price)
        if self.wars.waiting:
            self.wars.observe(t, ahead_of(book, self.ad.price))
        decided = self.decide(t, snap, seen.opposite)
        self.guard.take_started()  # counted in guard.wars
        price = decided.new_price
        ahead = ahead_of(book, self.ad.price if price is None else price)
        if price is not None:
            self.war_cost.repriced(self.guard.record(t, self.ad.price, price, decided.competitor,
                                                     decided.competitor_price),
                                   self.ad.price, price)
            self.before, self.live_at = self.ad.price, t + self.calibration.reaction_s
            # A floating ad keeps the reference it was recorded with: its ratio moves instead.
            self.ad = floating.moved(self.ad, price, decided.new_ratio)
            self.metrics.reprices += 1
            self.wars.repriced(t, ahead)
            if self.trace is not None:
                self.trace.add_mine(self.ad.side, t, price)
        self.rank = ahead + 1
        self.last_t = t

    def decide(self, t: float, snap: BookSnapshot, opposite: BookSnapshot | None):
        """The ads actor's decision on `snap` at `t` (ads_core.decide_one), applied as the actor
        applies it: the reprice counts against the rate cap when it is sent (after the gap);
        the new price goes live after the reaction time measured in the log (`_prices`)."""
        self.core.ad = self.ad
        decided = ads_core.decide_one(self.core, snap, opposite, t)
        if decided.new_price is not None:
            self.core.rate_cap.record(decided.send_at)
        return decided

    def _prices(self, t: float) -> tuple[tuple[Decimal, Decimal], ...]:
        """The prices live during (last_t, t] with the share of the interval each held."""
        start = self.last_t if self.last_t is not None else t
        if self.live_at <= start or t <= start:
            return ((self.ad.price, Decimal(1)),)
        old = Decimal(repr(min(1.0, (self.live_at - start) / (t - start))))
        if old >= 1:
            return ((self.before, Decimal(1)),)
        return ((self.before, old), (self.ad.price, 1 - old))

    def _fill(self, t: float, prev: BookSnapshot, seen: Seen) -> None:
        fills = infer_fills(prev, list(seen.orders), self.ad, self._prices(t), self.remaining,
                            self.calibration, seen.book)
        if not fills:
            return
        best = market_best(prev)
        theirs = market_best(seen.opposite) if seen.opposite is not None else None
        for fill in fills:
            self.metrics.add_fill(self.ad.side, fill.qty, fill.price,
                                  best.price if best else None,
                                  theirs.price if theirs else None, fill.chance)
            self.remaining -= fill.qty
            self.war_cost.filled(self.guard, fill.qty, t)
            if self.trace is not None:
                self.trace.add_fill(t, fill.qty)

    def close(self) -> int:
        """End the run on this side and return its price-war episodes."""
        self.wars.close()
        return self.wars.episodes
