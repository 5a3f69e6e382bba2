"""The backtest loop on a tiny hand-built book history, every figure worked out by hand."""

from decimal import Decimal as D

from msgspec.structs import replace

from events import BookAd, BookSnapshot, Envelope, MyAd, MyAdsLoaded
from backtest.engine import run_backtest, tape_of
from backtest.side import RunSpec
from backtest.fills import infer_fills
from strategies import FiltersConfig, StrategyConfig

MY_SELL = MyAd(adv_no="me", side="SELL", asset="USDT", fiat="NGN", price=D("1000.00"), status=1,
               surplus=D("10"), min_amount=D("1000"), max_amount=D("5000"),
               pay_methods=("Bank",), price_scale=2)
# The war guard acts on this history from 40 s: tests/test_war_backtest.py works that out.
CFG = StrategyConfig(step=D("1"), max_reprices_per_min=3, war_guard=False)


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
        # [0,10) rank 1. A -1 -> 1 @1000 (1000 NGN, at my min). B -7 = 7000 NGN > my max:
        # 5 @1000. Filled 6, 4 left. Best during it: A 1001 -> vs best -1. No BUY book yet.
        (10.0, sells(ad("A", "1001.00", "4"), ad("B", "1002.00", "13"))),
        # BUY side starts at its best 990.00 (no recorded BUY ad), undercuts to 991.00: reprice 1.
        (15.0, BookSnapshot(asset="USDT", fiat="NGN", ad_side="BUY", pages=1,
                            ads=(ad("X", "990.00", "100"),))),
        # [10,20) rank 1. A moved 2 > step: ignored. B -6 = 6000 NGN: 5, capped by the 4 left.
        # vs best -1; margin 1000 - 990 = +10. A at 999 -> reprice to 998 (2; war starts).
        (20.0, sells(ad("A", "999.00", "4"), ad("B", "1002.00", "7"))),
        # [20,30) rank 1. A answers at 997 (streak 1) -> reprice to 996 (3).
        (30.0, sells(ad("A", "997.00", "4"), ad("B", "1002.00", "7"))),
        # [30,40) rank 1. Sold out: B's -1 is not mine. A at 995 (streak 2) -> 994 (4).
        (40.0, sells(ad("A", "995.00", "4"), ad("B", "1002.00", "6"))),
        # [40,50) rank 1. A at 993 (streak 3). Cap: 20, 30, 40 in the last 60 s: hold. Rank 2.
        (50.0, sells(ad("A", "993.00", "4"), ad("B", "1002.00", "6"))),
        # [50,60) rank 2. Cap still full (20 is 40 s ago): hold.
        (60.0, sells(ad("A", "993.00", "4"), ad("B", "1002.00", "6"))),
        # [60,70) rank 2. A page missing (A not shown): priced as the live actor prices it,
        # undercut says back up to 1001 under B, but 20, 30, 40 are still within 60 s: hold.
        # Fills and rank read the book with A carried forward (993, 4): no trade, rank 2.
        (70.0, sells(ad("B", "1002.00", "6"), complete=False)),
        # [70,80) rank 2. 20 has left the window -> reprice to 992 (5). Unanswered at the end,
        # so the streak of 3 answered reprices counts as one price war.
        (80.0, sells(ad("A", "993.00", "4"), ad("B", "1002.00", "6"))),
    ]


def envelopes():
    return [Envelope(session=7, seq=i, ts_ms=0, t=t, source="market", cause=None, event=e)
            for i, (t, e) in enumerate(history(), 1)]


def test_undercut_over_the_hand_worked_history_gives_the_hand_worked_figures():
    [result] = run_backtest([tape_of(7, envelopes())], [RunSpec(name="undercut", cfg=CFG)])
    s = result.summary
    assert s.strategy == "undercut"
    assert s.source_sessions == (7,)
    assert s.snapshots == 10  # 9 SELL (one incomplete) + 1 BUY
    assert s.filled_volume == D("10")  # 1 + 5 + 4: the whole surplus
    assert (result.sell_volume, result.buy_volume) == (D("10"), D("0"))
    assert s.vwap == s.vwap_sell == result.sell_vwap == D("1000.00000000")
    assert s.vwap_buy is None
    assert s.vs_best == D("-1.00000000")  # one step under the best seller, every fill
    assert s.margin == D("10.00000000")  # only the 4 filled after the BUY book arrived
    assert s.share_rank1 == D("0.6250")  # 50 of the SELL side's 80 s
    assert s.share_top3 == D("1.0000")
    assert s.reprices == 5  # BUY 1 + SELL 4
    assert s.requests_per_s == D("0.0625")  # 5 requests over 80 s
    assert s.price_wars == 1
    assert '"name":"undercut"' in s.params and '"step":"1"' in s.params
    assert '"min_month_orders":0' in s.filters and '"shared_pay_method":true' in s.filters


