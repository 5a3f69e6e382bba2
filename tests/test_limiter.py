"""The limiter under MockClock against the simulator: Binance's limits (reference §7), the
breaker, backoff, priorities, write-ahead."""

import pytest
import trio
import trio.testing

from c2c import endpoints
from events import (ActorFailed, ApiError, ApiRequest, ApiResponse, BreakerClosed, BreakerOpened,
                    ClockSynced, LimiterBackoff)
from tests.harness import SimBinance, answers, config, query_of, running_bot

LIMITER = ("limiter",)


def max_in_any_window(times: list[float], window: float = 1.0) -> int:
    times = sorted(times)
    return max((sum(1 for u in times if t <= u < t + window) for t in times), default=0)


async def test_no_one_second_window_ever_holds_more_than_rps_requests(tmp_path, autojump_clock):
    fake = SimBinance()
    async with running_bot(tmp_path, fake, actors=LIMITER, listen=(ApiResponse,)) as h:
        for i in range(30):
            await h.emit(endpoints.search_ads(f"tester-{i}", asset="USDT", fiat="NGN",
                                              want="sellers", page=1))
        for i in range(30, 40):
            await h.emit(endpoints.list_orders(f"tester-{i}", page=1))
        for _ in range(40):
            await h.next_event(ApiResponse)
    times = [t for t, ep, _ in fake.requests]
    assert len(times) == 41  # the 40 requests and the clock sync at start
    assert max_in_any_window(times) <= 5
    # Routine calls leave one slot per window for urgent ones, and still keep up the pace.
    assert max(times) <= 40 / 4 * 1.03 + 0.1


async def test_an_order_detail_goes_before_queued_book_polls(tmp_path, autojump_clock):
    fake = SimBinance()
    fake.my_ad("111", "SELL", "1600.00")
    order_no = fake.open_order("111")
    async with running_bot(tmp_path, fake, actors=LIMITER, listen=(ApiResponse,)) as h:
        for i in range(12):
            await h.emit(endpoints.search_ads(f"tester-{i}", asset="USDT", fiat="NGN",
                                              want="sellers", page=1))
        await h.emit(endpoints.order_detail("tester-99", order_no=order_no, signed=True))
        for _ in range(13):
            await h.next_event(ApiResponse)
    order = [ep for _, ep, _ in fake.requests]
    # The clock sync, then the polls that fit the first window, then the detail at once.
    assert order.index("EP-13") <= 5


async def test_breaker_opens_after_15_failures_stays_silent_45s_then_tries_once(
        tmp_path, autojump_clock):
    fake = SimBinance()
    cfg = config(limits={"breaker_failures": 15, "breaker_open_s": 45})
    fake.push("EP-15", *[answers.dropped("refused")] * 16)
    async with running_bot(tmp_path, fake, actors=LIMITER, cfg=cfg,
                           listen=(ApiError, ApiResponse, BreakerOpened, BreakerClosed)) as h:
        for i in range(3):  # each is tried 5 times: 15 consecutive failures
            await h.emit(endpoints.list_orders(f"tester-{i}", page=1))
            final = await h.final_reply(f"tester-{i}")
            assert final.event.attempt == 5
        opened = await h.next_event(BreakerOpened)
        t_open = trio.current_time()
        calls_at_open = len(fake.calls("EP-15"))
        assert calls_at_open == 15
        await trio.sleep(10)
        await h.emit(endpoints.list_orders("tester-10", page=1))
        refused = await h.next_event(ApiError)
        while refused.event.request_id != "tester-10":
            refused = await h.next_event(ApiError)
        assert refused.event.kind == "breaker_open"
        assert len(fake.calls("EP-15")) == 15  # silent: no call at all while open
        await trio.sleep_until(t_open + 45)
        await h.emit(endpoints.list_orders("tester-11", page=1))  # the one trial (fails)
        await h.next_event(BreakerOpened)
        t_reopen = trio.current_time()  # when the trial's answer (a round trip) came back
        assert len(fake.calls("EP-15")) == 16
        assert fake.calls("EP-15")[-1][0] == t_open + 45
        await h.emit(endpoints.list_orders("tester-12", page=1))
        await trio.testing.wait_all_tasks_blocked()
        assert len(fake.calls("EP-15")) == 16  # reopened: silent again
        await trio.sleep_until(t_reopen + 45)
        await h.emit(endpoints.list_orders("tester-13", page=1))  # trial succeeds
        await h.next_event(BreakerClosed)
    assert opened.event.failures == 15


