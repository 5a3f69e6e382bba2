"""The notifier's pure core: a fold of the log (the events that raise alerts and feed the day's
summary, and the notifier's own deliveries) and a decision per event or summary hour, tested
without trio. The shell (actors/notify.py) delivers; tests/test_restart.py kills it."""

from decimal import Decimal as D

from actors import notify, notify_core as core
from actors.config import AlertsConfig
from actors.notify_core import DayEnded, Duplicate, NewDay, Offer, Sending, State
from events import (AdPaused, AdRepriced, AlertFailed, AlertSent, Envelope, OrderOpened,
                    OrderStatusChanged)


def env(seq, event, t=None, cause=None, source="x"):
    return Envelope(session=1, seq=seq, ts_ms=0, t=float(seq) if t is None else t, source=source,
                    cause=cause, event=event)


def opened(no):
    return OrderOpened(order_no=no, adv_no="111", side="SELL", asset="USDT", fiat="NGN",
                       amount=D("10.5"), price=D("1600"), total_price=D("16800"), status=1)


def paused(adv="111"):
    return AdPaused(adv_no=adv, code=83229, reason="suspended")


def sent(key, kind="ad_paused", channel="telegram"):
    return AlertSent(channel=channel, kind=kind, key=key, text="...", status=200)


def test_an_alert_is_offered_once_per_key_within_dedup_s():
    s = State(AlertsConfig(dedup_s=600.0))
    [offer] = core.decide(s, env(1, paused(), t=0.0))
    assert isinstance(offer, Offer) and offer.alert.key == "ad_paused:111" and offer.at == 0.0
    core.apply_step(s, offer)
    assert core.decide(s, env(2, paused(), t=599.0)) == [Duplicate("ad_paused:111")]
    assert [type(x) for x in core.decide(s, env(3, paused(), t=600.0))] == [Offer]
    assert core.decide(State(AlertsConfig(kinds=("order_opened",))), env(4, paused())) == []


def test_a_restarted_notifier_folds_what_it_delivered_and_dates_it_by_the_raising_event():
    """The fold of the session so far: an alert delivered (or failed, or dropped) counts as
    offered at the time of the event that raised it, so the same key stays quiet for dedup_s."""
    log = [env(1, paused(), t=10.0),
           env(2, sent("ad_paused:111"), t=40.0, cause=1),  # paced: delivered 30 s later
           env(3, paused("222"), t=50.0),
           env(4, AlertFailed(channel="telegram", kind="ad_paused", key="ad_paused:222",
                              error="dropped: the channel's queue is full"), t=50.0, cause=3)]
    s = core.fold(log, State(AlertsConfig(dedup_s=600.0)))
    assert s.offered == {"ad_paused:111": 10.0, "ad_paused:222": 50.0}
    assert core.decide(s, env(5, paused(), t=300.0)) == [Duplicate("ad_paused:111")]
    assert [type(x) for x in core.decide(s, env(6, paused(), t=610.0))] == [Offer]
    # An event whose alert never went out (still in the dead notifier's inbox) is offered.
    assert [type(x) for x in core.decide(s, env(7, paused("333"), t=60.0))] == [Offer]


def test_the_days_counts_are_folded_and_start_again_at_the_summarys_first_outcome():
    log = [env(1, opened("1")), env(2, AdRepriced(adv_no="111", old_price=D(1), new_price=D(2))),
           env(3, OrderStatusChanged(order_no="1", old_status=1, new_status=4))]
    s = core.fold(log, State())
    [offer, new_day] = core.decide(s, DayEnded("2026-01-01"), now=4.0)
    assert offer.alert.text == (
        "Daily summary 2026-01-01 (UTC): 1 new orders, 1 completed (SELL USDT 10.5), "
        "0 cancelled, 1 reprices, 0 ad pauses, breaker opened 0 times")
    assert new_day == NewDay("daily_summary:2026-01-01")
    # A restart after the summary went out: its outcome starts the counts again, once.
    key = "daily_summary:2026-01-01"
    core.fold([env(4, sent(key, "daily_summary")), env(5, opened("2")),
               env(6, sent(key, "daily_summary", channel="webhook"))], s)
    assert s.day.counts["orders"] == 1 and s.day.counts["reprices"] == 0
    assert core.decide(s, DayEnded("2026-01-01"), now=7.0) == []  # never sent twice


def test_each_channels_pace_is_folded_from_its_deliveries_drops_excluded():
    s = State(AlertsConfig(max_per_minute=2))
    core.fold([env(1, paused("1")), env(2, sent("ad_paused:1"), t=100.0, cause=1),
               env(3, paused("2")), env(4, sent("ad_paused:2"), t=110.0, cause=3),
               env(5, AlertFailed(channel="telegram", kind="ad_paused", key="ad_paused:3",
                                  error="dropped: the channel's queue is full"), t=111.0)], s)
    assert core.pace(s, "telegram", 120.0, 2) == 160.0
    assert core.pace(s, "webhook", 120.0, 2) == 120.0
    assert core.pace(s, "telegram", 165.0, 2) == 165.0  # the first left the window
    core.apply_step(s, Sending("telegram", 165.0))
    assert core.pace(s, "telegram", 166.0, 2) == 170.0


def test_a_restarted_shell_counts_an_event_it_folded_once_and_still_alerts_it():
    """The envelopes a dead notifier left unread are in its fold and again in its inbox: the
    day counts them once, and their alerts (never offered) go out."""
    notifier = notify.Notifier(AlertsConfig(), (), None, lambda: 0,
                               state=core.fold([env(1, opened("1"))], State()))
    notifier.observe(env(1, opened("1")))
    assert notifier.state.day.counts["orders"] == 1
    assert "order_opened:1" in notifier.state.offered
    notifier.observe(env(2, opened("2")))
    assert notifier.state.day.counts["orders"] == 2
