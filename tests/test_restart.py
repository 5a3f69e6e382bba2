"""Each actor killed once mid-session (an exception inside it) under the real supervisor.

A restarted actor folds its session so far (actors/system.py `_incarnations`): it must not open
an order again, greet it again, probe EP-13 unsigned again, send an EP-7 for a price already
acknowledged, or reuse a request id; and the session, crash included, replays identical.
The crash is injected by patching one of the actor's own functions to raise on its n-th call,
in the live run and again in the replay, so the replay meets the same crash at the same point.
"""

from __future__ import annotations

import inspect
import json
from collections import Counter
from decimal import Decimal

import httpx
import msgspec
import pytest
import trio
from trio.testing import MockClock

from actors import ads_core, market_core
from actors.chat import Chat
from actors.limiter import Limiter
from actors.market import Market
from actors.notify import Notifier
from actors.orders import Orders
from events import (ActorFailed, ActorStarted, AdPaused, AdRepriced, AlertSent, ApiError,
                    ApiRequest, ApiResponse, BookSnapshot, ChatMessageReceived,
                    ChatSendRequest, DryRunSkipped, OrderDetailRefused, OrderOpened)
from replay.runner import replay_session
from sim import Faults, SimConfig
from store import open_log
from tests.simbot import bot_config, bot_on_sim

BUSY = SimConfig(seed=21, order_rate_per_s=0.5, bot_surplus=Decimal("1000000"),
                 bot_max_amount=Decimal("200000"))


class Crash(Exception):
    """The injected failure."""


def crash_on_call(monkeypatch, owner, name: str, n: int) -> list:
    """Make `owner.name` raise Crash on its n-th call (once); return the list of crash counts."""
    original = getattr(owner, name)
    calls, crashed = [0], []

    def counted():
        calls[0] += 1
        if calls[0] == n:
            crashed.append(calls[0])
            raise Crash(f"injected into {name}")

    if inspect.iscoroutinefunction(original):
        async def patched(*args, **kwargs):
            counted()
            return await original(*args, **kwargs)
    else:
        def patched(*args, **kwargs):
            counted()
            return original(*args, **kwargs)
    monkeypatch.setattr(owner, name, patched)
    return crashed


# The actor, the function to break inside it, and on which call: late enough that the actor
# has state to lose (orders opened and greeted, reprices acknowledged, a signed EP-13).
TARGETS = {
    "limiter": (Limiter, "_accept", 200),
    "market": (Market, "snapshot", 40),
    "ads": (ads_core, "decide", 40),
    "orders": (Orders, "poll", 8),
    "chat": (Chat, "_handle", 12),
    "notify": (Notifier, "observe", 40),
}


def cfg():
    return bot_config(BUSY, orders={"poll_interval_s": 2.0}, market={"pages": 1})


async def _live(tmp_path, actor, monkeypatch):
    owner, name, n = TARGETS[actor]
    crashed = crash_on_call(monkeypatch, owner, name, n)
    async with bot_on_sim(tmp_path, BUSY, cfg()) as run:
        await trio.sleep(90)
    assert crashed, f"the {actor} crash never fired"
    return run


@pytest.mark.parametrize("actor", sorted(TARGETS))
async def test_a_restarted_actor_repeats_nothing_it_already_did(tmp_path, autojump_clock,
                                                                monkeypatch, actor):
    run = await _live(tmp_path, actor, monkeypatch)
    failed = [e for e in run.events(ActorFailed) if e.actor == actor]
    again = [e for e in run.events(ActorStarted) if e.actor == actor and e.attempt == 2]
    assert len(failed) == 1 and again, "the supervisor restarted it once"

    opened = Counter(e.order_no for e in run.events(OrderOpened))
    assert opened and max(opened.values()) == 1, "an order opened twice"
    greeted = Counter(e.order_no for e in run.events(ChatSendRequest) if e.reason == "greeting")
    assert greeted and max(greeted.values()) == 1, "an order greeted twice"
    received = Counter(e.message_id for e in run.events(ChatMessageReceived) if e.message_id)
    assert received and max(received.values()) == 1, "a chat message received twice"
    probes = [e for e in run.events(ApiRequest) if e.endpoint == "EP-13" and not e.signed]
    assert len(probes) <= 1, "EP-13 probed unsigned again after the first refusal"
    details = Counter(e.purpose for e in run.events(ApiRequest)
                      if e.endpoint == "EP-13" and e.signed)
    assert max(details.values()) <= 2, "an order's detail fetched again (open + close at most)"

    # Every request gets its final answer, the ones the dead incarnation held included (its
    # caller waits for it): none asked before the last seconds of the run is left unanswered.
    answered = {e.request_id for e in run.events(ApiResponse, ApiError) if e.final}
    end = max(t for t, _ in run.timed(ApiRequest))
    unanswered = [e.request_id for t, e in run.timed(ApiRequest)
                  if t < end - 5 and e.request_id not in answered]
    assert unanswered == [], "a request never answered"

    ids = Counter(e.request_id for e in run.events(ApiRequest))
    assert max(ids.values()) == 1, f"request id reused: {ids.most_common(2)}"
    assert _repeated_acknowledged(run) == []
    assert run.exchange.report().violations == 0


