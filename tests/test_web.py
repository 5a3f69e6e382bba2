"""The live web page without a browser: its data model, its stream and its token."""

import json
from decimal import Decimal

import httpx
import pytest
import trio

from app.web import WebError, WebView, serve_web, web_bind
from events import (AdRepriced, ApiResponse, BookAd, BookSnapshot, BreakerOpened,
                    ChatMessageReceived, ChatMessageSent, Envelope, MyAd, MyAdsLoaded,
                    OrderOpened, OrderStatusChanged, RepriceDecided)

D = Decimal


def env(event, t=0.0, seq=1) -> Envelope:
    return Envelope(session=1, seq=seq, ts_ms=0, t=t, source="x", cause=None, event=event)


def my_ads() -> MyAdsLoaded:
    return MyAdsLoaded(ads=(
        MyAd(adv_no="111", side="SELL", asset="USDT", fiat="NGN", price=D("1610.00"), status=1),
        MyAd(adv_no="222", side="BUY", asset="USDT", fiat="NGN", price=D("1500.00"), status=1)))


def book_ad(adv_no, price, nickname, mine=False) -> BookAd:
    return BookAd(adv_no=adv_no, price=D(price), surplus=D("100"), min_amount=D("1000"),
                  max_amount=D("90000"), nickname=nickname, mine=mine)


def sell_book() -> BookSnapshot:
    # "tiny" leads the book but the filters excluded it: the decision priced against "Jide".
    return BookSnapshot(asset="USDT", fiat="NGN", ad_side="SELL", pages=1, ads=(
        book_ad("900", "1590.00", "tiny"), book_ad("901", "1605.03", "Jide"),
        book_ad("111", "1610.00", "me", mine=True)))


def decided(new="1605.02") -> RepriceDecided:
    return RepriceDecided(adv_no="111", strategy="undercut", action="reprice",
                          old_price=D("1610.00"), new_price=D(new), rule="undercut",
                          reason="best competitor Jide at 1605.03; one step 0.01 better",
                          competitor="901", competitor_price=D("1605.03"))


def fed(*events) -> WebView:
    view = WebView(rps=5.0)
    for i, (t, e) in enumerate(events, 1):
        view.apply(env(e, t=t, seq=i))
    return view


def test_an_ad_shows_the_competitor_its_decision_priced_against_not_the_books_first():
    view = fed((0.0, my_ads()), (1.0, sell_book()), (1.0, decided()),
               (1.2, AdRepriced(adv_no="111", old_price=D("1610.00"), new_price=D("1605.02"))))
    ad = view.state()["ads"][0]
    assert ad["competitor"] == {"adv_no": "901", "price": "1605.03", "nickname": "Jide"}
    assert (ad["price"], ad["rank"]) == ("1605.02", 3)
    assert ad["decision"]["rule"] == "undercut"
    assert view.state()["decisions"][0] == {
        "t": 1.0, "adv_no": "111", "action": "reprice", "rule": "undercut",
        "reason": "best competitor Jide at 1605.03; one step 0.01 better", "old": "1610.00",
        "new": "1605.02", "clamp": None}


def test_the_chart_history_steps_with_my_price_and_the_competitors():
    view = fed((0.0, my_ads()), (1.0, sell_book()), (1.0, decided()),
               (1.2, AdRepriced(adv_no="111", old_price=D("1610.00"), new_price=D("1605.02"))))
    history = view.state()["ads"][0]["history"]
    assert history == [{"t": 0.0, "mine": "1610.00", "competitor": None},
                       {"t": 1.0, "mine": "1610.00", "competitor": "1605.03"},
                       {"t": 1.2, "mine": "1605.02", "competitor": "1605.03"}]


def test_orders_show_their_status_and_chat_without_the_sockets_echo_of_the_bot():
    order = OrderOpened(order_no="9", adv_no="111", side="SELL", asset="USDT", fiat="NGN",
                        amount=D("10"), price=D("1605"), total_price=D("16050"), status=1,
                        counterparty="Ada")
    view = fed((0.0, my_ads()), (2.0, order),
               (2.1, ChatMessageSent(order_no="9", uuid="u", content="Hello!", reason="greeting")),
               (2.2, ChatMessageReceived(message_id="1", order_no="9", msg_type="text",
                                         content="Hello!", self_sent=True)),
               (3.0, ChatMessageReceived(message_id="2", order_no="9", msg_type="text",
                                         content="<b>which bank?</b>", nickname="Ada")),
               (4.0, OrderStatusChanged(order_no="9", old_status=1, new_status=2)))
    shown = view.state()["orders"][0]
    assert shown["status"] == "paid, awaiting release"
    assert [(m["who"], m["text"]) for m in shown["chat"]] == [
        ("bot", "Hello!"), ("Ada", "<b>which bank?</b>")]


