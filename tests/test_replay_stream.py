"""Streaming replay: a recording is read as the replay goes, and a range of sessions replays in turn.

The sessions are demo sessions of the in-process simulator (`app.demo.run_virtual`), recorded
into one log, one after the other as a user's runs would be.
"""

from __future__ import annotations

import argparse
import json
import sqlite3

import pytest

from actors.senders import RawReply
from app.demo import run_virtual
from events import ApiResponse
from replay.cli import add_arguments, main as replay_main
from replay.runner import replay_session
from replay.sessions import session_spec
from replay.stream import index_recording
from store import open_log


def _record(path, *durations: float) -> list[int]:
    with open_log(path) as log:
        return [run_virtual(log, duration=d, seed=3 + i)[0] for i, d in enumerate(durations)]


def _args(path, *sessions: str, judge: str | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_arguments(p)
    return p.parse_args([str(path), *[a for s in sessions for a in ("--session", s)],
                         "--no-progress", *(("--judge", judge) if judge else ())])


def test_the_judge_option_takes_its_three_places_and_refuses_others(tmp_path, capsys):
    assert _args("x.db").judge == "auto"
    assert [_args("x.db", judge=j).judge for j in ("process", "inline")] == ["process", "inline"]
    with pytest.raises(SystemExit):
        _args("x.db", judge="cluster")
    assert "invalid choice: 'cluster'" in capsys.readouterr().err


@pytest.fixture(scope="module")
def two_sessions(tmp_path_factory):
    path = tmp_path_factory.mktemp("stream") / "bot.db"
    assert _record(path, 40.0, 40.0) == [1, 2]
    return path


def test_a_range_of_sessions_replays_each_in_turn_identical(two_sessions, capsys):
    assert replay_main(_args(two_sessions, "1..2")) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == [
        "replay of session 1 is identical", "replay of session 2 is identical", "sessions 1, 2"]
    assert out[-1] == "sessions 1, 2: 2 of 2 replayed identical"


def test_a_range_names_the_session_that_diverges(two_sessions, tmp_path, capsys):
    """Session 2 replayed with a limiter allowed 1 request/s (its stored config changed): the
    range replays session 1 identical and reports session 2's first divergence, exit 1."""
    path = tmp_path / "changed.db"
    path.write_bytes(two_sessions.read_bytes())
    conn = sqlite3.connect(path)
    config = json.loads(conn.execute("SELECT config FROM sessions WHERE id = 2").fetchone()[0])
    config["bot"]["limits"]["rps"] = 1
    conn.execute("UPDATE sessions SET config = ? WHERE id = 2", (json.dumps(config),))
    conn.commit()
    conn.close()
    assert replay_main(_args(path, "1..2")) == 1
    out = capsys.readouterr().out
    assert "replay of session 1 is identical" in out
    assert "replay of session 2 DIVERGES" in out and "first divergence at t=" in out
    assert "sessions 1, 2: 1 of 2 replayed identical" in out


def test_a_range_skips_what_the_log_does_not_hold_and_a_bad_one_is_one_line(two_sessions,
                                                                            capsys):
    assert replay_main(_args(two_sessions, "2..9")) == 0
    assert capsys.readouterr().out.startswith("replay of session 2 is identical")
    assert replay_main(_args(two_sessions, "7..9")) == 2
    assert capsys.readouterr().err.strip() == f"error: no session in 7..9 in {two_sessions}"
    with pytest.raises(argparse.ArgumentTypeError, match="FIRST <= LAST"):
        session_spec("5..3")
    with pytest.raises(argparse.ArgumentTypeError, match="range FIRST..LAST"):
        session_spec("3-5")


def test_a_streaming_replay_holds_no_recorded_body_and_keeps_no_replayed_event(two_sessions):
    with open_log(two_sessions, create=False) as log:
        world = index_recording(log, 1)
        # (answered at, the answer, its delay, its body's digest, its seq) per recorded answer
        answers = [a for queue in world.sender.attempts.values() for a in queue]
        replies = [a for a in answers if isinstance(a[1], RawReply)]
        assert len(replies) == sum(1 for _ in log.events(1, types=(ApiResponse,)))
        assert all(reply.body == b"" and digest is not None for _, reply, _, digest, _ in replies)
        result = replay_session(log, 1)
    assert result.equal and result.streamed
    assert result.produced_events == []  # nothing of the replay is kept


def test_events_waiting_for_their_twin_stay_bounded_however_long_the_session(tmp_path):
    """A 1-minute and a 6-minute session: what the streaming comparison holds at once (events
    waiting for their recorded or replayed twin) does not grow with the session."""
    path = tmp_path / "bot.db"
    short, long_ = _record(path, 60.0, 360.0)
    with open_log(path, create=False) as log:
        peaks = {sid: replay_session(log, sid) for sid in (short, long_)}
    assert all(r.equal and r.streamed for r in peaks.values())
    assert peaks[long_].compared > 3 * peaks[short].compared  # six times as long: ~4x events
    assert peaks[long_].peak_pending <= 64
    assert peaks[long_].peak_pending <= peaks[short].peak_pending + 16


def test_replay_with_no_session_skips_a_backtest_saved_after_the_run(two_sessions, tmp_path,
                                                                     capsys):
    """The demo's "try next" runs a backtest, which saves its results as the newest session;
    `replay PATH` then means the newest recorded run, and naming the backtest is one line."""
    path = tmp_path / "with-backtest.db"
    path.write_bytes(two_sessions.read_bytes())
    with open_log(path) as log:  # what backtest/cli.py saves: its command, not a bot config
        log.start_session("backtest", json.dumps({"command": "backtest", "strategies": []}), 0)
    with open_log(path, create=False) as log:
        assert log.latest_session().mode == "backtest"
    capsys.readouterr()
    assert replay_main(_args(path)) == 0
    assert capsys.readouterr().out.startswith("replay of session 2 is identical")
    assert replay_main(_args(path, "3")) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: session 3 is a backtest's results, not a run: replay takes a live, record, "
        f"demo or sim session")
