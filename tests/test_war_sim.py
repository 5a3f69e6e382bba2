"""The war guard against the simulator's competitor bot that answers every undercut of mine one
tick below me (sim.market's reactive competitors), the whole bot in this process (tests/simbot)."""

from decimal import Decimal

import trio

from events import AdRepriced, PriceWarDetected, RepriceDecided
from sim import SimConfig
from tests.simbot import bot_config, bot_on_sim

QUIET = dict(seed=3, reactive_share=0.0, order_rate_per_s=0.0)  # one scripted rival only


async def fight(tmp_path, **strategy):
    """Let the best merchant rival of my SELL ad answer each of my undercuts for 150 s."""
    sim = SimConfig(**QUIET)
    async with bot_on_sim(tmp_path, sim, bot_config(sim, strategy=strategy)) as run:
        market = run.exchange.market
        mine = next(a for a in market.bot_ads() if a.side == "SELL")
        await trio.sleep(3)
        rival = next(a for a in market.book("SELL") if not a.mine
                     and a.user_type == "merchant" and set(a.pay_methods) & set(mine.pay_methods))
        rival.reactive = True
        await trio.sleep(150)
    decided = [e for e in run.events(RepriceDecided) if e.adv_no == mine.adv_no]
    chases = [d for d in decided if d.action == "reprice" and d.competitor == rival.adv_no
              and d.new_price < d.competitor_price]
    assert run.exchange.report().violations == 0
    return run, rival, decided, chases


async def test_the_guard_stops_chasing_a_rival_that_answers_every_undercut(
        tmp_path, autojump_clock):
    run, rival, decided, chases = await fight(tmp_path)  # undercut: the guard is on by default
    [war] = run.events(PriceWarDetected)
    assert war.competitor == rival.adv_no and war.rounds == 3
    # The simulator's other fighting merchants move too (sim.market's streams), so the rival is
    # not always the one priced against; but once the war starts, the rival is not chased.
    before = [d for d in chases if d.at < war.at]
    assert len(before) >= 3  # the rounds that made the war
    assert not [d for d in chases if war.at <= d.at < war.at + war.cooldown_s]
    guarded = [d for d in decided if d.rule == "war_guard"]
    assert guarded and all("price war" in d.reason for d in guarded)
    assert Decimal(0) < war.base_price - war.my_price <= Decimal("0.10")
    # Through the cool-down no decision of mine put the ad ahead of the rival's price then.
    by_seq = {env.seq: env.event for _, env in run.seen}
    during = [d for t, d in run.timed(RepriceDecided) if d.adv_no == war.adv_no
              and d.action == "reprice" and war.at <= d.at < war.at + war.cooldown_s]
    assert during
    for _, env in run.seen:
        d = env.event
        if isinstance(d, RepriceDecided) and d in during:
            row = next(a for a in by_seq[env.cause].ads if a.adv_no == rival.adv_no)
            assert d.new_price > row.price


async def test_without_the_guard_the_same_rival_ratchets_the_price_all_along(
        tmp_path, autojump_clock):
    run, rival, decided, chases = await fight(tmp_path, war_guard=False)
    assert not run.events(PriceWarDetected)
    assert not [d for d in decided if d.rule == "war_guard"]
    assert len(chases) >= 15
    assert chases[0].old_price - chases[-1].new_price >= Decimal("0.30")
    assert len(run.events(AdRepriced)) > 30
