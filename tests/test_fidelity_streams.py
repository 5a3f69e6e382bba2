"""The simulator's random streams: two runs with one seed differ only through the bot's actions,
so a backtest of strategy B on A's recording can be judged against a run of B on that seed."""

from decimal import Decimal as D

from sim import SimConfig, SimExchange
from sim.market import one_better

TICKS = 2400  # 10 minutes of 0.25 s ticks


def run(seed: int, bot_moves: bool) -> dict:
    """Step one exchange; when `bot_moves`, the bot's SELL ad leads the book every 5 s as an
    undercutting bot would (through the same calls as an accepted EP-7)."""
    ex = SimExchange(SimConfig(seed=seed, bot_surplus=D(100000)), now_ms=lambda: 0)
    market = ex.market
    sell = next(a for a in market.bot_ads() if a.side == "SELL")
    seen = {"ref": [], "arrivals": [], "calm": [], "bot_orders": 0}
    calm = [a.adv_no for a in market.ads.values() if not a.mine and not a.fights]
    for i in range(1, TICKS + 1):
        now = i * ex.cfg.tick_s
        if bot_moves and i % 20 == 0:
            rivals = [a for a in market.book("SELL") if not a.mine]
            market.set_price(sell.adv_no, one_better("SELL", rivals[0].price), now)
            market.watch_bot(sell.adv_no, now)
        before = {a.adv_no: a.surplus for a in market.ads.values()}
        ex.step(now)
        # an order lowers an ad's surplus (a competitor's sold-out ad is topped up at once);
        # a cancelled order gives the bot's ad its crypto back, which is no arrival
        moved = {a.side for a in market.ads.values()
                 if a.surplus < before[a.adv_no] or (a.surplus > before[a.adv_no] and not a.mine)}
        seen["arrivals"] += [(i, side) for side in sorted(moved)]
        seen["ref"].append(market.ref)
        seen["calm"].append(tuple(market.ads[n].price for n in calm))
    seen["bot_orders"] = len(ex.desk.orders)
    return seen


def test_two_runs_of_one_seed_see_the_same_drift_arrivals_and_calm_competitors():
    still, moving = run(11, bot_moves=False), run(11, bot_moves=True)
    assert still["bot_orders"] != moving["bot_orders"]  # the bot's actions do matter
    assert len(still["arrivals"]) > 100
    assert moving["arrivals"] == still["arrivals"]
    assert moving["ref"] == still["ref"]
    assert moving["calm"] == still["calm"]


def test_another_seed_gives_another_market():
    assert run(12, bot_moves=False)["arrivals"] != run(11, bot_moves=False)["arrivals"]
