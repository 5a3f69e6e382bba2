"""Issue 11 end to end: each row of the table reproduced by the strict simulator (the shapes the
reference and the captured samples describe), with the whole bot in this process under MockClock.
The unit-level counterparts, against a scripted Binance, are in tests/test_conformance.py.
"""

from __future__ import annotations

import json
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import pytest
import trio

from events import (AdPaused, AdRepriced, AdResumed, ApiError, ApiRequest, ApiResponse,
                    BookSnapshot,
                    BreakerOpened, ChatConnected, ChatMessageReceived, ChatMessageSent,
                    ChatNicknameSeen, ChatSendRequest, ChatServerError, LimiterBackoff,
                    OrderOpened, RepriceDecided, RepriceFailed)
from sim import Faults, SimConfig
from tests.simbot import bot_config, bot_on_sim

QUIET = dict(order_rate_per_s=0.0, reactive_share=0.0)  # no orders, no reactions: scripted only


def ad_of(run, side: str):
    return next(a for a in run.exchange.bot_ads if a.side == side)


def undercut_bot(run, side: str = "SELL") -> None:
    """Move the best competitor a few ticks in front of the bot's ad: a reprice is due."""
    ad = ad_of(run, side)
    sign = -1 if side == "SELL" else 1
    run.exchange.set_competitor_price(_best_rival(run, side), ad.price + sign * Decimal("0.05"))


def _best_rival(run, side: str) -> str:
    book = run.exchange.market.book(side)
    return next(a.adv_no for a in book if not a.mine and a.user_type == "merchant"
                and set(a.pay_methods) & set(ad_of(run, side).pay_methods))


def signed(request) -> bool:
    return "signature" in dict(parse_qsl(urlsplit(str(request.url)).query))


def ep7(run, adv_no: str | None = None) -> list[tuple[float, Decimal]]:
    out = []
    for t, r in run.transport.paths("/ads/update"):
        body = json.loads(r.content)
        if adv_no is None or body["advNo"] == adv_no:
            out.append((t, Decimal(str(body["price"]))))
    return out


# --- the unsigned EP-13, as the strict simulator refuses it (reference §2; samples) -----------

@pytest.mark.parametrize("answer", ["401-1002", "400-1102", "400-2014", "401-2015"])
async def test_every_unsigned_ep13_refusal_shape_leads_to_signed_calls_and_opened_orders(
        tmp_path, autojump_clock, answer):
    sim = SimConfig(seed=4, unsigned_detail_answer=answer, **QUIET)
    async with bot_on_sim(tmp_path, sim) as run:
        await trio.sleep(5)
        first = run.exchange.open_order(ad_of(run, "SELL").adv_no)
        await trio.sleep(6)
        second = run.exchange.open_order(ad_of(run, "BUY").adv_no)
        await trio.sleep(6)
    assert run.reason == "stopped"
    calls = run.transport.paths("/getUserOrderDetail")
    assert not signed(calls[0][1]) and all(signed(r) for _, r in calls[1:])
    assert calls[1][0] - calls[0][0] < 0.5  # signed at once
    assert {o.order_no for o in run.events(OrderOpened)} == {first, second}
    assert run.exchange.report().violations == 0
    assert not [b for b in run.events(LimiterBackoff)] and not run.events(BreakerOpened)


# --- EP-7 success bodies (reference §4, §10) -----------------------------------------------------

@pytest.mark.parametrize("shape", ["null", "true", "absent", "mix"])
async def test_every_ep7_success_shape_is_an_accepted_reprice_never_sent_twice(
        tmp_path, autojump_clock, shape):
    sim = SimConfig(seed=5, ep7_success=shape, order_rate_per_s=0.0)
    async with bot_on_sim(tmp_path, sim) as run:
        await trio.sleep(60)
    report = run.exchange.report()
    assert report.reprices_accepted >= 3
    assert len(run.events(AdRepriced)) == report.reprices_accepted
    assert not run.events(RepriceFailed)
    for ad in run.exchange.bot_ads:  # no EP-7 repeats the price the ad already has
        prices = [p for _, p in ep7(run, ad.adv_no)]
        assert all(a != b for a, b in zip(prices, prices[1:]))


# --- 187022: an offline ad (reference §7, BNP) -------------------------------------------------

