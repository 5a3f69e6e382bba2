"""The backtest loop on a tiny hand-built book history, every figure worked out by hand."""

from decimal import Decimal as D

from msgspec.structs import replace

from events import BookAd, BookSnapshot, Envelope, MyAd, MyAdsLoaded
from backtest.engine import run_backtest, tape_of
from backtest.side import RunSpec
from strategies import UndercutParams

MY_SELL = MyAd(adv_no="me", side="SELL", asset="USDT", fiat="NGN", price=D("1000.00"), status=1,
               surplus=D("10"), min_amount=D("1000"), max_amount=D("5000"),
               pay_methods=("Bank",), price_scale=2)
# The war guard acts on this history from 40 s: tests/test_war_backtest.py works that out.
CFG = UndercutParams(step=D("1"), max_reprices_per_min=3, war_guard=False)


def ad(adv_no, price, surplus, *, mine=False, pays=("Bank",)):
    return BookAd(adv_no=adv_no, price=D(price), surplus=D(surplus), min_amount=D("500"),
                  max_amount=D("100000"), pay_methods=pays, nickname=adv_no, mine=mine)


def sells(*ads, complete=True):
    # Another ad of mine is in every recorded SELL book: neither a competitor nor a trade.
    return BookSnapshot(asset="USDT", fiat="NGN", ad_side="SELL", pages=1, complete=complete,
                        ads=(ad("my-other", "1000.00", "50", mine=True), *ads))


def history():
    """(t, event) of one recorded session; the comments work out what undercut does.

    Virtual SELL ad: 1000.00, 10 USDT, 1000..5000 NGN per order; step 1, 3 reprices/min.
    """
    return [
        (0.0, MyAdsLoaded(ads=(MY_SELL,))),
        # lead A by one step already: hold. rank 1.
        (0.0, sells(ad("A", "1001.00", "5"), ad("B", "1002.00", "20"))),
        # [0,10) rank 1. Orders at A (1) and B (7).
        (10.0, sells(ad("A", "1001.00", "4"), ad("B", "1002.00", "13"))),
        # BUY side starts at its best 990.00 (no recorded BUY ad), undercuts to 991.00: reprice 1.
        (15.0, BookSnapshot(asset="USDT", fiat="NGN", ad_side="BUY", pages=1,
                            ads=(ad("X", "990.00", "100"),))),
        # [10,20) rank 1. An order at B. A at 999 -> reprice to 998 (2; war starts).
        (20.0, sells(ad("A", "999.00", "4"), ad("B", "1002.00", "7"))),
        # [20,30) rank 1. A answers at 997 (streak 1) -> reprice to 996 (3).
        (30.0, sells(ad("A", "997.00", "4"), ad("B", "1002.00", "7"))),
        # [30,40) rank 1. An order at B. A at 995 (streak 2) -> 994 (4).
        (40.0, sells(ad("A", "995.00", "4"), ad("B", "1002.00", "6"))),
        # [40,50) rank 1. A at 993 (streak 3). Cap: 20, 30, 40 in the last 60 s: hold. Rank 2.
        (50.0, sells(ad("A", "993.00", "4"), ad("B", "1002.00", "6"))),
        # [50,60) rank 2. Cap still full (20 is 40 s ago): hold.
        (60.0, sells(ad("A", "993.00", "4"), ad("B", "1002.00", "6"))),
        # [60,70) rank 2. A page missing (A not shown): priced as the live actor prices it,
        # undercut says back up to 1001 under B, but 20, 30, 40 are still within 60 s: hold.
        # Fills and rank read the book with A carried forward (993, 4): no order, rank 2.
        (70.0, sells(ad("B", "1002.00", "6"), complete=False)),
        # [70,80) rank 2. 20 has left the window -> reprice to 992 (5). Unanswered at the end,
        # so the streak of 3 answered reprices counts as one price war.
        (80.0, sells(ad("A", "993.00", "4"), ad("B", "1002.00", "6"))),
    ]


def envelopes():
    return [Envelope(session=7, seq=i, ts_ms=0, t=t, source="market", cause=None, event=e)
            for i, (t, e) in enumerate(history(), 1)]


def test_undercut_over_the_hand_worked_history_gives_the_hand_worked_decisions():
    [result] = run_backtest([tape_of(7, envelopes())], [RunSpec(name="undercut", cfg=CFG)])
    s = result.summary
    assert s.strategy == "undercut"
    assert s.source_sessions == (7,)
    assert s.snapshots == 10  # 9 SELL (one incomplete) + 1 BUY
    assert s.share_rank1 == D("0.6250")  # 50 of the SELL side's 80 s
    assert s.share_top3 == D("1.0000")
    assert s.reprices == 5  # BUY 1 + SELL 4
    assert s.requests_per_s == D("0.0625")  # 5 requests over 80 s
    assert s.price_wars == 1
    assert '"name":"undercut"' in s.params and '"step":"1"' in s.params
    assert '"min_month_orders":0' in s.filters and '"shared_pay_method":true' in s.filters
    assert result.sell_volume > 0 and result.buy_volume == 0 and s.vwap_buy is None


