"""The durability promise, tested the hard way: SIGKILL a real writer process mid-run."""

from __future__ import annotations

import pytest

import signal
import subprocess
import sys
from pathlib import Path

from store import open_log
from tests.helpers_store_kill import event

# Real processes, sockets or the real clock (see tests/conftest.py).
pytestmark = pytest.mark.e2e

HELPER = Path(__file__).with_name("helpers_store_kill.py")


def _run_until_acknowledged(path: Path, at_least: int) -> tuple[int, int]:
    """Start the helper, SIGKILL it once `at_least` seqs are acknowledged; return (sid, acked)."""
    proc = subprocess.Popen(
        [sys.executable, str(HELPER), str(path), "200"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        first = proc.stdout.readline()
        assert first.startswith("session "), proc.stderr.read()
        acked = 0
        for line in proc.stdout:
            acked = int(line)
            if acked >= at_least:
                break
        proc.send_signal(signal.SIGKILL)
        rest, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, err
    # Lines printed before the kill were acknowledged too; a torn last line was not.
    complete = rest.split("\n")[:-1]
    return int(first.split()[1]), max([acked, *map(int, complete)])


def test_sigkill_loses_nothing_that_flush_acknowledged(tmp_path):
    path = tmp_path / "bot.db"
    sid, acked = _run_until_acknowledged(path, at_least=6000)
    assert acked >= 6000

    with open_log(path, create=False) as log:
        envelopes = list(log.events(sid))
        info = log.session(sid)
    seqs = [e.seq for e in envelopes]
    assert seqs == list(range(1, len(seqs) + 1)), "gap or disorder after the kill"
    assert len(seqs) >= acked, f"acknowledged {acked} but only {len(seqs)} survived"
    assert [e.event for e in envelopes[:acked]] == [event(s) for s in range(1, acked + 1)]
    assert info.events == len(seqs) and info.ended_ms is None


def test_a_killed_log_accepts_a_new_session_afterwards(tmp_path):
    path = tmp_path / "bot.db"
    sid, _ = _run_until_acknowledged(path, at_least=1000)
    with open_log(path, create=False) as log:
        killed = log.session(sid).events
        again = log.start_session("live", "{}", 1)
        log.append_events(again, [event(3)], source="market", ts_ms=1)
        assert [s.events for s in log.sessions()] == [killed, 1]
