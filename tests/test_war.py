"""The price-war guard (strategies.war) through the one pricing pipeline, time passed in."""

from decimal import Decimal as D

import pytest
from msgspec.structs import replace

from actors.config import ConfigError, load_config
from events import BookAd, BookSnapshot, MyAd, PriceWarDetected, RepriceDecided
from strategies import FiltersConfig, RankParams, SpreadParams, UndercutParams, evaluate
from strategies.war import WarGuard, guard_enabled

CFG = UndercutParams(step=D("1"), max_reprices_per_min=100, min_reprice_gap_s=0)
FILTERS = FiltersConfig(shared_pay_method=False, overlapping_limits=False)
ME = MyAd(adv_no="me", side="SELL", asset="USDT", fiat="NGN", price=D("1005"), status=1)


def book(*prices, names=("rival", "other", "third")):
    ads = tuple(BookAd(adv_no=n, price=D(p), surplus=D("100"), min_amount=D("1"),
                       max_amount=D("1000000"), nickname=n.title()) for n, p in zip(names, prices))
    return BookSnapshot(asset="USDT", fiat="NGN", ad_side="SELL", pages=1, ads=ads)


class Desk:
    """The ads actor's loop in miniature: decide, log the decision, fold it, keep the price."""

    def __init__(self, cfg=CFG, ad=ME):
        self.cfg, self.ad = cfg, ad
        self.guard = WarGuard(ad.side, cfg)
        self.log: list = []

    def at(self, t: float, snap: BookSnapshot):
        quote = evaluate(snap, self.ad, self.cfg, FILTERS, now_s=t,
                         war=self.guard)
        started = self.guard.take_started() if self.guard else None
        if started is not None:
            self.log.append(started)
        decided = RepriceDecided(
            adv_no=self.ad.adv_no, strategy=self.cfg.name,
            action="hold" if quote.price is None else "reprice", old_price=self.ad.price,
            new_price=quote.price, rule=quote.rule, reason=quote.reason,
            competitor=quote.competitor, competitor_price=quote.competitor_price, at=t)
        self.log.append(decided)
        if self.guard:
            self.guard.apply(decided)
        if quote.price is not None:
            self.ad = replace(self.ad, price=quote.price)
        return decided


def ratchet(desk: Desk, start: float = 0.0, gap: float = 10.0, rounds: int = 4):
    """The rival answers every undercut of mine one step below it: 1001, 999, 997, ..."""
    out = []
    for i in range(rounds):
        out.append(desk.at(start + i * gap, book(str(1001 - 2 * i), "1100")))
    return out


def test_the_third_answered_undercut_of_one_rival_is_held_with_its_reason_and_a_war_event():
    desk = Desk()
    first, r1, r2, third = ratchet(desk)
    assert [d.new_price for d in (first, r1, r2)] == [D("1000"), D("998"), D("996")]
    assert third.action == "hold" and third.rule == "war_guard"
    assert "price war" in third.reason and "Rival (advNo rival)" in third.reason
    assert "staying one step behind it, at 996" in third.reason
    assert "300 s cool-down" in third.reason
    [war] = [e for e in desk.log if isinstance(e, PriceWarDetected)]
    assert (war.adv_no, war.competitor, war.competitor_name) == ("me", "rival", "Rival")
    assert (war.rounds, war.my_price, war.competitor_price, war.base_price) == (
        3, D("996"), D("995"), D("1005"))
    assert war.at == 30.0 and war.cooldown_s == 300.0


def test_without_the_guard_the_same_rival_ratchets_the_price_down_every_round():
    desk = Desk(replace(CFG, war_guard=False))
    desk.guard = None
    decided = ratchet(desk, rounds=6)
    assert [d.new_price for d in decided] == [D(p) for p in ("1000", "998", "996", "994",
                                                             "992", "990")]


def test_the_guard_holds_for_the_cool_down_then_answers_again():
    desk = Desk()
    ratchet(desk)
    assert desk.at(329.0, book("995", "1100")).rule == "war_guard"
    after = desk.at(331.0, book("995", "1100"))
    assert (after.action, after.new_price) == ("reprice", D("994"))


def test_during_the_cool_down_the_ad_stays_one_step_behind_the_rival_wherever_it_goes():
    desk = Desk()
    ratchet(desk)  # at 996, the rival at 995
    back = desk.at(40.0, book("1010", "1100"))  # the rival retreats: back up behind it
    assert (back.rule, back.new_price, back.competitor) == ("war_guard", D("1011"), "rival")
    down = desk.at(50.0, book("995", "1003"))  # it comes back: follow, still behind it
    assert (down.rule, down.new_price) == ("war_guard", D("996"))
    assert "staying one step behind it: 996" in down.reason
    behind = desk.at(60.0, book("990", "1000"))  # undercutting "other" keeps behind the rival
    assert (behind.rule, behind.new_price) == ("war_guard", D("991"))
    gone = desk.at(70.0, book("1003", names=("other",)))  # the rival left the book
    assert (gone.rule, gone.new_price, gone.competitor) == ("already_leading", D("1002"), "other")


