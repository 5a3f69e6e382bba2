"""Several markets in one process, within the account's one request budget.

Binance's 5 requests/s are per account, whatever the pair (reference §1 rate limits), so the
markets share one limiter; the market actor spends its share where my ads compete and where
the book moves, with a bounded gap for every market.
"""

from __future__ import annotations

import argparse
import tomllib
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
import trio
import trio.testing

from actors import ads_core
from actors.config import ConfigError, MarketConfig, config_json, load_config, session_config
from actors.market_core import MARKET_SHARE, Stream, interval, plan_streams
from app.demo import demo_config, demo_markets, run_virtual, VIRTUAL_URL
from app.status import StatusView
from backtest import cli as backtest_cli
from events import (AdRepriced, ApiRequest, BacktestCompleted, BookAd, BookSnapshot, Envelope,
                    MyAd, MyAdsLoaded, RepriceDecided)
from replay.runner import replay_session
from sim import SimConfig, SimExchange
from store import open_log
from strategies import FiltersConfig, SpreadParams
from tests.simbot import bot_config, bot_on_sim, msgspec_to_dict, virtual_ms

TWO = SimConfig(seed=5, markets=demo_markets(2))  # USDT/NGN and BTC/NGN
BTC = ("BTC", "NGN")


# --- config -------------------------------------------------------------------------------------


def test_markets_entries_configure_several_markets_in_order():
    cfg = load_config(tomllib.loads('''
        [[markets]]
        asset = "USDT"
        fiat = "NGN"
        pay_types = ["BANK"]
        [[markets]]
        asset = "BTC"
        fiat = "NGN"
        pages = 1
        poll_interval_s = 20
        trans_amount = "50000"
        publisher_type = "all"
    '''))
    assert [m.name for m in cfg.all_markets()] == ["USDT/NGN", "BTC/NGN"]
    btc = cfg.market_for("BTC", "NGN")
    assert (btc.pages, btc.poll_interval_s, btc.trans_amount, btc.publisher_type) == \
        (1, 20.0, Decimal("50000"), "all")
    assert cfg.market_for("ETH", "NGN") is None


def test_the_old_market_table_still_works_as_one_entry():
    cfg = load_config({"market": {"asset": "BTC", "fiat": "NGN", "pages": 2}})
    assert cfg.all_markets() == (MarketConfig(asset="BTC", fiat="NGN", pages=2),)
    assert load_config({}).all_markets() == (MarketConfig(),)


def test_a_config_written_back_out_loads_again():
    """A whole config as builtins holds both forms, the unused one at its default."""
    for data in ({"market": {"asset": "BTC", "pages": 2}},
                 {"markets": [{"asset": "USDT"}, {"asset": "BTC"}]}):
        cfg = load_config(data)
        assert load_config(msgspec.to_builtins(cfg)) == cfg


def test_a_stored_session_config_of_before_markets_still_reads():
    old = '{"bot":{"market":{"asset":"BTC","fiat":"NGN"}},"actors":["market"],"seed":1}'
    assert [m.name for m in session_config(old).bot.all_markets()] == ["BTC/NGN"]
    cfg = load_config({"markets": [{"asset": "USDT"}, {"asset": "BTC"}]})
    again = session_config(config_json(cfg)).bot
    assert again.all_markets() == cfg.all_markets()


def test_the_example_config_loads():
    text = (Path(__file__).resolve().parents[1] / "bot.example.toml").read_text()
    assert load_config(tomllib.loads(text)).all_markets()


@pytest.mark.parametrize("data, message", [
    ({"market": {}, "markets": [{}]}, "both [market] and [[markets]]"),
    ({"markets": [{"asset": "BTC"}, {"asset": "BTC"}]}, "BTC/NGN is configured twice"),
    ({"markets": []}, "markets is empty"),
    ({"markets": [{"asset": "BTC", "pages": 0}]}, "markets[0] (BTC/NGN).pages must be >= 1"),
    ({"markets": [{"asset": "BTC", "pagez": 1}]}, "unknown field `pagez`"),
])
def test_bad_markets_are_refused_in_one_line(data, message):
    with pytest.raises(ConfigError) as exc:
        load_config(data)
    assert message in str(exc.value) and "\n" not in str(exc.value)


# --- scheduling ---------------------------------------------------------------------------------


def _ad(adv_no, side, asset, price):
    return MyAd(adv_no=adv_no, side=side, asset=asset, fiat="NGN", price=Decimal(price),
                status=1, min_amount=Decimal(5000), max_amount=Decimal(800000),
                pay_methods=("BANK",))