async def test_an_ad_taken_offline_is_paused_on_187022_and_resumed_once_online(
        tmp_path, autojump_clock):
    sim = SimConfig(seed=6, **QUIET)
    cfg = bot_config(sim, ads={"refresh_s": 20.0})
    async with bot_on_sim(tmp_path, sim, cfg) as run:
        await trio.sleep(5)
        sell = ad_of(run, "SELL").adv_no
        run.exchange.set_ad_status(sell, 3)  # offline behind the bot's back
        undercut_bot(run)
        await trio.sleep(15)
        assert [p.code for p in run.events(AdPaused)] == [187022]
        sent_while_paused = len(ep7(run, sell))
        undercut_bot(run)
        await trio.sleep(10)
        assert len(ep7(run, sell)) == sent_while_paused
        run.exchange.set_ad_status(sell, 1)
        await trio.sleep(30)
        undercut_bot(run)
        await trio.sleep(5)
    assert [r.adv_no for r in run.events(AdResumed)] == [sell]
    assert run.events(AdRepriced)[-1].adv_no == sell
    assert run.exchange.report().reprices_refused.get("187022", 0) >= 1


# --- 429s on the public host pause EP-0 only (reference §1, §3) ---------------------------------

async def test_429s_on_the_public_host_never_stop_the_signed_calls(tmp_path, autojump_clock):
    sim = SimConfig(seed=7, faults=Faults(public_error_rate=0.3), **QUIET)
    async with bot_on_sim(tmp_path, sim) as run:
        await trio.sleep(20)
        undercut_bot(run)
        moved = trio.current_time()
        await trio.sleep(20)
    backoffs = run.events(LimiterBackoff)
    assert backoffs and {b.host for b in backoffs} == {"bapi"}
    assert len(run.transport.paths("/sapi/v1/c2c/ads/search")) >= 10  # the signed twin read on
    polls = [t for t, _ in run.transport.paths("/listOrders")]
    # Every 2 s, give or take the shared window's queueing; held behind EP-0's 1 s Retry-After
    # a poll would come 3 s after the one before.
    assert len(polls) >= 15 and all(b - a < 2.9 for a, b in zip(polls, polls[1:]))
    assert any(t > moved for t, _ in ep7(run))
    assert run.exchange.report().violations == 0


# --- a pause in front of an EP-7 --------------------------------------------------------------

@pytest.mark.parametrize("kind", ["418", "403", "429"])
async def test_an_ep7_refused_with_a_pause_is_never_sent_again_after_it(
        tmp_path, autojump_clock, kind):
    sim = SimConfig(seed=8, **QUIET)
    async with bot_on_sim(tmp_path, sim) as run:
        await trio.sleep(5)
        run.exchange.inject("EP-7", kind)
        undercut_bot(run)
        await trio.sleep(3)
        undercut_bot(run)  # the book moves during the pause
        await trio.sleep(200)
    failed = run.events(RepriceFailed)[0]
    (pause,) = [(t, b) for t, b in run.timed(LimiterBackoff) if b.host == "sapi"]
    resumes = pause[0] + pause[1].delay_s
    sent = ep7(run, failed.adv_no)
    requests = [e for e in run.events(ApiRequest) if e.endpoint == "EP-7"]
    refused = [e for e in run.events(ApiError) if e.endpoint == "EP-7" and e.kind == "paused"]
    # Each EP-7 left at most once: the refused one was not re-sent, nor any asked in the pause.
    assert len(ep7(run)) + len(refused) == len(requests)
    assert not [t for t, _ in sent if pause[0] < t < resumes]  # nothing during the pause
    later = [t for t, _ in sent if t >= resumes]
    # Each one a new decision, made after the pause began (a decision may wait out the
    # min_reprice_gap_s, so it can be made just before the pause ends and sent after it).
    decided_since = [t for t, d in run.timed(RepriceDecided)
                     if d.action == "reprice" and d.adv_no == failed.adv_no and t > pause[0]]
    assert later and len(decided_since) >= len(later) and decided_since[0] <= later[0]


# --- EP-0 User-Agents ---------------------------------------------------------------------------