async def test_stale_timestamp_resyncs_the_clock_and_retries_once_with_a_fresh_signature(
        tmp_path, autojump_clock):
    """Reference §2, §7: -1021 when the timestamp is outside the recvWindow; the simulator
    refuses it itself once its clock runs ahead."""
    fake = SimBinance()
    async with running_bot(tmp_path, fake, actors=LIMITER, listen=(ApiResponse,)) as h:
        await trio.sleep(3)
        fake.skew(70_000)  # the server's clock ran ahead
        await h.emit(endpoints.list_orders("tester-1", page=1))
        final = await h.final_reply("tester-1")
    eps = [ep for _, ep, _ in fake.requests]
    assert eps == ["TIME", "EP-15", "TIME", "EP-15"]
    assert final.event.status == 200 and final.event.attempt == 2
    synced = h.events(ClockSynced)
    assert len(synced) == 2 and abs(synced[-1].offset_ms - 70_000) <= 1
    first, second = (query_of(r) for _, r in fake.calls("EP-15"))
    assert int(second["timestamp"]) - int(first["timestamp"]) >= 70_000 - 5


async def test_429_backs_off_for_retry_after_then_retries(tmp_path, autojump_clock):
    fake = SimBinance()
    fake.push("EP-15", answers.too_many(2.0))  # reference §7: Retry-After in seconds
    async with running_bot(tmp_path, fake, actors=LIMITER, listen=(ApiResponse,)) as h:
        await h.emit(endpoints.list_orders("tester-1", page=1))
        final = await h.final_reply("tester-1")
    (t1, _), (t2, _) = fake.calls("EP-15")
    assert t2 - t1 >= 2.0
    assert final.event.status == 200
    assert any(b.reason == "backoff" and b.delay_s >= 2.0 for b in h.events(LimiterBackoff))


async def test_ip_ban_418_on_the_merchant_api_stops_its_calls_until_retry_after_but_not_ep0(
        tmp_path, autojump_clock):
    """Issue 11: a 418 on api.binance.com pauses the signed calls only; p2p.binance.com's public
    book (another host behind its own edge, reference §1 and §3) keeps being read."""
    fake = SimBinance()
    fake.push("EP-15", "418")  # -1003 with Retry-After 120 (reference §7)
    async with running_bot(tmp_path, fake, actors=LIMITER, listen=(ApiResponse,)) as h:
        await h.emit(endpoints.list_orders("tester-1", page=1))
        await trio.sleep(1)
        await h.emit(endpoints.search_ads("tester-2", asset="USDT", fiat="NGN", want="buyers",
                                          page=1))
        await h.emit(endpoints.list_my_ads("tester-3", page=1))
        for _ in range(3):
            await h.next_event(ApiResponse)
    banned_at = fake.calls("EP-15")[0][0]
    sapi_later = [t for t, ep, _ in fake.requests if t > banned_at and ep != "EP-0"]
    assert sapi_later and min(sapi_later) >= banned_at + 120
    (ep0_at, _), = fake.calls("EP-0")
    assert ep0_at < banned_at + 2


async def test_restricted_location_451_ends_the_run_with_one_clear_reason(tmp_path, autojump_clock):
    fake = SimBinance()
    fake.push("EP-15", "451")  # reference §7: fatal
    async with running_bot(tmp_path, fake, actors=LIMITER, listen=(ApiResponse,)) as h:
        await h.emit(endpoints.list_orders("tester-1", page=1))
        await trio.sleep(5)
    assert h.reason.startswith("fatal")
    assert "restricted location" in h.reason


