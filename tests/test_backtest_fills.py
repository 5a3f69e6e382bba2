"""The fill model and its choice model on hand-built books, every figure worked out by hand.

Books of one competitor and my ad: with a decay of 0.25 the best of two ads gets p1 = 0.75 /
(1 - 0.0625) = 0.8 of the customers and the second p2 = 0.2.
"""

import random
from decimal import Decimal as D

from msgspec.structs import replace

from backtest.choice import (Calibration, calibrate, choice_probability, fit_decay,
                             measure_reaction, orders_of)
from backtest.engine import run_backtest, tape_of
from backtest.fills import detect_orders, infer_fills
from backtest.side import RunSpec
from events import (AdRepriced, BookAd, BookSnapshot, Envelope, MyAd, MyAdsLoaded,
                    RepriceDecided)
from strategies import UndercutParams

ME = MyAd(adv_no="me", side="SELL", asset="USDT", fiat="NGN", price=D("1000.00"), status=1,
          surplus=D("100"), min_amount=D("1000"), max_amount=D("5000"),
          pay_methods=("Bank",), price_scale=2)
CAL = Calibration(decay=D("0.25"))
FROZEN = UndercutParams(step=D("1"), max_reprices_per_min=0)  # nobody reprices


def ad(adv_no, price, surplus, *, mine=False, pays=("Bank",), low="500", high="100000"):
    return BookAd(adv_no=adv_no, price=D(price), surplus=D(surplus), min_amount=D(low),
                  max_amount=D(high), pay_methods=pays, nickname=adv_no, mine=mine)


def sells(*ads, complete=True):
    return BookSnapshot(asset="USDT", fiat="NGN", ad_side="SELL", pages=1, complete=complete,
                        ads=ads)


def fills(prev, cur, my_ad=ME, *, prices=None, remaining=D("100"), cal=CAL):
    orders = detect_orders(prev, cur, cal.tolerance)
    return infer_fills(prev, orders, my_ad, prices or ((my_ad.price, D(1)),), remaining, cal)


def test_an_ads_surplus_drop_is_one_order_at_its_rank_in_the_earlier_book():
    prev = sells(ad("A", "999.00", "10"), ad("B", "1002.00", "20"))
    cur = sells(ad("A", "999.00", "10"), ad("B", "1002.00", "17"))
    [order] = detect_orders(prev, cur, D("0.001"))
    assert (order.adv_no, order.rank, order.listed, order.qty, order.steady) == (
        "B", 2, 2, D("3"), True)
    moved = sells(ad("A", "999.00", "10"), ad("B", "1003.01", "17"))  # > 0.1% away
    assert not detect_orders(prev, moved, D("0.001"))[0].steady


def test_sell_outs_count_and_a_paused_ad_or_my_cancelled_order_does_not():
    # A (2 USDT, 2,000 NGN within its 100,000 max) vanishes: one order sold it out. B holds
    # 200 USDT, more than one order can take: it was paused. C rose back to 50: topped up
    # after one order took its last 1. My own ad rising is a cancelled order, no arrival.
    prev = sells(ad("A", "1000.00", "2"), ad("B", "1001.00", "200", high="5000"),
                 ad("C", "1002.00", "1"), ad("me", "1003.00", "10", mine=True))
    cur = sells(ad("C", "1002.00", "50"), ad("me", "1003.00", "12", mine=True))
    assert [(o.adv_no, o.qty) for o in detect_orders(prev, cur, D("0.001"))] == [
        ("A", D("2")), ("C", D("1"))]
    # a short (incomplete) book hides ads, it does not sell them out
    assert [o.adv_no for o in detect_orders(prev, replace(cur, complete=False), D("0"))] == ["C"]


def test_the_first_place_gets_p1_of_the_order_and_the_second_place_p2_not_nothing():
    prev = sells(ad("A", "1001.00", "10"))
    cur = sells(ad("A", "1001.00", "7"))  # 3 USDT = 3,003 NGN at A
    [first] = fills(prev, cur)  # me at 1000 ahead of A: 3,003 NGN / 1000 = 3.003 x 0.8
    assert (first.qty, first.chance, first.price) == (D("2.4024"), D("0.8"), D("1000.00"))
    [second] = fills(prev, cur, replace(ME, price=D("1001.00")))  # a tie stays ahead of me
    assert (second.qty, second.chance) == (D("0.6"), D("0.2"))  # 3,003 / 1001 x 0.2


