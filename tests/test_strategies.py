"""Each strategy's documented behaviour on concrete books, the filters, the pipeline's gates."""

from decimal import Decimal as D

import pytest

from events import BookAd, BookSnapshot, MyAd
from strategies import (STRATEGIES, FiltersConfig, Quote, RankParams, RateCap, SpreadParams,
                        UndercutParams, UnknownStrategy, competitors, evaluate, get_strategy,
                        retag)

NO_FILTERS = FiltersConfig(shared_pay_method=False, overlapping_limits=False)


def ad(adv_no, price, *, surplus="100", lo="1000", hi="100000", pays=("Bank",), nick=None,
       orders=500, rate="0.99", mine=False):
    return BookAd(adv_no=adv_no, price=D(price), surplus=D(surplus), min_amount=D(lo),
                  max_amount=D(hi), pay_methods=pays, nickname=nick or f"n{adv_no}",
                  month_orders=orders, finish_rate=D(rate), mine=mine)


def book(side, *ads):
    return BookSnapshot(asset="USDT", fiat="NGN", ad_side=side, pages=1, ads=tuple(ads))


def me(side, price, *, adv_no="me", lo="1000", hi="50000", pays=("Bank",), scale=2):
    return MyAd(adv_no=adv_no, side=side, asset="USDT", fiat="NGN", price=D(price), status=1,
                surplus=D("100"), min_amount=D(lo), max_amount=D(hi), pay_methods=pays,
                price_scale=scale)


CFG = UndercutParams()
SELLS = book("SELL", ad("1", "461.50", nick="Bob"), ad("2", "461.60"), ad("3", "461.70"))
BUYS = book("BUY", ad("7", "455.00"), ad("8", "454.90"), ad("9", "454.80"))


def quote(name, bk, my, cfg=CFG, filters=FiltersConfig(), opposite=None, **kw):
    return evaluate(bk, my, retag(cfg, name), filters, opposite, **kw)


# --- undercut -----------------------------------------------------------------------------------

def test_undercut_sell_goes_one_step_below_the_best_seller_and_says_why():
    q = quote("undercut", SELLS, me("SELL", "462.00"))
    assert q == Quote(price=D("461.49"), rule="undercut",
                      reason="best competitor Bob (advNo 1) at 461.50; one step 0.01 better "
                             "= 461.49",
                      competitor="1", competitor_price=D("461.50"))


def test_undercut_buy_goes_one_step_above_the_best_buyer():
    q = quote("undercut", BUYS, me("BUY", "450.00"))
    assert (q.price, q.rule, q.competitor) == (D("455.01"), "undercut", "7")


def test_undercut_holds_when_already_leading_by_exactly_one_step():
    q = quote("undercut", SELLS, me("SELL", "461.49"))
    assert (q.price, q.rule, q.competitor_price) == (None, "lead_by_one", D("461.50"))


def test_undercut_backs_up_to_one_step_ahead_when_leading_by_more():
    q = quote("undercut", SELLS, me("SELL", "460.00"))
    assert (q.price, q.rule) == (D("461.49"), "already_leading")
    q = quote("undercut", BUYS, me("BUY", "460.00"))
    assert (q.price, q.rule) == (D("455.01"), "already_leading")


def test_undercut_holds_when_no_competitor_passes_the_filters():
    only_mine = book("SELL", ad("me", "470.00"), ad("x", "461.00", mine=True))
    q = quote("undercut", only_mine, me("SELL", "470.00"))
    assert (q.price, q.rule) == (None, "no_competitor")


# --- rank ---------------------------------------------------------------------------------------

def test_rank_2_sits_one_step_better_than_the_second_competitor():
    q = quote("rank", SELLS, me("SELL", "462.00"))
    assert (q.price, q.rule, q.competitor) == (D("461.59"), "rank", "2")


