"""The market, ads, orders and chat actors against the simulator in this process, under
MockClock. Refusals are the simulator's, as reference §7 lists them."""

from decimal import Decimal

import trio
import trio.testing

from events import (AdPaused, AdRepriced, AdResumed, ChatConnected, ChatDisconnected,
                    ChatMessageReceived, ChatMessageSent, DryRunSkipped, OrderOpened,
                    OrderStatusChanged, RepriceDecided, RepriceFailed)
from tests.harness import SECRET, SimBinance, config, query_of, running_bot

PRICING = ("limiter", "market", "ads")
CFG = config(market={"pages": 1, "poll_interval_s": 2}, strategy={"step": "0.01"})


def sell_book(fake: SimBinance, rival_price: str) -> None:
    """A rival "c1" on the SELL side at `rival_price` (moved there if it is in the book)."""
    if "c1" in fake.exchange.market.ads:
        fake.move("c1", rival_price)
    else:
        fake.rival("c1", "SELL", rival_price, nick="rival")


def signed(request) -> bool:
    return "signature" in query_of(request)


def ep7_prices(fake: SimBinance) -> list[Decimal]:
    import json
    return [Decimal(str(json.loads(r.content)["price"])) for _, r in fake.calls("EP-7")]


async def test_a_competitor_move_leads_to_exactly_one_ep7_with_the_right_price(
        tmp_path, autojump_clock):
    fake = SimBinance()
    fake.my_ad("111", "SELL", "1600.50")
    sell_book(fake, "1600.00")
    async with running_bot(tmp_path, fake, actors=PRICING, cfg=CFG) as h:
        await trio.sleep(10)
        assert ep7_prices(fake) == [Decimal("1599.99")]  # then held: leading by one step
        sell_book(fake, "1599.50")
        await trio.sleep(10)
    assert ep7_prices(fake) == [Decimal("1599.99"), Decimal("1599.49")]
    assert [e.new_price for e in h.events(AdRepriced)] == ep7_prices(fake)
    holds = [d for d in h.events(RepriceDecided) if d.action == "hold"]
    assert holds and all(d.reason for d in holds)
    decided = [d for d in h.events(RepriceDecided) if d.action == "reprice"]
    assert decided[-1].competitor == "c1" and decided[-1].competitor_price == Decimal("1599.50")


async def test_a_reprice_first_reaches_binance_within_a_second_of_the_competitor_move(
        tmp_path, autojump_clock):
    fake = SimBinance()
    fake.my_ad("111", "SELL", "1599.99")
    sell_book(fake, "1600.00")
    async with running_bot(tmp_path, fake, actors=PRICING, cfg=CFG):
        await trio.sleep(5)
        moved_at = trio.current_time()
        sell_book(fake, "1599.00")
        await trio.sleep(5)
    (t, _), = fake.calls("EP-7")
    assert t - moved_at <= 1.0


async def test_187049_waits_300ms_refetches_my_ads_and_retries(tmp_path, autojump_clock):
    fake = SimBinance()
    fake.my_ad("111", "SELL", "1600.50")
    sell_book(fake, "1600.00")
    fake.push("EP-7", "187049")  # reference §7: -9000 wrapping 187049
    async with running_bot(tmp_path, fake, actors=PRICING, cfg=CFG) as h:
        await trio.sleep(3)
    (t1, _), (t2, _) = fake.calls("EP-7")[:2]
    eps = [ep for _, ep, _ in fake.requests if ep in ("EP-4", "EP-7")]
    first = eps.index("EP-7")
    assert eps[first:first + 3] == ["EP-7", "EP-4", "EP-7"]  # refetched, then retried
    assert t2 - t1 >= 0.3
    assert ep7_prices(fake)[:2] == [Decimal("1599.99")] * 2
    assert h.events(RepriceFailed)[0].will_retry


async def test_187055_searches_for_the_nearest_valid_price(tmp_path, autojump_clock):
    """Reference §7, §10: 187055, a price outside the allowed band (the simulator's band is
    2.5 % around its reference price 1600.00 here: 1560.00 is its edge)."""
    fake = SimBinance(band=Decimal("0.025"))
    fake.my_ad("111", "SELL", "1600.50")
    sell_book(fake, "1500.00")  # a rival far below: the band stops us before it
    async with running_bot(tmp_path, fake, actors=PRICING, cfg=CFG) as h:
        await trio.sleep(2)
    prices = ep7_prices(fake)
    assert prices[0] == Decimal("1499.99")
    accepted = h.events(AdRepriced)
    assert accepted and all(a.new_price >= Decimal("1560.00") for a in accepted)
    # Binary search: each accepted step is closer to the band's edge than the last.
    assert abs(accepted[-1].new_price - Decimal("1560.00")) < Decimal("3")
    assert len(prices) <= 7