def test_my_limits_bound_the_order_and_an_ad_worth_less_than_its_minimum_takes_nothing():
    big = fills(sells(ad("A", "1001.00", "10")), sells(ad("A", "1001.00", "2")))
    assert big[0].qty == D("4")  # 8,008 NGN held to my 5,000 max: 5 x 0.8
    small = fills(sells(ad("A", "1001.00", "10")), sells(ad("A", "1001.00", "9.5")))
    assert small[0].qty == D("0.8")  # 500.5 NGN raised to my 1,000 min: 1 x 0.8
    empty = fills(sells(ad("A", "1001.00", "10")), sells(ad("A", "1001.00", "7")),
                  remaining=D("0.9"))  # 900 NGN left < my 1,000 minimum: not listed
    assert empty == []


def test_a_customer_who_cannot_pay_me_does_not_come_unless_pay_methods_are_ignored():
    prev, cur = sells(ad("A", "1001.00", "10", pays=("Cash",))), \
        sells(ad("A", "1001.00", "7", pays=("Cash",)))
    assert fills(prev, cur) == []
    assert fills(prev, cur, cal=replace(CAL, pay_methods=False))[0].chance == D("0.8")


def test_my_recorded_order_size_is_the_size_my_customers_bring():
    cal = replace(CAL, order_share=D("0.25"))
    [f] = fills(sells(ad("A", "1001.00", "10")), sells(ad("A", "1001.00", "2")), cal=cal)
    # a quarter of the way from my 1,000 min to my 5,000 max: 2,000 NGN / 1000 x 0.8, whatever
    # A's customer ordered
    assert f.qty == D("1.6")
    [f] = fills(sells(ad("A", "1001.00", "10")), sells(ad("A", "1001.00", "2")), cal=cal,
                remaining=D("3"))  # 3,000 NGN left caps the max: 1,500 NGN
    assert f.qty == D("1.2")


def test_an_interval_straddling_the_reaction_splits_the_chance_between_both_prices():
    prev, cur = sells(ad("A", "1001.00", "10")), sells(ad("A", "1001.00", "7"))
    old, new = fills(prev, cur, prices=((D("1002.00"), D("0.25")), (D("1000.00"), D("0.75"))))
    assert (old.price, old.chance, new.price, new.chance) == (
        D("1002.00"), D("0.05"), D("1000.00"), D("0.6"))  # 0.25 x p2, 0.75 x p1


def test_the_choice_model_sums_to_one_and_its_decay_is_fitted_from_the_orders_ranks():
    assert sum(choice_probability(i, 13, D("0.5")) for i in range(1, 14)) == D(1)
    assert choice_probability(2, 13, D("0.5")).quantize(D("0.01")) == D("0.25")
    rng = random.Random(3)
    ranks = [(min(13, 1 + int(rng.expovariate(0.6931))), 13) for _ in range(4000)]
    assert abs(fit_decay(ranks) - D("0.5")) < D("0.03")


def test_calibration_takes_the_decay_my_order_size_and_the_reaction_from_the_recording():
    def env(seq, t, event):
        return Envelope(session=1, seq=seq, ts_ms=0, t=t, source="x", cause=None, event=event)
    books = []
    for i in range(40):  # a customer at my ad, the best, every interval
        books.append(sells(ad("me", "999.00", str(1000 - i), mine=True),
                           ad("A", "1000.00", "50")))
    orders = list(orders_of(books, D("0.001")))
    decided = RepriceDecided(adv_no="me", strategy="undercut", action="reprice",
                             old_price=D("1"), new_price=D("2"), rule="x", reason="")
    acked = AdRepriced(adv_no="me", old_price=D("1"), new_price=D("2"))
    reprices = [env(1, 1.0, decided), env(2, 1.2, acked), env(3, 5.0, decided),
                env(4, 5.6, acked), env(5, 9.0, decided), env(6, 9.3, acked)]
    assert abs(measure_reaction(reprices) - 0.3) < 1e-9  # the median of 0.2, 0.6, 0.3
    cal = calibrate(orders, reprices)
    # 1 USDT (999 NGN) each time between its 500 min and its 100,000 max
    assert cal.order_share == ((D("999") - 500) / (100000 - 500)).quantize(D("0.0001"))
    assert cal.orders_fitted == 39 and cal.decay < D("0.05")  # every order at rank 1
    assert abs(cal.reaction_s - 0.3) < 1e-9


