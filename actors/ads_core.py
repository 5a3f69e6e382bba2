"""The ads actor's pure core: its state, how a logged event changes it, and its decision.

The ads actor (actors/ads.py) is a shell around this: it feeds every envelope of its inbox, in seq
order, to `apply`, and on a BookSnapshot asks `decide`, emits what it returns and applies each
decision at once. It never changes the state any other way: a reprice task's outcome (AdRepriced,
RepriceFailed, AdPaused, RepriceDone, MyAdsLoaded) changes it only when that event comes back
through the bus. So the state at any snapshot is a fold of the log, and three other users get it
by the same fold:

- a restarted ads actor folds its session so far (`restore_session`) and neither repeats a
  reprice nor forgets its rate cap;
- the re-check (backtest/recheck.py) folds a recorded session and calls `decide` on each snapshot,
  busy ads and paused ads included, to show the decisions come out the same;
- the backtester (backtest/side.py) calls `decide` for its virtual ad.

Nothing here reads a clock: the decision's time is passed in, and the times `apply` keeps come
from the envelopes (`t`, session time).
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Callable, Iterable

import msgspec

from events import (AdPaused, AdRepriced, BookSnapshot, Envelope, MyAd, MyAdsLoaded,
                    PriceWarDetected, RepriceDecided, RepriceDone, RepriceFailed)
from strategies import FiltersConfig, Quote, RateCap, StrategyParams, evaluate, floating
from strategies.war import WarGuard, guard_enabled

# A paused ad is resumed only by a refresh that starts this long after the pause, so an ad that
# EP-4 shows online while EP-7 keeps refusing it costs two calls a refresh period, not a loop.
PAUSE_MIN_S = 10.0
# A floating ad takes its price from my row of the book (its reference moves), but not from a
# book logged this soon after an acknowledged reprice: its pages may predate the update.
FLOAT_SETTLE_S = 2.0

# The events the ads actor applies besides BookSnapshot; all are its own.
OWN_TYPES = (MyAdsLoaded, AdRepriced, RepriceFailed, AdPaused, RepriceDone)

PricingFor = Callable[[str], tuple[StrategyParams, FiltersConfig]]


class AdState:
    """One managed ad as the actor knows it."""

    def __init__(self, ad: MyAd, strategy: StrategyParams, filters: FiltersConfig) -> None:
        self.ad = ad
        self.strategy = strategy  # this ad's own pricing: [strategy] and [filters], its
        self.filters = filters  # [ads.overrides."<advNo>"] applied
        self.paused = False
        self.paused_at = 0.0
        self.cooldown_until = 0.0  # 83628: Binance asked this ad to wait
        self.busy = False  # a reprice is under way (from its decision to its RepriceDone)
        self.last_ack_seq = 0  # seq of the last AdRepriced
        self.rate_cap = RateCap(strategy.max_reprices_per_min, strategy.min_reprice_gap_s)
        # The price-war guard (strategies.war): a fold of this ad's decisions.
        self.war = WarGuard(ad.side, strategy) if guard_enabled(strategy) else None
        self.ratios: dict[Decimal, Decimal] = {}  # a floating ad's decided price -> its ratio
        self.acked_at = -math.inf  # session time of the last acknowledged reprice


def ratio_of(st: AdState, price: Decimal) -> Decimal | None:
    """The ratio that gives a floating ad `price` (the one decided, else the nearest); None for
    a fixed-price ad."""
    if not floating.is_floating(st.ad):
        return None
    ratio = st.ratios.get(price)
    return ratio if ratio is not None else floating.ratio_for(st.ad, price,
                                                              up=price > st.ad.price)


BookKey = tuple[str, str, str]  # (asset, fiat, ad_side): one side of one market


def book_key(snap: BookSnapshot) -> BookKey:
    """The key a snapshot's book is kept under: its market and side."""
    return (snap.asset, snap.fiat, snap.ad_side)


def opposite_key(key: BookKey) -> BookKey:
    """The other side of the same market."""
    asset, fiat, side = key
    return (asset, fiat, "BUY" if side == "SELL" else "SELL")


