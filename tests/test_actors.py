"""The market, ads, orders and chat actors against a scripted Binance, under MockClock."""

from decimal import Decimal

import trio
import trio.testing

from events import (AdPaused, AdRepriced, AdResumed, ChatConnected, ChatDisconnected,
                    ChatMessageReceived, ChatMessageSent, DryRunSkipped, OrderOpened,
                    OrderStatusChanged, RepriceDecided, RepriceFailed)
from tests.fake_binance import FakeBinance, book_item, gateway_error, my_ad
from tests.fake_chat import FakeChat
from tests.harness import config, running_bot

PRICING = ("limiter", "market", "ads")
CFG = config(market={"pages": 1, "poll_interval_s": 2}, strategy={"step": "0.01"})


def sell_book(fake: FakeBinance, rival_price: str, mine: str = "111") -> None:
    ad = next(a for a in fake.my_ads if a["advNo"] == mine)
    items = [book_item("c1", rival_price, "SELL", nick="rival"),
             book_item(mine, ad["price"], "SELL", nick="me")]
    fake.book["SELL"] = sorted(items, key=lambda i: Decimal(i["adv"]["price"]))


def ep7_prices(fake: FakeBinance) -> list[Decimal]:
    import json
    return [Decimal(str(json.loads(r.content)["price"])) for _, r in fake.calls("EP-7")]


async def test_a_competitor_move_leads_to_exactly_one_ep7_with_the_right_price(
        tmp_path, autojump_clock):
    fake = FakeBinance()
    fake.my_ads.append(my_ad("111", "SELL", "1600.50"))
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
    fake = FakeBinance()
    fake.my_ads.append(my_ad("111", "SELL", "1599.99"))
    sell_book(fake, "1600.00")
    async with running_bot(tmp_path, fake, actors=PRICING, cfg=CFG):
        await trio.sleep(5)
        moved_at = trio.current_time()
        sell_book(fake, "1599.00")
        await trio.sleep(5)
    (t, _), = fake.calls("EP-7")
    assert t - moved_at <= 1.0


async def test_187049_waits_300ms_refetches_my_ads_and_retries(tmp_path, autojump_clock):
    fake = FakeBinance()
    fake.my_ads.append(my_ad("111", "SELL", "1600.50"))
    sell_book(fake, "1600.00")
    fake.push("EP-7", gateway_error(-9000, "187049"))
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
    fake = FakeBinance()
    fake.my_ads.append(my_ad("111", "SELL", "1600.50"))
    sell_book(fake, "1500.00")  # a rival far below: the band stops us before it
    real = fake._ep_7

    def banded(request):
        import json
        if Decimal(str(json.loads(request.content)["price"])) < Decimal("1560.00"):
            return gateway_error(-9000, "187055")
        return real(request)

    fake._ep_7 = banded
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
    fake = FakeBinance()
    fake.my_ads.append(my_ad("111", "SELL", "1600.50"))
    sell_book(fake, "1600.00")
    fake.push("EP-7", gateway_error(-9000, "83229"))
    cfg = config(market={"pages": 1, "poll_interval_s": 2}, ads={"refresh_s": 20})
    async with running_bot(tmp_path, fake, actors=PRICING, cfg=cfg) as h:
        await trio.sleep(15)
        assert len(fake.calls("EP-7")) == 1  # paused: no reprices
        await trio.sleep(10)  # the EP-4 refresh at t=20 shows it online again
    assert [type(e).__name__ for e in h.events(AdPaused, AdResumed)] == ["AdPaused", "AdResumed"]
    assert len(fake.calls("EP-7")) == 2


async def test_dry_run_records_the_reprice_instead_of_sending_it(tmp_path, autojump_clock):
    fake = FakeBinance()
    fake.my_ads.append(my_ad("111", "SELL", "1600.50"))
    sell_book(fake, "1600.00")
    async with running_bot(tmp_path, fake, actors=PRICING, cfg=CFG, dry_run=True) as h:
        await trio.sleep(5)
    assert fake.calls("EP-7") == []
    skipped = h.events(DryRunSkipped)
    assert len(skipped) == 1 and "1599.99" in skipped[0].body