def test_rank_sits_second_and_still_gets_the_second_places_share():
    # rank 2 prices one step under B (1001.00), tied with A and so behind it: never rank 1,
    # yet the customers who take the second ad are its, so it fills less, not nothing.
    specs = [RunSpec(name="undercut", cfg=CFG), RunSpec(name="rank", cfg=CFG)]
    undercut, rank = run_backtest([tape_of(7, envelopes())], specs)
    assert rank.summary.share_rank1 == D("0")
    assert 0 < rank.summary.filled_volume < undercut.summary.filled_volume
    assert rank.sell_vwap == D("1001.00000000")


def test_several_strategies_in_one_pass_equal_each_run_alone():
    specs = [RunSpec(name=n, cfg=CFG) for n in ("undercut", "rank", "spread")]
    together = run_backtest([tape_of(7, envelopes())], specs)
    alone = [run_backtest([tape_of(7, envelopes())], [s])[0] for s in specs]
    assert [r.summary for r in together] == [r.summary for r in alone]


def test_identical_reruns_give_identical_results():
    specs = [RunSpec(name=n, cfg=CFG) for n in ("undercut", "rank", "spread")]
    first = run_backtest([tape_of(7, envelopes())], specs, trace=True)
    second = run_backtest([tape_of(7, envelopes())], specs, trace=True)
    assert [r.summary for r in first] == [r.summary for r in second]
    assert [r.trace.mine for r in first] == [r.trace.mine for r in second]


def test_two_sessions_run_fresh_and_add_up():
    one = run_backtest([tape_of(7, envelopes())], [RunSpec(name="undercut", cfg=CFG)])[0]
    two = run_backtest([tape_of(7, envelopes()), tape_of(8, envelopes())],
                       [RunSpec(name="undercut", cfg=CFG)])[0]
    assert two.summary.source_sessions == (7, 8)
    assert two.summary.filled_volume == 2 * one.summary.filled_volume
    assert two.summary.reprices == 2 * one.summary.reprices
    assert two.summary.price_wars == 2
    assert two.summary.share_rank1 == one.summary.share_rank1
    assert two.summary.requests_per_s == one.summary.requests_per_s


def test_an_incomplete_book_is_priced_as_the_live_actor_prices_it():
    # Page 1 came back without A: the live ads actor backs up under B, and so must the backtest.
    envs = [Envelope(session=7, seq=i, ts_ms=0, t=t, source="market", cause=None, event=e)
            for i, (t, e) in enumerate([
                (0.0, MyAdsLoaded(ads=(MY_SELL,))),
                (0.0, sells(ad("A", "1001.00", "5"), ad("B", "1002.00", "20"))),
                (10.0, sells(ad("B", "1002.00", "20"), complete=False)),
            ], 1)]
    cfg = replace(CFG, max_reprices_per_min=30)
    [result] = run_backtest([tape_of(7, envs)], [RunSpec(name="undercut", cfg=cfg)], trace=True)
    assert result.summary.snapshots == 2
    assert result.trace.mine["SELL"] == [(0.0, D("1000.00")), (10.0, D("1001.00"))]




def two_ads_envelopes():
    """My SELL ad 111 and BUY ad 222, each with an order at a competitor."""
    my_sell = MyAd(adv_no="111", side="SELL", asset="USDT", fiat="NGN", price=D("1000.00"),
                   status=1, surplus=D("10"), min_amount=D("1000"), max_amount=D("5000"),
                   pay_methods=("Bank",))
    my_buy = replace(my_sell, adv_no="222", side="BUY", price=D("995.00"))
    buys = [BookSnapshot(asset="USDT", fiat="NGN", ad_side="BUY", pages=1,
                         ads=(ad("X", "990.00", s),)) for s in ("100", "98")]
    books = [BookSnapshot(asset="USDT", fiat="NGN", ad_side="SELL", pages=1,
                          ads=(ad("A", "1001.00", s),)) for s in ("5", "3")]
    return [Envelope(session=7, seq=i, ts_ms=0, t=t, source="market", cause=None, event=e)
            for i, (t, e) in enumerate([
                (0.0, MyAdsLoaded(ads=(my_sell, my_buy))),
                (0.0, books[0]), (0.0, buys[0]), (10.0, books[1]), (10.0, buys[1]),
            ], 1)]


def test_a_per_ad_override_changes_only_that_ads_side():
    from actors.config import AdOverride

    plain = RunSpec(name="undercut", cfg=CFG)
    floored = RunSpec(name="undercut", cfg=CFG, overrides={"111": AdOverride(floor=D("1002"))})
    [before], [after] = (run_backtest([tape_of(7, two_ads_envelopes())], [s], trace=True)
                         for s in (plain, floored))
    # SELL 111 leads A (1001) at 1000; floored at 1002 it is second, with the second's share.
    assert before.sell_volume > after.sell_volume > 0
    assert after.trace.mine["SELL"] == [(0.0, D("1000.00")), (0.0, D("1002.00"))]
    # BUY 222 is untouched: the same prices and the same fills.
    assert after.trace.mine["BUY"] == before.trace.mine["BUY"]
    assert (after.buy_volume, after.buy_vwap) == (before.buy_volume, before.buy_vwap)
    assert after.buy_volume > 0
