"""`run.py backtest` end to end on a temporary log: table, saved session, chart, sweep, errors."""

import argparse
import json
from decimal import Decimal as D

import pytest

from events import BacktestCompleted, BookSnapshot, MyAdsLoaded
from strategies import UndercutParams
from backtest import cli as backtest
from store import open_log

from tests.test_backtest import history

# Without the war guard, as tests/test_backtest.py works the history out by hand.
RECORDED_CONFIG = {"strategy": {"name": "undercut", "step": "1", "max_reprices_per_min": 3,
                                "war_guard": False}}


@pytest.fixture
def log_path(tmp_path):
    path = tmp_path / "bot.db"
    with open_log(path) as log:
        sid = log.start_session("record", json.dumps(RECORDED_CONFIG), 1_000)
        for t, event in history():
            log.append_events(sid, [event], source="market", ts_ms=1_000 + int(t * 1000), t=t)
        log.end_session(sid, 90_000, "duration")
        empty = log.start_session("record", "{}", 100_000)
        log.append_events(empty, [MyAdsLoaded(ads=())], source="ads", ts_ms=100_000)
    return path


def run(*argv):
    parser = argparse.ArgumentParser()
    backtest.add_arguments(parser)
    return backtest.main(parser.parse_args([str(a) for a in argv]), now_ms=lambda: 123_456)


def saved(path):
    with open_log(path, create=False) as log:
        info = log.latest_session()
        return info, [e.event for e in log.events(info.id)]


def test_backtest_prints_a_table_and_logs_one_result_per_strategy(log_path, capsys):
    assert run(log_path, "--strategy", "undercut,rank") == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("fill model: choice decay 0.5 (configured)")  # too few orders
    assert lines[1].split()[:4] == ["strategy", "snapshots", "filled", "fills"]
    assert lines[3].split()[:2] == ["undercut", "10"]
    assert lines[4].split()[0] == "rank"
    info, events = saved(log_path)
    assert (info.mode, info.started_ms, info.end_reason) == ("backtest", 123_456, "done")
    assert [type(e) for e in events] == [BacktestCompleted, BacktestCompleted]
    undercut = events[0]
    # The latest session with books is 1 (2 has none); its recorded settings were used.
    assert undercut.source_sessions == (1,)
    assert (undercut.price_wars, undercut.reprices) == (1, 5)
    assert lines[3].split()[2] == f"{undercut.filled_volume:.4f}" and undercut.filled_volume > 0
    assert f"backtest session {info.id}" in out


def test_set_overrides_the_recorded_settings(log_path, capsys):
    assert run(log_path, "--session", 1, "--strategy", "undercut",
               "--set", "max_reprices_per_min=30", "--set", "filters.min_month_orders=0") == 0
    _, [result] = saved(log_path)
    # Uncapped, the SELL ad answers A at t=50 instead of t=80. At t=70 a page is missing and
    # A with it: like the live actor, it backs up to 1001 under B (rank 2 behind A, carried
    # forward), then undercuts A again at t=80: 7 reprices, rank 1 for 70 of 80 s.
    assert (result.reprices, result.share_rank1) == (7, D("0.8750"))
    assert json.loads(result.params)["max_reprices_per_min"] == 30


def test_plot_writes_a_png(log_path, tmp_path, capsys):
    chart = tmp_path / "chart.png"
    assert run(log_path, "--strategy", "undercut,rank,spread", "--plot", chart) == 0
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("objective, key", [
    ([], lambda e: (e.pnl, e.filled_volume)),
    (["--objective", "volume"], lambda e: (e.filled_volume, e.filled_volume)),
])
def test_sweep_runs_the_grid_on_workers_and_ranks_by_the_objective(log_path, capsys,
                                                                   objective, key):
    assert run(log_path, "--strategy", "undercut,rank", "--sweep", "step=1:3:1",
               "--workers", 2, *objective) == 0
    out = capsys.readouterr().out.splitlines()
    rows = [line.split() for line in out[3:9]]
    assert [r[0] for r in rows] == ["1", "2", "3", "4", "5", "6"]
    _, events = saved(log_path)
    assert len(events) == 6
    keys = [key(e) for e in events]
    assert keys == sorted(keys, reverse=True)
    assert {json.loads(e.params)["step"] for e in events} == {"1", "2", "3"}


