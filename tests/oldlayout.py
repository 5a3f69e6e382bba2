"""Write a log in layout 2, as the bot wrote them before answer bodies moved to their own table:
every body base64 inside its ApiResponse payload, no bodies/dictionaries tables. Used to test
`run.py upgrade` on what real old files hold."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from events import codec
from store import open_log

_DDL = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE sessions (id INTEGER PRIMARY KEY, started_ms INTEGER NOT NULL, ended_ms INTEGER,
    mode TEXT NOT NULL, config TEXT NOT NULL, version TEXT NOT NULL, end_reason TEXT,
    schema_version INTEGER NOT NULL);
CREATE TABLE events (id INTEGER PRIMARY KEY, type TEXT NOT NULL, head BLOB NOT NULL,
    payload BLOB NOT NULL, session INTEGER AS (id >> 40) VIRTUAL,
    seq INTEGER AS (id & 1099511627775) VIRTUAL);
CREATE INDEX events_by_type ON events (type, id);
"""
_SESSIONS = "id, started_ms, ended_ms, mode, config, version, end_reason, schema_version"


def write_layout2(source: str | Path, dest: str | Path) -> None:
    """Copy every session of the current-layout log `source` into a layout-2 file `dest`."""
    with open_log(source, create=False) as log:
        conn = sqlite3.connect(dest)
        conn.execute("PRAGMA page_size = 16384")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.executescript(_DDL)
        conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(log.schema_version),))
        conn.execute("INSERT INTO meta VALUES ('layout', '2')")
        rows = log._conn.execute(f"SELECT {_SESSIONS} FROM sessions").fetchall()
        conn.executemany(f"INSERT INTO sessions ({_SESSIONS}) VALUES (?,?,?,?,?,?,?,?)", rows)
        for s in log.sessions():
            conn.executemany(
                "INSERT INTO events (id, type, head, payload) VALUES (?, ?, ?, ?)",
                [((e.session << 40) | e.seq, type(e.event).__name__, *codec.split_envelope(e))
                 for e in log.events(s.id)])
        conn.commit()
        conn.close()