def test_a_reprice_goes_live_only_after_the_measured_reaction():
    envs = [Envelope(session=7, seq=i, ts_ms=0, t=t, source="market", cause=None, event=e)
            for i, (t, e) in enumerate([
                (0.0, MyAdsLoaded(ads=(replace(ME, price=D("1003.00")),))),
                (0.0, sells(ad("A", "1002.00", "10"))),  # undercut: 1003 -> 1001 at t=0
                (10.0, sells(ad("A", "1002.00", "7"))),
            ], 1)]
    cfg = UndercutParams(step=D("1"), max_reprices_per_min=30)
    spec = RunSpec(name="undercut", cfg=cfg)
    [at_once] = run_backtest([tape_of(7, envs)], [spec], calibration=CAL)
    [late] = run_backtest([tape_of(7, envs)], [spec],
                          calibration=replace(CAL, reaction_s=4.0))
    assert at_once.summary.fills == D("0.80")  # rank 1 all along
    assert late.summary.fills == D("0.56")  # 0.4 x p2 + 0.6 x p1 = 0.08 + 0.48


def test_money_realised_spread_inventory_at_the_mid_fees_and_drawdown():
    my_buy = replace(ME, adv_no="me-b", side="BUY", price=D("990.00"))

    def buys(surplus):
        return BookSnapshot(asset="USDT", fiat="NGN", ad_side="BUY", pages=1,
                            ads=(ad("X", "989.00", surplus),))
    envs = [Envelope(session=7, seq=i, ts_ms=0, t=t, source="market", cause=None, event=e)
            for i, (t, e) in enumerate([
                (0.0, MyAdsLoaded(ads=(ME, my_buy))),
                (0.0, sells(ad("A", "1001.00", "10"))), (0.0, buys("10")),
                # 3 USDT at A: I sell 3,003 / 1000 x 0.8 = 2.4024 at 1000
                (10.0, sells(ad("A", "1001.00", "7"))),
                # 2 USDT at X: I buy 1,978 / 990 x 0.8 = 1.59838383 at 990
                (20.0, buys("8")),
            ], 1)]
    [r] = run_backtest([tape_of(7, envs)], [RunSpec(name="undercut", cfg=FROZEN)],
                       calibration=replace(CAL, fee_rate=D("0.001")), trace=True)
    m = r.money
    # matched 1.59838383 x (1000 - 990) = 15.98; fees on it 0.001 x (1598.38 + 1582.40)
    assert m.pnl == D("12.80")
    assert m.inventory == D("1.59838383") - D("2.4024")
    # cash 2402.40 - 1582.39999 = 820.00001, fees 0.001 x 3984.79999 = 3.98480, inventory
    # -0.80401617 at the mid (1001 + 989) / 2 = 995 is -799.99609: equity 16.0191
    assert (m.fees, m.equity) == (D("3.98"), D("16.02"))
    assert m.max_drawdown == D("0.00") and m.pnl_ci is None and m.days == 1
    assert [t for t, _ in r.trace.equity] == [0.0, 10.0, 20.0]  # the equity panel's points


def test_the_pnl_interval_resamples_whole_days_seeded_and_needs_two():
    from backtest.metrics import bootstrap_ci

    days = [D("10"), D("-4"), D("7"), D("1")]
    low, high = bootstrap_ci(days)
    assert low < sum(days) < high and bootstrap_ci(days) == (low, high)
    assert D("-16") <= low and high <= D("40")  # 4 x the worst and the best day
    assert bootstrap_ci([D("5")]) is None


def test_equity_days_are_the_time_lines_days():
    from backtest.metrics import Equity

    eq = Equity(D(0))
    eq.fill("BUY", D("1"), D("100"))
    eq.mark(10.0, D("100"))
    eq.mark(86_400.0 + 5, D("110"))  # day 2: the coin I hold is worth 10 more
    eq.mark(2 * 86_400.0 + 5, D("95"))  # day 3: 15 less
    assert eq.daily() == [D("0"), D("10"), D("-15")]
    assert eq.drawdown == D("15")


def test_a_customer_came_at_the_earlier_or_the_later_book_so_my_chance_is_their_mean():
    # A jumps ahead of me during the interval: rank 1 before (0.8), rank 2 after (0.2)
    prev, cur = sells(ad("A", "1001.00", "10")), sells(ad("A", "999.00", "7"))
    orders = detect_orders(prev, cur, CAL.tolerance)
    [f] = infer_fills(prev, orders, ME, ((ME.price, D(1)),), D("100"), CAL, cur)
    assert f.chance == D("0.5")
