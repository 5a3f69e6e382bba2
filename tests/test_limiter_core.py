"""The limiter's pure core without trio: the window, the EP-0 page gap, priorities, pauses, the
breaker, the reactions to answers (reference §7) and the fold a restarted limiter starts from."""

import math
from decimal import Decimal

from actors import limiter_core as core
from actors.config import LimitsConfig
from actors.limiter_core import (Failed, Idle, Pause, Refuse, Release, Reset, Retry, Send, State,
                                 Stop, Succeeded, Wait)
from c2c import endpoints
from c2c.errors import Action
from events import (ApiError, ApiResponse, ClockSynced, Envelope, LimiterBackoff,
                    RequestDispatched)

LIMITS = LimitsConfig()  # 5 calls/s, EP-0 pages 100 ms apart, breaker after 15 for 45 s
_seq = iter(range(1, 1_000_000))


def env(event, t: float = 0.0) -> Envelope:
    return Envelope(session=1, seq=next(_seq), ts_ms=0, t=t, source="x", cause=None, event=event)


def book(rid: str):
    return endpoints.search_ads(rid, asset="USDT", fiat="NGN", want="sellers", page=1)


def poll(rid: str):
    return endpoints.list_orders(rid, page=1)


def write(rid: str):
    return endpoints.update_price(rid, adv_no="1", price=Decimal("1.00"))


def queued(state: State, *requests) -> State:
    for req in requests:
        core.enqueue(state, env(req), 1)
    return state


def sent_until_blocked(state: State, now: float) -> tuple[list[str], object]:
    """Send what may go at `now`; return the request ids sent and the decision that stopped."""
    sent = []
    while type(step := core.decide_next(state, now)) is Send:
        core.take(state, step.entry)
        core.send(state, step.entry, now)
        sent.append(step.entry[2].event.request_id)
    return sent, step


def answer(state: State, rid: str, now: float) -> None:
    core.answered_slot(state, rid, state.slots[rid], now)
    state.in_flight.pop(rid)


# --- the window, the gap, priorities -------------------------------------------------------------


def test_routine_calls_take_four_slots_of_five_and_wait_while_in_flight():
    state = queued(State(LIMITS), *[poll(f"orders-{i}") for i in range(6)])
    sent, step = sent_until_blocked(state, 0.0)
    assert sent == ["orders-0", "orders-1", "orders-2", "orders-3"]  # one kept for urgent calls
    assert step == Wait(math.inf)  # not before one of them is answered


def test_a_slot_frees_a_window_after_its_answer_not_after_its_send():
    state = queued(State(LIMITS), *[poll(f"orders-{i}") for i in range(5)])
    sent_until_blocked(state, 0.0)
    answer(state, "orders-0", 0.4)
    assert core.decide_next(state, 0.5) == Wait(0.4 + 1.001)
    sent, _ = sent_until_blocked(state, 1.401)
    assert sent == ["orders-4"]


def test_polls_go_before_pages_and_an_urgent_call_takes_the_reserved_fifth_slot():
    state = queued(State(LIMITS), *[book(f"market-{i}") for i in range(3)],
                   *[poll(f"orders-{i}") for i in range(3)])
    sent, _ = sent_until_blocked(state, 0.0)
    assert sent == ["orders-0", "orders-1", "orders-2", "market-0"]  # priority 3, then 5
    queued(state, endpoints.order_detail("orders-9", order_no="1", signed=True))
    sent, _ = sent_until_blocked(state, 0.0)
    assert sent == ["orders-9"]  # priority 1: the slot routine calls leave free


def test_ep0_pages_leave_page_delay_plus_a_margin_apart():
    """The 100 ms page gap is the tutorial's (reference §10); the margin is for arrival jitter."""
    state = queued(State(LIMITS), book("market-1"), book("market-2"))
    sent, step = sent_until_blocked(state, 0.0)
    assert sent == ["market-1"] and step == Wait(0.1 + core.EP0_GAP_MARGIN_S)
    assert sent_until_blocked(state, 0.149)[0] == []
    assert sent_until_blocked(state, 0.1 + core.EP0_GAP_MARGIN_S)[0] == ["market-2"]


def test_the_gap_holds_only_ep0_other_calls_pass_a_waiting_page():
    state = queued(State(LIMITS), book("market-1"), book("market-2"), poll("orders-1"))
    sent, _ = sent_until_blocked(state, 0.0)
    assert sent == ["orders-1", "market-1"]


def test_heavy_weights_halve_the_routine_budget_for_ten_seconds_reference_7():
    state = queued(State(LIMITS), *[poll(f"orders-{i}") for i in range(4)])
    event = core.apply_step(state, core.NoteWeights((("X-SAPI-USED-IP-WEIGHT-1M", "11000"),)), 0.0)
    assert event == LimiterBackoff(reason="weight", delay_s=core.SLOW_FOR_S)
    assert sent_until_blocked(state, 0.0)[0] == ["orders-0", "orders-1"]
    assert core.apply_step(state, core.NoteWeights((("X-SAPI-USED-IP-WEIGHT-1M", "100"),)),
                           1.0) is None


