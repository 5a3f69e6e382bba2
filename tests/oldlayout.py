"""Write a log in layout 2, as the bot wrote them before answer bodies moved to their own table
(every body base64 inside its ApiResponse payload, no bodies/dictionaries tables), or in layout 3,
as it wrote them before blocks (each row's payload a zstd frame of its own). Used to test
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


def _start(log, conn: sqlite3.Connection, ddl: str, layout: int) -> sqlite3.Connection:
    """An old-layout file's tables, its meta rows and every session of `log`, on `conn`."""
    conn.execute("PRAGMA page_size = 16384")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.executescript(ddl)
    conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(log.schema_version),))
    conn.execute("INSERT INTO meta VALUES ('layout', ?)", (str(layout),))
    rows = log._conn.execute(f"SELECT {_SESSIONS} FROM sessions").fetchall()
    conn.executemany(f"INSERT INTO sessions ({_SESSIONS}) VALUES (?,?,?,?,?,?,?,?)", rows)
    return conn


def write_layout2(source: str | Path, dest: str | Path) -> None:
    """Copy every session of the current-layout log `source` into a layout-2 file `dest`."""
    with open_log(source, create=False) as log:
        conn = _start(log, sqlite3.connect(dest), _DDL, 2)
        for s in log.sessions():
            conn.executemany(
                "INSERT INTO events (id, type, head, payload) VALUES (?, ?, ?, ?)",
                [((e.session << 40) | e.seq, type(e.event).__name__, *codec.split_envelope(e))
                 for e in log.events(s.id)])
        conn.commit()
        conn.close()


_DDL3 = _DDL.replace("payload BLOB NOT NULL,", "payload BLOB NOT NULL, body BLOB, z INTEGER,") + """
CREATE TABLE bodies (digest BLOB PRIMARY KEY, endpoint TEXT NOT NULL, dict INTEGER NOT NULL,
    ref BLOB, size INTEGER NOT NULL, data BLOB NOT NULL);
CREATE TABLE dictionaries (id INTEGER PRIMARY KEY, kind TEXT NOT NULL,
    samples INTEGER NOT NULL, data BLOB NOT NULL);
"""


def write_layout3(source: str | Path, dest: str | Path) -> None:
    """Copy every session of the current-layout log `source` into a layout-3 file `dest`, as the
    bot wrote them before blocks: bodies and their dictionaries as they are, each row's payload
    (with its head) packed in a frame of its own once its type has a dictionary (store/payloads.py
    trains them from the rows as layout 3 did)."""
    from store.payloads import PayloadPacker
    from store.zdicts import Dictionaries

    with open_log(source, create=False) as log:
        conn = _start(log, sqlite3.connect(dest, isolation_level=None), _DDL3, 3)
        conn.executemany("INSERT INTO dictionaries VALUES (?, ?, ?, ?)", log._conn.execute(
            "SELECT id, kind, samples, data FROM dictionaries"))
        conn.executemany("INSERT INTO bodies VALUES (?, ?, ?, ?, ?, ?)", log._conn.execute(
            "SELECT digest, endpoint, dict, ref, size, data FROM bodies"))
        digests = dict(log._conn.execute("SELECT id, body FROM events WHERE body IS NOT NULL"))
        packer = PayloadPacker(Dictionaries(conn, str(dest)))
        for s in log.sessions():
            out = []
            for e in log.events(s.id, lazy=True):  # bodies left out, as layout 3 kept them
                rowid, name = (e.session << 40) | e.seq, type(e.event).__name__
                head, payload, z = packer.pack(name, *codec.split_envelope(e))
                out.append((rowid, name, head, payload, digests.get(rowid), z))
            conn.executemany("INSERT INTO events (id, type, head, payload, body, z)"
                             " VALUES (?, ?, ?, ?, ?, ?)", out)
        conn.close()