def test_a_move_that_stays_behind_the_rival_passes_during_the_cool_down():
    desk = Desk()
    ratchet(desk)  # at 996, the rival at 995
    desk.at(40.0, book("980", "1100"))  # the rival jumps ahead: follow to 981
    passed = desk.at(50.0, book("980", "990", names=("rival", "other")))
    # The strategy undercuts the rival (979); held to 981, where the ad already is.
    assert (passed.action, passed.rule) == ("hold", "war_guard")


def test_rounds_further_apart_than_the_window_are_no_war():
    desk = Desk()
    decided = ratchet(desk, gap=61.0, rounds=6)  # 3 rounds never fit in 120 s
    assert all(d.action == "reprice" for d in decided)
    assert not [e for e in desk.log if isinstance(e, PriceWarDetected)]


def test_a_war_with_a_backoff_rank_prices_one_step_ahead_of_that_rank_meanwhile():
    desk = Desk(replace(CFG, war_backoff_rank=2))
    desk.at(0.0, book("1001", "1100"))
    desk.at(10.0, book("999", "1100"))
    desk.at(20.0, book("997", "1100"))
    backed = desk.at(30.0, book("995", "1010"))
    assert (backed.rule, backed.new_price, backed.competitor) == ("war_guard", D("1009"),
                                                                  "other")
    assert "backing off to rank 2" in backed.reason


def test_a_guard_rebuilt_from_the_logged_decisions_decides_as_the_live_one():
    live = Desk()
    ratchet(live)
    rebuilt = WarGuard("SELL", CFG)
    for event in live.log:
        rebuilt.apply(event)
    assert (rebuilt.until, rebuilt.enemy, rebuilt.rival, rebuilt.wars) == (
        live.guard.until, live.guard.enemy, live.guard.rival, live.guard.wars) == (
        330.0, "rival", "rival", 1)
    restarted = Desk()
    restarted.ad, restarted.guard = live.ad, rebuilt
    assert restarted.at(40.0, book("993", "1100")).rule == "war_guard"


def test_the_guard_is_on_by_default_for_the_strategies_that_chase_the_best():
    assert guard_enabled(UndercutParams())
    assert guard_enabled(SpreadParams())
    assert not guard_enabled(RankParams())
    assert guard_enabled(RankParams(war_guard=True))
    assert not guard_enabled(UndercutParams(war_guard=False))


def test_war_keys_are_accepted_globally_and_per_ad():
    cfg = load_config({"ads": {"adv_nos": ["123"], "overrides": {"123": {
        "war_guard": False, "war_rounds": 5, "war_backoff_rank": 3}}},
        "strategy": {"war_window_s": 60, "war_cooldown_s": 600}})
    strategy, _ = cfg.pricing_for("123")
    assert (strategy.war_guard, strategy.war_rounds, strategy.war_backoff_rank) == (False, 5, 3)
    assert (strategy.war_window_s, strategy.war_cooldown_s) == (60.0, 600.0)
    assert cfg.strategy.war_guard is None and cfg.strategy.war_rounds == 3


@pytest.mark.parametrize("where", ["strategy", "override"])
def test_bad_war_values_name_their_key(where):
    bad = {"war_rounds": 0, "war_window_s": 0, "war_cooldown_s": -1, "war_backoff_rank": -1}
    data = ({"strategy": bad} if where == "strategy" else
            {"ads": {"adv_nos": ["123"], "overrides": {"123": bad}}})
    with pytest.raises(ConfigError) as info:
        load_config(data)
    prefix = "strategy." if where == "strategy" else 'ads.overrides."123".'
    for key in bad:
        assert prefix + key in str(info.value)


def test_reprices_that_never_took_effect_are_no_rounds():
    # EP-7 refused while the merchant API is paused: the rival moves, my price stays, and the
    # ads actor decides again from the same price. Nothing was answered, so no war.
    desk = Desk()
    desk.at(0.0, book("1001", "1100"))  # 1005 -> 1000, accepted
    decided = []
    for i, rival in enumerate(("999", "998", "997", "996")):
        decided.append(desk.at(10.0 + 10 * i, book(rival, "1100")))
        desk.ad = replace(desk.ad, price=D("1000"))  # refused: still at 1000
    assert [d.action for d in decided] == ["reprice"] * 4
    assert not [e for e in desk.log if isinstance(e, PriceWarDetected)]