def test_rank_3_on_buy_side_leaves_two_buyers_ahead():
    q = quote("rank", BUYS, me("BUY", "450.00"), RankParams(rank=3))
    assert (q.price, q.competitor) == (D("454.81"), "9")


def test_rank_holds_once_in_place_and_backs_up_when_too_far_ahead():
    assert quote("rank", SELLS, me("SELL", "461.59")).price is None
    assert quote("rank", SELLS, me("SELL", "461.00")).price == D("461.59")


def test_rank_with_fewer_competitors_than_the_rank_behaves_like_undercut():
    q = quote("rank", book("SELL", ad("1", "461.50")), me("SELL", "462.00"),
              RankParams(rank=3))
    assert (q.price, q.rule) == (D("461.49"), "undercut")


# --- spread -------------------------------------------------------------------------------------

def test_spread_undercuts_when_the_margin_allows():
    q = quote("spread", SELLS, me("SELL", "462.00"), SpreadParams(min_margin=D("5")),
              opposite=BUYS)
    assert (q.price, q.rule) == (D("461.49"), "undercut")


def test_spread_sell_stops_at_best_buyer_plus_margin():
    q = quote("spread", SELLS, me("SELL", "462.00"), SpreadParams(min_margin=D("7")),
              opposite=BUYS)
    assert (q.price, q.rule, q.competitor) == (None, "unchanged", "7")  # already at 455 + 7
    q = quote("spread", SELLS, me("SELL", "463.00"), SpreadParams(min_margin=D("7")),
              opposite=BUYS)
    assert (q.price, q.rule, q.competitor) == (D("462.00"), "spread", "7")


def test_spread_buy_stays_at_or_below_best_seller_minus_margin():
    q = quote("spread", BUYS, me("BUY", "450.00"), SpreadParams(min_margin=D("7")),
              opposite=SELLS)
    assert (q.price, q.rule, q.competitor) == (D("454.50"), "spread", "1")


def test_spread_rounds_the_margin_bound_away_from_the_buyer_it_protects():
    q = quote("spread", SELLS, me("SELL", "470.00"), SpreadParams(min_margin=D("7.005")),
              opposite=BUYS)
    assert q.price == D("462.01")  # 462.005 rounded up: never below buyer + margin


def test_spread_without_an_opposite_book_holds_and_says_so():
    q = quote("spread", SELLS, me("SELL", "462.00"))
    assert (q.price, q.rule) == (None, "no_opposite")
    assert "no BUY book" in q.reason


# --- competitor filters -------------------------------------------------------------------------

def ids(bk, my, filters):
    return [a.adv_no for a in competitors(bk, my, filters)]


def test_competitors_exclude_my_own_ads_by_flag_and_by_adv_no():
    bk = book("SELL", ad("me", "400"), ad("other-mine", "401", mine=True), ad("1", "462"))
    assert ids(bk, me("SELL", "470"), FiltersConfig()) == ["1"]


def test_competitors_exclude_listed_nicknames_case_insensitively():
    bk = book("SELL", ad("1", "461", nick="Spammer"), ad("2", "462"))
    assert ids(bk, me("SELL", "470"), FiltersConfig(exclude_nicknames=("spammer",))) == ["2"]


def test_competitors_need_a_shared_pay_method_only_when_both_list_some():
    bk = book("SELL", ad("1", "461", pays=("Cash",)), ad("2", "462", pays=()), ad("3", "463"))
    assert ids(bk, me("SELL", "470"), FiltersConfig()) == ["2", "3"]
    assert ids(bk, me("SELL", "470", pays=()), FiltersConfig()) == ["1", "2", "3"]
    assert ids(bk, me("SELL", "470"), FiltersConfig(shared_pay_method=False)) == ["1", "2", "3"]


