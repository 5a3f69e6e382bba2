"""The backtest's price-war figures with the war guard acting and only watching (backtest.wars),
on the hand-worked history of tests/test_backtest.py."""

import argparse
import json
from decimal import Decimal as D

from backtest import cli as backtest
from backtest.engine import run_backtest, tape_of
from backtest.side import RunSpec
from backtest.wars import WarCost
from events import BacktestCompleted
from store import open_log
from strategies import UndercutParams
from strategies.war import WarGuard
from tests.test_backtest import envelopes, history

CFG = UndercutParams(step=D("1"), max_reprices_per_min=3)


def test_the_guard_stops_the_ratchet_of_the_hand_worked_history():
    # SELL: A at 999 -> 998 (t=20, the fight with A starts at 1000); A 997 -> 996 (round 1,
    # 2 given); A 995 -> 994 (round 2, 2 given); A 993 at t=50 would be round 3: a war.
    # On: held at 994 until the cool-down ends. Off: the rate cap holds t=50..70, then 992 at
    # t=80 (round 3, 2 more given).
    on, off = run_backtest([tape_of(7, envelopes())], [
        RunSpec(name="undercut", cfg=CFG, label="on"),
        RunSpec(name="undercut", cfg=UndercutParams(step=D("1"), max_reprices_per_min=3,
                                                    war_guard=False), label="off")])
    assert (on.summary.reprices, off.summary.reprices) == (4, 5)  # BUY 1 + SELL 3 or 4
    assert (on.war_cost.ratchet, off.war_cost.ratchet) == (D("4"), D("6"))
    assert (on.summary.war_ratchet, off.summary.war_ratchet) == (D("4"), D("6"))
    assert on.guard_wars == off.guard_wars == 1
    # The fill model gives my ad its expected share of each order (backtest.choice), so some
    # fills land a round deep; with the guard the price given stops growing, and so its cost.
    assert D("0") < on.war_cost.fiat <= off.war_cost.fiat


def test_a_fill_during_a_fight_costs_its_quantity_times_the_price_given_in_its_rounds():
    guard = WarGuard("SELL", UndercutParams())
    cost = WarCost()
    guard.record(0.0, D("1000"), D("998"), "A", D("999"))  # the fight starts at 1000
    cost.filled(guard, D("3"), 5.0)  # no round yet: plain undercutting
    cost.repriced(guard.record(10.0, D("998"), D("996"), "A", D("997")), D("998"), D("996"))
    cost.filled(guard, D("2"), 15.0)  # one round deep: 2 given in it, 2 units
    cost.repriced(guard.record(20.0, D("996"), D("990"), "B", D("991")), D("996"), D("990"))
    cost.filled(guard, D("5"), 25.0)  # a new rival: a new fight, nothing given in it yet
    assert (cost.ratchet, cost.fiat) == (D("2"), D("4"))


def test_war_guard_both_prints_each_strategy_with_the_guard_on_and_off(tmp_path, capsys):
    path = tmp_path / "bot.db"
    recorded = {"strategy": {"name": "undercut", "step": "1", "max_reprices_per_min": 3}}
    with open_log(path) as log:
        sid = log.start_session("record", json.dumps(recorded), 1_000)
        for t, event in history():
            log.append_events(sid, [event], source="market", ts_ms=1_000 + int(t * 1000), t=t)
        log.end_session(sid, 90_000, "duration")
    parser = argparse.ArgumentParser()
    backtest.add_arguments(parser)
    args = parser.parse_args([str(path), "--strategy", "undercut", "--war-guard-both"])
    assert backtest.main(args, now_ms=lambda: 1) == 0
    lines = capsys.readouterr().out.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("strategy"))  # after the
    assert lines[head].endswith("wars  guard wars  ratchet  war cost")  # fitted model's line
    rows = {" ".join(line.split()[:2]): line.split() for line in lines[head + 2:head + 4]}
    assert rows["undercut war_guard=on"][-2] == "4.00"
    assert rows["undercut war_guard=off"][-2] == "6.00"
    assert D(rows["undercut war_guard=on"][-1]) <= D(rows["undercut war_guard=off"][-1])
    with open_log(path, create=False) as log:
        saved = [e.event for e in log.events(log.latest_session().id)]
    assert [(type(e), json.loads(e.params)["war_guard"], e.war_ratchet) for e in saved] == [
        (BacktestCompleted, True, D("4")), (BacktestCompleted, False, D("6"))]
