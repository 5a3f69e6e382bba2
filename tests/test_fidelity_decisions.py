"""Re-deciding recorded decisions (backtest.recheck) on hand-built sessions."""

from decimal import Decimal as D

from events import (AdRepriced, BookAd, BookSnapshot, Envelope, MyAd, MyAdsLoaded,
                    RepriceDecided, RepriceDone)
from backtest.recheck import recheck
from strategies import FiltersConfig, SpreadParams, UndercutParams

MINE = MyAd(adv_no="me", side="SELL", asset="USDT", fiat="NGN", price=D("1000.00"), status=1,
            surplus=D("10"), min_amount=D("1000"), max_amount=D("5000"), pay_methods=("Bank",))
CFG = UndercutParams(step=D("1"), max_reprices_per_min=1)


def book(side, *prices):
    ads = tuple(BookAd(adv_no=f"{side}{i}", price=D(p), surplus=D("5"), min_amount=D("500"),
                       max_amount=D("100000"), pay_methods=("Bank",))
                for i, p in enumerate(prices))
    return BookSnapshot(asset="USDT", fiat="NGN", ad_side=side, pages=1, ads=ads)


def decided(old, new, rule, **kw):
    return RepriceDecided(adv_no="me", strategy="undercut", old_price=D(old),
                          action="reprice" if new else "hold",
                          new_price=D(new) if new else None, rule=rule, reason="as logged", **kw)


def done(t, old, new):
    """The reprice acknowledged and ended: the ad is free to be priced again."""
    return [(t, AdRepriced(adv_no="me", old_price=D(old), new_price=D(new)), None),
            (t, RepriceDone(adv_no="me"), None)]


def session(*items):
    """Envelopes from (t, event, cause) items, seq in order from 1."""
    return [Envelope(session=1, seq=i, ts_ms=0, t=t, source="x", cause=cause, event=e)
            for i, (t, e, cause) in enumerate(items, 1)]


def test_decisions_taken_by_the_live_actor_re_decide_identically_with_the_rate_cap_rebuilt():
    check = recheck(session(
        (0.0, MyAdsLoaded(ads=(MINE,)), None),
        (1.0, book("SELL", "1003.00"), None),
        (1.1, decided("1000.00", "1002.00", "already_leading"), 2),  # backs up under 1003
        *done(1.2, "1000.00", "1002.00"),
        (10.0, book("SELL", "1001.00"), None),
        (10.1, decided("1002.00", None, "rate_cap"), 6),  # 1 reprice a minute: 1.1 is recent
        (61.2, book("SELL", "1001.00"), None),
        (61.3, decided("1002.00", "1000.00", "undercut"), 8),  # 60.2 s later: allowed again
    ), CFG, FiltersConfig())
    assert (check.total, check.same, check.share, check.mismatches) == (3, 3, 1.0, ())


def test_a_decision_that_comes_out_differently_is_reported_with_both_verdicts():
    check = recheck(session(
        (0.0, MyAdsLoaded(ads=(MINE,)), None),
        (1.0, book("SELL", "1003.00"), None),
        (1.1, decided("1000.00", "1001.00", "undercut"), 2),
    ), CFG, FiltersConfig())
    assert (check.total, check.same) == (1, 0)
    [m] = check.mismatches
    assert (m.seq, m.adv_no) == (3, "me")
    assert m.recorded == ("reprice", D("1001.00"), "undercut")
    assert m.again == ("reprice", D("1002.00"), "already_leading")
    assert "differently on the same inputs" in m.why


def test_a_reprice_at_the_rate_caps_edge_is_explained_as_a_clock_difference():
    # The actor read its clock just past 60 s after the first reprice; the bus logged the
    # first one a little later, so re-deciding at the logged time still sees the cap full.
    check = recheck(session(
        (0.0, MyAdsLoaded(ads=(MINE,)), None),
        (1.0, book("SELL", "1003.00"), None),
        (1.1002, decided("1000.00", "1002.00", "already_leading"), 2),
        *done(1.2, "1000.00", "1002.00"),
        (61.0, book("SELL", "1001.00"), None),
        (61.1001, decided("1002.00", "1000.00", "undercut"), 6),
    ), CFG, FiltersConfig())
    [m] = check.mismatches
    assert m.again[2] == "rate_cap" and "60 s edge" in m.why


def test_spread_re_decides_against_the_opposite_book_the_actor_had_not_a_later_one():
    spread = SpreadParams(step=D("1"), min_margin=D("5"))
    check = recheck(session(
        (0.0, MyAdsLoaded(ads=(MINE,)), None),
        (0.5, book("BUY", "990.00"), None),
        (1.0, book("SELL", "1003.00"), None),
        # Logged before the decision but after its snapshot: the actor had not seen it yet.
        (1.05, book("BUY", "1000.00"), None),
        (1.1, decided("1000.00", "1002.00", "already_leading"), 3),
    ), spread, FiltersConfig())
    assert (check.total, check.same) == (1, 1)


def test_a_decision_without_its_snapshot_or_my_ad_is_counted_apart():
    check = recheck(session(
        (1.0, book("SELL", "1003.00"), None),
        (1.1, decided("1000.00", "1002.00", "already_leading"), 1),  # no MyAdsLoaded yet
        (2.0, MyAdsLoaded(ads=(MINE,)), None),
        (2.1, decided("1000.00", "1002.00", "already_leading"), 99),  # snapshot not given
    ), CFG, FiltersConfig())
    assert (check.total, check.unmatched, check.share) == (0, 2, 1.0)


def test_a_snapshot_that_came_while_a_reprice_was_under_way_is_skipped_as_live():
    """ads_core: an ad is busy from its reprice decision to its RepriceDone; the live actor
    logs no decision for it then, and the re-check (the same core) decides nothing either."""
    check = recheck(session(
        (0.0, MyAdsLoaded(ads=(MINE,)), None),
        (1.0, book("SELL", "1003.00"), None),
        (1.1, decided("1000.00", "1002.00", "already_leading"), 2),
        (1.2, book("SELL", "1003.00"), None),  # no decision: the reprice is under way
        *done(1.3, "1000.00", "1002.00"),
    ), UndercutParams(step=D("1")), FiltersConfig())
    assert (check.total, check.same, check.mismatches) == (1, 1, ())


def test_a_decision_logged_on_a_snapshot_the_core_would_skip_is_a_mismatch():
    check = recheck(session(
        (0.0, MyAdsLoaded(ads=(MINE,)), None),
        (1.0, book("SELL", "1003.00"), None),
        (1.1, decided("1000.00", "1002.00", "already_leading"), 2),
        (1.2, book("SELL", "1003.00"), None),
        (1.25, decided("1000.00", "1002.00", "already_leading"), 4),  # but it was busy
    ), UndercutParams(step=D("1")), FiltersConfig())
    [m] = check.mismatches
    assert m.again[0] == "skip" and "skipped" in m.why