def test_the_limiter_budget_counts_answers_in_the_last_ten_seconds_and_breakers_per_host():
    answers = [(t / 2, ApiResponse(request_id=f"m-{t}", endpoint="EP-0", status=200))
               for t in range(30)]  # 2 a second for 15 s
    view = fed(*answers, (15.0, BreakerOpened(failures=15, open_s=45.0, host="bapi")))
    lim = view.state()["limiter"]
    assert (lim["last_s"], lim["per_s_10s"], lim["use"]) == (2, 2.0, 0.4)
    assert lim["breakers"] == {"bapi": "open"}


def test_answers_alone_do_not_wake_the_page_but_decisions_do():
    view = fed((0.0, my_ads()))
    v0 = view.version
    view.apply(env(ApiResponse(request_id="m-1", endpoint="EP-0", status=200), t=1.0))
    assert view.version == v0
    view.apply(env(decided(), t=1.0))
    assert view.version == v0 + 1


def test_web_bind_defaults_to_loopback_and_refuses_a_public_bind_without_a_token():
    assert web_bind("8080", {}) == ("127.0.0.1", 8080, None)
    assert web_bind("0.0.0.0:8080", {"BOT_WEB_TOKEN": "t0k"}) == ("0.0.0.0", 8080, "t0k")
    with pytest.raises(WebError, match="set BOT_WEB_TOKEN"):
        web_bind("0.0.0.0:8080", {})
    with pytest.raises(WebError, match=r"\[HOST:\]PORT"):
        web_bind("localhost:http", {})


def test_the_cli_refuses_a_public_web_bind_without_a_token_in_one_line(tmp_path, capsys,
                                                                       monkeypatch):
    import run

    monkeypatch.delenv("BOT_WEB_TOKEN", raising=False)
    code = run.main(["--web", "0.0.0.0:8080", "--db", str(tmp_path / "d.db"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "BOT_WEB_TOKEN" in err


async def test_every_request_needs_the_token_when_one_is_set(nursery):
    view = fed((0.0, my_ads()))
    url = await nursery.start(serve_web, view, "127.0.0.1", 0, "s3cret")
    async with httpx.AsyncClient() as client:
        for path in ("", "web.js", "state", "events"):
            assert (await client.get(url + path)).status_code == 401
        assert (await client.get(url + "state?token=wrong")).status_code == 401
        ok = await client.get(url + "state?token=s3cret")
        assert ok.status_code == 200 and ok.json()["ads"][0]["adv_no"] == "111"
        bearer = await client.get(url, headers={"Authorization": "Bearer s3cret"})
        assert bearer.status_code == 200 and b"web.js" in bearer.content
        assert (await client.post(url + "state?token=s3cret")).status_code == 405


async def test_the_stream_pushes_a_snapshot_when_the_bus_brings_a_change(nursery):
    view = fed((0.0, my_ads()))
    url = await nursery.start(serve_web, view, "127.0.0.1", 0, None)
    async with httpx.AsyncClient() as client:
        async with client.stream("GET", url + "events") as resp:
            assert resp.headers["content-type"] == "text/event-stream"
            lines = resp.aiter_lines()
            first = json.loads((await anext(lines)).removeprefix("data: "))
            assert first["ads"][0]["price"] == "1610.00"
            await trio.sleep(0.5)  # the stream is parked, waiting for the bus
            view.apply(env(AdRepriced(adv_no="111", old_price=D("1610.00"),
                                      new_price=D("1605.02")), t=3.0))
            with trio.fail_after(5):
                line = ""
                while not line.startswith("data: "):
                    line = await anext(lines)
            assert json.loads(line.removeprefix("data: "))["ads"][0]["price"] == "1605.02"


async def test_the_page_and_its_assets_fetch_nothing_from_elsewhere(nursery):
    url = await nursery.start(serve_web, WebView(), "127.0.0.1", 0, None)
    async with httpx.AsyncClient() as client:
        page = await client.get(url)
        csp = page.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "http" not in csp
        for path in ("", "web.js", "web.css"):
            body = (await client.get(url + path)).text
            assert "http://" not in body.replace("http://www.w3.org/2000/svg", "")
            assert "https://" not in body
