"""Re-decide a session's recorded decisions: the same function on the same inputs, the same verdict.

The ads actor logs a RepriceDecided for every BookSnapshot it prices, holds included: its `cause`
is the snapshot's seq and `old_price` my ad's price at that moment. `recheck` folds the session's
events in seq order and calls `strategies.evaluate` again for each decision with what the actor
had then: that snapshot; my ad as last loaded (MyAdsLoaded) at `old_price`; the other side's
latest snapshot logged before it (the actor reads its inbox in seq order and keeps the latest
of each side, complete or not); the session's [strategy] and [filters]; and a RateCap rebuilt
from the reprices decided for that ad before it.

The one input the log does not hold exactly is the clock the rate cap read: the actor passes
trio's clock at the moment it decides, the log keeps the bus's `t` of the RepriceDecided, a few
hundred microseconds later. Both run on one clock, so the window is the same; a verdict can only
differ when a reprice falls within that lag of the 60-second edge, and `Mismatch.why` says so.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import msgspec
from msgspec.structs import replace

from events import BookSnapshot, Envelope, MyAd, MyAdsLoaded, RepriceDecided
from strategies import FiltersConfig, RateCap, StrategyConfig, evaluate
from strategies.book import other_side

RECHECK_TYPES = (BookSnapshot, MyAdsLoaded, RepriceDecided)

Verdict = tuple[str, Decimal | None, str]  # (action, new_price, rule)


class Mismatch(msgspec.Struct, frozen=True, kw_only=True):
    """A recorded decision that came out differently when re-decided."""

    seq: int
    adv_no: str
    recorded: Verdict
    again: Verdict
    why: str


class DecisionCheck(msgspec.Struct, frozen=True, kw_only=True):
    """How many recorded decisions re-decided identically.

    `unmatched` counts decisions whose snapshot or ad is not in the events given (a session
    cut short, or a decision caused by something else); they are not in `total`.
    """

    total: int
    same: int
    mismatches: tuple[Mismatch, ...] = ()
    unmatched: int = 0

    @property
    def share(self) -> float:
        """The fraction identical (1.0 when there was nothing to compare)."""
        return self.same / self.total if self.total else 1.0


def verdict_of(decision: RepriceDecided) -> Verdict:
    """Return what a decision says: (action, new_price, rule)."""
    return decision.action, decision.new_price, decision.rule


class _Fold:
    def __init__(self, cfg: StrategyConfig, filters: FiltersConfig) -> None:
        self.cfg = cfg
        self.filters = filters
        self.seen: dict[int, tuple[BookSnapshot, BookSnapshot | None]] = {}
        self.latest: dict[str, BookSnapshot] = {}
        self.ads: dict[str, MyAd] = {}
        self.caps: dict[str, RateCap] = {}
        self.total = self.same = self.unmatched = 0
        self.mismatches: list[Mismatch] = []

    def book(self, seq: int, snap: BookSnapshot) -> None:
        self.seen[seq] = (snap, self.latest.get(other_side(snap.ad_side)))
        self.latest[snap.ad_side] = snap

    def decision(self, env: Envelope, decided: RepriceDecided) -> None:
        inputs = self.seen.get(env.cause) if env.cause is not None else None
        ad = self.ads.get(decided.adv_no)
        if inputs is None or ad is None:
            self.unmatched += 1
            return
        snap, opposite = inputs
        cap = self.caps.setdefault(decided.adv_no, RateCap(self.cfg.max_reprices_per_min, self.cfg.min_reprice_gap_s))
        now = decided.at or env.t  # the clock the decision read, where the log holds it
        quote = evaluate(self.cfg.name, snap, replace(ad, price=decided.old_price), self.cfg,
                         self.filters, opposite, rate_cap=cap, now_s=now)
        again: Verdict = ("reprice" if quote.price is not None else "hold", quote.price,
                          quote.rule)
        recorded = verdict_of(decided)
        self.total += 1
        if again == recorded:
            self.same += 1
        else:
            self.mismatches.append(Mismatch(seq=env.seq, adv_no=decided.adv_no,
                                            recorded=recorded, again=again,
                                            why=_why(recorded, again)))
        if decided.action == "reprice":
            cap.record(now + cap.gap_wait(now))  # the actor counts what it decided, as it did


def _why(recorded: Verdict, again: Verdict) -> str:
    if "rate_cap" in (recorded[2], again[2]):
        return ("a reprice at the rate cap's 60 s edge: the log keeps the bus's time of each "
                "decision, a little after the clock the actor read")
    return "the strategy answered differently on the same inputs"


def recheck(envelopes: Iterable[Envelope], cfg: StrategyConfig,
            filters: FiltersConfig) -> DecisionCheck:
    """Re-decide every RepriceDecided of one session and count the identical verdicts.

    Args:
        envelopes: the session's events in seq order (at least RECHECK_TYPES).
        cfg: the [strategy] the session ran with (its `name` is the strategy re-run).
        filters: the [filters] it ran with.
    """
    fold = _Fold(cfg, filters)
    for env in envelopes:
        match env.event:
            case BookSnapshot() as snap:
                fold.book(env.seq, snap)
            case MyAdsLoaded(ads=ads):
                fold.ads.update((ad.adv_no, ad) for ad in ads)
            case RepriceDecided() as decided:
                fold.decision(env, decided)
    return DecisionCheck(total=fold.total, same=fold.same, mismatches=tuple(fold.mismatches),
                         unmatched=fold.unmatched)
