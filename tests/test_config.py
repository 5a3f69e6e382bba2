"""bot.toml: a merchant's own bounds and per-ad overrides load; bad ones are refused in one line."""

import tomllib
from decimal import Decimal as D
from pathlib import Path

import pytest

from actors.config import AdOverride, BotConfig, ConfigError, load_config, read_config
from strategies import STRATEGIES, FiltersConfig, UndercutParams

AD = "12345678901234567890"

MERCHANT_TOML = """
[strategy]
floor = "1500.00"     # sell never below 1500
ceiling = "1490.00"   # buy never above 1490

[ads.overrides."12345678901234567890"]
floor = "1510.00"
name = "rank"
exclude_nicknames = ["Spam"]
"""


def refused(data: dict) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(data)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_a_floor_above_the_ceiling_is_a_merchants_spread_and_loads(tmp_path):
    path = tmp_path / "bot.toml"
    path.write_text(MERCHANT_TOML)
    cfg = read_config(path)
    assert (cfg.strategy.floor, cfg.strategy.ceiling) == (D("1500.00"), D("1490.00"))


def test_an_override_changes_only_its_own_ad(tmp_path):
    path = tmp_path / "bot.toml"
    path.write_text(MERCHANT_TOML)
    cfg = read_config(path)
    strategy, filters = cfg.pricing_for(AD)
    assert (strategy.name, strategy.floor, strategy.ceiling) == ("rank", D("1510.00"),
                                                                 D("1490.00"))
    assert filters.exclude_nicknames == ("Spam",)
    assert filters.min_month_orders == cfg.filters.min_month_orders
    assert cfg.pricing_for("999") == (cfg.strategy, cfg.filters)


def test_an_override_may_set_every_strategy_and_filters_key_and_nothing_else():
    strategy_keys = {"name"}.union(*(s.params.__struct_fields__ for s in STRATEGIES.values()))
    assert set(AdOverride.__struct_fields__) == (strategy_keys
                                                 | set(FiltersConfig.__struct_fields__))


def test_an_unknown_override_key_is_refused_naming_its_path():
    message = refused({"ads": {"overrides": {"123": {"flor": "1500"}}}})
    assert message.startswith('ads.overrides."123".flor: unknown key (known: name, step, ')
    assert "exclude_nicknames" in message


def test_an_override_for_an_ad_not_managed_is_refused():
    message = refused({"ads": {"adv_nos": ["111"], "overrides": {"999": {"floor": "1"}}}})
    assert message == "ads.overrides names advNo 999 which is not in ads.adv_nos"
    ok = load_config({"ads": {"adv_nos": ["111"], "overrides": {"111": {"floor": "1"}}}})
    assert ok.pricing_for("111")[0].floor == D("1")


def test_an_override_advno_must_be_digits():
    assert refused({"ads": {"overrides": {"12a4": {"floor": "1"}}}}) == (
        'ads.overrides."12a4": an advNo is a string of digits')


@pytest.mark.parametrize("override, message", [
    ({"step": "0"}, 'ads.overrides."123".step must be > 0'),
    ({"name": "martingale"}, 'ads.overrides."123".name: unknown strategy \'martingale\' '
                             '(known: rank, spread, undercut)'),
    ({"min_finish_rate": "1.5"}, 'ads.overrides."123".min_finish_rate must be within 0..1'),
    ({"max_reprices_per_min": -1}, 'ads.overrides."123".max_reprices_per_min must be >= 0'),
])
def test_an_override_with_a_bad_value_is_refused_in_one_line(override, message):
    assert refused({"ads": {"overrides": {"123": override}}}) == message


def test_an_override_value_of_the_wrong_type_names_its_path():
    message = refused({"ads": {"overrides": {"123": {"floor": "cheap"}}}})
    assert message == 'ads.overrides."123".floor: Invalid decimal string'


def test_the_global_strategy_name_is_checked_too():
    assert refused({"strategy": {"name": "martingale"}}) == (
        "strategy.name: unknown strategy 'martingale' (known: rank, spread, undercut)")


def test_no_overrides_is_the_default():
    assert BotConfig().ads.overrides == {}
    assert BotConfig().pricing_for("1") == (UndercutParams(), FiltersConfig())


def test_a_session_stores_its_overrides_and_replays_them(tmp_path):
    import json

    from actors.config import config_json, session_config

    path = tmp_path / "bot.toml"
    path.write_text(MERCHANT_TOML)
    cfg = read_config(path)
    text = config_json(cfg)
    assert json.loads(text)["bot"]["ads"]["overrides"] == {
        AD: {"name": "rank", "floor": "1510.00", "exclude_nicknames": ["Spam"]}}
    assert session_config(text).bot == cfg


def test_the_sample_config_shows_a_merchant_spread_and_a_working_override_example(tmp_path):
    sample = (Path(__file__).resolve().parents[1] / "bot.example.toml").read_text()
    cfg = load_config(tomllib.loads(sample))
    assert cfg.strategy.floor > cfg.strategy.ceiling
    # The commented [ads.overrides."..."] table, uncommented, loads as documented.
    lines = sample.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("# [ads.overrides."))
    table = []
    for line in lines[start:]:
        if not line.startswith("# "):
            break
        table.append(line[2:])
    path = tmp_path / "bot.toml"
    path.write_text(sample + "\n" + "\n".join(table) + "\n")
    (adv_no, override), = read_config(path).ads.overrides.items()
    assert adv_no.isdigit() and override.floor is not None