def test_nothing_queued_is_idle():
    assert core.decide_next(State(LIMITS), 0.0) == Idle()


# --- pauses and the breaker ----------------------------------------------------------------------


def test_a_paused_host_holds_its_reads_and_the_other_host_keeps_flowing():
    state = queued(State(LIMITS), poll("orders-1"), book("market-1"))
    core.pause(state, "sapi", 5.0, 0.0)
    sent, step = sent_until_blocked(state, 0.0)
    assert sent == ["market-1"] and step == Wait(5.0)
    assert sent_until_blocked(state, 5.0)[0] == ["orders-1"]


def test_a_write_behind_a_pause_is_refused_not_sent_late():
    state = queued(State(LIMITS), write("ads-1"))
    core.pause(state, "sapi", 5.0, 0.0)
    step = core.decide_next(state, 0.0)
    assert type(step) is Refuse and step.kind == "paused" and "sapi paused" in step.message


def test_a_write_queued_before_a_pause_is_refused_even_once_the_pause_is_over():
    state = queued(State(LIMITS), write("ads-1"))
    core.pause(state, "sapi", 1.0, 0.0)
    step = core.decide_next(state, 2.0)
    assert type(step) is Refuse and step.kind == "paused"
    core.take(state, step.entry)
    queued(state, write("ads-2"))  # asked after the pause: sent
    assert sent_until_blocked(state, 2.0)[0] == ["ads-2"]


def test_replay_says_whether_the_live_run_refused_a_write():
    state = queued(State(LIMITS), write("ads-1"))
    core.pause(state, "sapi", 1.0, 0.0)
    assert type(core.decide_next(state, 2.0, refused=lambda req: False)) is Send


def test_the_breaker_opens_after_15_failures_refuses_for_45s_then_lets_one_call_try():
    state = State(LIMITS)
    opened = [core.apply_step(state, Failed("sapi"), 10.0) for _ in range(15)]
    assert opened[:14] == [None] * 14 and opened[14].failures == 15
    queued(state, poll("orders-1"), book("market-1"))
    step = core.decide_next(state, 20.0)
    assert type(step) is Refuse and step.kind == "breaker_open"
    assert step.message == "sapi circuit breaker open for 35 s; no call made"
    core.take(state, step.entry)
    assert sent_until_blocked(state, 20.0)[0] == ["market-1"]  # bapi has its own breaker
    queued(state, poll("orders-2"), poll("orders-3"))
    sent, step = sent_until_blocked(state, 55.0)
    assert sent == ["orders-2"]  # the one trial
    assert type(step) is Refuse and step.message == "sapi circuit breaker open; no call made"


# --- what an answer calls for --------------------------------------------------------------------


def paused_for(state: State, action: Action, headers=(), host_req=None) -> float:
    """Decide on one `action` answer to a poll, apply its pause; return the pause's length."""
    steps = core.decide_answer(state, host_req or poll("orders-1"), 1, action, None, headers)
    pause = next(step for step in steps if type(step) is Pause)
    core.apply_step(state, pause, 0.0)
    return pause.delay_s


def test_429_backs_off_doubling_honours_a_longer_retry_after_and_retries_a_read():
    state = State(LIMITS)
    steps = core.decide_answer(state, poll("orders-1"), 1, Action.BACKOFF_AND_RETRY, None, ())
    assert steps[1:] == [Failed("sapi"), Pause("sapi", "backoff", 0.1), Retry(2)]
    assert not core.is_final(steps)
    assert [paused_for(state, Action.BACKOFF_AND_RETRY) for _ in range(3)] == [0.1, 0.2, 0.4]
    assert paused_for(state, Action.BACKOFF_AND_RETRY, (("Retry-After", "7"),)) == 7.0
    assert state.hosts["sapi"].paused_until == 7.0
    core.apply_step(state, Reset("sapi"), 8.0)  # a success starts the schedule again
    assert paused_for(state, Action.BACKOFF_AND_RETRY) == 0.1


def test_a_write_is_never_retried_after_a_pause():
    steps = core.decide_answer(State(LIMITS), write("ads-1"), 1, Action.BACKOFF_AND_RETRY,
                               None, ())
    assert core.is_final(steps) and Retry(2) not in steps


def test_418_pauses_for_its_retry_after_else_two_minutes_reference_7():
    state = State(LIMITS)
    assert paused_for(state, Action.IP_BANNED, (("Retry-After", "600"),)) == 600.0
    assert state.hosts["sapi"].paused_until == 600.0
    assert paused_for(state, Action.IP_BANNED) == 120.0