def test_competitors_need_overlapping_order_limits():
    bk = book("SELL", ad("1", "461", lo="60000", hi="90000"), ad("2", "462", lo="10", hi="999"),
              ad("3", "463", lo="50000", hi="60000"))
    assert ids(bk, me("SELL", "470", lo="1000", hi="50000"), FiltersConfig()) == ["3"]
    assert ids(bk, me("SELL", "470"), FiltersConfig(overlapping_limits=False)) == ["1", "2", "3"]


def test_competitors_drop_thin_or_unreliable_merchants():
    bk = book("SELL", ad("1", "461", orders=3), ad("2", "462", rate="0.80"), ad("3", "463"))
    f = FiltersConfig(min_month_orders=10, min_finish_rate=D("0.9"))
    assert ids(bk, me("SELL", "470"), f) == ["3"]


def test_competitors_come_best_first_for_each_side_whatever_the_book_order():
    bk = book("SELL", ad("2", "462"), ad("1", "461"), ad("3", "463"))
    assert ids(bk, me("SELL", "470"), NO_FILTERS) == ["1", "2", "3"]
    bk = book("BUY", ad("2", "462"), ad("1", "461"), ad("3", "463"))
    assert ids(bk, me("BUY", "400"), NO_FILTERS) == ["3", "2", "1"]


# --- pipeline: tick, bounds, deadband, rate cap -------------------------------------------------

def test_a_step_finer_than_the_tick_rounds_away_from_the_competitor():
    cfg = UndercutParams(step=D("0.005"))
    assert quote("undercut", SELLS, me("SELL", "470"), cfg).price == D("461.49")
    assert quote("undercut", BUYS, me("BUY", "400"), cfg).price == D("455.01")


def test_floor_stops_a_sell_ad_and_names_the_clamp():
    q = quote("undercut", SELLS, me("SELL", "470"), UndercutParams(floor=D("461.755")))
    assert (q.price, q.clamp, q.rule) == (D("461.76"), "floor", "undercut")
    assert "clamped to floor 461.76" in q.reason


def test_ceiling_stops_a_buy_ad():
    q = quote("undercut", BUYS, me("BUY", "400"), UndercutParams(ceiling=D("454.999")))
    assert (q.price, q.clamp) == (D("454.99"), "ceiling")


def test_a_hold_below_a_raised_floor_still_moves_up_to_the_floor():
    q = quote("undercut", SELLS, me("SELL", "461.49"), UndercutParams(floor=D("465")))
    assert (q.price, q.clamp) == (D("465.00"), "floor")


def test_already_at_the_floor_holds_as_unchanged():
    q = quote("undercut", SELLS, me("SELL", "465.00"), UndercutParams(floor=D("465")))
    assert (q.price, q.rule, q.clamp) == (None, "unchanged", "floor")


# A merchant's spread: sell never below 1500, buy never above 1490. Each bound binds its side only.
MERCHANT = UndercutParams(floor=D("1500"), ceiling=D("1490"))
MERCHANT_SELLS = book("SELL", ad("1", "1520.00"), ad("2", "1530.00"))
MERCHANT_BUYS = book("BUY", ad("7", "1480.00"), ad("8", "1470.00"))


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_a_sell_ad_is_never_clamped_by_the_ceiling_even_below_the_floor(name):
    q = quote(name, MERCHANT_SELLS, me("SELL", "1525.00"), MERCHANT, opposite=MERCHANT_BUYS)
    assert q.clamp is None and q.price is not None and q.price >= D("1500")


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_a_buy_ad_is_never_clamped_by_the_floor_even_above_the_ceiling(name):
    q = quote(name, MERCHANT_BUYS, me("BUY", "1460.00"), MERCHANT, opposite=MERCHANT_SELLS)
    assert q.clamp is None and q.price is not None and q.price <= D("1490")


