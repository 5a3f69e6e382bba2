"""Profit in view (app.pnl): realised spread PnL and inventory per market from the session's
fills, by the backtest's definitions; in the status view, the end-of-run summary, and against
the simulator's own record of the orders it completed."""

from __future__ import annotations

from decimal import Decimal as D

import trio

from app.demo import _print_summary
from app.pnl import session_pnl
from app.status import StatusView
from events import Envelope, OrderOpened, OrderStatusChanged
from sim import SimConfig
from tests.simbot import bot_on_sim


def opened(no, side, amount, total, *, asset="USDT", fiat="NGN", status=1):
    return OrderOpened(order_no=no, adv_no="ad-" + side, side=side, asset=asset, fiat=fiat,
                       amount=D(amount), price=D(total) / D(amount), total_price=D(total),
                       status=status)


def done(no, status=4):
    return OrderStatusChanged(order_no=no, old_status=2, new_status=status)


SESSION = [
    opened("b1", "BUY", "10", "15900"), done("b1"),  # bought 10 at 1590
    opened("b2", "BUY", "5", "7960"), done("b2"),  # and 5 at 1592: 15 for 23,860
    opened("s1", "SELL", "8", "12800"), done("s1"),  # sold 8 at 1600
    opened("s2", "SELL", "4", "6420"), done("s2", 6),  # cancelled: no fill
    opened("s3", "SELL", "3", "4815"),  # still open: no fill
    done("s1"),  # a repeated completion counts once
    done("x9"),  # an order this session never saw opened: no details, not counted
    opened("c1", "SELL", "0.01", "1000000", asset="BTC", status=4),  # opened completed
]


def test_realised_spread_pnl_and_inventory_per_market_are_worked_out_by_hand():
    usdt, btc = session_pnl(SESSION)
    assert (usdt.market, usdt.bought, usdt.sold, usdt.matched) == ("USDT/NGN", D("15"), D("8"),
                                                                   D("8"))
    # buy VWAP 23,860 / 15 = 1590.66666667 (the backtest's 8 places); sell VWAP 1600.
    assert (usdt.buy_vwap, usdt.sell_vwap) == (D("1590.66666667"), D("1600.00000000"))
    assert usdt.realised == D("8") * (D("1600") - D("1590.66666667")) == D("74.66666664")
    assert usdt.inventory == D("7")
    assert (btc.market, btc.sold, btc.matched, btc.realised, btc.inventory) == (
        "BTC/NGN", D("0.01"), D("0"), D("0"), D("-0.01"))
    assert all(isinstance(v, D) for v in (usdt.realised, usdt.inventory, btc.realised))


def test_the_status_view_and_the_end_of_run_summary_show_profit_per_market(capsys):
    view = StatusView()
    for seq, event in enumerate(SESSION, 1):
        view.apply(Envelope(session=1, seq=seq, ts_ms=0, t=float(seq), source="orders",
                            cause=None, event=event))
    assert view.profit() == session_pnl(SESSION)
    screen = " ".join(str(part) for part in view.render().renderables)
    assert "USDT/NGN: realised 74.67 NGN on 8 matched, inventory +7 USDT" in screen

    class Args:
        db = "bot.db"

    class Exchange:
        def report(self):
            return "ok"

    _print_summary(1, Args(), view, Exchange(), "duration")
    out = capsys.readouterr().out
    assert "profit:    USDT/NGN: realised 74.67 NGN on 8 matched, inventory +7 USDT" in out
    assert "profit:    BTC/NGN: realised 0.00 NGN on 0 matched, inventory -0.01 BTC" in out


def test_an_idle_session_says_nothing_was_filled():
    assert StatusView().pnl_lines() == ["no completed orders this session"]


async def test_the_bots_profit_matches_the_orders_the_simulator_completed(
        tmp_path, autojump_clock):
    async with bot_on_sim(tmp_path, SimConfig(seed=11, order_rate_per_s=0.3)) as run:
        await trio.sleep(240)
    view = StatusView()
    for _, env in run.seen:
        view.apply(env)
    completed = [o for o in run.exchange.desk.orders.values() if o.status == 4]
    [mine] = view.profit()
    bought = sum((o.amount for o in completed if o.side == "BUY"), D(0))
    sold = sum((o.amount for o in completed if o.side == "SELL"), D(0))
    assert bought and sold  # both sides traded, so some volume is matched
    assert (mine.bought, mine.sold, mine.inventory) == (bought, sold, bought - sold)
    buy_fiat = sum((o.total for o in completed if o.side == "BUY"), D(0))
    sell_fiat = sum((o.total for o in completed if o.side == "SELL"), D(0))
    exact = min(bought, sold) * (sell_fiat / sold - buy_fiat / bought)
    assert abs(mine.realised - exact) < D("0.0001")


def test_the_status_screen_shows_the_competitor_the_decision_priced_against():
    """Not the book's first other ad: one the filters exclude (a non-merchant with
    `filters.merchants_only`, say) can lead the book while the decision prices elsewhere."""
    from app.status import StatusView
    from events import BookAd, BookSnapshot, Envelope, MyAd, MyAdsLoaded, RepriceDecided

    mine = MyAd(adv_no="me", side="SELL", asset="USDT", fiat="NGN", price=D("1610"), status=1,
                surplus=D("10"), min_amount=D("1"), max_amount=D("100"))
    book = BookSnapshot(asset="USDT", fiat="NGN", ad_side="SELL", pages=1, ads=(
        BookAd(adv_no="user", price=D("1590"), surplus=D("5"), min_amount=D("1"),
               max_amount=D("9"), user_type="user"),
        BookAd(adv_no="rival", price=D("1605"), surplus=D("5"), min_amount=D("1"),
               max_amount=D("9"))))
    decided = RepriceDecided(adv_no="me", strategy="undercut", action="reprice",
                             old_price=D("1610"), new_price=D("1604.99"), rule="undercut",
                             reason="best competitor rival at 1605", competitor="rival",
                             competitor_price=D("1605"))
    view = StatusView()
    for seq, event in enumerate((MyAdsLoaded(ads=(mine,)), book, decided), 1):
        view.apply(Envelope(session=1, seq=seq, ts_ms=0, t=float(seq), source="x", cause=None,
                            event=event))
    assert view.ads["me"].best_other == D("1605")