async def test_83229_pauses_the_ad_until_ep4_shows_it_online(tmp_path, autojump_clock):
    fake = SimBinance()
    fake.my_ad("111", "SELL", "1600.50")
    sell_book(fake, "1600.00")
    fake.push("EP-7", "83229")  # reference §7: rest mode, the ad paused
    cfg = config(market={"pages": 1, "poll_interval_s": 2}, ads={"refresh_s": 20})
    async with running_bot(tmp_path, fake, actors=PRICING, cfg=cfg) as h:
        await trio.sleep(15)
        assert len(fake.calls("EP-7")) == 1  # paused: no reprices
        await trio.sleep(10)  # the EP-4 refresh at t=20 shows it online again
    assert [type(e).__name__ for e in h.events(AdPaused, AdResumed)] == ["AdPaused", "AdResumed"]
    assert len(fake.calls("EP-7")) == 2


async def test_dry_run_records_the_reprice_instead_of_sending_it(tmp_path, autojump_clock):
    fake = SimBinance()
    fake.my_ad("111", "SELL", "1600.50")
    sell_book(fake, "1600.00")
    async with running_bot(tmp_path, fake, actors=PRICING, cfg=CFG, dry_run=True) as h:
        await trio.sleep(5)
    assert fake.calls("EP-7") == []
    skipped = h.events(DryRunSkipped)
    assert len(skipped) == 1 and "1599.99" in skipped[0].body


async def test_a_new_order_gets_one_detail_call_and_one_greeting(tmp_path, autojump_clock):
    fake = SimBinance()
    fake.my_ad("111", "SELL", "1600.00")
    cfg = config(orders={"poll_interval_s": 2}, chat={"greeting": "hi there"})
    async with running_bot(tmp_path, fake, actors=("limiter", "orders", "chat"), cfg=cfg) as h:
        await trio.sleep(3)
        no = fake.open_order("111", amount="10.00", counterparty="buyer1")
        await trio.sleep(10)
        fake.order_status(no, 2)  # the buyer paid
        await trio.sleep(5)
    # One detail of the order: the session's unsigned try, refused as Binance refuses every
    # unsigned C2C call (reference §2, §10), then signed; never asked again.
    assert [signed(r) for _, r in fake.calls("EP-13")] == [False, True]
    opened = h.events(OrderOpened)
    assert len(opened) == 1 and opened[0].amount == Decimal("10.00")
    assert opened[0].counterparty == "buyer1"
    greetings = [f for f in fake.frames_from_bot if f["content"] == "hi there"]
    assert len(greetings) == 1 and greetings[0]["orderNo"] == no
    assert greetings[0]["type"] == "text" and greetings[0]["self"] is True
    assert [(c.old_status, c.new_status) for c in h.events(OrderStatusChanged)] == [(1, 2)]


async def test_an_order_greeted_before_a_restart_is_not_greeted_again(tmp_path, autojump_clock):
    from actors.restore import restore
    fake = SimBinance()
    fake.my_ad("111", "SELL", "1600.00")
    fake.open_order("111", amount="10.00")
    cfg = config(orders={"poll_interval_s": 2}, chat={"greeting": "hi there"})
    async with running_bot(tmp_path, fake, actors=("limiter", "orders", "chat"), cfg=cfg) as h:
        await trio.sleep(5)
    details = len(fake.calls("EP-13"))
    assert details  # the first run asked for the order's detail
    restored = restore(h.log)
    async with running_bot(tmp_path, fake, actors=("limiter", "orders", "chat"), cfg=cfg,
                           restored=restored):
        await trio.sleep(5)
    assert len([f for f in fake.frames_from_bot if f["content"] == "hi there"]) == 1
    assert len(fake.calls("EP-13")) == details  # the order was known: no second detail call


