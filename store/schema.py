"""Open an event log file: tell a log from anything else, create the tables, set the pragmas.

Tables (one file holds many sessions):

    meta(key TEXT PRIMARY KEY, value TEXT)        schema_version = newest events.SCHEMA_VERSION
                                                  that wrote to the file; layout = LAYOUT
    sessions(id INTEGER PRIMARY KEY, started_ms, ended_ms NULL while open, mode, config JSON,
             version, end_reason, schema_version = events.SCHEMA_VERSION of its payloads)
    events(id INTEGER PRIMARY KEY = (session << 40) | seq, type, head BLOB, payload BLOB,
           body BLOB = digest of an ApiResponse's body in `bodies` (NULL for other events),
           z = NULL (layout 3: dictionaries.id of a per-row frame; store/payloads.py),
           session and seq as VIRTUAL columns computed from id), index events_by_type (type, id);
           a row sealed in a block keeps an empty head and payload
    blocks(id = its last event's id, first, data)  a session's events sealed 256 at a time into
                                                  one zstd frame (store/blocks.py)
    bodies, dictionaries                          answer bodies, once each (store/bodies.py), and
                                                  the zstd dictionaries (store/zdicts.py)

Why this layout (bench/bench_log.py, 1M events of 537 bytes, this shared 2-core machine; the
old layout and this one run back to back: append 155k -> 152k events/s, read+decode 337k ->
389k events/s, 709 -> 742 bytes/event):
- The rowid is the order: id = (session << 40) | seq. PRIMARY KEY (session, seq) fed a second
  B-tree on every insert; now a session is one rowid range, its read a range scan and `last_seq`
  one seek. session and seq stay readable (and usable in WHERE) as VIRTUAL columns, stored
  nowhere. events_by_type is (type, id): id already carries the session and seq, so an entry is
  two fields, not four. With the old row contents that took raw appends from 146k to 157k/s.
- `payload` is the event's JSON exactly as `codec.encode` writes it; `head` is the rest of the
  envelope as JSON up to the event (`{"session":1,"seq":7,...,"event":`), so `head || payload ||
  '}'` is the whole Envelope. Readers let SQLite glue a chunk of rows into one JSON array that
  msgspec decodes in one call (store/rows.py): fetching the five envelope columns into Python
  had cost as much as decoding the event, ~1.3 us a row. Encoding the head costs appends about
  what the key saved them (CPU per append is equal, ~5.6 us), and it is 33 bytes more a row.
- 16 KiB pages rather than 8: fewer pages read, split and written per event, 789 -> 742 bytes
  per event; 32 KiB measured the same and makes every small live commit write twice the bytes.
  A one-event commit stays ~0.05 ms (NORMAL), ~0.3 ms (FULL).
- `events` stays a rowid table, not WITHOUT ROWID: such a row larger than ~2 KB (a BookSnapshot,
  an ApiResponse) spills onto an overflow page of its own, which made the file 2.1x larger.
- Measured and not kept: wal_autocheckpoint 4,000 or 16,000 pages (within noise), multi-row
  INSERT ... VALUES instead of executemany (same CPU), mmap_size (within noise; risks SIGBUS).
  The type index costs ~1.1 us of the ~4 us SQLite spends per append; it is the price of
  reading one type without scanning the session. A checkpoint in a background thread would hide
  the checkpoint's fsync (+8% wall-clock appends) at the cost of a thread per log: not done.

Each session records the schema its payloads were written under, so an old session in a file
that a newer bot has since appended to still decodes through the codec's upcasters.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Literal

import sqlite_utils

from events import SCHEMA_VERSION
from store.bodies import BODIES_DDL
from store.zdicts import DICTIONARIES_DDL
from store.errors import LogError, LogNotFound, NotALog, SchemaTooNew

Synchronous = Literal["NORMAL", "FULL"]

TABLES = ("meta", "sessions", "events", "bodies", "dictionaries", "blocks")

# The file layout this code writes: 4 seals events into blocks (store/blocks.py); 3 kept each
# row's payload in a zstd frame of its own; 2 kept answer bodies base64 in the payload
# (`python run.py upgrade` converts both); 1 predates the id key.
LAYOUT = 4
UPGRADABLE = ("2", "3")
SEQ_BITS = 40
SEQ_MASK = (1 << SEQ_BITS) - 1

_EVENTS_DDL = f"""
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    type TEXT NOT NULL,
    head BLOB NOT NULL,
    payload BLOB NOT NULL,
    body BLOB,
    z INTEGER,
    session INTEGER AS (id >> {SEQ_BITS}) VIRTUAL,
    seq INTEGER AS (id & {SEQ_MASK}) VIRTUAL
)
"""
BLOCKS_DDL = """
CREATE TABLE blocks (
    id INTEGER PRIMARY KEY,
    first INTEGER NOT NULL,
    data BLOB NOT NULL
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
            tables = set(TABLES)
        elif not set(TABLES[:3]) <= tables:
            raise NotALog(path, "an SQLite database without the log's tables")
        version = _schema_version(conn, path)
        _check_layout(conn, path)
        if not set(TABLES) <= tables:
            missing = " and ".join(sorted(set(TABLES) - tables))
            raise NotALog(path, f"an SQLite database without the log's {missing} table")
        if version > SCHEMA_VERSION:
            raise SchemaTooNew(path, version)
        _set_pragmas(conn, sync)
    except sqlite3.Error as exc:
        raise LogError(path, f"cannot set up {path}: {exc}") from None
    return version


def _create(conn: sqlite3.Connection) -> None:
    # Both must precede the first write: page size is fixed once the file has pages.
    conn.execute("PRAGMA page_size = 16384")
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
        db.execute("CREATE INDEX events_by_type ON events (type, id)")
        db.execute(BODIES_DDL)
        db.execute(DICTIONARIES_DDL)
        db.execute(BLOCKS_DDL)
        db["meta"].insert_all([
            {"key": "schema_version", "value": str(SCHEMA_VERSION)},
            {"key": "layout", "value": str(LAYOUT)},
        ])


def _schema_version(conn: sqlite3.Connection, path: str | Path) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    try:
        return int(row[0])
    except (TypeError, ValueError):
        raise NotALog(path, "no schema_version in its meta table") from None


def _check_layout(conn: sqlite3.Connection, path: str | Path) -> None:
    row = conn.execute("SELECT value FROM meta WHERE key = 'layout'").fetchone()
    if row is None or row[0] != str(LAYOUT):
        found = "1" if row is None else row[0]
        how = ("convert it with: python run.py upgrade " + str(path) if found in UPGRADABLE
               else "re-record the session with this bot")
        raise LogError(path, f"{path} uses event log layout {found}; this bot reads layout "
                             f"{LAYOUT} only ({how})")


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
