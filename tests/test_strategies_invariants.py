"""Properties every strategy keeps on any book, checked with hypothesis."""

from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec.structs import replace

from events import BookAd, BookSnapshot, MyAd
from strategies import STRATEGIES, FiltersConfig, evaluate, get_strategy, tick_of

PAYS = ("Bank", "Cash", "Card")
offsets = st.decimals(min_value=D("-20"), max_value=D("20"), places=3)
prices = st.decimals(min_value=D("0.5"), max_value=D("1000"), places=3)


@st.composite
def book_ads(draw, base, max_size=8):
    ads = []
    for i in range(draw(st.integers(0, max_size))):
        lo = draw(st.integers(0, 5000))
        ads.append(BookAd(
            adv_no=f"c{i}", price=base + draw(offsets), surplus=D(draw(st.integers(0, 500))),
            min_amount=D(lo), max_amount=D(lo + draw(st.integers(0, 100000))),
            pay_methods=tuple(draw(st.sets(st.sampled_from(PAYS)))),
            nickname=draw(st.sampled_from(["", "Bob", "Ann", "Spam"])),
            month_orders=draw(st.integers(0, 50)),
            finish_rate=draw(st.decimals(min_value=0, max_value=1, places=2))))
    return ads


@st.composite
def scenarios(draw):
    side = draw(st.sampled_from(["SELL", "BUY"]))
    other = "BUY" if side == "SELL" else "SELL"
    scale = draw(st.integers(0, 3))
    base = D(draw(st.integers(30, 900)))  # prices, bounds and my ad near each other
    # Each bound on its own: a merchant's floor (SELL) is often above its ceiling (BUY).
    floor = base + draw(st.integers(-40, 40))
    ceiling = base + draw(st.integers(-40, 40))
    my_ad = MyAd(adv_no="me", side=side, asset="USDT", fiat="NGN",
                 price=base + draw(st.decimals(min_value=-25, max_value=25, places=scale)),
                 status=1, min_amount=D(draw(st.integers(0, 2000))),
                 max_amount=D(draw(st.integers(0, 90000))),
                 pay_methods=tuple(draw(st.sets(st.sampled_from(PAYS)))), price_scale=scale)
    name = draw(st.sampled_from(sorted(STRATEGIES)))
    params = get_strategy(name).params
    own = {"rank": draw(st.integers(1, 4)),
           "min_margin": draw(st.decimals(min_value=0, max_value=10, places=2))}
    cfg = params(
        step=draw(st.sampled_from([D("0.001"), D("0.005"), D("0.01"), D("0.05"), D("1")])),
        floor=floor, ceiling=ceiling, deadband_ticks=draw(st.integers(0, 3)),
        **{k: v for k, v in own.items() if k in params.__struct_fields__})
    filters = FiltersConfig(
        exclude_nicknames=tuple(draw(st.sets(st.sampled_from(["Spam", "bob"])))),
        min_month_orders=draw(st.integers(0, 10)),
        min_finish_rate=draw(st.sampled_from([D(0), D("0.5")])),
        shared_pay_method=draw(st.booleans()), overlapping_limits=draw(st.booleans()))
    book = BookSnapshot(asset="USDT", fiat="NGN", ad_side=side, pages=1,
                        ads=tuple(draw(book_ads(base))))
    opposite = None
    if draw(st.booleans()):
        opposite = BookSnapshot(asset="USDT", fiat="NGN", ad_side=other, pages=1,
                                ads=tuple(draw(book_ads(base, 4))))
    return name, book, my_ad, cfg, filters, opposite


def with_my_other_ads(book, my_ad, extra_prices):
    """The same book with my own ads spliced in: one under my advNo, others flagged mine."""
    ads = list(book.ads)
    for i, p in enumerate(extra_prices):
        adv_no = my_ad.adv_no if i == 0 else f"mine{i}"
        ads.insert(i % (len(ads) + 1), BookAd(adv_no=adv_no, price=p, surplus=D(9),
                                              min_amount=D(0), max_amount=D(10**6),
                                              mine=i > 0))
    return replace(book, ads=tuple(ads))


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_a_sell_price_is_never_below_the_floor_nor_a_buy_price_above_the_ceiling(scenario):
    name, book, my_ad, cfg, filters, opposite = scenario
    q = evaluate(book, my_ad, cfg, filters, opposite)
    if q.price is None:
        return
    if my_ad.side == "SELL":
        assert q.price >= cfg.floor
    else:
        assert q.price <= cfg.ceiling
    assert q.price == q.price.quantize(tick_of(my_ad))
    assert q.price > 0


@settings(max_examples=150, deadline=None)
@given(scenarios(), st.decimals(min_value=D("-1000"), max_value=D("2000"), places=2))
def test_a_sell_quote_ignores_the_ceiling_and_a_buy_quote_the_floor(scenario, other_bound):
    name, book, my_ad, cfg, filters, opposite = scenario
    moved = (replace(cfg, ceiling=other_bound) if my_ad.side == "SELL"
             else replace(cfg, floor=other_bound))
    assert (evaluate(book, my_ad, moved, filters, opposite)
            == evaluate(book, my_ad, cfg, filters, opposite))


@settings(max_examples=150, deadline=None)
@given(scenarios(), st.lists(prices, min_size=1, max_size=3))
def test_my_other_ads_in_the_book_never_move_my_price(scenario, extra):
    name, book, my_ad, cfg, filters, opposite = scenario
    plain = evaluate(book, my_ad, cfg, filters, opposite)
    crowded_opposite = None if opposite is None else with_my_other_ads(opposite, my_ad, extra)
    crowded = evaluate(with_my_other_ads(book, my_ad, extra), my_ad, cfg, filters,
                       crowded_opposite)
    assert crowded == plain


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_no_reprice_when_nothing_changed_after_applying_the_first(scenario):
    name, book, my_ad, cfg, filters, opposite = scenario
    first = evaluate(book, my_ad, cfg, filters, opposite)
    if first.price is None:
        return
    moved = replace(my_ad, price=first.price)
    again = evaluate(book, moved, cfg, filters, opposite)
    assert again.price is None, (first, again)
