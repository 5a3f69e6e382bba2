"""Each strategy owns its parameters (a Struct per strategy, tagged by name), registered in one
place: bot.toml, per-ad overrides, the backtester, replay's what-if, README and --help all follow
the registry, and a key that belongs to another strategy is refused in one line."""

import os
import re
from decimal import Decimal as D
from pathlib import Path

import msgspec
import pytest

import run
from actors.config import BotConfig, ConfigError, config_json, load_config, session_config
from backtest.cli import build_specs
from backtest.side import RunSpec
from backtest.source import BacktestError, parse_sweeps, recorded_config
from replay.cli import with_overrides
from strategies import (STRATEGIES, FiltersConfig, RankParams, SpreadParams, UndercutParams,
                        decode_params, get_strategy, keys_of)
from strategies.registry import table

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def refused(data: dict) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(data)
    assert "\n" not in str(info.value)
    return str(info.value)


# --- bot.toml -----------------------------------------------------------------------------------

def test_a_strategy_table_decodes_into_that_strategys_own_params():
    cfg = load_config({"strategy": {"name": "rank", "rank": 2, "step": "0.05"}})
    assert cfg.strategy == RankParams(rank=2, step=D("0.05"))
    spread = load_config({"strategy": {"name": "spread", "min_margin": "5"}}).strategy
    assert spread == SpreadParams(min_margin=D("5"))


def test_a_strategy_table_without_a_name_is_undercut():
    assert load_config({"strategy": {"step": "1"}}).strategy == UndercutParams(step=D("1"))
    assert load_config({}).strategy == UndercutParams() == BotConfig().strategy


def test_a_key_of_another_strategy_is_refused_naming_the_strategy_and_its_keys():
    message = refused({"strategy": {"rank": 2}})
    assert message == ("strategy.rank: not a key of strategy 'undercut' (its keys: "
                       + ", ".join(keys_of("undercut")) + ")")
    assert refused({"strategy": {"name": "rank", "min_margin": "1"}}).startswith(
        "strategy.min_margin: not a key of strategy 'rank' (its keys: step, ")


def test_an_override_may_switch_strategy_keeping_the_global_common_keys():
    cfg = load_config({"strategy": {"name": "spread", "min_margin": "7", "floor": "1500"},
                       "ads": {"overrides": {"111": {"name": "rank", "rank": 3}}}})
    assert cfg.pricing_for("111")[0] == RankParams(rank=3, floor=D("1500"))
    assert cfg.pricing_for("222")[0] == SpreadParams(min_margin=D("7"), floor=D("1500"))
    back = load_config({"strategy": {"name": "rank", "rank": 4},
                        "ads": {"overrides": {"111": {"name": "undercut"}}}})
    assert back.pricing_for("111")[0] == UndercutParams()  # rank's own key stays with rank


def test_an_override_key_its_strategy_does_not_take_is_refused_in_one_line():
    assert refused({"ads": {"overrides": {"111": {"min_margin": "5"}}}}) == (
        'ads.overrides."111".min_margin: not a key of strategy \'undercut\' (its keys: '
        + ", ".join(keys_of("undercut")) + ")")
    assert refused({"strategy": {"name": "rank"},
                    "ads": {"overrides": {"111": {"name": "undercut", "rank": 1}}}}).startswith(
        'ads.overrides."111".rank: not a key of strategy \'undercut\'')


def test_a_rank_below_one_is_refused():
    assert refused({"strategy": {"name": "rank", "rank": 0}}) == "strategy.rank must be >= 1"


def _committed_tomls():
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in ("node_modules",)]
        yield from (Path(folder) / f for f in files
                    if f.endswith(".toml") and f != "pyproject.toml")


def test_every_committed_config_loads():
    from actors.config import read_config
    from app.demo import demo_config
    from sim.config import SimConfig

    tomls = list(_committed_tomls())
    assert ROOT / "bot.example.toml" in tomls
    for path in tomls:
        if "[strategy]" in path.read_text() or "[ads" in path.read_text():
            read_config(path)
    for name in STRATEGIES:
        assert demo_config("http://127.0.0.1:1", SimConfig(), name).strategy.name == name


