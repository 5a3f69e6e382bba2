"""Deterministic replay of recorded sessions: equal when nothing changed, a clear diff otherwise."""

import sqlite3
from decimal import Decimal

import pytest
import trio
import zstandard

from events import ApiResponse, BookSnapshot, RepriceDecided
from replay.cli import main as replay_main, with_overrides
from replay.runner import replay_session
from store import open_log
from store.bodies import digest_of
from tests.harness import SimBinance, config, running_bot

CFG = config(market={"pages": 1, "poll_interval_s": 2}, orders={"poll_interval_s": 3},
             chat={"auto_replies": {"bank": "Bank details are in the order page."}})


def record_session(tmp_path) -> str:
    """Record a 30 s session against the simulator: reprices, an order, chat, a dropped socket."""
    async def scenario():
        fake = SimBinance()
        fake.my_ad("111", "SELL", "1600.50")
        fake.my_ad("222", "BUY", "1540.00")
        fake.rival("c1", "SELL", "1600.00")
        fake.rival("c2", "BUY", "1550.00")
        async with running_bot(tmp_path, fake, cfg=CFG):
            await trio.sleep(6)
            order_no = fake.open_order("111", amount="1.00")
            fake.move("c1", "1590.00")
            await trio.sleep(8)
            fake.exchange.push_chat(order_no, "text", "which bank?")
            await trio.sleep(4)
            fake.exchange.close_chat_sockets("drop")
            await trio.sleep(12)

    trio.run(scenario, clock=trio.testing.MockClock(autojump_threshold=0))
    return str(tmp_path / "bot.db")


@pytest.fixture
def recorded(tmp_path):
    return record_session(tmp_path)


def test_a_recorded_session_replays_equal(recorded):
    with open_log(recorded) as log:
        result = replay_session(log, 1)
    assert result.equal, result.divergence.render() if result.divergence else result.unrecorded
    assert result.compared > 300 and result.simulated_s == pytest.approx(30, abs=0.5)


def test_the_same_session_replays_equal_20_times(recorded):
    with open_log(recorded) as log:
        results = [replay_session(log, 1) for _ in range(20)]
    assert all(r.equal for r in results)
    assert len({r.produced for r in results}) == 1


def _alter_first_sell_book_response(path: str) -> int:
    """Make one recorded book answer show the rival 5.00 cheaper; return that answer's seq.

    The answer's body lives in the bodies table by digest: store the altered body as a new
    row (zstd, no dictionary) and point the event at it.
    """
    with open_log(path) as log:
        answers = [e for e in log.events(1, types=(ApiResponse,))]
    con = sqlite3.connect(path)
    for env in answers:
        event, seq = env.event, env.seq
        if event.endpoint == "EP-0" and b'"price":"1590.00"' in event.body:
            body = event.body.replace(b'"price":"1590.00"', b'"price":"1585.00"')
            assert body != event.body
            digest = digest_of(body)
            con.execute("INSERT INTO bodies (digest, endpoint, dict, size, data)"
                        " VALUES (?, 'EP-0', 0, ?, ?)",
                        (digest, len(body), zstandard.ZstdCompressor().compress(body)))
            con.execute("UPDATE events SET body=? WHERE session=1 AND seq=?", (digest, seq))
            con.commit()
            con.close()
            return seq
    raise AssertionError("no book answer to alter")


def test_one_altered_response_makes_replay_fail_at_the_event_it_caused(recorded, capsys):
    altered_seq = _alter_first_sell_book_response(recorded)
    with open_log(recorded) as log:
        result = replay_session(log, 1)
        envs = {e.seq: e for e in log.events(1)}
    div = result.divergence
    assert div is not None
    assert div.type == "BookSnapshot"
    assert envs[div.seq].cause == altered_seq  # the snapshot built from the altered answer
    assert "1590.00" in div.expected and "1585.00" in div.got
    assert any("ApiResponse" in line for line in div.chain)
    assert replay_main(_args(recorded)) == 1
    out = capsys.readouterr().out
    assert "DIVERGES" in out and f"recorded seq {div.seq}" in out


def _args(path, **kw):
    import argparse
    ns = argparse.Namespace(path=path, session=None, set=[], strategy=None, no_progress=True,
                            judge="auto")
    for k, v in kw.items():
        setattr(ns, k, v)
    return ns


def test_identical_replay_prints_one_summary_line_and_exits_0(recorded, capsys):
    assert replay_main(_args(recorded)) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and "identical" in lines[0] and "x real time" in lines[0]


