"""Floating-price ads (EP-4 priceType 2, EP-7 priceFloatingRatio; reference §1, §4): decoding,
the pipeline's ratio, the ads actor's EP-7 body, and the whole bot on the strict simulator."""

from __future__ import annotations

import json
from decimal import Decimal as D

import msgspec
import pytest
import trio
import trio.testing

from actors.config import session_config
from c2c.decode import parse_my_ads
from c2c.models import to_my_ad
from c2c.signing import signed_query
from c2c.credentials import Secret
from events import (AdRepriced, ApiError, BookAd, BookSnapshot, MyAd, RepriceDecided,
                    RepriceFailed)
from sim import DEMO_SECRET, SimConfig
from sim.market import floating_price
from strategies import FiltersConfig, UndercutParams, evaluate
from tests.simbot import bot_on_sim
from tests.test_sim_ep7 import EP7, HEADERS, call, make, my_ad
from sim.wire import Request

CAPTURED = ('{{"advNo":"13844792446345093120","classify":"profession","tradeType":"SELL",'
            '"asset":"USDT","fiatUnit":"MXN","advStatus":1,"priceType":{type},'
            '"priceFloatingRatio":{ratio},"rateFloatingRatio":"0.00000000","price":"17.92",'
            '"priceScale":2}}')


def decoded(price_type: str, ratio: str) -> MyAd:
    body = ('{"code":"000000","message":"success","data":['
            + CAPTURED.format(type=price_type, ratio=ratio) + '],"total":1,"success":true}')
    details, _ = parse_my_ads(200, {}, body.encode())
    return to_my_ad(details[0])


@pytest.mark.parametrize("price_type", ["2", '"2"', '"FLOATING"', '"floating"'])
@pytest.mark.parametrize("ratio", ['"101.50000000"', "101.5"])
def test_ep4_floating_ad_decodes_with_its_ratio_in_every_plausible_shape_ref_s1_s4(
        price_type, ratio):
    ad = decoded(price_type, ratio)
    assert (ad.price_type, ad.floating_ratio, ad.price) == (2, D("101.5"), D("17.92"))


@pytest.mark.parametrize(("price_type", "ratio"), [
    ("1", '"100.00000000"'),  # the captured fixed ad (reference §4)
    ("null", "null"), ('"FIXED"', '"100.00000000"'),
    ("2", "null"), ("2", '"0"'),  # floating without a ratio to move: managed as fixed
])
def test_ep4_fixed_or_ratioless_ads_are_fixed_ref_s4(price_type, ratio):
    ad = decoded(price_type, ratio)
    assert (ad.price_type, ad.floating_ratio) == (1, None)


FLOAT_SELL = MyAd(adv_no="me", side="SELL", asset="USDT", fiat="NGN", price=D("1648.00"),
                  status=1, price_type=2, floating_ratio=D("103"))  # reference 1600.00
LOOSE = FiltersConfig(shared_pay_method=False, overlapping_limits=False)
CFG = UndercutParams(war_guard=False)


def sells(*prices, side="SELL"):
    return BookSnapshot(asset="USDT", fiat="NGN", ad_side=side, pages=1, ads=tuple(
        BookAd(adv_no=f"c{i}", price=D(p), surplus=D("100"), min_amount=D("1"),
               max_amount=D("1e6")) for i, p in enumerate(prices)))


def test_a_floating_ad_is_placed_through_the_ratio_nearest_without_crossing():
    # One step under 1620.00 is 1619.99 = 101.249375% of 1600: down to 101.24% = 1619.84.
    quote = evaluate(sells("1620.00"), FLOAT_SELL, CFG, LOOSE)
    assert (quote.ratio, quote.price) == (D("101.24"), D("1619.84"))
    assert "ratio 101.24% gives 1619.84" in quote.reason


def test_a_floating_ads_bound_is_a_price_and_its_ratio_never_crosses_it():
    quote = evaluate(sells("1620.00"), FLOAT_SELL,
                     UndercutParams(floor=D("1630"), war_guard=False), LOOSE)
    # 1630 = 101.875%: up to 101.88% = 1630.08, never under the floor.
    assert (quote.ratio, quote.price, quote.clamp) == (D("101.88"), D("1630.08"), "floor")
    buy = MyAd(adv_no="b", side="BUY", asset="USDT", fiat="NGN", price=D("1552.00"), status=1,
               price_type=2, floating_ratio=D("97"))  # reference 1600.00
    quote = evaluate(sells("1590.00", side="BUY"), buy,
                     UndercutParams(ceiling=D("1575"), war_guard=False), LOOSE)
    # 1575 = 98.4375%: down to 98.43% = 1574.88, never over the ceiling.
    assert (quote.ratio, quote.price, quote.clamp) == (D("98.43"), D("1574.88"), "ceiling")


def test_a_floating_ad_already_at_its_ratio_holds():
    at = msgspec.structs.replace(FLOAT_SELL, price=D("1619.84"), floating_ratio=D("101.24"))
    quote = evaluate(sells("1620.00"), at, CFG, LOOSE)
    assert quote.price is None and quote.rule in ("unchanged", "already_leading")
    assert quote.ratio is None


# --- the strict simulator's EP-7 for floating ads ------------------------------------------------