async def test_chat_reconnects_with_a_fresh_credential_after_a_drop(tmp_path, autojump_clock):
    """Reference §8: a message comes as its unread frame, then as a read copy with the same id
    (here 4 s later, on the new socket); sockets drop with no close frame, and a new socket needs
    a new credential."""
    fake = SimBinance(chat_read_copy_share=1.0, chat_read_delay_s=(4.0, 4.0))
    fake.my_ad("111", "SELL", "1600.00")
    cfg = config(chat={"auto_replies": {"bank": "Bank details are in the order page."}})
    async with running_bot(tmp_path, fake, actors=("limiter", "chat"), cfg=cfg) as h:
        await fake.connected()
        no = fake.open_order("111")
        fake.exchange.push_chat(no, "text", "which BANK?")
        await trio.sleep(1)
        fake.exchange.close_chat_sockets("drop")
        await fake.connected(2)
        await trio.sleep(5)  # the read copy arrives on the new socket
    assert len(fake.calls("EP-33")) == 2 and len(fake.chat_urls) == 2
    assert all("token=TOKEN" in u and "clientType=web" in u for u in fake.chat_urls)
    assert [c.attempt for c in h.events(ChatConnected)] == [1, 2]
    assert len(h.events(ChatDisconnected)) == 1
    from events import ChatFrameReceived
    received = h.events(ChatMessageReceived)
    asked = [m for m in received if m.msg_type == "text" and not m.self_sent]
    assert len(asked) == 1  # deduplicated by message id ...
    copies = [f for f in h.events(ChatFrameReceived) if f'"{asked[0].message_id}"' in f.text]
    assert len(copies) == 2  # ... though it came twice, its read copy on the new socket
    assert len({m.message_id for m in received}) == len(received)
    replies = h.events(ChatMessageSent)
    assert [r.reason for r in replies] == ["auto_reply"]
    assert len(fake.frames_from_bot) == 1


async def test_ep8_falls_back_to_the_comma_string_when_binance_refuses_the_list(
        tmp_path, autojump_clock):
    """Reference §10: the tutorial's fallback; the simulator refuses the list here
    (status_list_reject_share) with the -1102 "Mandatory parameter 'advNos'" text."""
    fake = SimBinance(status_list_reject_share=1.0)
    fake.my_ad("111", "SELL", "1600.50", status=3)
    fake.my_ad("222", "SELL", "1601.00", status=3)
    cfg = config(ads={"adv_nos": ["111", "222"], "online_on_start": True})
    async with running_bot(tmp_path, fake, actors=("limiter", "ads"), cfg=cfg) as h:
        await trio.sleep(3)
    import json
    bodies = [json.loads(r.content) for _, r in fake.calls("EP-8")]
    assert bodies == [{"advNos": ["111", "222"], "advStatus": 1},
                      {"advNos": "111,222", "advStatus": 1}]
    from events import AdStatusChanged, MyAdsLoaded
    assert [e.status for e in h.events(AdStatusChanged)] == [1]
    assert all(a.status == 1 for a in h.events(MyAdsLoaded)[-1].ads)


async def test_the_log_holds_every_event_in_the_order_the_actors_saw_it(tmp_path, autojump_clock):
    """Two independent paths: what a subscriber's inbox received (the bus's delivery) against
    what the log file holds once read back and decoded (the writer, SQLite and the codec)."""
    from events import ApiResponse, BookSnapshot, MyAdsLoaded, RepriceDecided

    watched = (BookSnapshot, MyAdsLoaded, RepriceDecided, ApiResponse)
    fake = SimBinance()
    fake.my_ad("111", "SELL", "1600.50")
    sell_book(fake, "1600.00")
    received = []
    async with running_bot(tmp_path, fake, actors=PRICING, cfg=CFG, listen=watched) as h:
        with trio.move_on_after(10):
            async for env in h.inbox:
                received.append((env.seq, env.event))
    logged = list(h.log.events(h.session))
    assert [e.seq for e in logged] == list(range(1, len(logged) + 1))
    in_log = [(e.seq, e.event) for e in logged if isinstance(e.event, watched)]
    assert len(received) > 20 and in_log[:len(received)] == received
    assert all(e.cause is None or e.cause < e.seq for e in logged)
    assert type(logged[-1].event).__name__ == "RunStopped"


async def test_a_failing_actor_is_logged_and_restarted_with_backoff(autojump_clock):
    from actors.supervise import supervise
    from events import ActorFailed, ActorStarted
    emitted = []
    runs = []

    async def emit(event, cause=None):
        emitted.append((trio.current_time(), event))

    async def flaky(task_status=trio.TASK_STATUS_IGNORED):
        task_status.started()
        runs.append(trio.current_time())
        if len(runs) < 4:
            raise ValueError("decoder exploded")
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        await nursery.start(supervise, "market", flaky, emit)
        await trio.sleep(10)
        nursery.cancel_scope.cancel()
    assert runs == [0.0, 0.5, 1.5, 3.5]  # backoff 0.5, 1, 2 s
    failed = [e for _, e in emitted if isinstance(e, ActorFailed)]
    assert [f.restart_in_s for f in failed] == [0.5, 1.0, 2.0]
    assert failed[0].error == "ValueError" and failed[0].message == "decoder exploded"
    assert [e.attempt for _, e in emitted if isinstance(e, ActorStarted)] == [1, 2, 3, 4]


