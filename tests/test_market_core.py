"""The market actor's pure core: the plan, its fold over the log, and what it asks next, tested
without trio (the shell is covered by test_multimarket, test_conformance and test_restart)."""

from decimal import Decimal

import pytest

from actors import market_core as core
from actors.config import load_config
from actors.market_core import Pages, State
from c2c import endpoints
from events import BookAd, BookSnapshot, Envelope, MyAd, MyAdsLoaded

CFG = load_config({"markets": [{"asset": "USDT", "pages": 3, "poll_interval_s": 10},
                               {"asset": "BTC", "pages": 1, "poll_interval_s": 10}]})
USDT_SELL = ("USDT", "NGN", "SELL")
BTC_SELL, BTC_BUY = ("BTC", "NGN", "SELL"), ("BTC", "NGN", "BUY")


def my_ad(adv_no, side="SELL", asset="USDT"):
    return MyAd(adv_no=adv_no, side=side, asset=asset, fiat="NGN", price=Decimal("1600"),
                status=1)


def book_ad(adv_no, price="1600"):
    return BookAd(adv_no=adv_no, price=Decimal(price), surplus=Decimal(100),
                  min_amount=Decimal(1000), max_amount=Decimal(900000), pay_methods=("BANK",),
                  nickname=adv_no, month_orders=10, finish_rate=Decimal("0.99"))


def snap(key, pages, *prices, complete=True):
    asset, fiat, side = key
    return BookSnapshot(asset=asset, fiat=fiat, ad_side=side, pages=pages, complete=complete,
                        ads=tuple(book_ad(f"c{i}", p) for i, p in enumerate(prices)))


def search(rid, key, twin=False, page=1):
    asset, fiat, side = key
    return endpoints.search_ads(rid, asset=asset, fiat=fiat, want=endpoints.ads_list_for(side),
                                page=page, signed_twin=twin)


def env(seq, event, t=0.0, source="market"):
    return Envelope(session=1, seq=seq, t=t, ts_ms=0, source=source, cause=None, event=event)


def loaded(*ads):
    return env(0, MyAdsLoaded(ads=ads), source="ads")


# --- the plan -----------------------------------------------------------------------------------


def test_the_plan_is_my_ads_sides_and_a_later_load_adds_the_side_of_a_new_ad():
    state = core.fold([loaded(my_ad("1"))], State(CFG))
    # USDT/NGN: my SELL ad's side only; BTC/NGN, where I have no ad: both, watched.
    assert core.start(state, 0.0) == [(USDT_SELL, 0.0), (BTC_SELL, 1 / 3), (BTC_BUY, 2 / 3)]
    assert [s.mine for s in state.streams] == [True, False, False]
    core.fold([loaded(my_ad("1"), my_ad("2", "BUY"))], state)
    assert core.start(state, 5.0, running=[USDT_SELL, BTC_SELL, BTC_BUY]) == [
        (("USDT", "NGN", "BUY"), 0.0)]  # polled from this load on, at once
    assert [(s.key[0], s.key[2], s.mine) for s in state.streams] == [
        ("USDT", "SELL", True), ("BTC", "SELL", False), ("BTC", "BUY", False),
        ("USDT", "BUY", True)]
    assert state.my_adv_nos == {"1", "2"}


def test_a_side_my_ads_left_stays_watched():
    state = core.fold([loaded(my_ad("1"), my_ad("2", "BUY")), loaded(my_ad("2", "BUY"))],
                      State(CFG))
    assert [(s.key[2], s.mine) for s in state.streams if s.key[0] == "USDT"] == [
        ("SELL", False), ("BUY", True)]


def test_the_plan_is_the_same_whichever_load_it_was_made_at():
    """A restarted market folds the loads; the shell may have planned before or after some."""
    loads = [loaded(my_ad("1")), loaded(my_ad("1"), my_ad("2", "BUY")), loaded(my_ad("2", "BUY"))]
    folded = core.fold(loads, State(CFG))
    for split in range(1, len(loads) + 1):
        state = core.fold(loads[:split], State(CFG))
        core.start(state, 0.0)
        core.fold(loads[split:], state)
        assert [(s.key, s.mine) for s in state.streams] == \
            [(s.key, s.mine) for s in folded.streams]


def test_a_market_that_polled_before_any_load_watches_both_sides_and_marks_mine_later():
    """The 15 s wait for my ads ran out: both sides of every market are polled, and a later
    load of my ads says which are mine."""
    state = core.fold([env(1, search("market-1", USDT_SELL)), loaded(my_ad("1"))], State(CFG))
    assert [(s.key, s.mine) for s in state.streams] == [
        (USDT_SELL, True), (("USDT", "NGN", "BUY"), False), (BTC_SELL, False), (BTC_BUY, False)]
    assert state.my_adv_nos == {"1"}


def test_a_record_run_polls_both_sides_whatever_my_ads():
    state = core.fold([loaded(my_ad("1"))], State(CFG, fixed_sides=("SELL", "BUY")))
    core.start(state, 0.0)
    assert [s.key[2] for s in state.streams] == ["SELL", "BUY", "SELL", "BUY"]


# --- which pages, and when ----------------------------------------------------------------------