def test_a_session_stored_before_strategies_owned_their_keys_still_reads():
    # The shape every session stored until now: one flat [strategy] with every key.
    old = {"name": "undercut", "step": "0.5", "floor": "0", "ceiling": "1000000",
           "deadband_ticks": 0, "max_reprices_per_min": 30, "min_reprice_gap_s": 1.2,
           "rank": 2, "min_margin": "0", "war_guard": None, "war_rounds": 3,
           "war_window_s": 120.0, "war_cooldown_s": 300.0, "war_backoff_rank": 0}
    stored = msgspec.json.decode(config_json(BotConfig()))
    stored["bot"]["strategy"] = old
    text = msgspec.json.encode(stored).decode()
    assert session_config(text).bot.strategy == UndercutParams(step=D("0.5"))

    class Info:
        config = text

    assert recorded_config(Info())[0] == UndercutParams(step=D("0.5"))


def test_a_stored_session_config_round_trips_its_strategy():
    cfg = load_config({"strategy": {"name": "rank", "rank": 3}})
    assert session_config(config_json(cfg)).bot.strategy == RankParams(rank=3)


# --- the backtester -----------------------------------------------------------------------------

def test_a_sweep_varies_each_strategy_only_over_the_keys_it_takes():
    grid = parse_sweeps(["rank=1:3:1"])
    specs = build_specs(["undercut", "rank"], UndercutParams(), FiltersConfig(), {}, grid)
    assert [(s.name, s.label) for s in specs] == [
        ("undercut", ""), ("rank", "rank=1"), ("rank", "rank=2"), ("rank", "rank=3")]
    assert [s.cfg for s in specs[1:]] == [RankParams(rank=n) for n in (1, 2, 3)]


def test_a_backtest_key_no_chosen_strategy_takes_is_refused():
    with pytest.raises(BacktestError, match="min_margin is a key of strategy spread, not of "
                                            "undercut, rank"):
        build_specs(["undercut", "rank"], UndercutParams(), FiltersConfig(),
                    {"min_margin": "5"}, None)


def test_a_backtest_of_another_strategy_keeps_the_recorded_common_keys():
    spec = RunSpec(name="spread", cfg=RankParams(rank=3, step=D("1")))
    assert spec.pricing_for("1")[0] == SpreadParams(step=D("1"))


# --- replay's what-if ---------------------------------------------------------------------------

def test_replay_with_another_strategy_drops_the_old_ones_keys_and_takes_its_own():
    bot = load_config({"strategy": {"name": "spread", "min_margin": "5", "step": "0.1"}})
    assert with_overrides(bot, ["strategy.rank=3"], "rank").strategy == RankParams(
        rank=3, step=D("0.1"))
    with pytest.raises(ConfigError, match="strategy.rank: not a key of strategy 'spread'"):
        with_overrides(bot, ["strategy.rank=3"], None)


# --- README and --help follow the registry ------------------------------------------------------

def test_each_registered_strategy_is_tagged_with_its_name():
    for name, spec in STRATEGIES.items():
        assert spec.params().name == name and get_strategy(name) is spec
        assert decode_params({"name": name}) == spec.params()


def test_readmes_strategy_table_is_the_registry():
    block = README.split("<!-- strategies:")[1].split("<!-- /strategies -->")[0]
    rows = [r for r in block.splitlines() if r.startswith("| `")]
    parsed = []
    for row in rows:
        name, about, keys = (c.strip() for c in row.strip("|").split("|"))
        parsed.append((name.strip("`"), about, tuple(re.findall(r"`([^`]+)`", keys))))
    assert parsed == table()


@pytest.mark.parametrize("key", sorted({k for n in STRATEGIES for k in keys_of(n)}))
def test_readme_documents_every_strategys_keys(key):
    assert f"`strategy.{key}`" in README


def test_help_lists_every_strategy(capsys):
    with pytest.raises(SystemExit):
        run.main(["--help"])
    out = capsys.readouterr().out
    for name, about, _keys in table():
        assert re.search(rf"^\s+{name}\s+{re.escape(about)}", out, re.M), name


@pytest.mark.parametrize("argv", [["backtest", "x.db", "--help"], ["demo", "--help"]])
def test_subcommand_help_lists_every_strategy(capsys, argv):
    with pytest.raises(SystemExit):
        run.main(argv)
    out = capsys.readouterr().out
    for name in STRATEGIES:
        assert name in out