async def test_an_effect_is_durable_in_the_log_before_it_reaches_binance(tmp_path, autojump_clock):
    fake = SimBinance()
    fake.my_ad("77", "SELL", "1600.00")
    seen_in_log = []

    def check(endpoint, request):
        if endpoint == "EP-7":
            import sqlite3
            con = sqlite3.connect(tmp_path / "bot.db")
            rows = con.execute("SELECT payload FROM events WHERE type='ApiRequest'").fetchall()
            seen_in_log.append(any(b'"tester-1"' in bytes(r[0]) if isinstance(r[0], bytes)
                                   else '"tester-1"' in r[0] for r in rows))
            con.close()

    fake.on_request = check
    async with running_bot(tmp_path, fake, actors=LIMITER, listen=(ApiResponse,)) as h:
        from decimal import Decimal
        await h.emit(endpoints.update_price("tester-1", adv_no="77", price=Decimal("1599.99")))
        await h.next_event(ApiResponse)
    assert seen_in_log == [True]


async def test_weight_header_past_80_percent_slows_the_limiter(tmp_path, autojump_clock):
    """Reference §7: /sapi/* reports X-SAPI-USED-IP-WEIGHT-1M, 12,000 a minute per IP. The
    account has used 11,000 in the last minute when the test starts."""
    fake = SimBinance()
    for _ in range(10_999):
        fake.exchange.sapi_weight.add("127.0.0.1", 0.0)
    async with running_bot(tmp_path, fake, actors=LIMITER, listen=(ApiResponse,)) as h:
        await h.emit(endpoints.list_orders("tester-0", page=1))
        await h.next_event(ApiResponse)
        for i in range(1, 9):
            await h.emit(endpoints.list_orders(f"tester-{i}", page=1))
        for _ in range(8):
            await h.next_event(ApiResponse)
    assert any(b.reason == "weight" for b in h.events(LimiterBackoff))
    times = [t for t, _ in fake.calls("EP-15")]
    assert max_in_any_window(times) <= 2


def test_a_call_holds_its_slot_until_a_second_after_its_answer():
    from actors.ratelimit import RateWindow
    w = RateWindow(5, 1.0, reserve=0)
    slots = [w.record(0.0) for _ in range(5)]
    assert w.next_slot(0.9) == float("inf")  # all five still in flight: no telling when they land
    for s in slots:
        w.answered(s, 0.5)
    # The fifth arrived at Binance no later than 0.5; a sixth sent at 1.5 arrives after 1.5.
    assert w.next_slot(0.9) == 1.5
    assert w.next_slot(1.5) == 1.5


def test_urgent_calls_keep_a_reserved_slot_that_routine_polls_cannot_take():
    from actors.ratelimit import RateWindow
    w = RateWindow(5, 1.0, reserve=1)
    for _ in range(4):
        w.answered(w.record(0.0), 0.0)
    assert w.next_slot(0.1, priority=5) == 1.0  # a book poll waits
    assert w.next_slot(0.1, priority=1) == 0.1  # a reprice goes now


async def test_a_restart_right_after_a_crash_waits_out_the_dead_runs_last_second(
        tmp_path, autojump_clock):
    from actors.limiter import QUIET_AFTER_MS
    from actors.restore import Restored
    fake = SimBinance()
    died_ms = fake.now_ms() - 200  # the killed run's last committed event, 0.2 s ago
    async with running_bot(tmp_path, fake, actors=LIMITER, listen=(ApiResponse,),
                           restored=Restored(last_event_ms=died_ms)) as h:
        await h.emit(endpoints.list_orders("tester-1", page=1))
        await h.final_reply("tester-1")
    first_call = fake.requests[0][0]
    assert first_call == pytest.approx(QUIET_AFTER_MS / 1000 - 0.2)  # 0.2 s ago + the quiet
    assert QUIET_AFTER_MS >= 1100  # the window and the writer's batch delay at the least


async def test_a_restart_long_after_the_last_run_calls_at_once(tmp_path, autojump_clock):
    from actors.restore import Restored
    fake = SimBinance()
    async with running_bot(tmp_path, fake, actors=LIMITER, listen=(ApiResponse,),
                           restored=Restored(last_event_ms=fake.now_ms() - 60_000)) as h:
        await h.emit(endpoints.list_orders("tester-1", page=1))
        await h.final_reply("tester-1")
    assert fake.requests[0][0] == 0.0