async def test_ep0_calls_carry_rotating_browser_user_agents(tmp_path, autojump_clock):
    async with bot_on_sim(tmp_path, SimConfig(seed=9, **QUIET)) as run:
        await trio.sleep(10)
    agents = [r.headers["user-agent"] for _, r in run.transport.paths("/adv/search")]
    assert len(agents) >= 20 and len(set(agents)) >= 4
    assert all(a.startswith("Mozilla/5.0") for a in agents)


# --- chat as it really arrives (reference §8) ---------------------------------------------------

async def test_the_strict_chat_is_answered_once_named_and_survives_errors_and_closes(
        tmp_path, autojump_clock):
    sim = SimConfig(seed=10, chat_empty_nickname_share=0.0, **QUIET)
    cfg = bot_config(sim, chat={"auto_replies": {"bank": "Bank details are in the order page."}})
    async with bot_on_sim(tmp_path, sim, cfg) as run:
        await trio.sleep(3)
        order = run.exchange.open_order(ad_of(run, "SELL").adv_no)
        await trio.sleep(3)
        run.exchange.push_chat(order, "text", "Which bank should I pay to?")
        run.exchange.push_chat(order, "auto_reply")
        run.exchange.push_chat(order, "system")
        await trio.sleep(15)  # read copies arrive 1-8 s later
        run.exchange.push_chat(order, "error")  # ILLEGAL_PARAM, then the server closes
        await trio.sleep(10)
        run.exchange.close_chat_sockets("1002")
        await trio.sleep(10)
        run.exchange.close_chat_sockets("drop")
        await trio.sleep(10)
    sends = run.events(ChatSendRequest)
    texts = [m for m in run.events(ChatMessageReceived) if m.msg_type == "text"
             and not m.self_sent]
    assert len(texts) == len({m.message_id for m in texts})  # read copies deduplicated
    asking = [m for m in texts if "bank" in m.content.lower()]
    assert asking and [(s.reason, s.order_no) for s in sends] == (
        [("greeting", order)] + [("auto_reply", order)] * len(asking))  # one answer each
    named = {n.nickname for n in run.events(ChatNicknameSeen)}
    assert named - {run.exchange.cfg.bot_nickname}  # a counterparty named by a read copy
    assert [e.content for e in run.events(ChatServerError)] == ["ILLEGAL_PARAM"]
    assert len(run.events(ChatConnected)) == 4  # after the error's close, 1002 and the drop
    assert len(run.transport.paths("/retrieveChatCredential")) == 4  # each with a fresh one
    assert run.exchange.report().chat_frames_from_bot == len(run.events(ChatMessageSent))


# --- 83628 on one ad (reference §7, sample) -----------------------------------------------------

async def test_83628_on_one_ad_holds_it_30s_while_the_other_ad_and_calls_go_on(
        tmp_path, autojump_clock):
    sim = SimConfig(seed=11, **QUIET)
    async with bot_on_sim(tmp_path, sim) as run:
        await trio.sleep(5)
        sell, buy = ad_of(run, "SELL").adv_no, ad_of(run, "BUY").adv_no
        run.exchange.inject("EP-7", "83628")
        undercut_bot(run, "SELL")
        await trio.sleep(2)
        refused_at = ep7(run, sell)[-1][0]
        undercut_bot(run, "BUY")
        await trio.sleep(10)
        assert ep7(run, buy) and ep7(run, buy)[-1][0] > refused_at  # the other ad goes on
        assert ep7(run, sell)[-1][0] == refused_at  # this one waits
        await trio.sleep(30)
    assert ep7(run, sell)[-1][0] >= refused_at + 30
    assert not run.events(LimiterBackoff)
    assert any(d.rule == "cooldown" for d in run.events(RepriceDecided))


# --- -1000 with HTTP 404 (reference §7, sample) --------------------------------------------------

async def test_a_404_minus_1000_is_answered_once_never_retried_nor_counted(
        tmp_path, autojump_clock):
    sim = SimConfig(seed=12, **QUIET)
    cfg = bot_config(sim, limits={"breaker_failures": 1})
    async with bot_on_sim(tmp_path, sim, cfg) as run:
        await trio.sleep(3)
        run.exchange.inject("EP-15", "-1000-404")
        await trio.sleep(10)
    refused = [e for e in run.events(ApiResponse) if e.endpoint == "EP-15" and e.status == 404]
    assert len(refused) == 1 and refused[0].final and refused[0].attempt == 1
    assert not run.events(BreakerOpened) and not run.events(LimiterBackoff)