class AdsState:
    """Everything the ads actor decides from: my ads, the latest book of each side of each
    market (keyed by `book_key`: a book never prices an ad of another pair)."""

    def __init__(self, pricing_for: PricingFor, *, dry_run: bool = False) -> None:
        self.pricing_for = pricing_for
        self.dry_run = dry_run
        self.ads: dict[str, AdState] = {}
        self.books: dict[BookKey, BookSnapshot] = {}
        self.book_seqs: dict[BookKey, int] = {}
        self.last_seq = 0
        # The last session's reprices still inside the rate cap's minute, per ad (session time).
        self.carried: dict[str, tuple[float, ...]] = {}


def resumed_by(state: AdsState, loaded: MyAdsLoaded) -> list[str]:
    """The paused ads that `loaded` shows online, asked at least PAUSE_MIN_S after the pause."""
    return [ad.adv_no for ad in loaded.ads
            if (st := state.ads.get(ad.adv_no)) is not None and st.paused and ad.status == 1
            and loaded.asked_at >= st.paused_at + PAUSE_MIN_S]


def apply(state: AdsState, env: Envelope) -> AdsState:
    """Apply one logged event to `state` (in place) and return it.

    RepriceDecided is not applied here: the actor applies its own decisions with
    `apply_decision` when it makes them, right after the snapshot that caused them.
    """
    event = env.event
    state.last_seq = max(state.last_seq, env.seq)
    match event:
        case BookSnapshot():
            for st in state.ads.values():
                if (not st.busy and env.t - st.acked_at >= FLOAT_SETTLE_S
                        and (event.asset, event.fiat) == (st.ad.asset, st.ad.fiat)):
                    st.ad = floating.as_listed(st.ad, event)  # a floating ad follows its reference
            state.books[book_key(event)] = event
            state.book_seqs[book_key(event)] = env.seq
        case MyAdsLoaded():
            _apply_loaded(state, event)
        case AdRepriced(adv_no=adv_no, new_price=price):
            if (st := state.ads.get(adv_no)) is not None:
                st.ad = floating.moved(st.ad, price, ratio_of(st, price))
                st.last_ack_seq = env.seq
                st.acked_at = env.t
        case RepriceFailed(adv_no=adv_no):
            if (st := state.ads.get(adv_no)) is not None:
                if not event.sent:
                    st.rate_cap.forget_last()  # refused before it left: Binance never counted it
                if event.wait_s > 0:
                    st.cooldown_until = env.t + event.wait_s
        case AdPaused(adv_no=adv_no):
            if (st := state.ads.get(adv_no)) is not None:
                st.paused, st.paused_at = True, env.t
        case RepriceDone(adv_no=adv_no):
            if (st := state.ads.get(adv_no)) is not None:
                st.busy = False
    return state


def _apply_loaded(state: AdsState, loaded: MyAdsLoaded) -> None:
    resumed = set(resumed_by(state, loaded))
    for ad in loaded.ads:
        st = state.ads.get(ad.adv_no)
        if st is None:
            st = state.ads[ad.adv_no] = AdState(ad, *state.pricing_for(ad.adv_no))
            for t in state.carried.get(ad.adv_no, ()):
                st.rate_cap.record(t)
            continue
        if st.busy or st.last_ack_seq > loaded.asked_after_seq:
            # EP-4 answered with the price as it was when asked; a reprice acknowledged
            # since (or in flight) is newer, so keep it and take the rest (a floating ad the
            # ratio that goes with that price).
            st.ad = floating.moved(ad, st.ad.price, st.ad.floating_ratio
                                   if floating.is_floating(ad) else None)
        else:
            st.ad = ad
        if ad.adv_no in resumed:
            st.paused = False