def _order(no: str, status: int) -> dict:
    return {"orderNumber": no, "advNo": "111", "tradeType": "SELL", "asset": "USDT",
            "fiat": "NGN", "amount": "10.00", "totalPrice": "16000.00", "orderStatus": status,
            "createTime": 1768000000000, "buyerNickname": "buyer1", "sellerNickname": "me"}


def _detail(no: str, status: int) -> dict:
    return {"orderNumber": no, "advOrderNumber": "111", "tradeType": "SELL", "asset": "USDT",
            "fiatUnit": "NGN", "amount": "10.00", "price": "1600.00", "totalPrice": "16000.00",
            "orderStatus": status, "createTime": 1768000000000, "buyerNickname": "buyer1",
            "sellerNickname": "me"}


async def test_a_new_order_gets_one_detail_call_and_one_greeting(tmp_path, autojump_clock):
    fake = FakeBinance()
    cfg = config(orders={"poll_interval_s": 2}, chat={"greeting": "hi there"})
    async with trio.open_nursery() as nursery:
        chat = FakeChat(nursery)
        async with running_bot(tmp_path, fake, actors=("limiter", "orders", "chat"), cfg=cfg,
                               connect=chat.connect) as h:
            await trio.sleep(3)
            fake.orders.append(_order("2284", 1))
            fake.details["2284"] = _detail("2284", 1)
            await trio.sleep(10)
            fake.orders[0]["orderStatus"] = 2
            await trio.sleep(5)
        nursery.cancel_scope.cancel()
    assert len(fake.calls("EP-13")) == 1
    opened = h.events(OrderOpened)
    assert len(opened) == 1 and opened[0].amount == Decimal("10.00")
    assert opened[0].counterparty == "buyer1"
    greetings = [f for f in chat.frames_from_bot if f["content"] == "hi there"]
    assert len(greetings) == 1 and greetings[0]["orderNo"] == "2284"
    assert greetings[0]["type"] == "text" and greetings[0]["self"] is True
    assert [(c.old_status, c.new_status) for c in h.events(OrderStatusChanged)] == [(1, 2)]


async def test_an_order_greeted_before_a_restart_is_not_greeted_again(tmp_path, autojump_clock):
    from actors.restore import restore
    fake = FakeBinance()
    fake.orders.append(_order("2284", 1))
    fake.details["2284"] = _detail("2284", 1)
    cfg = config(orders={"poll_interval_s": 2}, chat={"greeting": "hi there"})
    async with trio.open_nursery() as nursery:
        chat = FakeChat(nursery)
        async with running_bot(tmp_path, fake, actors=("limiter", "orders", "chat"), cfg=cfg,
                               connect=chat.connect) as h:
            await trio.sleep(5)
        restored = restore(h.log)
        async with running_bot(tmp_path, fake, actors=("limiter", "orders", "chat"), cfg=cfg,
                               connect=chat.connect, restored=restored):
            await trio.sleep(5)
        nursery.cancel_scope.cancel()
    assert len([f for f in chat.frames_from_bot if f["content"] == "hi there"]) == 1
    assert len(fake.calls("EP-13")) == 1  # the order was known: no second detail call


async def test_chat_reconnects_with_a_fresh_credential_after_a_drop(tmp_path, autojump_clock):
    fake = FakeBinance()
    cfg = config(chat={"auto_replies": {"bank": "Bank details are in the order page."}})
    async with trio.open_nursery() as nursery:
        chat = FakeChat(nursery)
        async with running_bot(tmp_path, fake, actors=("limiter", "chat"), cfg=cfg,
                               connect=chat.connect) as h:
            await chat.connected.wait()
            await chat.push({"id": "501", "type": "text", "orderNo": "2284",
                             "content": "which BANK?", "self": False, "createTime": 1})
            await trio.sleep(1)
            await chat.drop()
            await trio.sleep(5)
            await chat.connected.wait()
            await chat.push({"id": "501", "type": "text", "orderNo": "2284",
                             "content": "which BANK?", "self": False, "createTime": 1})
            await trio.sleep(1)
        nursery.cancel_scope.cancel()
    assert len(fake.calls("EP-33")) == 2 and len(chat.urls) == 2
    assert all("token=TOKEN" in u and "clientType=web" in u for u in chat.urls)
    assert [c.attempt for c in h.events(ChatConnected)] == [1, 2]
    assert len(h.events(ChatDisconnected)) == 1
    assert len(h.events(ChatMessageReceived)) == 1  # deduplicated by message id
    replies = h.events(ChatMessageSent)
    assert [r.reason for r in replies] == ["auto_reply"]
    assert len(chat.frames_from_bot) == 1


