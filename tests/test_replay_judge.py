"""The judge process (replay.judge): a streaming replay compared on the other core gives the
verdict the in-process comparison gives, for the unmutated recording and for every mutation of
the bot (tests/test_mutations.py), and a judge that dies costs a slower verdict, not a wrong one.

Marked e2e: each replay forks the judge."""

from __future__ import annotations

import os

import pytest

import replay.judge
from replay.runner import _replay_streaming, replay_session
from store import open_log
from tests.test_mutations import MUTATIONS, recording  # noqa: F401 - the fixture

pytestmark = pytest.mark.e2e


def streamed(db, judge: str):
    """The streaming verdict alone (replay_session would replay a divergence again with lists,
    whose verdict would hide the judge's)."""
    with open_log(db, create=False) as log:
        return _replay_streaming(log, 1, bot=None, progress=False, keep=False, judge=judge)


def test_the_judge_finds_the_recording_identical_as_the_replay_does_in_process(recording):
    apart, inline = streamed(recording, "process"), streamed(recording, "inline")
    assert not isinstance(apart, str) and not isinstance(inline, str), (apart, inline)
    assert (apart.compared, apart.produced, apart.peak_pending) == \
        (inline.compared, inline.produced, inline.peak_pending)


@pytest.mark.parametrize("mutate", [m for m, _ in MUTATIONS], ids=[m.__name__ for m, _ in MUTATIONS])
def test_every_mutation_diverges_before_the_judge_as_in_process(recording, monkeypatch, mutate):
    mutate(monkeypatch)
    apart, inline = streamed(recording, "process"), streamed(recording, "inline")
    assert isinstance(inline, str), f"in process, the mutation survived: {mutate.__doc__}"
    assert isinstance(apart, str), f"before the judge, the mutation survived: {mutate.__doc__}"
    assert apart == inline  # the same first reason, from the same code


def test_a_judge_that_dies_leaves_the_verdict_to_the_replay_with_lists(recording, monkeypatch,
                                                                     capfd):
    monkeypatch.setattr(replay.judge, "_judge", lambda conn, path, sid: os._exit(3))
    assert streamed(recording, "process") is None  # no verdict: not a divergence either
    with open_log(recording, create=False) as log:
        result = replay_session(log, 1, judge="process")
    assert result.equal and not result.streamed  # replayed again with lists: equal
    assert "no verdict from the judge process" in capfd.readouterr().err


def test_auto_judges_a_long_session_apart_when_a_second_core_is_there(recording, monkeypatch):
    started = []
    real = replay.judge.ProcessCompare.__init__

    def spy(self, path, sid):
        started.append(sid)
        real(self, path, sid)

    monkeypatch.setattr(replay.judge.ProcessCompare, "__init__", spy)
    assert not isinstance(streamed(recording, "auto"), str) and started == []
    monkeypatch.setattr(replay.judge, "MIN_EVENTS", 100)
    monkeypatch.setattr(replay.judge, "cores", lambda: 1)  # one core: the judge would only wait
    assert not isinstance(streamed(recording, "auto"), str) and started == []
    monkeypatch.setattr(replay.judge, "cores", lambda: 2)
    assert not isinstance(streamed(recording, "auto"), str) and started == [1]
    assert not isinstance(streamed(recording, "inline"), str) and started == [1]
    assert not isinstance(streamed(recording, "process"), str) and started == [1, 1]


def test_a_judge_that_fails_says_why_and_the_replay_with_lists_judges(recording, monkeypatch,
                                                                      capfd):
    def broken(self, until):
        raise RuntimeError("the recording could not be read")

    monkeypatch.setattr(replay.judge._Reader, "__call__", broken)
    with open_log(recording, create=False) as log:
        result = replay_session(log, 1, judge="process")
    assert result.equal and not result.streamed
    err = capfd.readouterr().err
    assert "no verdict from the judge process (it failed: " in err and "could not be read" in err


def test_a_spawned_judge_gives_the_forked_ones_verdict(recording, monkeypatch):
    """Where forking is not used (not Linux), the judge is spawned: a fresh interpreter that
    imports the judge and opens the log itself."""
    monkeypatch.setattr(replay.judge.sys, "platform", "darwin")
    spawned = streamed(recording, "process")
    monkeypatch.undo()
    forked = streamed(recording, "process")
    assert not isinstance(spawned, str) and not isinstance(forked, str), (spawned, forked)
    assert (spawned.compared, spawned.peak_pending) == (forked.compared, forked.peak_pending)