def test_a_request_the_recording_never_saw_is_a_divergence_that_says_so(recorded):
    with open_log(recorded) as log:
        answers = list(log.events(1, types=(ApiResponse,)))
    con = sqlite3.connect(recorded)
    # Remove every recorded answer to the chat credential: the replay's request is then unknown.
    for env in answers:
        if env.event.endpoint == "EP-33":
            con.execute("DELETE FROM events WHERE session=1 AND seq=?", (env.seq,))
    con.commit()
    con.close()
    with open_log(recorded) as log:
        result = replay_session(log, 1)
    assert not result.equal
    assert result.unrecorded and "never seen in the recording" in result.unrecorded[0]
    assert "/sapi/v1/c2c/chat/retrieveChatCredential" in result.unrecorded[0]


def test_a_log_of_an_older_schema_is_refused_with_a_clear_message(recorded, capsys):
    con = sqlite3.connect(recorded)
    con.execute("UPDATE sessions SET schema_version=0")
    con.commit()
    con.close()
    assert replay_main(_args(recorded)) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "schema version 0" in err


def test_what_if_replay_writes_a_new_session_and_says_how_decisions_differed(recorded, capsys):
    assert replay_main(_args(recorded, set=["strategy.step=0.05"])) == 0
    out = capsys.readouterr().out
    assert "written as session 2" in out and "ad 111" in out
    with open_log(recorded) as log:
        assert log.session(2).mode == "replay"
        decided = [e for e in log.events(2, types=(RepriceDecided,))
                   if e.event.action == "reprice" and e.event.adv_no == "111"]
        snaps = list(log.events(2, types=(BookSnapshot,)))
        synthesized = [e for e in log.events(2, types=(ApiResponse,))
                       if ("x-replay", "synthesized") in e.event.headers]
    first = decided[0].event  # the SELL ad: one step of 0.05 under its rival
    assert first.new_price == first.competitor_price - Decimal("0.05")
    assert snaps and synthesized


def test_overrides_refuse_unknown_keys_in_one_line():
    from actors.config import BotConfig, ConfigError
    with pytest.raises(ConfigError, match="unknown config key 'strategy.stepp'"):
        with_overrides(BotConfig(), ["strategy.stepp=1"], None)
    assert with_overrides(BotConfig(), ["strategy.step=0.05"], "rank").strategy.name == "rank"


def _reprices(log, sid, adv_no):
    return [e.event.new_price for e in log.events(sid, types=(RepriceDecided,))
            if e.event.action == "reprice" and e.event.adv_no == adv_no]


def test_what_if_with_a_per_ad_set_changes_only_that_ads_decisions(recorded, capsys):
    assert replay_main(_args(recorded, set=["ads.overrides.111.step=0.05"])) == 0
    with open_log(recorded) as log:
        sell_before, sell_after = _reprices(log, 1, "111"), _reprices(log, 2, "111")
        buy_before, buy_after = _reprices(log, 1, "222"), _reprices(log, 2, "222")
        stored = log.session(2).config
    assert sell_before[0] == Decimal("1599.99") and sell_after[0] == Decimal("1599.95")
    assert buy_after == buy_before and buy_before  # the BUY ad 222 decides as recorded
    assert '"overrides":{"111":{"step":"0.05"}}' in stored


def test_per_ad_set_forms_are_parsed_and_checked_like_bot_toml():
    from actors.config import BotConfig, ConfigError
    bot = with_overrides(BotConfig(), ['ads.overrides."111".floor=1500',
                                       "ads.overrides.111.exclude_nicknames=a,b"], None)
    strategy, filters = bot.pricing_for("111")
    assert (strategy.floor, filters.exclude_nicknames) == (Decimal("1500"), ("a", "b"))
    assert bot.pricing_for("222") == (bot.strategy, bot.filters)
    with pytest.raises(ConfigError, match=r'^ads.overrides."111".flor: unknown key \(known: '):
        with_overrides(BotConfig(), ["ads.overrides.111.flor=1"], None)
    with pytest.raises(ConfigError, match=r'^ads.overrides."111".step must be > 0$'):
        with_overrides(BotConfig(), ["ads.overrides.111.step=0"], None)


@pytest.mark.parametrize("item, message", [
    ("ads.overrides.111.flor=1", 'ads.overrides."111".flor: unknown key'),
    ("ads.overrides.111.name=martingale", "unknown strategy 'martingale'"),
    ("ads.overrides.999.floor=1", "names advNo 999 which session 1 never managed"),
])
def test_a_bad_per_ad_set_is_one_line_and_exit_2(recorded, capsys, item, message):
    assert replay_main(_args(recorded, set=[item])) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    with open_log(recorded) as log:
        assert [s.id for s in log.sessions()] == [1]  # no what-if session written