async def test_bad_credentials_stop_the_run_with_one_clear_reason(tmp_path, autojump_clock):
    fake = SimBinance()
    fake.push("EP-4", "-2008")  # reference §7: fatal
    async with running_bot(tmp_path, fake, actors=PRICING, cfg=CFG) as h:
        await trio.sleep(5)
    assert h.reason.startswith("fatal") and "Invalid Api-Key ID." in h.reason
    assert SECRET not in h.reason


async def test_an_ep7_answered_data_false_is_a_failed_reprice_not_an_accepted_one(
        tmp_path, autojump_clock):
    """Reference §4, §10: EP-7's success body is CommonRet_boolean; no capture exists, so a
    `data: false` is possible (scripted: the simulator never sends it on its own)."""
    from sim.wire import sapi_ok
    fake = SimBinance()
    fake.my_ad("111", "SELL", "1600.50")
    sell_book(fake, "1600.00")
    fake.push("EP-7", sapi_ok(False))
    async with running_bot(tmp_path, fake, actors=PRICING, cfg=CFG) as h:
        await trio.sleep(5)
    failed = h.events(RepriceFailed)
    assert failed and "data: false" in failed[0].message
    repriced = h.events(AdRepriced)
    assert len(fake.calls("EP-7")) == len(repriced) + 1  # the refused one, then a retry landed


# --- per-ad pricing: [ads.overrides."<advNo>"] ---------------------------------------------------

def two_sell_ads(fake: SimBinance) -> None:
    fake.my_ad("111", "SELL", "1600.50")
    fake.my_ad("222", "SELL", "1600.50")
    fake.rival("c1", "SELL", "1580.00", nick="rival")


def decided(h, adv_no: str) -> list[RepriceDecided]:
    return [d for d in h.events(RepriceDecided) if d.adv_no == adv_no]


async def test_a_floor_override_on_one_ad_changes_only_that_ads_decisions(
        tmp_path, autojump_clock):
    fake = SimBinance()
    two_sell_ads(fake)
    cfg = config(market={"pages": 1, "poll_interval_s": 2},
                 strategy={"floor": "1500.00", "ceiling": "1490.00"},
                 ads={"overrides": {"222": {"floor": "1590.00"}}})
    async with running_bot(tmp_path, fake, actors=PRICING, cfg=cfg) as h:
        await trio.sleep(5)
    # 111 prices on the global floor 1500 (the 1490 ceiling is the BUY side's): under the rival.
    assert [(d.new_price, d.clamp) for d in decided(h, "111") if d.action == "reprice"] == [
        (Decimal("1579.99"), None)]
    # 222's own floor stops it at 1590.00.
    assert [(d.new_price, d.clamp) for d in decided(h, "222") if d.action == "reprice"] == [
        (Decimal("1590.00"), "floor")]
    assert {a.adv_no: a.new_price for a in h.events(AdRepriced)} == {
        "111": Decimal("1579.99"), "222": Decimal("1590.00")}


async def test_reprice_decided_names_the_ads_own_strategy_and_its_own_rate_cap_holds(
        tmp_path, autojump_clock):
    fake = SimBinance()
    two_sell_ads(fake)
    fake.rival("c2", "SELL", "1585.00", nick="rival2")
    cfg = config(market={"pages": 1, "poll_interval_s": 2},
                 ads={"overrides": {"222": {"name": "rank", "max_reprices_per_min": 0}}})
    async with running_bot(tmp_path, fake, actors=PRICING, cfg=cfg) as h:
        await trio.sleep(5)
    assert {d.strategy for d in decided(h, "111")} == {"undercut"}
    assert {d.strategy for d in decided(h, "222")} == {"rank"}
    # 222 would hold rank 2 at 1584.99, but its own cap of 0 a minute holds it where it is.
    assert {d.rule for d in decided(h, "222")} == {"rate_cap"}
    assert [a.adv_no for a in h.events(AdRepriced)] == ["111"]


async def test_an_override_for_an_ad_ep4_does_not_list_ends_the_run_in_one_line(
        tmp_path, autojump_clock):
    fake = SimBinance()
    fake.my_ad("111", "SELL", "1600.50")
    fake.my_ad("333", "BUY", "1500.00", status=3)
    sell_book(fake, "1600.00")
    # 333 is offline, yet mine: an override may name it. 999 is nobody's.
    cfg = config(market={"pages": 1, "poll_interval_s": 2},
                 ads={"overrides": {"333": {"ceiling": "1"}, "999": {"floor": "1"}}})
    async with running_bot(tmp_path, fake, actors=PRICING, cfg=cfg) as h:
        await trio.sleep(5)
    assert h.reason == ("fatal: ads.overrides names advNo 999 which EP-4 does not list "
                        "among my ads")
    assert fake.calls("EP-7") == []
