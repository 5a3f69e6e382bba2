"""One decision, everywhere: the re-check (and so the backtest's check of a recorded session)
calls the ads actor's own core, and reproduces every RepriceDecided of a live session word for
word, with the snapshots it skipped while a reprice was under way or the ad was paused."""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

import trio

from actors import ads_core
from backtest.recheck import recheck
from events import AdPaused, BookSnapshot, RepriceDecided, RepriceDone
from sim import SimConfig
from store import open_log
from tests.simbot import bot_config, bot_on_sim
from tests.test_conformance_e2e import QUIET, ad_of, undercut_bot

ROOT = Path(__file__).resolve().parents[1]


async def test_a_live_session_re_decides_identically_with_its_busy_skips_and_pauses(
        tmp_path, autojump_clock):
    sim = SimConfig(seed=8, **QUIET)
    cfg = bot_config(sim, strategy={"max_reprices_per_min": 8})
    async with bot_on_sim(tmp_path, sim, cfg) as run:
        for i in range(60):
            await trio.sleep(1.5)
            if i == 3:
                run.exchange.set_ad_status(ad_of(run, "SELL").adv_no, 3)  # 187022 on EP-7
            if i == 20:
                run.exchange.set_ad_status(ad_of(run, "SELL").adv_no, 1)
            if i == 45:
                run.exchange.inject("EP-7", "83628")
            undercut_bot(run, "SELL" if i % 2 else "BUY")
    assert run.events(AdPaused), "the scenario paused an ad"
    with open_log(tmp_path / "bot.db") as log:
        envelopes = list(log.events(1))
    check = recheck(envelopes, cfg.strategy, cfg.filters, pricing_for=cfg.pricing_for,
                    reasons=True)
    decisions = [e for e in envelopes if isinstance(e.event, RepriceDecided)]
    assert check.total == len(decisions) > 50 and check.unmatched == 0
    assert check.mismatches == (), check.mismatches[:3]
    rules = Counter(e.event.rule for e in decisions)
    assert rules["rate_cap"] and rules["cooldown"], rules

    # Snapshots of a managed ad's side that got no decision: skipped while busy or paused.
    decided_on = {(e.cause, e.event.adv_no) for e in decisions}
    sell = ad_of(run, "SELL").adv_no
    skipped = [e for e in envelopes if isinstance(e.event, BookSnapshot)
               and e.event.ad_side == "SELL" and (e.seq, sell) not in decided_on]
    assert len(skipped) > 5 and any(isinstance(e.event, RepriceDone) for e in envelopes)


def test_the_decision_is_written_once_the_backtest_and_the_recheck_import_it():
    """No module outside actors/ads_core.py calls the strategy pipeline's `evaluate` to price
    an ad the way the actor does: the backtest and the re-check call `ads_core.decide_one` or
    `ads_core.decide`."""
    callers = []
    for path in [*ROOT.glob("backtest/*.py"), *ROOT.glob("actors/*.py"), *ROOT.glob("replay/*.py")]:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "evaluate":
                callers.append(path.relative_to(ROOT).as_posix())
    assert callers == ["actors/ads_core.py"], callers
    assert "ads_core" in (ROOT / "backtest/side.py").read_text()
    assert "ads_core" in (ROOT / "backtest/recheck.py").read_text()
    assert ads_core.decide_one