def apply_decision(state: AdsState, decided: RepriceDecided) -> None:
    """Apply one of the actor's own decisions: the war guard folds it; a reprice counts against
    the rate cap when it is sent and makes the ad busy until its RepriceDone (in a dry run it
    takes the price at once)."""
    st = state.ads.get(decided.adv_no)
    if st is None:
        return
    if st.war is not None:
        st.war.apply(decided)
    if decided.action != "reprice":
        return
    st.rate_cap.record(decided.send_at if decided.send_at is not None else decided.at)
    if decided.new_ratio is not None:
        st.ratios = {decided.new_price: decided.new_ratio}
    if state.dry_run:
        st.ad = floating.moved(st.ad, decided.new_price, decided.new_ratio)
    else:
        st.busy = True


def decide(state: AdsState, snap: BookSnapshot, now: Callable[[str], float] | float
           ) -> list[RepriceDecided | PriceWarDetected]:
    """The verdicts on `snap` for each ad it prices: my online ads of its side and market that
    are neither paused nor busy with a reprice (those are skipped, and log nothing); a
    PriceWarDetected goes before the verdict that saw a war begin.

    `now` is the session time of the decision, or a function of the advNo giving it (a replay
    gives each ad the time its recorded decision read).
    """
    out = []
    opposite = state.books.get(opposite_key(book_key(snap)))
    for st in state.ads.values():
        ad = st.ad
        if (ad.side, ad.asset, ad.fiat) != (snap.ad_side, snap.asset, snap.fiat):
            continue
        if st.paused or st.busy or ad.status != 1:
            continue
        at = now(ad.adv_no) if callable(now) else now
        decided = decide_one(st, snap, opposite, at)
        war = st.war.take_started() if st.war is not None else None
        if war is not None:
            out.append(war)
        out.append(decided)
    return out


def decide_one(st: AdState, snap: BookSnapshot, opposite: BookSnapshot | None,
               now: float) -> RepriceDecided:
    """One ad's verdict on `snap` at session time `now`: the strategy, then Binance's cool-down
    (83628) for this ad, then the gap since its last reprice (the reprice waits it out)."""
    s = st.strategy
    quote: Quote = evaluate(snap, st.ad, s, st.filters, opposite,
                            rate_cap=st.rate_cap, now_s=now, war=st.war)
    if quote.price is not None and now < st.cooldown_until:
        quote = msgspec.structs.replace(
            quote, price=None, rule="cooldown",
            reason=f"{quote.reason}; holding: Binance asked this ad to wait (83628)")
    wait = st.rate_cap.gap_wait(now) if quote.price is not None else 0.0
    if wait > 0:
        # Binance answers a burst of updates with 83628 and a 30 s wait; the gap keeps one
        # ad's updates apart, and the price leaves as soon as the gap allows.
        quote = msgspec.structs.replace(quote, reason=(
            f"{quote.reason}; sent {wait:.3f} s later, {st.rate_cap.min_gap_s} s after the "
            "last reprice"))
    reprice = quote.price is not None
    return RepriceDecided(
        adv_no=st.ad.adv_no, strategy=s.name, action="reprice" if reprice else "hold",
        old_price=st.ad.price, new_price=quote.price, rule=quote.rule, reason=quote.reason,
        competitor=quote.competitor, competitor_price=quote.competitor_price,
        clamp=quote.clamp, at=now, send_at=round(now + wait, 6) if reprice else None,
        new_ratio=quote.ratio if reprice else None)


def restore_session(state: AdsState, envelopes: Iterable[Envelope]) -> list[str]:
    """Fold this session's events so far into `state` (a restarted actor), its recorded
    decisions included; return the ads left busy, whose reprice died with the last incarnation
    (the caller ends them with RepriceDone(restarted=True))."""
    for env in envelopes:
        event = env.event
        if env.source != "ads" and not isinstance(event, BookSnapshot):
            continue
        if isinstance(event, RepriceDecided):
            apply_decision(state, event)
        elif isinstance(event, PriceWarDetected):
            st = state.ads.get(event.adv_no)
            if st is not None and st.war is not None:
                st.war.apply(event)
        elif isinstance(event, (BookSnapshot, *OWN_TYPES)):
            apply(state, env)
    return [adv_no for adv_no, st in state.ads.items() if st.busy]