def test_rank_holds_second_place_and_fills_less_on_the_same_history():
    # rank 2 on the SELL side prices one step under B (1001.00), behind A: it only gets
    # volume that traded above 1001.00, i.e. B's, and spends the first 80 s behind A.
    [result] = run_backtest([tape_of(7, envelopes())],
                            [RunSpec(name="rank", cfg=CFG)])
    s = result.summary
    # t=0: 1000 -> 1001 (reprice); A at 1001 ties, so stays ahead. [0,10): B -7 = 7007 NGN
    # > 5000: 5000/1001 = 4.99500499 (8 decimals, down). [10,20): B -6 = 6006 NGN: 4.99500499
    # again. [30,40): B -1 = 1001 NGN: capped by the 0.00999003 left. Total 10.
    assert s.filled_volume == D("10.00000000")
    assert result.sell_vwap == D("1001.00000000")
    assert s.share_rank1 == D("0")
    assert s.share_top3 == D("1.0000")


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


def test_without_my_recorded_ad_the_virtual_ad_starts_at_the_best_price_unlimited():
    envs = [e for e in envelopes() if not isinstance(e.event, MyAdsLoaded)]
    [result] = run_backtest([tape_of(7, envs)], [RunSpec(name="undercut", cfg=CFG)])
    # Starts at A's 1001.00 and undercuts to 1000.00 at t=0; no limits, no surplus cap:
    # A -1 and B -7 at t=10, B -6 at t=20, B -1 at t=40 (my 996 < 1002) = 15.
    assert result.summary.filled_volume == D("15")


def book_pair(prev_surplus, now_surplus, *, now_price="1002.00", pays=("Bank",)):
    prev = sells(ad("B", "1002.00", prev_surplus, pays=pays))
    cur = sells(ad("B", now_price, now_surplus, pays=pays))
    return prev, cur


def test_a_trade_too_small_for_my_minimum_order_stays_with_the_competitor():
    prev, cur = book_pair("6", "5.5")  # 0.5 x 1000 = 500 NGN < my 1000 minimum
    assert infer_fills(prev, cur, MY_SELL, D("10"), D("1")) == []


def test_a_trade_at_a_price_no_worse_than_mine_is_not_mine():
    prev, cur = book_pair("6", "5")
    assert infer_fills(prev, cur, MY_SELL, D("10"), D("1"))
    at_their_price = replace(MY_SELL, price=D("1002.00"))
    assert infer_fills(prev, cur, at_their_price, D("10"), D("1")) == []  # a tie stays theirs


def test_a_customer_who_cannot_pay_me_does_not_come_to_me():
    prev, cur = book_pair("6", "5", pays=("Cash",))
    assert infer_fills(prev, cur, MY_SELL, D("10"), D("1")) == []


def test_a_competitor_that_repriced_beyond_the_tolerance_is_not_a_trade():
    prev, cur = book_pair("6", "5", now_price="1003.01")
    assert infer_fills(prev, cur, MY_SELL, D("10"), D("1")) == []


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


def test_ads_missing_from_an_incomplete_book_are_neither_trades_nor_gone():
    # A's page failed at t=10; at t=20 A is back, 3 USDT lower: one trade, counted once.
    envs = [Envelope(session=7, seq=i, ts_ms=0, t=t, source="market", cause=None, event=e)
            for i, (t, e) in enumerate([
                (0.0, MyAdsLoaded(ads=(replace(MY_SELL, price=D("999.00")),))),
                (0.0, sells(ad("A", "1001.00", "5"), ad("B", "1002.00", "20"))),
                (10.0, sells(ad("B", "1002.00", "20"), complete=False)),
                (20.0, sells(ad("A", "1001.00", "2"), ad("B", "1002.00", "20"))),
            ], 1)]
    [result] = run_backtest([tape_of(7, envs)], [RunSpec(name="rank", cfg=replace(
        CFG, rank=3, max_reprices_per_min=0))])
    # rank 3 with 2 competitors undercuts A; the cap of 0 keeps my 999.00 in front all along.
    assert result.summary.filled_volume == D("3")
    assert result.summary.share_rank1 == D("1.0000")


