"""Convert a log of layout 2 (answer bodies base64 inside each payload) or 3 (bodies once in
`bodies`, each row's payload a zstd frame of its own) to layout 4 (events sealed in blocks).

    report = upgrade("bot.db")       # bot.db is now layout 4; the old file is bot.db.layout3

The new file is built beside the old one, as PATH.upgrading, in batches that each commit their
events together with the bodies they name and the blocks they fill (store/blocks.py); the old
file is only read. A layout-3 file's bodies and their dictionaries are copied as they are, in
the first commit. A killed upgrade leaves PATH.upgrading holding whole batches, and running it
again continues after the last one, so the result is the same as an uninterrupted run. Only at
the end is the old file renamed to PATH.layoutN (kept: delete it once satisfied) and the new
one to PATH.
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
from store.blocks import seal
from store.bodies import BodyStore
from store.payloads import PayloadPacker
from store.zdicts import Dictionaries
from store.errors import LogError
from store.schema import LAYOUT, SEQ_BITS, SEQ_MASK, UPGRADABLE, connect

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
        backup: where the old file now is (PATH.layout2 or PATH.layout3).
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
    """Convert the layout-2 or layout-3 log at `path` to layout 4, resuming an interrupted run.

    Args:
        path: the log.
        batch: events per commit of the new file.
        on_batch: called with the number of events copied after each commit.

    Raises:
        UpgradeError: not a log, a layout this cannot convert, or a leftover PATH.upgrading
            made from another file.
    """
    path = str(path)
    tmp = path + ".upgrading"
    if not os.path.exists(path) and os.path.exists(tmp):
        for layout in UPGRADABLE:  # killed between the two renames: the copy was complete
            backup = f"{path}.layout{layout}"
            if os.path.exists(backup):
                _rename(tmp, path)
                return _report(path, backup, resumed=True)
    src, layout = _open_source(path)
    backup = f"{path}.layout{layout}"
    try:
        resumed = os.path.exists(tmp)
        db, _ = connect(tmp, create=True, synchronous="NORMAL")
        try:
            _copy(src, layout, db.conn, path, tmp, batch, on_batch, resumed)
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


def _open_source(path: str) -> tuple[sqlite3.Connection, str]:
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
    elif layout not in UPGRADABLE:
        why = (f"it is layout {layout}; only layouts 2 and 3 convert (layout 1 predates the id "
               "key: re-record the session)")
    elif int(meta.get("schema_version", "0")) > SCHEMA_VERSION:
        why = "a newer bot wrote it; upgrade the bot"
    elif layout == "3" and not {"bodies", "dictionaries"} <= tables:
        why = "it says layout 3 but has no bodies or dictionaries table"
    if why:
        src.close()
        raise UpgradeError(path, f"cannot upgrade {path}: {why}")
    if layout == "3":  # its rows' frames read through unz, with its own dictionaries
        PayloadPacker(Dictionaries(src, path)).register(src)
    return src, layout


def _copy(src: sqlite3.Connection, layout: str, dst: sqlite3.Connection, path: str, tmp: str,
          batch: int, on_batch: Callable[[int], None] | None, resumed: bool) -> None:
    identity = _identity(src)
    row = dst.execute("SELECT value FROM meta WHERE key = 'upgrade_source'").fetchone()
    if row is None and not dst.execute("SELECT 1 FROM events LIMIT 1").fetchone():
        resumed = False  # killed before its first batch: start afresh
    if resumed:
        if row is None or row[0] != identity:
            raise UpgradeError(path, f"cannot upgrade {path}: {tmp} was made from another "
                                     "file (or the log changed since); remove it and run again")
    else:
        dst.execute("BEGIN")
        dst.execute("INSERT OR REPLACE INTO meta VALUES ('upgrade_source', ?)", (identity,))
        if layout == "3":
            _copy_bodies(src, dst)
        dst.execute("COMMIT")
    versions = dict(src.execute("SELECT id, schema_version FROM sessions"))
    dicts = Dictionaries(dst, tmp)
    bodies, packer = BodyStore(dst, tmp, dicts), PayloadPacker(dicts)
    packer.register(dst)  # blocks are glued through the same SQL as reads
    last = dst.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]
    done = dst.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    sql = ("SELECT id, type, head, payload, NULL FROM events WHERE id > ? ORDER BY id LIMIT ?"
           if layout == "2" else
           "SELECT id, type, head, unz(z, payload), body FROM events WHERE id > ? ORDER BY id"
           " LIMIT ?")
    while True:
        rows = src.execute(sql, (last, batch)).fetchall()
        if not rows:
            break
        if layout == "2":
            out = [_convert(r, versions.get(r[0] >> SEQ_BITS, SCHEMA_VERSION), bodies)
                   for r in rows]
        else:
            out = [_unpacked(r, path) for r in rows]
        ends: dict[int, int] = {}
        for r in rows:
            ends[r[0] >> SEQ_BITS] = r[0] & SEQ_MASK
        try:
            dst.execute("BEGIN")
            dst.executemany(_INSERT, out)
            bodies.insert_pending()
            for sid, seq in ends.items():
                seal(dst, sid, seq)
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


def _copy_bodies(src: sqlite3.Connection, dst: sqlite3.Connection) -> None:
    # Event payloads' dictionaries stay behind: blocks need none. Bodies keep their frames,
    # so the dictionaries they were made with keep their ids.
    dst.executemany(
        "INSERT OR IGNORE INTO dictionaries (id, kind, samples, data) VALUES (?, ?, ?, ?)",
        src.execute("SELECT id, kind, samples, data FROM dictionaries"
                    " WHERE kind NOT LIKE 'event:%'"))
    dst.executemany(
        "INSERT OR IGNORE INTO bodies (digest, endpoint, dict, ref, size, data)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        src.execute("SELECT digest, endpoint, dict, ref, size, data FROM bodies"))


def _unpacked(row: tuple, path: str) -> tuple:
    rowid, name, head, payload, digest = row
    if not head:  # packed: the frame held head and payload
        if payload == b"!":
            raise UpgradeError(path, f"cannot upgrade {path}: session {rowid >> SEQ_BITS} seq "
                                     f"{rowid & SEQ_MASK} does not decompress")
        head, payload = codec.split_stored(bytes(payload))
    return rowid, name, bytes(head), bytes(payload), digest, None


def _convert(row: tuple, version: int, bodies: BodyStore) -> tuple:
    rowid, name, head, payload, _ = row
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
    return rowid, name, bytes(head), bytes(payload), digest, None


def _finish(src: sqlite3.Connection, dst: sqlite3.Connection) -> None:
    # Sessions last: one may have ended (or a new one begun) after the copy started.
    rows = src.execute(f"SELECT {_SESSIONS} FROM sessions").fetchall()
    schema = src.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    dst.execute("BEGIN")
    # What is left of each session after its last full block becomes one smaller block.
    for (top,) in dst.execute(f"SELECT MAX(id) FROM events GROUP BY id >> {SEQ_BITS}").fetchall():
        seal(dst, top >> SEQ_BITS, top & SEQ_MASK, rest=True)
    dst.executemany(f"INSERT OR REPLACE INTO sessions ({_SESSIONS}) VALUES "
                    f"({', '.join('?' * 8)})", rows)
    dst.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (schema,))
    dst.execute("COMMIT")
    # Sealing freed the pages its rows had been written to: give them back (a run killed here
    # finds its upgrade_source still set, and does this again).
    dst.execute("VACUUM")
    dst.execute("DELETE FROM meta WHERE key = 'upgrade_source'")


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