def test_a_market_with_my_ads_is_polled_more_often_and_none_beyond_its_gap():
    cfg = load_config({"markets": [{"asset": "USDT", "poll_interval_s": 10},
                                   {"asset": "BTC", "poll_interval_s": 10}]})
    streams = plan_streams(cfg, [_ad("1", "SELL", "USDT", "1600")], None)
    # USDT: my SELL ad's side only; BTC, where I have no ad: both sides, watched.
    assert [s.name for s in streams] == ["USDT/NGN SELL", "BTC/NGN SELL", "BTC/NGN BUY"]
    mine, watched = streams[0], streams[1]
    assert interval(cfg, streams, mine, 0.0) * 4 <= interval(cfg, streams, watched, 0.0)
    # All shares together spend the market's share of the budget, no more.
    rate = sum(1 / interval(cfg, streams, s, 0.0) for s in streams)
    assert rate == pytest.approx(cfg.limits.rps * MARKET_SHARE)
    # A moving book takes a larger share; a quiet one is still polled within its gap.
    watched.moved_at = 0.0  # its page 1 changed a second ago
    assert interval(cfg, streams, watched, 1.0) < interval(cfg, streams, streams[2], 1.0)
    crowd = [Stream(MarketConfig(asset=f"A{i}"), "SELL", True) for i in range(50)]
    assert all(interval(cfg, crowd + [watched], s, 0.0) <= 10.0 for s in crowd + [watched])


async def test_one_budget_polls_my_market_most_and_starves_none(tmp_path, autojump_clock):
    """Two markets, my ads managed in USDT/NGN only: its book is polled far more often, BTC/NGN
    still within its poll_interval_s, and the account never exceeds 5 requests/s
    (reference §1 rate limits: per account, all pairs together)."""
    usdt_ads = [a.adv_no for a in SimExchange(TWO, now_ms=lambda: 0).bot_ads
                if a.asset == "USDT"]
    base = msgspec_to_dict(demo_config(VIRTUAL_URL, TWO))
    base["ads"]["adv_nos"] = usdt_ads
    cfg = load_config(base)
    async with bot_on_sim(tmp_path, TWO, cfg) as run:
        await trio.sleep(60)
    polls: dict[str, list[float]] = {"USDT": [], "BTC": []}
    for t, req in run.timed(ApiRequest):
        if req.endpoint == "EP-0" and '"page":1' in req.body:
            polls['"BTC"' in req.body and "BTC" or "USDT"].append(t)
    assert len(polls["USDT"]) >= 3 * len(polls["BTC"]) > 0
    gaps = [b - a for a, b in zip(polls["BTC"], polls["BTC"][1:])]
    assert max(gaps) <= 5.0 + 1.0, "BTC/NGN (poll_interval_s 5) went unpolled too long"
    assert run.exchange.report().violations == 0


async def _an_ad_comes_online_mid_run(tmp_path):
    sim = SimConfig(seed=5)
    async with bot_on_sim(tmp_path, sim, bot_config(sim, ads={"refresh_s": 10.0})) as run:
        buy = next(a.adv_no for a in run.exchange.bot_ads if a.side == "BUY")
        run.exchange.set_ad_status(buy, 3)  # offline before the first load of my ads
        await trio.sleep(15)
        run.exchange.set_ad_status(buy, 1)
        await trio.sleep(30)
    return run, buy


def test_the_side_of_an_ad_that_comes_online_mid_run_is_polled_from_the_load_that_shows_it(
        tmp_path):
    """My BUY ad is offline when the run starts, so only the SELL side is polled; once a
    refresh of my ads (EP-4) lists it online, its side is polled as mine and the ad priced,
    without a restart; the session replays identical."""
    run, buy = trio.run(_an_ad_comes_online_mid_run, tmp_path,
                        clock=trio.testing.MockClock(autojump_threshold=0))
    loads = [(t, {a.adv_no for a in e.ads}) for t, e in run.timed(MyAdsLoaded)]
    assert buy not in loads[0][1], "the ad was online at the first load"
    shown = next(t for t, ads in loads if buy in ads)
    books = {side: [t for t, e in run.timed(BookSnapshot) if e.ad_side == side]
             for side in ("SELL", "BUY")}
    assert books["BUY"] and shown <= books["BUY"][0] < shown + 1
    sell_since = [t for t in books["SELL"] if t >= shown]
    assert len(books["BUY"]) >= 0.8 * len(sell_since), "the new side is polled as mine"
    assert any(e.adv_no == buy for e in run.events(RepriceDecided))
    with open_log(tmp_path / "bot.db", create=False) as log:
        result = replay_session(log, 1)
    assert result.equal, result.divergence.render() if result.divergence else result.unrecorded


# --- pricing: each ad against its own market's book ---------------------------------------------


def _book(asset, side, price, mine=None):
    ads = [BookAd(adv_no=f"{asset}{side}{i}", price=Decimal(price) + i, surplus=Decimal(100),
                  min_amount=Decimal(1000), max_amount=Decimal(900000), pay_methods=("BANK",),
                  nickname=f"n{i}", month_orders=100, finish_rate=Decimal("0.99"))
           for i in range(3)]
    return BookSnapshot(asset=asset, fiat="NGN", ad_side=side, pages=1, ads=tuple(ads))