def test_a_sell_quote_below_the_floor_is_clamped_to_the_floor_whatever_the_ceiling():
    cheap = book("SELL", ad("1", "1495.00"))
    q = quote("undercut", cheap, me("SELL", "1525.00"), MERCHANT)
    assert (q.price, q.clamp) == (D("1500.00"), "floor")
    q = quote("undercut", cheap, me("SELL", "1500.00"), MERCHANT)  # and it stays there
    assert (q.price, q.rule, q.clamp) == (None, "unchanged", "floor")
    q = quote("undercut", book("SELL"), me("SELL", "1500.00"), MERCHANT)  # even alone
    assert (q.price, q.rule, q.clamp) == (None, "no_competitor", None)


def test_a_buy_quote_above_the_ceiling_is_clamped_to_the_ceiling_whatever_the_floor():
    rich = book("BUY", ad("7", "1495.00"))
    q = quote("undercut", rich, me("BUY", "1460.00"), MERCHANT)
    assert (q.price, q.clamp) == (D("1490.00"), "ceiling")
    q = quote("undercut", rich, me("BUY", "1490.00"), MERCHANT)
    assert (q.price, q.rule, q.clamp) == (None, "unchanged", "ceiling")


def test_a_sell_ad_above_the_ceiling_is_not_moved_by_the_ceiling():
    # Leading by one step already: the hold stands, the BUY side's ceiling is no reason to move.
    q = quote("undercut", MERCHANT_SELLS, me("SELL", "1519.99"), MERCHANT)
    assert (q.price, q.rule, q.clamp) == (None, "lead_by_one", None)


def test_a_buy_ad_below_the_floor_is_not_moved_by_the_floor():
    q = quote("undercut", MERCHANT_BUYS, me("BUY", "1480.01"), MERCHANT)
    assert (q.price, q.rule, q.clamp) == (None, "lead_by_one", None)


def test_deadband_ignores_moves_smaller_than_its_ticks():
    cfg = UndercutParams(deadband_ticks=3)
    q = quote("undercut", SELLS, me("SELL", "461.51"), cfg)  # wants 461.49: 2 steps away
    assert (q.price, q.rule) == (None, "deadband")
    assert quote("undercut", SELLS, me("SELL", "461.52"), cfg).price == D("461.49")


def test_rate_cap_holds_a_reprice_once_the_minute_budget_is_spent():
    cap = RateCap(2)
    cap.record(0.0)
    cap.record(30.0)
    q = quote("undercut", SELLS, me("SELL", "470"), rate_cap=cap, now_s=59.0)
    assert (q.price, q.rule) == (None, "rate_cap")
    assert q.reason.endswith("2 reprices in the last 60 s")
    assert quote("undercut", SELLS, me("SELL", "470"), rate_cap=cap, now_s=60.0).price
    assert cap.allows(60.0)  # evaluate only consults the cap


def test_rate_cap_window_slides_over_exactly_sixty_seconds():
    cap = RateCap(3)
    for t in (0.0, 10.0, 20.0):
        assert cap.allows(t)
        cap.record(t)
    assert not cap.allows(59.9)
    assert cap.allows(60.0)
    cap.record(60.0)
    assert not cap.allows(69.9)
    assert cap.allows(70.0)
    assert not RateCap(0).allows(0.0)


def test_unknown_strategy_names_the_known_ones():
    with pytest.raises(UnknownStrategy) as info:
        get_strategy("martingale")
    assert str(info.value) == "unknown strategy 'martingale' (known: rank, spread, undercut)"
    with pytest.raises(UnknownStrategy):
        quote("martingale", SELLS, me("SELL", "470"))


def test_every_registered_strategy_is_reachable_by_name_with_its_own_params():
    assert sorted(STRATEGIES) == ["rank", "spread", "undercut"]
    for name, spec in STRATEGIES.items():
        assert get_strategy(name) is spec
        assert spec.params().name == name


def test_pricing_against_the_wrong_side_of_the_book_is_refused():
    with pytest.raises(ValueError, match="SELL ad competes in the SELL book"):
        quote("undercut", BUYS, me("SELL", "470"))