def _repeated_acknowledged(run) -> list:
    """EP-7s that asked again for the price Binance had last acknowledged for that ad."""
    acked: dict[str, Decimal] = {}
    repeats = []
    for _, env in run.seen:
        event = env.event
        if isinstance(event, AdRepriced):
            acked[event.adv_no] = event.new_price
        elif isinstance(event, ApiRequest) and event.endpoint == "EP-7":
            body = json.loads(event.body)
            if acked.get(body["advNo"]) == Decimal(str(body["price"])):
                repeats.append((env.seq, body))
    return repeats


@pytest.mark.parametrize("actor", sorted(TARGETS))
def test_a_session_with_a_restart_replays_identical(tmp_path, monkeypatch, actor):
    _replays_identical(tmp_path, monkeypatch, actor)


# The limiter dies holding calls (answered "gave_up") and restarts with a backlog in its inbox:
# at 100 the restarted limiter's first turns are a priority choice among that backlog; at 199 a
# book page it was taking in when it died never reaches its queue.
@pytest.mark.parametrize("n", [100, 199])
def test_a_limiter_crash_at_other_points_replays_identical(tmp_path, monkeypatch, n):
    monkeypatch.setitem(TARGETS, "limiter", (Limiter, "_accept", n))
    _replays_identical(tmp_path, monkeypatch, "limiter")


def _replays_identical(tmp_path, monkeypatch, actor):
    owner, name, n = TARGETS[actor]
    trio.run(_live, tmp_path, actor, monkeypatch, clock=MockClock(autojump_threshold=0))
    monkeypatch.undo()
    crashed = crash_on_call(monkeypatch, owner, name, n)  # the same crash, counted afresh
    with open_log(tmp_path / "bot.db") as log:
        result = replay_session(log, 1)
    assert crashed, "the replay did not meet the crash"
    assert result.equal, result.divergence.render() if result.divergence else result.unrecorded


async def test_a_reprice_cut_short_by_a_crash_is_ended_by_the_restart(tmp_path, autojump_clock,
                                                                      monkeypatch):
    """The dead incarnation's reprice never logs its RepriceDone; the new one ends it, so the
    ad is priced again rather than left busy for the rest of the session."""
    run = await _live(tmp_path, "ads", monkeypatch)
    crash_at = next(t for t, e in run.timed(ActorFailed) if e.actor == "ads")
    later = [e for t, e in run.timed(AdRepriced) if t > crash_at + 5]
    assert later, "no ad repriced after the restart"


async def test_a_restarted_ads_actor_keeps_its_rate_cap(tmp_path, autojump_clock, monkeypatch):
    """The cap counts reprices over the last 60 s, across the restart: the fold of the session
    gives the new incarnation the reprices the old one sent."""
    from tests.test_conformance_e2e import QUIET, undercut_bot

    sim = SimConfig(seed=8, **QUIET)
    crashed = crash_on_call(monkeypatch, ads_core, "decide", 30)
    async with bot_on_sim(tmp_path, sim, bot_config(sim, strategy={"max_reprices_per_min": 3})
                          ) as run:
        for _ in range(30):
            await trio.sleep(2)
            undercut_bot(run)
    assert crashed
    sent: dict[str, list[float]] = {}
    for t, r in run.transport.paths("/ads/update"):
        sent.setdefault(json.loads(r.content)["advNo"], []).append(t)
    assert sum(map(len, sent.values())) >= 4
    for adv_no, times in sent.items():
        worst = max(sum(1 for u in times if t <= u < t + 60) for t in times)
        assert worst <= 3, f"ad {adv_no}: {worst} reprices in 60 s"


