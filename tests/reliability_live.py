"""Run `python run.py live` as a user would, and check the event log it leaves behind.

Used by the crash, clean-stop, secrets and fault tests: a bot.toml pointing at a simulator, a
live subprocess with the keys in its environment and its output in files, waits on the log's
progress, and the integrity check every log must pass however its writer ended.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from events import Envelope
from sim import DEMO_API_KEY, DEMO_SECRET
from store import open_log

ROOT = Path(__file__).resolve().parents[1]


def write_bot_toml(path: Path, base_url: str, **sections: dict) -> Path:
    """Write a bot.toml trading on the simulator at `base_url`; `sections` add or override keys."""
    data = {"exchange": {"sapi_url": base_url, "bapi_url": base_url}, **sections}
    lines = []
    for section, values in data.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {_toml(value)}" for key, value in values.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def bot_env(key: str = DEMO_API_KEY, secret: str | None = DEMO_SECRET, **extra: str) -> dict:
    """The environment of a live run: this one without any BINANCE_* variable, plus the keys."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BINANCE_")}
    env["PYTHONUNBUFFERED"] = "1"
    env["BINANCE_API_KEY"] = key
    if secret is not None:
        env["BINANCE_API_SECRET"] = secret
    env.update(extra)
    return env


class LiveRun:
    """One `python run.py live` process; stdout and stderr go to files beside the db."""

    def __init__(self, db: Path, config: Path | None, *args: str, env: dict | None = None,
                 name: str = "live") -> None:
        self.db = db
        self.out = db.with_name(f"{name}.stdout")
        self.err = db.with_name(f"{name}.stderr")
        cmd = [sys.executable, "run.py", "live", "--db", str(db), "--quiet", *args]
        if config is not None:
            cmd += ["--config", str(config)]
        with open(self.out, "ab") as out, open(self.err, "ab") as err:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env or bot_env(), stdout=out,
                                         stderr=err)

    def wait(self, timeout: float = 30.0) -> int:
        return self.proc.wait(timeout)

    def stdout(self) -> str:
        return self.out.read_text(errors="replace")

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")

    def stop_now(self) -> None:
        """Kill the process if it still runs (test clean-up)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def committed_events(db: Path) -> int:
    """Events committed to `db` so far, read without disturbing the writer (0 before any)."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    except sqlite3.Error:
        return 0


def wait_for(condition, timeout: float, what: str, poll_s: float = 0.05) -> None:
    """Poll `condition()` on the real clock until it holds; fail the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(poll_s)


def read_intact_log(db: Path) -> dict[int, list[Envelope]]:
    """Open the log and decode every event of every session; fail on any gap or bad payload.

    Returns:
        Each session's envelopes in seq order.
    """
    sessions = {}
    with open_log(db, create=False) as log:
        for info in log.sessions():
            envelopes = list(log.events(info.id))  # CorruptEvent on a payload that won't decode
            seqs = [e.seq for e in envelopes]
            assert seqs == list(range(1, len(seqs) + 1)), f"session {info.id}: seq gap"
            assert info.events == len(seqs)
            sessions[info.id] = envelopes
    return sessions