async def test_sim_ep7_ratio_moves_a_floating_ad_to_its_share_of_the_reference(autojump_clock):
    ex = make(bot_floating_sides=("SELL",), order_rate_per_s=0.0)
    sell = next(a for a in ex.market.bot_ads() if a.side == "SELL")
    listed = await my_ad(ex, sell.adv_no)
    assert (listed["priceType"], listed["priceFloatingRatio"]) == (2, "103.00000000")
    resp = await call(ex, EP7, {"advNo": sell.adv_no, "priceFloatingRatio": 101.25})
    assert resp.status == 200
    assert sell.price == floating_price(ex.market.ref, D("101.25"))
    ex.market.ref = D("1700.00")
    ex.market.follow_reference(sell, 1.0)
    assert sell.price == D("1721.25")  # 101.25% of the new reference


@pytest.mark.parametrize("bad", ["101.123456789", "0", "-1", "abc", True])
async def test_sim_ep7_refuses_a_malformed_ratio_with_1102(autojump_clock, bad):
    ex = make(bot_floating_sides=("SELL",))
    sell = next(a for a in ex.market.bot_ads() if a.side == "SELL")
    resp = await call(ex, EP7, {"advNo": sell.adv_no, "priceFloatingRatio": bad})
    assert resp.status == 400 and resp.json()["code"] == -1102
    assert "priceFloatingRatio" in resp.json()["msg"]


async def test_sim_ep7_refuses_a_ratio_whose_price_leaves_the_band_with_187055(autojump_clock):
    ex = make(bot_floating_sides=("SELL",))
    sell = next(a for a in ex.market.bot_ads() if a.side == "SELL")
    resp = await call(ex, EP7, {"advNo": sell.adv_no, "priceFloatingRatio": "120"})
    assert "187055" in resp.body.decode()


# --- the whole bot on the simulator ----------------------------------------------------------

async def test_the_bot_moves_its_floating_ad_by_ratio_and_its_fixed_ad_by_price(
        tmp_path, autojump_clock):
    sim = SimConfig(seed=5, bot_floating_sides=("SELL",), order_rate_per_s=0.0)
    async with bot_on_sim(tmp_path, sim) as run:
        await trio.sleep(60)
    market = run.exchange.market
    sell, buy = (next(a for a in market.bot_ads() if a.side == s) for s in ("SELL", "BUY"))
    bodies = [json.loads(r.content) for _, r in run.transport.paths("/ads/update")]
    floats = [b for b in bodies if b["advNo"] == sell.adv_no]
    fixed = [b for b in bodies if b["advNo"] == buy.adv_no]
    assert floats and fixed
    assert all(set(b) == {"advNo", "priceFloatingRatio"} for b in floats)
    assert all(set(b) == {"advNo", "price"} for b in fixed)
    assert D(str(floats[-1]["priceFloatingRatio"])) == sell.price_floating_ratio != D("103")
    assert sell.price == floating_price(market.ref, sell.price_floating_ratio)
    decided = [e for e in run.events(RepriceDecided) if e.action == "reprice"]
    assert all((e.new_ratio is not None) == (e.adv_no == sell.adv_no) for e in decided)
    assert not run.events(RepriceFailed) and run.exchange.report().violations == 0
    assert market.leads(sell.adv_no)  # the ratio placed it ahead of the best competitor


async def test_the_bot_prices_its_floating_ad_from_the_price_the_book_shows_for_it(
        tmp_path, autojump_clock):
    # The reference drifts: the ad's price moves without any EP-7, and the bot reads it from my
    # row of the book, except from a book logged within FLOAT_SETTLE_S of an acknowledged EP-7.
    from actors.ads_core import FLOAT_SETTLE_S
    from events import AdRepriced, BookSnapshot

    sim = SimConfig(seed=5, bot_floating_sides=("SELL",), order_rate_per_s=0.0,
                    volatility=0.001)
    async with bot_on_sim(tmp_path, sim) as run:
        await trio.sleep(60)
    sell = next(a for a in run.exchange.market.bot_ads() if a.side == "SELL").adv_no
    by_seq = {env.seq: env for _, env in run.seen}
    acked = [env.t for _, env in run.seen
             if isinstance(env.event, AdRepriced) and env.event.adv_no == sell]
    checked = 0
    for _, env in run.seen:
        e = env.event
        if not isinstance(e, RepriceDecided) or e.adv_no != sell:
            continue
        snap = by_seq[env.cause]
        assert isinstance(snap.event, BookSnapshot)
        if any(0 <= snap.t - t < FLOAT_SETTLE_S for t in acked):
            continue
        row = next(a for a in snap.event.ads if a.adv_no == sell)
        assert e.old_price == row.price
        checked += 1
    assert checked >= 10


def test_a_floating_session_replays_equal_and_replays_what_if(tmp_path):
    from replay.runner import replay_session
    from store import open_log

    async def record():
        sim = SimConfig(seed=5, bot_floating_sides=("SELL",), order_rate_per_s=0.0)
        async with bot_on_sim(tmp_path, sim):
            await trio.sleep(30)

    trio.run(record, clock=trio.testing.MockClock(autojump_threshold=0))
    with open_log(tmp_path / "bot.db") as log:
        result = replay_session(log, 1)
        assert result.equal, result.divergence.render() if result.divergence else ""
        cfg = session_config(log.session(1).config).bot
        step = msgspec.structs.replace(cfg.strategy, step=D("0.05"))
        whatif = replay_session(log, 1, bot=msgspec.structs.replace(cfg, strategy=step),
                                whatif=True)
        produced = [e.event for e in log.events(whatif.whatif_session)]
    ratios = [e for e in produced if isinstance(e, RepriceDecided) and e.new_ratio is not None]
    assert ratios  # the floating ad was repriced through its ratio in the what-if too
    assert [e for e in produced if isinstance(e, AdRepriced) and e.adv_no == ratios[0].adv_no]
    assert not [e for e in produced if isinstance(e, ApiError) and e.endpoint == "EP-7"]
