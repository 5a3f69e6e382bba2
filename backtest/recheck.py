"""Re-decide a session's recorded decisions with the ads actor's own core, and count the same.

The ads actor is a shell around a pure core (actors/ads_core.py): its state is a fold of the
log, and its verdicts come from `decide`. `recheck` repeats exactly that: it folds the session's
events in seq order with `ads_core.apply` and, at each BookSnapshot, calls `ads_core.decide` at
the time the live decision read (logged as `RepriceDecided.at`), so busy ads (a reprice under
way until its RepriceDone), paused ads and Binance's cool-downs are skipped or held as they
were live. Each verdict is compared with the decisions the live actor logged for that snapshot
(their `cause`): action, price, rule and, with `reasons`, the reason word for word. A snapshot
the live actor skipped for an ad and the re-check did not (or the other way round) is a
mismatch too. The recorded decision is then applied, so one difference does not cascade.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

import msgspec

from actors import ads_core
from events import BookSnapshot, Envelope, RepriceDecided
from strategies import FiltersConfig, StrategyParams

RECHECK_TYPES = (BookSnapshot, RepriceDecided, *ads_core.OWN_TYPES)
SKIPPED = ("skip", None, "busy or paused")

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


def _why(rec: RepriceDecided | None, new: RepriceDecided | None) -> str:
    if rec is None or new is None:
        return ("one side skipped the snapshot (a reprice under way, or the ad paused) and the "
                "other decided on it")
    if verdict_of(rec) == verdict_of(new):
        return f"the same verdict for another reason: {rec.reason!r} against {new.reason!r}"
    if "rate_cap" in (rec.rule, new.rule) and not rec.at:
        return ("a reprice at the rate cap's 60 s edge: the log keeps the bus's time of each "
                "decision, a little after the clock the actor read")
    return "the strategy answered differently on the same inputs"


def recheck(envelopes: Iterable[Envelope], cfg: StrategyParams, filters: FiltersConfig, *,
            pricing_for=None, reasons: bool = False) -> DecisionCheck:
    """Re-decide every RepriceDecided of one session and count the identical verdicts.

    Args:
        envelopes: the session's events in seq order (at least RECHECK_TYPES).
        cfg: the [strategy] the session ran with (its `name` is the strategy re-run).
        filters: the [filters] it ran with.
        pricing_for: advNo -> (strategy, filters) when ads had their own overrides.
        reasons: compare the reasons too, word for word.
    """
    envs = list(envelopes)
    by_cause: dict[int, list[Envelope]] = defaultdict(list)
    for env in envs:
        if isinstance(env.event, RepriceDecided) and env.cause is not None:
            by_cause[env.cause].append(env)
    state = ads_core.AdsState(pricing_for or (lambda adv_no: (cfg, filters)))
    total = same = unmatched = 0
    mismatches: list[Mismatch] = []
    snapshots = {env.seq for env in envs if isinstance(env.event, BookSnapshot)}
    for env in envs:
        event = env.event
        if isinstance(event, RepriceDecided):
            if env.cause not in snapshots:
                unmatched += 1  # caused by something not given (a session cut short)
            continue
        if not isinstance(event, (BookSnapshot, *ads_core.OWN_TYPES)):
            continue
        ads_core.apply(state, env)
        if not isinstance(event, BookSnapshot):
            continue
        recorded = {e.event.adv_no: e for e in by_cause.pop(env.seq, ())}
        again = {d.adv_no: d for d in ads_core.decide(
            state, event, lambda adv_no: _time_read(recorded.get(adv_no), env.t))
            if isinstance(d, RepriceDecided)}
        for adv_no in sorted(set(recorded) | set(again)):
            rec_env, new = recorded.get(adv_no), again.get(adv_no)
            if rec_env is not None and adv_no not in state.ads:
                unmatched += 1  # my ad not loaded yet in the events given
                continue
            total += 1
            rec = rec_env.event if rec_env is not None else None
            if _same(rec, new, reasons):
                same += 1
            else:
                mismatches.append(Mismatch(
                    seq=rec_env.seq if rec_env is not None else env.seq, adv_no=adv_no,
                    recorded=verdict_of(rec) if rec else SKIPPED,
                    again=verdict_of(new) if new else SKIPPED,
                    why=_why(rec, new)))
            if rec is not None:
                # The live state followed what was logged (at the time it read).
                at = _time_read(rec_env, env.t)
                ads_core.apply_decision(state, msgspec.structs.replace(rec, at=at))
    return DecisionCheck(total=total, same=same, mismatches=tuple(mismatches),
                         unmatched=unmatched)


def _time_read(recorded: Envelope | None, fallback: float) -> float:
    if recorded is None:
        return fallback
    return recorded.event.at or recorded.t  # logs before `at` have the bus's time only


def _same(rec: RepriceDecided | None, new: RepriceDecided | None, reasons: bool) -> bool:
    if rec is None or new is None:
        return rec is new
    if verdict_of(rec) != verdict_of(new):
        return False
    return not reasons or rec.reason == new.reason
