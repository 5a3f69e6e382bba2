"""Convert a log of layout 2 (answer bodies base64 inside each payload) to layout 3 (bodies once,
compressed, in `bodies`).

    report = upgrade("bot.db")       # bot.db is now layout 3; the old file is bot.db.layout2

The new file is built beside the old one, as PATH.upgrading, in batches that each commit their
events together with the bodies they name; the old file is only read. A killed upgrade leaves
PATH.upgrading holding whole batches, and running it again continues after the last one, so the
result is the same as an uninterrupted run. Only at the end is the old file renamed to
PATH.layout2 (kept: delete it once satisfied) and the new one to PATH.
"""

from __future__ import annotations

import base64
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import msgspec

from events import SCHEMA_VERSION
from events import codec
from store.bodies import BodyStore
from store.payloads import PayloadPacker
from store.zdicts import Dictionaries
from store.errors import LogError
from store.schema import LAYOUT, SEQ_BITS, connect

BATCH = 2000
_OLD_TABLES = {"meta", "sessions", "events"}
_INSERT = "INSERT INTO events (id, type, head, payload, body, z) VALUES (?, ?, ?, ?, ?, ?)"
_SESSIONS = ("id, started_ms, ended_ms, mode, config, version, end_reason, schema_version")


class UpgradeError(LogError):
    """The file cannot be upgraded; the message says why in one line."""


class UpgradeReport(msgspec.Struct, frozen=True, kw_only=True):
    """What an upgrade did.

    Attributes:
        path: the upgraded log.
        backup: where the layout-2 file now is ("" when there was nothing to do).
        events: events in the upgraded file.
        answers: ApiResponse events whose body moved to the bodies table.
        bodies: distinct bodies stored.
        bytes_before: the old file's size.
        bytes_after: the new file's size.
        resumed: the run continued an interrupted one.
    """

    path: str
    backup: str
    events: int
    answers: int
    bodies: int
    bytes_before: int
    bytes_after: int
    resumed: bool


def upgrade(path: str | Path, *, batch: int = BATCH,
            on_batch: Callable[[int], None] | None = None) -> UpgradeReport:
    """Convert the layout-2 log at `path` to layout 3, resuming an interrupted run.

    Args:
        path: the log.
        batch: events per commit of the new file.
        on_batch: called with the number of events copied after each commit.

    Raises:
        UpgradeError: not a log, a layout this cannot convert, or a leftover PATH.upgrading
            made from another file.
    """
    path = str(path)
    tmp, backup = path + ".upgrading", path + ".layout2"
    if not os.path.exists(path) and os.path.exists(backup) and os.path.exists(tmp):
        _rename(tmp, path)  # killed between the two renames: the copy was complete
        return _report(path, backup, resumed=True)
    src = _open_source(path)
    try:
        resumed = os.path.exists(tmp)
        db, _ = connect(tmp, create=True, synchronous="NORMAL")
        try:
            _copy(src, db.conn, path, tmp, batch, on_batch, resumed)
        finally:
            db.close()
    finally:
        src.close()
    _rename(path, backup)
    _rename(tmp, path)
    return _report(path, backup, resumed=resumed)


def _rename(old: str, new: str) -> None:
    for suffix in ("-wal", "-shm", ""):  # the file last: its presence says the move is done
        if os.path.exists(old + suffix):
            os.replace(old + suffix, new + suffix)