def test_a_btc_ad_is_never_priced_from_the_usdt_book():
    strategy = SpreadParams(min_margin=Decimal("1"), war_guard=False,
                            ceiling=Decimal("1e12"))  # the default binds a BTC BUY ad
    state = ads_core.AdsState(lambda adv_no: (strategy, FiltersConfig()))
    seq = iter(range(1, 100))

    def apply(event):
        ads_core.apply(state, Envelope(session=1, seq=next(seq), t=0.0, ts_ms=0, source="x", cause=None,
                                         event=event))

    apply(MyAdsLoaded(ads=(_ad("b", "BUY", "BTC", "149000000"), _ad("u", "BUY", "USDT", "1550"))))
    apply(_book("USDT", "SELL", "1600"))  # the latest SELL book is USDT's
    btc_buy = _book("BTC", "BUY", "149500000")
    apply(btc_buy)
    decided = {d.adv_no: d for d in ads_core.decide(state, btc_buy, 1.0)}
    assert set(decided) == {"b"}, "a BTC book priced a USDT ad"
    assert decided["b"].rule == "no_opposite", "the USDT SELL book stood in for BTC's"
    apply(_book("BTC", "SELL", "151000000"))
    (verdict,) = ads_core.decide(state, btc_buy, 2.0)
    assert verdict.rule != "no_opposite" and verdict.new_price > Decimal(100_000_000)


# --- the two-market demo, its replay and its backtest -------------------------------------------


@pytest.fixture(scope="module")
def two_market_session(tmp_path_factory):
    db = tmp_path_factory.mktemp("mm") / "demo.db"
    with open_log(db) as log:
        sid, report = run_virtual(log, duration=60.0, seed=5, sim_cfg=TWO)
        events = [env.event for env in log.events(sid)]
    return db, sid, report, events


def test_the_two_market_demo_reprices_both_markets_within_one_budget(two_market_session):
    db, sid, report, events = two_market_session
    assert report.violations == 0
    loaded = next(e for e in events if isinstance(e, MyAdsLoaded))
    market_of = {a.adv_no: (a.asset, a.fiat) for a in loaded.ads}
    assert set(market_of.values()) == {("USDT", "NGN"), BTC}
    repriced = {market_of[e.adv_no] for e in events if isinstance(e, AdRepriced)}
    assert repriced == {("USDT", "NGN"), BTC}
    for e in events:
        if isinstance(e, RepriceDecided) and e.new_price is not None:
            btc = market_of[e.adv_no] == BTC
            assert (e.new_price > 1_000_000) == btc, "an ad priced from another market's book"
    view = StatusView()
    with open_log(db, create=False) as log:
        for env in log.events(sid):
            view.apply(env)
    lines = view.market_lines()
    assert [line.split(":")[0] for line in lines] == ["USDT/NGN", "BTC/NGN"]
    assert all("reprices=0" not in line for line in lines)


def test_a_two_market_session_replays_identical(two_market_session):
    db, sid, _, _ = two_market_session
    with open_log(db, create=False) as log:
        result = replay_session(log, sid)
    assert result.equal, result.divergence.render() if result.divergence else result.unrecorded


def test_a_two_market_recording_is_backtested_market_by_market(two_market_session, capsys):
    db, sid, _, _ = two_market_session
    args = argparse.Namespace(path=str(db), sessions=[sid], strategy="undercut", sets=[],
                              plot=None, sweep=[], workers=1, cluster=None, objective="pnl",
                              walk_forward=None, war_guard_both=False, market=None)
    assert backtest_cli.main(args, now_ms=lambda: 0) == 0
    out = capsys.readouterr().out
    assert out.index("market USDT/NGN:") < out.index("market BTC/NGN:")
    with open_log(db, create=False) as log:
        saved = [e.event for e in log.events(log.sessions()[-1].id)
                 if isinstance(e.event, BacktestCompleted)]
    assert [s.market for s in saved] == ["USDT/NGN", "BTC/NGN"]
    assert all(s.snapshots > 0 for s in saved)
    btc_sell = saved[1].vwap_sell
    assert btc_sell is None or btc_sell > 1_000_000, "BTC/NGN's fills priced from USDT's books"

    args.market = "btc/ngn"
    assert backtest_cli.main(args, now_ms=lambda: 0) == 0
    assert "market BTC/NGN:" in capsys.readouterr().out
    args.market = "ETH/NGN"
    assert backtest_cli.main(args, now_ms=lambda: 0) == 2
    assert "the sessions traded USDT/NGN, BTC/NGN" in capsys.readouterr().err


def test_the_recheck_redecides_a_two_market_session_identically(two_market_session):
    """The pure core folded over the recording decides every ad of both markets as live."""
    from backtest.recheck import recheck

    db, sid, _, _ = two_market_session
    with open_log(db, create=False) as log:
        cfg = session_config(log.session(sid).config).bot
        check = recheck(list(log.events(sid)), cfg.strategy, cfg.filters,
                        pricing_for=cfg.pricing_for)
    assert check.total > 20 and check.same == check.total, check.mismatches[:3]
