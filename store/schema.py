"""Open an event log file: tell a log from anything else, create the tables, set the pragmas.

Tables (one file holds many sessions):

    meta(key TEXT PRIMARY KEY, value TEXT)        schema_version = newest events.SCHEMA_VERSION
                                                  that wrote to the file
    sessions(id INTEGER PRIMARY KEY, started_ms, ended_ms NULL while open, mode, config JSON,
             version, end_reason, schema_version = events.SCHEMA_VERSION of its payloads)
    events(session, seq, ts_ms, t, source, cause NULL, type, payload BLOB,
           PRIMARY KEY (session, seq)), index events_by_type (session, type, seq)

`events` is an ordinary rowid table, not WITHOUT ROWID: a WITHOUT ROWID row larger than ~2 KB
(a BookSnapshot, an ApiResponse) spills onto an overflow page of its own, which made the file
2.1x larger (1,523 vs 708 bytes per event in bench/bench_log.py) and appends ~40% slower. Rows
are appended in seq order, so rowid order matches seq order and reads stay sequential.
Pages are 8 KiB so that those larger rows still fit one page.

Each session records the schema its payloads were written under, so an old session in a file
that a newer bot has since appended to still decodes through the codec's upcasters.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Literal

import sqlite_utils

from events import SCHEMA_VERSION
from store.errors import LogError, LogNotFound, NotALog, SchemaTooNew

Synchronous = Literal["NORMAL", "FULL"]

TABLES = ("meta", "sessions", "events")

_EVENTS_DDL = """
CREATE TABLE events (
    session INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    ts_ms INTEGER NOT NULL,
    t REAL NOT NULL,
    source TEXT NOT NULL,
    cause INTEGER,
    type TEXT NOT NULL,
    payload BLOB NOT NULL,
    PRIMARY KEY (session, seq)
)
"""


def connect(
    path: str | Path, *, create: bool, synchronous: Synchronous
) -> tuple[sqlite_utils.Database, int]:
    """Open (or create) the log at `path`; return the database and the file's schema version.

    Raises:
        LogNotFound: create is False and there is no file.
        NotALog: the file is not SQLite, or is an SQLite database without the log's tables.
        SchemaTooNew: the file was written by a newer bot.
        LogError: SQLite refused to open or set up the file.
    """
    if synchronous not in ("NORMAL", "FULL"):
        raise ValueError(f"synchronous must be NORMAL or FULL, not {synchronous!r}")
    p = Path(path)
    if not p.exists() and not create:
        raise LogNotFound(path)
    if p.is_dir():
        raise NotALog(path, "a directory")
    try:
        # Autocommit at the driver; every transaction is an explicit BEGIN ... COMMIT.
        conn = sqlite3.connect(p, isolation_level=None)
    except sqlite3.Error as exc:
        raise LogError(path, f"cannot open {path}: {exc}") from None
    try:
        version = _prepare(conn, path, create, synchronous)
        return sqlite_utils.Database(conn), version
    except BaseException:
        conn.close()
        raise


def _prepare(conn: sqlite3.Connection, path: str | Path, create: bool, sync: Synchronous) -> int:
    try:
        # A lock held by another process (a reader opening the WAL) is waited out, not fatal.
        conn.execute("PRAGMA busy_timeout = 5000")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError:
        raise NotALog(path) from None
    try:
        if not tables and create:
            _create(conn)
        elif not set(TABLES) <= tables:
            raise NotALog(path, "an SQLite database without the log's tables")
        version = _schema_version(conn, path)
        if version > SCHEMA_VERSION:
            raise SchemaTooNew(path, version)
        _set_pragmas(conn, sync)
    except sqlite3.Error as exc:
        raise LogError(path, f"cannot set up {path}: {exc}") from None
    return version


def _create(conn: sqlite3.Connection) -> None:
    # Both must precede the first write: page size is fixed once the file has pages.
    conn.execute("PRAGMA page_size = 8192")
    conn.execute("PRAGMA journal_mode = WAL")
    db = sqlite_utils.Database(conn)
    with db.atomic():
        db["meta"].create({"key": str, "value": str}, pk="key")
        db["sessions"].create(
            {
                "id": int,
                "started_ms": int,
                "ended_ms": int,
                "mode": str,
                "config": str,
                "version": str,
                "end_reason": str,
                "schema_version": int,
            },
            pk="id",
            not_null={"started_ms", "mode", "config", "version", "schema_version"},
        )
        db.execute(_EVENTS_DDL)
        db["events"].create_index(["session", "type", "seq"], index_name="events_by_type")
        db["meta"].insert({"key": "schema_version", "value": str(SCHEMA_VERSION)})


def _schema_version(conn: sqlite3.Connection, path: str | Path) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    try:
        return int(row[0])
    except (TypeError, ValueError):
        raise NotALog(path, "no schema_version in its meta table") from None


def _set_pragmas(conn: sqlite3.Connection, sync: Synchronous) -> None:
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if mode.lower() != "wal":
        raise sqlite3.OperationalError(f"journal_mode is {mode}, WAL could not be set")
    conn.execute(f"PRAGMA synchronous = {sync}")
    # Keep the pages of recent batches cached (64 MiB) so index updates rarely read the disk.
    conn.execute("PRAGMA cache_size = -65536")


def bump_schema_version(db: sqlite_utils.Database) -> None:
    """Record that this bot's SCHEMA_VERSION has written to the file (inside a transaction)."""
    db.execute(
        "UPDATE meta SET value = ? WHERE key = 'schema_version' AND CAST(value AS INTEGER) < ?",
        [str(SCHEMA_VERSION), SCHEMA_VERSION],
    )