@pytest.mark.parametrize("argv, message", [
    (["--strategy", "martingale"], "unknown strategy 'martingale' (known: rank, spread,"),
    (["--set", "stepp=1"], "unknown setting 'stepp'"),
    (["--set", "rank=two"], "bad --set value"),
    (["--sweep", "step=3:1:1"], "need step > 0 and a <= b"),
    (["--session", "2"], "no BookSnapshot in session 2"),
    (["--session", "9"], "no session 9"),
])
def test_errors_are_one_clear_line(log_path, capsys, argv, message):
    assert run(log_path, *argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("backtest: ") and message in err
    assert err.count("\n") == 1


def test_a_missing_log_is_one_clear_line(tmp_path, capsys):
    assert run(tmp_path / "nope.db") == 2
    assert "nope.db" in capsys.readouterr().err


def test_a_log_without_books_says_so(tmp_path, capsys):
    path = tmp_path / "empty.db"
    with open_log(path) as log:
        log.start_session("record", "{}", 0)
    assert run(path) == 2
    assert "holds any BookSnapshot" in capsys.readouterr().err
    with open_log(path, create=False) as log:
        assert [s.mode for s in log.sessions()] == ["record"]
        assert not list(log.events(1, types=(BookSnapshot,)))


def test_a_bot_sessions_recorded_settings_are_read_from_its_bot_toml(tmp_path, capsys):
    # run.py live/demo store the whole bot.toml under "bot" (actors.config.config_json).
    from actors.config import config_json, load_config

    path = tmp_path / "bot.db"
    bot = load_config({"strategy": {"step": "1", "max_reprices_per_min": 3, "war_guard": False},
                       "filters": {"min_month_orders": 7}})
    with open_log(path) as log:
        sid = log.start_session("demo", config_json(bot, actors=("ads",)), 1_000)
        for t, event in history():
            log.append_events(sid, [event], source="market", ts_ms=1_000, t=t)
    assert run(path, "--strategy", "undercut", "--set", "filters.min_month_orders=0") == 0
    _, [result] = saved(path)
    assert result.reprices == 5  # step 1, 3 a minute
    assert json.loads(result.params)["max_reprices_per_min"] == 3
    assert json.loads(result.filters)["min_month_orders"] == 0


# --- per-ad settings: --set ads.overrides.<advNo>.<key>=VALUE ------------------------------------

def two_ads_log(tmp_path, bot=None):
    from actors.config import BotConfig, config_json
    from tests.test_backtest import two_ads_envelopes

    path = tmp_path / "two.db"
    bot = bot or BotConfig(strategy=UndercutParams(step=D("1"), max_reprices_per_min=3))
    with open_log(path) as log:
        sid = log.start_session("live", config_json(bot, actors=("ads",)), 1_000)
        for env in two_ads_envelopes():
            log.append_events(sid, [env.event], source="market", ts_ms=1_000, t=env.t)
    return path


def result_of(path, *argv):
    assert run(path, "--strategy", "undercut", *argv) == 0
    _, [result] = saved(path)
    return result


def test_set_per_ad_changes_only_that_ads_side(tmp_path, capsys):
    path = two_ads_log(tmp_path)
    before = result_of(path)
    after = result_of(path, "--set", "ads.overrides.111.floor=1002")
    # 111 (SELL) leads A at 1000; floored at 1002 it sits second and gets the second's share
    assert (before.vwap_sell, after.vwap_sell) == (D("1000.00000000"), D("1002.00000000"))
    assert after.vwap_buy == before.vwap_buy is not None  # 222: BUY, untouched
    assert after.filled_volume < before.filled_volume


def test_the_sessions_own_per_ad_overrides_apply_and_set_overrides_them(tmp_path, capsys):
    from actors.config import load_config

    bot = load_config({"strategy": {"step": "1", "max_reprices_per_min": 3, "war_guard": False},
                       "ads": {"overrides": {"111": {"floor": "1002"}}}})
    path = two_ads_log(tmp_path, bot)
    assert result_of(path).vwap_sell == D("1002.00000000")  # recorded floor 1002: behind A
    lifted = result_of(path, "--set", "ads.overrides.111.floor=0")
    assert lifted.vwap_sell == D("1000.00000000")


def test_sweep_accepts_the_per_ad_form(tmp_path, capsys):
    path = two_ads_log(tmp_path)
    assert run(path, "--strategy", "undercut", "--sweep", "ads.overrides.111.floor=999:1001:1",
               "--workers", 2) == 0
    _, events = saved(path)
    # 999 and 1000 lead A (1001) and hold the first place's share; at 1001 the tie stays
    # A's, so the second place's share, less
    by_floor = {e.vwap_sell: e for e in events}
    assert sorted(by_floor) == [D("1000.00000000"), D("1001.00000000")]
    assert by_floor[D("1001.00000000")].filled_volume < by_floor[D("1000.00000000")].filled_volume
    assert "ads.overrides.111.floor=1001" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--set", "ads.overrides.111.flor=1"], "unknown setting 'ads.overrides.111.flor'"),
    (["--set", "ads.overrides.111.step=0"], 'ads.overrides."111".step must be > 0'),
    (["--set", "ads.overrides.111.name=martingale"], "unknown strategy 'martingale'"),
    (["--set", "ads.overrides.111.floor=cheap"], 'ads.overrides."111".floor: Invalid decimal'),
    (["--set", "ads.overrides.1x1.floor=1"], 'ads.overrides."1x1": an advNo is a string of'),
    (["--set", "ads.overrides.999.floor=1"], "advNo 999 which is not the recorded ad of any"),
])
def test_per_ad_errors_are_one_clear_line(tmp_path, capsys, argv, message):
    assert run(two_ads_log(tmp_path), *argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("backtest: ") and message in err
    assert err.count("\n") == 1


def test_walk_forward_ranks_on_the_first_part_and_reports_the_rest(log_path, capsys):
    assert run(log_path, "--strategy", "undercut,rank", "--walk-forward", "0.5",
               "--objective", "volume") == 0
    out = capsys.readouterr().out
    # the SELL time line runs 0..80 s: ranked on 0..40, reported on 40..80
    assert "walk-forward: ranked by volume on t 0..40 s; the rest, t 40..80 s" in out
    _, events = saved(log_path)
    assert [e.strategy for e in events] == ["undercut", "rank"]
    assert all(e.snapshots < 10 for e in events)  # only the second half's snapshots


def test_the_fee_rate_is_a_backtest_key_that_costs_money(log_path, capsys):
    assert run(log_path, "--strategy", "undercut") == 0
    _, [free] = saved(log_path)
    assert run(log_path, "--strategy", "undercut", "--set", "backtest.fee_rate=0.01") == 0
    _, [paid] = saved(log_path)
    assert free.fees == 0 and paid.fees > 0 and paid.equity == free.equity - paid.fees
    assert run(log_path, "--set", "backtest.fee=1") == 2
    assert "unknown setting backtest.fee" in capsys.readouterr().err
    assert run(log_path, "--set", "backtest.fee_rate=2") == 2
    assert "fee_rate must be in [0, 1)" in capsys.readouterr().err


def test_the_most_generous_price_wins_on_volume_but_not_on_pnl():
    from types import SimpleNamespace

    from backtest.sweep import ranked

    def result(name, volume, pnl):
        return SimpleNamespace(name=name, summary=SimpleNamespace(
            filled_volume=D(volume), pnl=D(pnl), equity=D(pnl), fills=D(1), margin=None))
    generous, careful = result("generous", "900", "-20"), result("careful", "300", "45")
    assert [r.name for r in ranked([generous, careful])] == ["careful", "generous"]
    assert [r.name for r in ranked([careful, generous], "volume")] == ["generous", "careful"]