async def test_a_restarted_orders_actor_asks_a_refused_closed_order_follow_tries_times_in_all(
        tmp_path, autojump_clock, monkeypatch):
    """An order an earlier session left open, which Binance does not know (reference §5: EP-13
    answers 400 -1102): each refusal is logged (OrderDetailRefused), so the orders actor killed
    after two of them goes on counting and asks once more, not FOLLOW_TRIES times again."""
    from actors.orders_core import FOLLOW_TRIES
    from actors.restore import Restored
    from tests.test_conformance_e2e import QUIET

    ghost = "29904683312778471580"
    sim = SimConfig(seed=9, **QUIET)
    crashed = crash_on_call(monkeypatch, Orders, "poll", 3)
    async with bot_on_sim(tmp_path, sim, bot_config(sim, orders={"poll_interval_s": 2.0}),
                          restored=Restored(orders={ghost: 1})) as run:
        await trio.sleep(60)
    assert crashed
    refused = [e.tries for e in run.events(OrderDetailRefused) if e.order_no == ghost]
    assert refused == [1, 2, 3]
    asked = [e for e in run.events(ApiRequest) if e.endpoint == "EP-13" and e.purpose == ghost]
    # The first try may be the unsigned probe followed by its signed retry.
    assert FOLLOW_TRIES <= len(asked) <= FOLLOW_TRIES + 1


async def test_a_restarted_chat_in_a_dry_run_greets_no_order_twice(tmp_path, autojump_clock,
                                                                    monkeypatch):
    """A dry run logs the greeting it would have said as a DryRunSkipped naming the order (no
    ChatSendRequest: nothing is sent), and the restarted chat folds those. A dry run's ads never
    move, so the simulator opens no order: the orders are announced by the test, as the orders
    actor would, and the two greeted before the crash are announced again after it."""
    crashed = crash_on_call(monkeypatch, Chat, "_handle", 3)
    orders = [OrderOpened(order_no=f"2990468331277847{i:04d}", adv_no="111", side="SELL",
                          asset="USDT", fiat="NGN", amount=Decimal(10), price=Decimal(1600),
                          total_price=Decimal(16000), status=1, counterparty="Ann")
              for i in range(4)]
    async with bot_on_sim(tmp_path, BUSY, cfg(), dry_run=True) as run:
        emit = run.bus.emitter("orders")
        for order in orders[:3]:  # the third kills the chat
            await trio.sleep(5)
            await emit(order)
        await trio.sleep(5)
        assert crashed and [e.attempt for e in run.events(ActorStarted)
                            if e.actor == "chat"] == [1, 2]
        for order in orders[:2] + orders[3:]:
            await emit(order)
        await trio.sleep(5)
    assert run.events(ChatSendRequest) == []
    greeted = [e.order_no for e in run.events(DryRunSkipped) if e.reason == "greeting"]
    assert greeted == [orders[0].order_no, orders[1].order_no, orders[3].order_no]


async def test_a_restarted_notifier_alerts_no_fact_twice_and_keeps_its_days_counts(
        tmp_path, autojump_clock, monkeypatch):
    """The notifier, killed at 30 s, folds its session so far (its deliveries included): an ad
    paused again at 40 s, well within alerts.dedup_s of the pause alerted at 10 s, is not
    alerted again, and the daily summary at 00:01 counts the orders of the whole minute."""
    from tests.test_notify import FakeAlerts, channels

    original, crashed = Notifier.observe, []

    def observe(self, env):
        if not crashed and trio.current_time() >= 30:
            crashed.append(trio.current_time())
            raise Crash("injected into observe")
        original(self, env)

    monkeypatch.setattr(Notifier, "observe", observe)
    fake = FakeAlerts()
    config = bot_config(BUSY, orders={"poll_interval_s": 2.0}, market={"pages": 1},
                        alerts={"daily_summary_utc": "00:01"})  # the run starts at 00:00 UTC
    async with httpx.AsyncClient(transport=fake.transport()) as client:
        async with bot_on_sim(tmp_path, BUSY, config,
                              alert_channels=channels(client, config.alerts)) as run:
            emit = run.bus.emitter("ads")
            await trio.sleep(10)
            await emit(AdPaused(adv_no="999", code=83229, reason="suspended"))
            await trio.sleep(30)
            await emit(AdPaused(adv_no="999", code=83229, reason="suspended"))
            await trio.sleep(30)
    assert crashed and [e.attempt for e in run.events(ActorStarted) if e.actor == "notify"] == [
        1, 2]
    opened = [t for t, e in run.timed(OrderOpened)]
    assert any(t < 30 for t in opened) and any(30 < t < 60 for t in opened)

    paused = [m for m in fake.telegram if m["text"].startswith("Ad 999 paused")]
    assert len(paused) == 1, "the same pause alerted twice"
    delivered = Counter((e.channel, e.key) for e in run.events(AlertSent))
    assert max(delivered.values()) == 1, delivered.most_common(2)

    [summary] = [m["text"] for m in fake.telegram if m["text"].startswith("Daily summary")]
    assert summary.startswith(f"Daily summary 2026-01-01 (UTC): "
                              f"{sum(1 for t in opened if t < 60)} new orders")