async def test_ep8_falls_back_to_the_comma_string_when_binance_refuses_the_list(
        tmp_path, autojump_clock):
    fake = FakeBinance()
    fake.my_ads += [my_ad("111", "SELL", "1600.50", status=3), my_ad("222", "SELL", "1601.00",
                                                                     status=3)]
    fake.push("EP-8", gateway_error(-1102, "Mandatory parameter 'advNos' was not sent, was "
                                           "empty/null, or malformed."))
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
    fake = FakeBinance()
    fake.my_ads.append(my_ad("111", "SELL", "1600.50"))
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
    fake = FakeBinance()
    fake.push("EP-4", gateway_error(-2008, "Invalid Api-Key ID."))
    async with running_bot(tmp_path, fake, actors=PRICING, cfg=CFG) as h:
        await trio.sleep(5)
    assert h.reason.startswith("fatal") and "Invalid Api-Key ID." in h.reason
    assert "testSecret" not in h.reason


async def test_an_ep7_answered_data_false_is_a_failed_reprice_not_an_accepted_one(
        tmp_path, autojump_clock):
    import httpx
    fake = FakeBinance()
    fake.my_ads.append(my_ad("111", "SELL", "1600.50"))
    sell_book(fake, "1600.00")
    fake.push("EP-7", httpx.Response(200, json={"code": "000000", "message": "success",
                                                "data": False, "success": True}))
    async with running_bot(tmp_path, fake, actors=PRICING, cfg=CFG) as h:
        await trio.sleep(5)
    failed = h.events(RepriceFailed)
    assert failed and "data: false" in failed[0].message
    repriced = h.events(AdRepriced)
    assert len(fake.calls("EP-7")) == len(repriced) + 1  # the refused one, then a retry landed


# --- per-ad pricing: [ads.overrides."<advNo>"] ---------------------------------------------------

def two_sell_ads(fake: FakeBinance) -> None:
    fake.my_ads += [my_ad("111", "SELL", "1600.50"), my_ad("222", "SELL", "1600.50")]
    fake.book["SELL"] = [book_item("c1", "1580.00", "SELL", nick="rival"),
                         book_item("111", "1600.50", "SELL", nick="me"),
                         book_item("222", "1600.50", "SELL", nick="me")]


def decided(h, adv_no: str) -> list[RepriceDecided]:
    return [d for d in h.events(RepriceDecided) if d.adv_no == adv_no]


async def test_a_floor_override_on_one_ad_changes_only_that_ads_decisions(
        tmp_path, autojump_clock):
    fake = FakeBinance()
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
    fake = FakeBinance()
    two_sell_ads(fake)
    fake.book["SELL"].insert(1, book_item("c2", "1585.00", "SELL", nick="rival2"))
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
    fake = FakeBinance()
    fake.my_ads += [my_ad("111", "SELL", "1600.50"), my_ad("333", "BUY", "1500.00", status=3)]
    sell_book(fake, "1600.00")
    # 333 is offline, yet mine: an override may name it. 999 is nobody's.
    cfg = config(market={"pages": 1, "poll_interval_s": 2},
                 ads={"overrides": {"333": {"ceiling": "1"}, "999": {"floor": "1"}}})
    async with running_bot(tmp_path, fake, actors=PRICING, cfg=cfg) as h:
        await trio.sleep(5)
    assert h.reason == ("fatal: ads.overrides names advNo 999 which EP-4 does not list "
                        "among my ads")
    assert fake.calls("EP-7") == []