def test_403_pauses_from_5s_doubling_up_to_3_minutes():
    state = State(LIMITS)
    delays = [paused_for(state, Action.WAF_PAUSE, host_req=book("market-1")) for _ in range(8)]
    assert delays == [5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 180.0, 180.0]
    assert state.hosts["sapi"].paused_until == 0.0  # the public host's pause, not the API's


def test_a_fatal_answer_stops_the_run_and_is_final():
    steps = core.decide_answer(State(LIMITS), poll("orders-1"), 1, Action.FATAL,
                               "-2008 Invalid Api-Key ID.", ())
    assert steps[-2:] == [Failed("sapi"), Stop("Binance refused EP-15: -2008 Invalid Api-Key ID.")]
    assert core.is_final(steps)


def test_a_stale_timestamp_resyncs_and_retries_a_signed_call_without_a_breaker_count():
    steps = core.decide_answer(State(LIMITS), poll("orders-1"), 1, Action.RESYNC_AND_RETRY,
                               None, ())
    assert steps[1:] == [Release("sapi"), core.Resync(), Retry(2)]


def test_the_unsigned_ep13_probe_is_neutral_whatever_it_is_answered():
    probe = endpoints.order_detail("orders-1", order_no="1", signed=False)
    steps = core.decide_answer(State(LIMITS), probe, 1, Action.FATAL, "-1002", ())
    assert steps[1:] == [Release("sapi")] and core.is_final(steps)
    assert core.decide_failure(State(LIMITS), probe, 1) == [Release("sapi")]


def test_a_business_error_is_an_answer_the_breaker_counts_as_health():
    steps = core.decide_answer(State(LIMITS), write("ads-1"), 1, Action.ABORT, None, ())
    assert steps[1:] == [Succeeded("sapi", "EP-7")] and core.is_final(steps)


def test_a_transport_failure_retries_a_read_until_the_last_attempt_never_a_write():
    state = State(LIMITS)
    assert core.decide_failure(state, poll("orders-1"), 1) == [
        Failed("sapi"), Pause("sapi", "transport", 0.1), Retry(2)]
    assert core.decide_failure(state, poll("orders-1"), 5) == [Failed("sapi")]
    assert core.decide_failure(state, write("ads-1"), 1) == [Failed("sapi")]


# --- the fold ------------------------------------------------------------------------------------


def _session():
    req = env(poll("orders-1"), 1.0)
    rid = "orders-1"
    return req, [
        req,
        env(RequestDispatched(request_id=rid, endpoint="EP-15"), 1.0),
        env(ApiResponse(request_id=rid, endpoint="EP-15", status=429, final=False), 1.2),
        env(LimiterBackoff(reason="backoff", delay_s=2.0, host="sapi"), 1.2),
        env(LimiterBackoff(reason="weight", delay_s=10.0), 1.2),
        env(RequestDispatched(request_id=rid, endpoint="EP-15", attempt=2), 3.2),
        env(ClockSynced(offset_ms=-250, round_trip_ms=40), 3.3),
        env(ApiError(request_id=rid, endpoint="EP-15", kind="gave_up", message="x"), 3.5),
    ]


def test_the_fold_follows_a_request_through_its_retry_and_keeps_the_pause():
    req, events = _session()
    state = core.fold(events[:3], State(LIMITS, to_clock=10.0))
    assert [(e[2], e[3]) for e in state.queue] == [(req, 2)]  # the retry waits its turn
    state = core.fold(events[3:6], state)
    assert state.queue == [] and state.in_flight == {"orders-1": req}
    assert state.hosts["sapi"].paused_until == 10.0 + 1.2 + 2.0
    assert state.slow_until == 0.0  # a weight slow-down is not in the log
    state = core.fold(events[6:], state)
    assert state.in_flight == {} and state.slots == {} and state.clock.offset_ms == -250
    # Each call held its slot until a window after its answer (13.5 + 1.001 for the last).
    assert state.window.in_window(14.5) == 1 and state.window.in_window(14.502) == 0


def test_a_restarted_limiter_starts_with_nothing_queued_and_its_pauses_kept():
    _, events = _session()
    events = events[:6] + [env(poll("orders-2"), 3.4)]  # died with one in flight, one asked
    state = core.restarted(core.fold(events, State(LIMITS, to_clock=10.0)), 14.0)
    assert state.queue == [] and state.in_flight == {} and state.slots == {}
    assert state.hosts["sapi"].paused_until == 13.2
    assert state.window.in_window(15.0) == 1 and state.window.in_window(15.01) == 0


def test_refusals_in_the_log_leave_the_queue():
    state = core.fold([env(write("ads-1")),
                       env(ApiError(request_id="ads-1", endpoint="EP-7", kind="paused",
                                    message="sapi paused"))], State(LIMITS))
    assert state.queue == []