def _open_source(path: str) -> sqlite3.Connection:
    if not os.path.isfile(path):
        raise UpgradeError(path, f"cannot upgrade {path}: no such file")
    try:
        # Read-write, though only read: closing it checkpoints its WAL into the file, so the
        # renamed old file is whole on its own.
        src = sqlite3.connect(path, isolation_level=None)
        tables = {r[0] for r in src.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError:
        raise UpgradeError(path, f"cannot upgrade {path}: not an SQLite database") from None
    if not _OLD_TABLES <= tables:
        src.close()
        raise UpgradeError(path, f"cannot upgrade {path}: not a bot event log")
    meta = dict(src.execute("SELECT key, value FROM meta"))
    layout = meta.get("layout", "1")
    why = None
    if layout == str(LAYOUT):
        why = f"it is already layout {LAYOUT}"
    elif layout != "2":
        why = (f"it is layout {layout}; only layout 2 converts (layout 1 predates the id key: "
               "re-record the session)")
    elif int(meta.get("schema_version", "0")) > SCHEMA_VERSION:
        why = "a newer bot wrote it; upgrade the bot"
    if why:
        src.close()
        raise UpgradeError(path, f"cannot upgrade {path}: {why}")
    return src


def _copy(src: sqlite3.Connection, dst: sqlite3.Connection, path: str, tmp: str, batch: int,
          on_batch: Callable[[int], None] | None, resumed: bool) -> None:
    identity = _identity(src)
    row = dst.execute("SELECT value FROM meta WHERE key = 'upgrade_source'").fetchone()
    if row is None and not dst.execute("SELECT 1 FROM events LIMIT 1").fetchone():
        resumed = False  # killed before its first batch: start afresh
    if resumed:
        if row is None or row[0] != identity:
            raise UpgradeError(path, f"cannot upgrade {path}: {tmp} was made from another "
                                     "file (or the log changed since); remove it and run again")
    else:
        dst.execute("INSERT OR REPLACE INTO meta VALUES ('upgrade_source', ?)", (identity,))
    versions = dict(src.execute("SELECT id, schema_version FROM sessions"))
    dicts = Dictionaries(dst, tmp)
    bodies, packer = BodyStore(dst, tmp, dicts), PayloadPacker(dicts)
    last = dst.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]
    done = dst.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    while True:
        rows = src.execute("SELECT id, type, head, payload FROM events WHERE id > ? ORDER BY id"
                           " LIMIT ?", (last, batch)).fetchall()
        if not rows:
            break
        out = [_convert(r, versions.get(r[0] >> SEQ_BITS, SCHEMA_VERSION), bodies, packer)
               for r in rows]
        try:
            dst.execute("BEGIN")
            dst.executemany(_INSERT, out)
            bodies.insert_pending()
            dst.execute("COMMIT")
        except BaseException:
            if dst.in_transaction:
                dst.execute("ROLLBACK")
            bodies.rolled_back()
            raise
        bodies.committed()
        last, done = rows[-1][0], done + len(rows)
        if on_batch is not None:
            on_batch(done)
    _finish(src, dst)


def _convert(row: tuple, version: int, bodies: BodyStore, packer: PayloadPacker) -> tuple:
    rowid, name, head, payload = row
    digest = None
    if name == "ApiResponse":
        raw = msgspec.json.decode(payload)
        body = base64.b64decode(raw.get("body") or "")
        if body:
            digest = bodies.put(raw.get("endpoint", ""), body)
            if version == SCHEMA_VERSION:
                payload = codec.encode(msgspec.structs.replace(codec.decode(payload), body=b""))
            else:
                raw["body"] = ""
                payload = msgspec.json.encode(raw)
    head, payload, z = packer.pack(name, bytes(head), bytes(payload))
    return rowid, name, head, payload, digest, z


def _finish(src: sqlite3.Connection, dst: sqlite3.Connection) -> None:
    # Sessions last: one may have ended (or a new one begun) after the copy started.
    rows = src.execute(f"SELECT {_SESSIONS} FROM sessions").fetchall()
    schema = src.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    dst.execute("BEGIN")
    dst.executemany(f"INSERT OR REPLACE INTO sessions ({_SESSIONS}) VALUES "
                    f"({', '.join('?' * 8)})", rows)
    dst.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (schema,))
    dst.execute("DELETE FROM meta WHERE key = 'upgrade_source'")
    dst.execute("COMMIT")


def _identity(src: sqlite3.Connection) -> str:
    count, top = src.execute("SELECT COUNT(*), COALESCE(MAX(id), 0) FROM events").fetchone()
    first = src.execute("SELECT COALESCE(MIN(started_ms), 0) FROM sessions").fetchone()[0]
    return f"{count}:{top}:{first}"


def _report(path: str, backup: str, *, resumed: bool) -> UpgradeReport:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        events, answers = conn.execute(
            "SELECT COUNT(*), COUNT(body) FROM events").fetchone()
        stored = conn.execute("SELECT COUNT(*) FROM bodies").fetchone()[0]
    finally:
        conn.close()
    return UpgradeReport(path=path, backup=backup, events=events, answers=answers, bodies=stored,
                         bytes_before=_size(backup), bytes_after=_size(path), resumed=resumed)


def _size(path: str) -> int:
    return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))
