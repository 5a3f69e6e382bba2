"""A run longer than `[log] rotate_after_h` goes on in new sessions (app/rotate.py), each whole,
each replaying identical, with what the actors carry on with restored from the last summary."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from actors import ads_core
from actors.config import ConfigError, load_config
from actors.restore import Restored, Summarizer, restore
from app.demo import VIRTUAL_BASE_MS, VIRTUAL_URL, demo_config, run_virtual
from events import (ApiRequest, BookAd, BookSnapshot, ChatSendRequest, Envelope, LimiterBackoff,
                    MyAd, MyAdsLoaded, OrderOpened, OrderStatusChanged, RepriceDecided,
                    RequestDispatched, SessionSummary)
from replay.runner import replay_session
from sim import SimConfig
from store import open_log


def _cfg(rotate_after_h: float, **sections):
    base = msgspec.to_builtins(demo_config(VIRTUAL_URL, SimConfig(seed=7)))
    base["log"] = {"rotate_after_h": rotate_after_h}
    for name, values in sections.items():
        base.setdefault(name, {}).update(values)
    return load_config(base)


def _number(request_id: str) -> tuple[str, int]:
    actor, _, n = request_id.rpartition("-")
    return actor, int(n)


def test_a_run_longer_than_rotate_after_h_goes_on_in_sessions_that_each_replay_identical(
        tmp_path):
    with open_log(tmp_path / "bot.db") as log:
        first, _ = run_virtual(log, duration=200, cfg=_cfg(0.02))  # a session every 72 s
        sessions = log.sessions()
        assert [s.id for s in sessions] == [first, first + 1, first + 2]
        assert [s.end_reason for s in sessions] == ["rotated", "rotated", "duration"]
        assert [(s.started_ms - VIRTUAL_BASE_MS, s.ended_ms - VIRTUAL_BASE_MS)
                for s in sessions] == [(0, 72_000), (72_000, 144_000), (144_000, 200_000)]
        # Request ids go on across the boundary: none is used twice, none goes back.
        last: dict[str, int] = {}
        for s in sessions:
            ids = [_number(e.event.request_id) for e in log.events(s.id, types=(ApiRequest,))]
            for actor, n in ids:
                assert n > last.get(actor, 0), (s.id, actor, n)
            for actor, n in ids:
                last[actor] = max(last.get(actor, 0), n)
        # An order is opened once and greeted once over all sessions, and an order opened
        # before a boundary is followed after it.
        opened, greeted, followed = [], [], set()
        for s in sessions:
            here = {e.event.order_no for e in log.events(s.id, types=(OrderOpened,))}
            opened += sorted(here)
            greeted += [e.event.order_no for e in log.events(s.id, types=(ChatSendRequest,))
                        if e.event.reason == "greeting"]
            followed |= {e.event.order_no for e in log.events(s.id, types=(OrderStatusChanged,))
                         if e.event.order_no not in here}
        assert opened and len(opened) == len(set(opened))
        assert len(greeted) == len(set(greeted))
        assert followed and followed <= set(opened)
        # Every session ends with its summary, and replays identical on its own.
        for s in sessions:
            last_two = list(log.events(s.id, after_seq=s.events - 2))
            assert isinstance(last_two[0].event, SessionSummary)
            result = replay_session(log, s.id)
            assert result.equal, (s.id, result.divergence, result.unrecorded)


def test_a_new_session_keeps_the_last_ones_host_pause_and_goes_on_with_its_request_ids(
        tmp_path):
    with open_log(tmp_path / "bot.db") as log:
        sid = log.start_session("demo", "{}", VIRTUAL_BASE_MS - 90_000)
        log.append_events(sid, [SessionSummary(
            last_event_ms=VIRTUAL_BASE_MS - 60_000, requests={"market": 500, "ads": 40},
            paused_until_ms={"bapi": VIRTUAL_BASE_MS + 20_000})], source="run",
            ts_ms=VIRTUAL_BASE_MS - 60_000)
        log.end_session(sid, VIRTUAL_BASE_MS - 60_000, "rotated")
        new, _ = run_virtual(log, duration=30, cfg=_cfg(0))
        sent = [(e.t, e.event) for e in log.events(new, types=(RequestDispatched,))]
        requests = [e.event for e in log.events(new, types=(ApiRequest,))]
    by_id = {r.request_id: r for r in requests}
    book = [t for t, d in sent if by_id[d.request_id].base == "bapi"]
    signed = [t for t, d in sent if by_id[d.request_id].base == "sapi"]
    assert min(book) >= 20.0  # the public host's pause outlived the session
    assert min(signed) < 5.0  # the other host never paused
    market = sorted(_number(r.request_id)[1] for r in requests if r.request_id.startswith("market-"))
    ads = sorted(_number(r.request_id)[1] for r in requests if r.request_id.startswith("ads-"))
    assert market[0] == 501 and ads[0] == 41


def test_a_new_session_counts_the_last_ones_reprices_against_an_ads_rate_cap(tmp_path):
    capped, free = "16928469235482366640", "12828569042682299717"  # the demo's two ads
    with open_log(tmp_path / "bot.db") as log:
        sid = log.start_session("demo", "{}", VIRTUAL_BASE_MS - 90_000)
        log.append_events(sid, [SessionSummary(
            last_event_ms=VIRTUAL_BASE_MS - 60_000,
            reprices_ms={capped: (VIRTUAL_BASE_MS - 30_000, VIRTUAL_BASE_MS - 29_000)})],
            source="run", ts_ms=VIRTUAL_BASE_MS - 60_000)
        log.end_session(sid, VIRTUAL_BASE_MS - 60_000, "rotated")
        new, _ = run_virtual(log, duration=40, cfg=_cfg(0, strategy={"max_reprices_per_min": 2}))
        first = {}
        for e in log.events(new, types=(RepriceDecided,)):
            if e.event.action == "reprice":
                first.setdefault(e.event.adv_no, e.t)
    assert first[free] < 30.0
    assert first[capped] >= 30.0  # 2 a minute: the first carried reprice counts until 30 s


def _env(seq: int, event, ts_ms: int, t: float = 0.0, source: str = "limiter") -> Envelope:
    return Envelope(session=1, seq=seq, ts_ms=ts_ms, t=t, source=source, cause=None, event=event)


def _decided(adv_no: str, at: float, send_at: float | None) -> RepriceDecided:
    return RepriceDecided(adv_no=adv_no, strategy="undercut", action="reprice",
                          old_price=Decimal("1"), new_price=Decimal("2"), rule="undercut",
                          reason="", at=at, send_at=send_at)


def test_the_summary_carries_request_numbers_pauses_and_the_last_minutes_reprices():
    s = Summarizer(Restored(requests={"ads": 9}))
    s.tap(_env(1, ApiRequest(request_id="ads-12", endpoint="EP-7", method="POST", base="sapi",
                             path="/x"), 1_000))
    s.tap(_env(2, ApiRequest(request_id="market-3", endpoint="EP-0", method="POST", base="bapi",
                             path="/y"), 1_000))
    s.tap(_env(3, LimiterBackoff(reason="418", delay_s=120.0, host="bapi"), 2_000))
    s.tap(_env(4, LimiterBackoff(reason="weight", delay_s=999.0, host="sapi"), 2_000))
    s.tap(_env(5, _decided("7", 1.0, 1.5), 10_000, source="ads"))
    s.tap(_env(6, _decided("7", 70.0, None), 80_000, source="ads"))
    s.tap(_env(7, _decided("8", 2.0, None), 5_000, source="ads"))
    summary = s.summary()
    assert summary.requests == {"ads": 12, "market": 3}
    assert summary.paused_until_ms == {"bapi": 122_000}  # a weight slow-down is no pause
    # Ad 7's reprice at 10.5 s fell out of the minute before its next; ad 8's is over a
    # minute older than the run's last event.
    assert summary.reprices_ms == {"7": (80_000,)}


def test_reprices_carried_from_the_last_session_count_against_the_rate_cap():
    ad = MyAd(adv_no="7", side="SELL", asset="USDT", fiat="NGN", price=Decimal("1500"),
              status=1, max_amount=Decimal("100000"))
    cfg = load_config({"strategy": {"max_reprices_per_min": 2, "min_reprice_gap_s": 0}})
    book = BookSnapshot(asset="USDT", fiat="NGN", ad_side="SELL", pages=1, ads=(
        BookAd(adv_no="9", price=Decimal("1490"), surplus=Decimal("100"),
               min_amount=Decimal("1000"), max_amount=Decimal("50000")),))

    def verdict(carried):
        state = ads_core.AdsState(cfg.pricing_for)
        state.carried = carried
        ads_core.apply(state, _env(1, MyAdsLoaded(ads=(ad,)), 0, source="ads"))
        return ads_core.decide(state, book, 5.0)[-1]

    assert verdict({}).action == "reprice"
    held = verdict({"7": (-40.0, -10.0)})  # two reprices in the minute before this session
    assert (held.action, held.rule) == ("hold", "rate_cap")
    assert verdict({"7": (-56.0, -55.5)}).action == "reprice"  # out of the minute by now


def test_restore_after_a_clean_end_gives_what_the_summary_carries(tmp_path):
    with open_log(tmp_path / "bot.db") as log:
        sid = log.start_session("live", "{}", 0)
        log.append_events(sid, [SessionSummary(last_event_ms=5, requests={"ads": 3},
                                               paused_until_ms={"sapi": 99},
                                               reprices_ms={"7": (4,)})],
                          source="run", ts_ms=5)
        got = restore(log)
    assert (got.requests, got.paused_until_ms, got.reprices_ms) == (
        {"ads": 3}, {"sapi": 99}, {"7": [4]})


def test_a_negative_rotate_after_h_is_refused_in_one_line():
    with pytest.raises(ConfigError, match="log.rotate_after_h must be >= 0"):
        load_config({"log": {"rotate_after_h": -1}})


def test_a_rotation_stops_as_rotated_and_alerts_only_the_runs_real_stop(tmp_path):
    import random

    import httpx
    import trio
    import trio.testing

    from actors.config import config_json
    from actors.system import LIVE_ACTORS, BotDeps
    from app.demo import virtual_now_ms
    from app.rotate import Sessions, run_rotating
    from c2c.credentials import Credentials
    from events import AlertSent, RunStopped
    from sim import DEMO_API_KEY, DEMO_SECRET, SimExchange
    from sim.inprocess import SimTransport, chat_connector
    from tests.test_notify import FakeAlerts, channels

    cfg, fake = _cfg(0.01), FakeAlerts()  # a session every 36 s
    log = open_log(tmp_path / "bot.db")
    sessions = Sessions(log, log.start_session("live", config_json(cfg, actors=LIVE_ACTORS),
                                               VIRTUAL_BASE_MS), virtual_now_ms)

    async def main():
        exchange = SimExchange(SimConfig(seed=7), now_ms=virtual_now_ms)
        async with trio.open_nursery() as nursery:
            await nursery.start(exchange.run_market)
            async with httpx.AsyncClient(transport=SimTransport(exchange, rng=random.Random(1))) \
                    as client, httpx.AsyncClient(transport=fake.transport()) as alert_client:
                deps = BotDeps(config=cfg, client=client, connect=chat_connector(exchange),
                               credentials=Credentials(DEMO_API_KEY, DEMO_SECRET),
                               now_ms=virtual_now_ms, alert_channels=channels(alert_client))
                reason = await run_rotating(log, sessions, deps, actors=LIVE_ACTORS,
                                            duration=80, rotate_after_s=36)
            nursery.cancel_scope.cancel()
        return reason

    reason = trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    log.end_session(sessions.current, VIRTUAL_BASE_MS + 80_000, reason)
    with log:
        stops = [e.event.reason for s in sessions.ids
                 for e in log.events(s, types=(RunStopped,))]
        alerts = [e.event.kind for s in sessions.ids for e in log.events(s, types=(AlertSent,))]
        ends = [s.end_reason for s in log.sessions()]
    assert stops == ["rotated", "rotated", "duration"] and ends == stops
    assert alerts.count("run_stopped") == 2  # the last stop, through telegram and the webhook


def test_a_record_run_rotates_too_and_its_next_session_goes_on_with_its_request_ids(tmp_path):
    from actors.system import RECORD_ACTORS
    cfg = _cfg(0.01)  # a session every 36 s
    with open_log(tmp_path / "bot.db") as log:
        first, _ = run_virtual(log, duration=80, cfg=cfg, actors=RECORD_ACTORS, mode="record")
        sessions = log.sessions()
        assert [(s.mode, s.end_reason) for s in sessions] == [
            ("record", "rotated"), ("record", "rotated"), ("record", "duration")]
        numbers = [[_number(e.event.request_id)[1] for e in log.events(s.id, types=(ApiRequest,))
                    if e.event.request_id.startswith("market-")] for s in sessions]
        assert numbers[1][0] == max(numbers[0]) + 1 and numbers[2][0] == max(numbers[1]) + 1
        for s in sessions:
            result = replay_session(log, s.id)
            assert result.equal, (s.id, result.divergence, result.unrecorded)