# --- recvWindow over 60000 (reference §2) ------------------------------------------------------

async def test_the_simulator_refuses_a_recv_window_over_60000_and_the_bot_never_sends_one(
        autojump_clock):
    from actors.config import ConfigError, load_config
    from c2c.credentials import Secret
    from c2c.signing import signed_query
    from sim import DEMO_API_KEY, DEMO_SECRET, SimExchange
    from sim.wire import Request

    ex = SimExchange(SimConfig(seed=1), now_ms=lambda: 1_768_000_000_000)
    query = signed_query((("page", "1"), ("rows", "20")), 1_768_000_000_000,
                         Secret(DEMO_SECRET), recv_window_ms=120000)
    resp = ex.handle(Request(method="GET", query=query,
                             path="/sapi/v1/c2c/chat/retrieveChatMessagesWithPagination",
                             headers={"x-mbx-apikey": DEMO_API_KEY, "clienttype": "web"}))
    assert resp.status == 400 and resp.json()["code"] == -1102
    with pytest.raises(ConfigError):
        load_config({"exchange": {"recv_window_ms": 120000}})


# --- a -9000 whose msg holds amounts ----------------------------------------------------------

async def test_a_minus_9000_with_amounts_is_no_code_so_no_pause_nor_cooldown(
        tmp_path, autojump_clock):
    sim = SimConfig(seed=13, **QUIET)
    async with bot_on_sim(tmp_path, sim) as run:
        await trio.sleep(5)
        run.exchange.inject("EP-7", "-9000-amount")
        undercut_bot(run)
        await trio.sleep(10)
    failed = run.events(RepriceFailed)
    assert [f.code for f in failed] == [-9000]
    assert not run.events(AdPaused)
    assert not [d for d in run.events(RepriceDecided) if d.rule == "cooldown"]
    assert len(run.events(AdRepriced)) >= 1  # decided again on the next book, and accepted


# --- publisherType and userType (reference §3) ---------------------------------------------------

async def test_with_publisher_type_all_the_bot_sees_users_ads_and_can_filter_them_out(
        tmp_path, autojump_clock):
    sim = SimConfig(seed=14, **QUIET)
    results = {}
    for merchants_only in (False, True):
        cfg = bot_config(sim, market={"publisher_type": "all"},
                         filters={"merchants_only": merchants_only})
        path = tmp_path / str(merchants_only)
        path.mkdir()
        async with bot_on_sim(path, sim, cfg) as run:
            await trio.sleep(60)
        users = {a.adv_no for s in run.events(BookSnapshot) for a in s.ads
                 if a.user_type == "user"}
        assert users  # the strict simulator lists users' ads, and the bot asked for them
        bodies = [json.loads(r.content) for _, r in run.transport.paths("/adv/search")]
        assert all(b["publisherType"] is None for b in bodies)
        results[merchants_only] = {d.competitor for d in run.events(RepriceDecided)} & users
    assert results[True] == set()  # merchants_only: never priced against a user's ad
    assert results[False]  # otherwise a user's ad is a competitor like any other


# --- an open order Binance does not know (reference §5: EP-13 400 -1102) -------------------------

async def test_an_order_binance_refuses_to_detail_is_dropped_after_a_few_tries(tmp_path,
                                                                              autojump_clock):
    """An order an earlier session left open, which this exchange does not know: its EP-13 is
    answered 400 -1102 every time. It is asked about FOLLOW_TRIES times, not every poll."""
    from actors.orders import FOLLOW_TRIES
    from actors.restore import Restored

    ghost = "29904683312778471580"
    async with bot_on_sim(tmp_path, SimConfig(seed=9, **QUIET),
                          restored=Restored(orders={ghost: 1})) as run:
        await trio.sleep(120)
    asked = [e for e in run.events(ApiRequest) if e.endpoint == "EP-13" and e.purpose == ghost]
    # The first try may be the unsigned probe followed by its signed retry.
    assert FOLLOW_TRIES <= len(asked) <= FOLLOW_TRIES + 1