async def test_a_limiter_the_supervisor_restarts_keeps_a_418_ban_it_met_before_reference_7(
        tmp_path, autojump_clock):
    """§7: a 418's Retry-After is when calls may come again. A bug below the limiter kills it
    during the ban; the restarted limiter folds its session so far (actors/limiter_core.py)
    and sends no signed call before the ban's end, while the public host was never paused."""
    from sim.wire import gateway_error
    fake = SimBinance()
    fake.push("EP-15", gateway_error(418, -1003, "Way too many requests; IP banned.",
                                     (("Retry-After", "30"),)))
    fake.bug_below("EP-0", RuntimeError("a bug below the limiter, not an HTTP error"))
    async with running_bot(tmp_path, fake, actors=LIMITER,
                           listen=(ApiResponse, ApiError, ActorFailed)) as h:
        await h.emit(endpoints.list_orders("tester-1", page=1))
        banned = await h.next_event(ApiResponse)
        assert banned.event.status == 418
        await h.emit(endpoints.search_ads("tester-2", asset="USDT", fiat="NGN", want="sellers",
                                          page=1))
        await h.next_event(ActorFailed)
        await trio.sleep(5)
        await h.emit(endpoints.list_orders("tester-3", page=1))
        await h.final_reply("tester-3")
    (banned_at, _), (after, _) = fake.calls("EP-15")
    assert after >= banned_at + 30
    assert h.events(ActorFailed) and any(e.kind == "gave_up" for e in h.events(ApiError))


async def test_the_limiters_state_is_at_every_moment_the_fold_of_what_it_logged(
        tmp_path, autojump_clock, monkeypatch):
    """The shell moves the core's state only by the transitions the log's events map onto
    (actors/limiter_core.py `apply`): folding the session so far gives the queue, the calls in
    flight, the window and each host's pauses it holds, through 429s, a 418 (reference §7) and
    a dropped connection."""
    from actors import limiter_core
    from actors.limiter import Limiter
    from sim.wire import gateway_error
    live = []
    init = Limiter.__init__

    def keep(self, *args, **kwargs):
        init(self, *args, **kwargs)
        live.append(self.state)

    monkeypatch.setattr(Limiter, "__init__", keep)
    fake = SimBinance()
    fake.push("EP-15", answers.too_many(2.0), answers.dropped("reset"),
              gateway_error(418, -1003, "IP banned.", (("Retry-After", "4"),)))
    fake.push("EP-0", answers.too_many(1.0))
    cfg = config()
    await trio.sleep(3.3)  # the session starts later than trio's clock: the fold places it
    async with running_bot(tmp_path, fake, actors=LIMITER, cfg=cfg, listen=(ApiResponse,)) as h:
        assert trio.current_time() - h.bus.session_time() >= 3.3
        for i in range(8):
            await h.emit(endpoints.search_ads(f"tester-{i}", asset="USDT", fiat="NGN",
                                              want="sellers", page=1))
        for i in range(8, 12):
            await h.emit(endpoints.list_orders(f"tester-{i}", page=1))
        compared = 0
        for _ in range(60):
            await trio.sleep(0.137)
            await trio.testing.wait_all_tasks_blocked()
            now = trio.current_time()
            state = limiter_core.State(cfg.limits, to_clock=now - h.bus.session_time())
            folded = limiter_core.fold(h.seen, state)
            assert _view(folded, now) == _view(live[-1], now), f"at {now}"
            compared += bool(live[-1].queue or live[-1].in_flight)
    assert compared >= 10  # moments with calls waiting or in flight, not only idle ones
    assert {"backoff", "418", "transport"} <= {e.reason for e in h.events(LimiterBackoff)}


def _view(state, now: float) -> dict:
    """What the limiter decides from: the queue, the calls in flight, the window, the pauses
    (times on trio's clock, to the microsecond: the fold places the log's session times)."""
    def t(x: float) -> float:
        return round(x, 6)
    return {"queue": sorted((e[2].event.request_id, e[3]) for e in state.queue),
            "in_flight": sorted(state.in_flight), "slots": sorted(state.slots),
            "window": [t(s[0]) if s[0] is not None else None for s in state.window._slots
                       if s[0] is None or s[0] + state.window.window_s > now],
            "last_sent": sorted((k, t(v)) for k, v in state.last_sent.items()),
            "paused": {n: (t(h.paused_until), h.pauses) for n, h in state.hosts.items()}}