# --- the market goes on with its plan -----------------------------------------------------------

# A fifth of the public host's answers a 5xx (reference §7), so pages go to EP-0S (§3) and
# streams have twin pages left when the market dies; three pages a deep poll, every ~10 s.
FAULTY = msgspec.structs.replace(BUSY, faults=Faults(public_error_rate=0.2,
                                                     public_error_kinds=("5xx",)))
MARKET_CRASH = 40


def _plan_of(state: market_core.State) -> tuple:
    """What a market polls next and how: its streams (weights, page-1 history, interval,
    polls since a deep one) and the twin pages left per stream."""
    streams = tuple((s.key, s.mine, s.top, round(s.moved_at, 5), round(s.step, 5), s.since_deep)
                    for s in state.streams)
    return (streams, {k: n for k, n in state.twin_pages_left.items() if n}, state.my_adv_nos)


async def _market_crash(tmp_path, monkeypatch) -> tuple:
    started = []  # each incarnation's plan as it starts, and the incarnation
    init = Market.__init__

    def remember(self, *args, **kwargs):
        init(self, *args, **kwargs)
        started.append((_plan_of(self.state), self))

    monkeypatch.setattr(Market, "__init__", remember)
    crashed = crash_on_call(monkeypatch, Market, "snapshot", MARKET_CRASH)
    cfg = bot_config(FAULTY, orders={"poll_interval_s": 2.0},
                     market={"pages": 3, "poll_interval_s": 10.0})
    async with bot_on_sim(tmp_path, FAULTY, cfg) as run:
        await trio.sleep(90)
    assert crashed
    return run, started


async def test_a_restarted_market_goes_on_with_the_same_polling_plan(tmp_path, autojump_clock,
                                                                     monkeypatch):
    """The new incarnation starts from the fold of the session: the streams the first load
    of my ads gave, their moved weights and deep-poll counters, and the pages still owed to
    the signed twin (EP-0S, reference §3) after EP-0's 5xx (§7); a fresh market would read
    every page of every stream at once and ask EP-0 first."""
    run, started = await _market_crash(tmp_path, monkeypatch)
    [(_, dead), (restarted_with, _)] = started
    assert restarted_with == _plan_of(dead.state), "the restart lost the plan"

    streams, twin_left = restarted_with[0], restarted_with[1]
    due = {key: market_core.pages_for(dead.state, key) for key, *_ in streams}
    assert 1 in due.values(), "no stream was between deep polls: nothing to lose"
    assert twin_left, "no stream owed the twin pages: nothing to lose"
    restart = next(i for i, (_, env) in enumerate(run.seen)
                   if isinstance(env.event, ActorStarted) and env.event.actor == "market"
                   and env.event.attempt == 2)
    after = [env.event for _, env in run.seen[restart:]]
    first_pages = {}
    for e in after:
        if isinstance(e, BookSnapshot):
            first_pages.setdefault((e.asset, e.fiat, e.ad_side), e.pages)
    assert first_pages == due, "the restart read other pages than the plan called for"
    first_ask = {}
    for e in after:
        if isinstance(e, ApiRequest) and e.endpoint in ("EP-0", "EP-0S"):
            first_ask.setdefault(market_core.search_key(e), e.endpoint)
    assert {first_ask[key] for key in twin_left} == {"EP-0S"}, "EP-0 asked again at once"
    assert run.exchange.report().violations == 0


def test_a_session_with_a_market_restart_mid_plan_replays_identical(tmp_path, monkeypatch):
    trio.run(_market_crash, tmp_path, monkeypatch, clock=MockClock(autojump_threshold=0))
    monkeypatch.undo()
    crashed = crash_on_call(monkeypatch, Market, "snapshot", MARKET_CRASH)
    with open_log(tmp_path / "bot.db") as log:
        result = replay_session(log, 1)
    assert crashed, "the replay did not meet the crash"
    assert result.equal, result.divergence.render() if result.divergence else result.unrecorded