def test_each_side_reports_its_own_vwap_and_the_filters_used():
    my_buy = replace(MY_SELL, adv_no="me-b", side="BUY", price=D("995.00"))
    buys = [BookSnapshot(asset="USDT", fiat="NGN", ad_side="BUY", pages=1,
                         ads=(ad("X", "990.00", s),)) for s in ("100", "98")]
    envs = [Envelope(session=7, seq=i, ts_ms=0, t=t, source="market", cause=None, event=e)
            for i, (t, e) in enumerate([
                (0.0, MyAdsLoaded(ads=(MY_SELL, my_buy))),
                (0.0, sells(ad("A", "1001.00", "5"))), (0.0, buys[0]),
                (10.0, sells(ad("A", "1001.00", "3"))), (10.0, buys[1]),
            ], 1)]
    filters = FiltersConfig(exclude_nicknames=("Z",))
    frozen = replace(CFG, max_reprices_per_min=0)  # no reprices: both ads keep their price
    [result] = run_backtest([tape_of(7, envs)],
                            [RunSpec(name="undercut", cfg=frozen, filters=filters)])
    s = result.summary
    # SELL: A's 2 USDT at 1001 come to me at 1000; BUY: X's 2 at 990 come to me at 995.
    assert (s.vwap_sell, s.vwap_buy) == (D("1000.00000000"), D("995.00000000"))
    assert s.vwap == D("997.50000000")  # both sides mixed, as before
    assert s.filters == ('{"exclude_nicknames":["Z"],"min_month_orders":0,'
                         '"min_finish_rate":"0","shared_pay_method":true,'
                         '"overlapping_limits":true,"merchants_only":false}')


def with_me(price, surplus, *ads):
    """A SELL book listing my recorded ad "me" (the virtual ad's advNo) among `ads`."""
    return BookSnapshot(asset="USDT", fiat="NGN", ad_side="SELL", pages=1,
                        ads=(ad("me", price, surplus, mine=True), *ads))


def test_my_recorded_ads_own_trades_go_to_the_virtual_ad_priced_no_worse():
    prev = with_me("1000.00", "50", ad("A", "1001.00", "5"))
    cur = with_me("1000.00", "47", ad("A", "1001.00", "5"))
    [fill] = infer_fills(prev, cur, MY_SELL, D("10"), D("1"))
    assert (fill.qty, fill.price, fill.competitor) == (D("3"), D("1000.00"), "me")
    dearer = replace(MY_SELL, price=D("1000.50"))  # worse for the buyer than what they took
    assert infer_fills(prev, cur, dearer, D("10"), D("1")) == []


def test_a_customer_who_passed_my_recorded_ad_by_is_not_diverted_to_the_virtual_one():
    # My recorded ad sat at 1000; the virtual one at 998. B's buyer at 1002 saw 1000 and still
    # chose B: no diversion. A at 999, ahead of my recorded ad, loses its trade to me.
    cheaper = replace(MY_SELL, price=D("998.00"))
    prev = with_me("1000.00", "50", ad("A", "999.00", "5"), ad("B", "1002.00", "20"))
    cur = with_me("1000.00", "50", ad("A", "999.00", "3"), ad("B", "1002.00", "17"))
    [fill] = infer_fills(prev, cur, cheaper, D("10"), D("1"))
    assert (fill.qty, fill.competitor) == (D("2"), "A")
    alone = [a for a in prev.ads if not a.mine], [a for a in cur.ads if not a.mine]
    unlisted = [replace(prev, ads=tuple(alone[0])), replace(cur, ads=tuple(alone[1]))]
    assert [f.qty for f in infer_fills(*unlisted, cheaper, D("10"), D("1"))] == [D("2"), D("3")]


def two_ads_envelopes():
    """My SELL ad 111 and BUY ad 222, each with a trade a competitor lost to it."""
    my_buy = replace(MY_SELL, adv_no="222", side="BUY", price=D("995.00"))
    buys = [BookSnapshot(asset="USDT", fiat="NGN", ad_side="BUY", pages=1,
                         ads=(ad("X", "990.00", s),)) for s in ("100", "98")]
    return [Envelope(session=7, seq=i, ts_ms=0, t=t, source="market", cause=None, event=e)
            for i, (t, e) in enumerate([
                (0.0, MyAdsLoaded(ads=(replace(MY_SELL, adv_no="111"), my_buy))),
                (0.0, sells(ad("A", "1001.00", "5"))), (0.0, buys[0]),
                (10.0, sells(ad("A", "1001.00", "3"))), (10.0, buys[1]),
            ], 1)]


def test_a_per_ad_override_changes_only_that_ads_side():
    from actors.config import AdOverride

    plain = RunSpec(name="undercut", cfg=CFG)
    floored = RunSpec(name="undercut", cfg=CFG, overrides={"111": AdOverride(floor=D("1002"))})
    [before], [after] = (run_backtest([tape_of(7, two_ads_envelopes())], [s], trace=True)
                         for s in (plain, floored))
    # SELL 111 leads A (1001) at 1000 and takes its 2 USDT; floored at 1002 it is behind A.
    assert (before.sell_volume, after.sell_volume) == (D("2"), D("0"))
    assert after.trace.mine["SELL"] == [(0.0, D("1000.00")), (0.0, D("1002.00"))]
    # BUY 222 is untouched: the same prices and the same fills.
    assert after.trace.mine["BUY"] == before.trace.mine["BUY"]
    assert (after.buy_volume, after.buy_vwap) == (before.buy_volume, before.buy_vwap)
    assert after.buy_volume > 0