def test_every_page_first_then_page_one_until_poll_interval_s_of_polls_have_passed():
    state = core.fold([loaded(my_ad("1"))], State(CFG))
    core.start(state, 0.0)
    step = state.stream(USDT_SELL).step
    every = round(10 / step)  # polls in poll_interval_s at this stream's interval
    asked, t = [], 0.0
    for _ in range(2 * every + 1):
        pages = core.pages_for(state, USDT_SELL)
        asked.append(pages)
        core.apply_event(state, snap(USDT_SELL, pages, "1600"), t)
        t = core.next_poll(state, USDT_SELL, t, t)
    assert asked == [3] + [1] * (every - 1) + [3] + [1] * (every - 1) + [3]
    assert core.pages_for(state, BTC_SELL) == 1  # a market of one page reads one page


def test_a_stream_whose_page_one_moved_polls_sooner_and_a_late_poll_does_not_bunch():
    state = core.fold([loaded(my_ad("1"))], State(CFG))
    core.start(state, 0.0)
    core.apply_event(state, snap(BTC_SELL, 1, "1600", "1601"), 1.0)
    quiet = core.next_poll(state, BTC_SELL, 1.0, 1.0) - 1.0
    core.apply_event(state, snap(BTC_SELL, 1, "1599", "1601"), 2.0)  # page 1 changed
    moved = core.next_poll(state, BTC_SELL, 2.0, 2.0) - 2.0
    assert moved < quiet
    core.apply_event(state, snap(BTC_SELL, 1, "1599", "1601"), 40.0)  # quiet for 38 s
    assert core.next_poll(state, BTC_SELL, 40.0, 40.0) - 40.0 == pytest.approx(quiet)
    assert core.next_poll(state, BTC_SELL, 0.0, 50.0) == 50.0  # overdue: now, not a burst


def test_a_cut_book_says_nothing_about_the_book_moving():
    state = core.fold([loaded(my_ad("1"))], State(CFG))
    core.start(state, 0.0)
    core.apply_event(state, snap(BTC_SELL, 1, "1600"), 1.0)
    core.apply_event(state, snap(BTC_SELL, 1, "1500", complete=False), 2.0)
    assert state.stream(BTC_SELL).moved_at == -float("inf")


def test_the_log_folds_to_the_times_the_shell_saw():
    """Snapshots are logged at session time `t`; the shell's clock is `origin` later."""
    state = core.fold([loaded(my_ad("1")), env(2, snap(BTC_SELL, 1, "1600"), t=1.0),
                       env(3, snap(BTC_SELL, 1, "1599"), t=2.0)], State(CFG, origin=100.0))
    assert state.stream(BTC_SELL).moved_at == 102.0


def test_snapshots_and_requests_of_others_are_not_the_markets():
    state = core.fold([loaded(my_ad("1")), env(2, snap(BTC_SELL, 1, "1600"), source="tester"),
                       env(3, search("tester-1", BTC_SELL, twin=True), source="tester")],
                      State(CFG, signed_twin=True))
    assert state.stream(BTC_SELL).top is None and state.twin_pages_left == {}


# --- EP-0 or its signed twin --------------------------------------------------------------------


def test_after_ep0_gave_no_page_the_twin_is_asked_at_once_and_for_the_next_four_pages():
    """The merchant API's signed twin of the search (EP-0S, reference §3) keeps the bot
    reading while the public host refuses (§7)."""
    state = State(CFG, signed_twin=True)
    kinds = []
    for page in range(7):
        twin = core.ask_twin(state, USDT_SELL)
        core.asked(state, USDT_SELL, twin)
        kinds.append("EP-0S" if twin else "EP-0")
        if page == 0 and core.ask_twin_after(state, twin, None):  # EP-0 gave no page
            core.asked(state, USDT_SELL, True)
            kinds.append("EP-0S")
    assert kinds == ["EP-0", "EP-0S"] + ["EP-0S"] * 4 + ["EP-0", "EP-0"]
    assert not core.ask_twin(state, BTC_SELL), "another stream's failure"


def test_without_keys_the_twin_is_never_asked():
    state = State(CFG, signed_twin=False)
    assert not core.ask_twin_after(state, False, None)


def test_the_logged_requests_fold_to_the_twin_pages_left():
    state = core.fold([loaded(my_ad("1")), env(2, search("market-1", USDT_SELL)),
                       env(3, search("market-2", USDT_SELL, twin=True)),
                       env(4, search("market-3", USDT_SELL, twin=True, page=2))],
                      State(CFG, signed_twin=True))
    assert state.twin_pages_left == {USDT_SELL: 3}
    assert core.ask_twin(state, USDT_SELL)


# --- a snapshot from its pages ------------------------------------------------------------------


def _read(pages, *answers):
    book = Pages(CFG.all_markets()[0], "SELL", pages)
    asked = 0
    for ads in answers:
        asked += 1
        if not book.read(ads):
            break
    return asked, book.snapshot()


def full(n=20):
    return tuple(book_ad(f"a{i}") for i in range(n))


def test_a_book_reads_full_pages_until_a_short_one_or_its_last():
    asked, book = _read(3, full(), full(7), full())
    assert (asked, len(book.ads), book.complete) == (2, 27, True)
    asked, book = _read(2, full(), full(), full())
    assert (asked, len(book.ads), book.complete, book.pages) == (2, 40, True, 2)
    asked, book = _read(3, full(), (), full())
    assert (asked, len(book.ads), book.complete) == (2, 20, True)  # page 2 empty: the end


def test_a_failed_page_or_an_empty_first_page_cuts_the_book():
    """An empty first page is the public search's soft-limit answer (reference §3)."""
    asked, book = _read(3, full(), None, full())
    assert (asked, len(book.ads), book.complete) == (2, 20, False)
    asked, book = _read(3, ())
    assert (asked, book.ads, book.complete) == (1, (), False)
