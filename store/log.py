"""The event log: sessions, appends in one transaction each, and readers in seq order."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from importlib import metadata
from pathlib import Path

import msgspec
import sqlite_utils

from events import SCHEMA_VERSION, AnyEvent, ApiResponse, Envelope, Event
from store.blocks import seal
from store.bodies import BodyStore
from store.payloads import PayloadPacker
from store.zdicts import Dictionaries
from store.errors import LogError, UnknownSession
from store.rows import INSERT, read_envelopes, session_range, to_rows
from store.schema import SEQ_BITS, SEQ_MASK, Synchronous, bump_schema_version, connect

MODES = ("live", "record", "demo", "replay", "backtest", "sim")

# A session's events are the ids ((sid << 40), (sid << 40) | SEQ_MASK]: MAX is one seek.
_SESSION_SQL = f"""
SELECT id, started_ms, ended_ms, mode, config, version, end_reason, schema_version,
       (SELECT COALESCE(MAX(id) & {SEQ_MASK}, 0) FROM events
        WHERE id > sessions.id << {SEQ_BITS} AND id <= (sessions.id << {SEQ_BITS}) | {SEQ_MASK})
FROM sessions
"""


class SessionInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One session of the log as listed by `EventLog.sessions()`.

    `events` is the session's event count (its last seq: seqs are 1-based and gap-free).
    `schema_version` is the event schema its payloads were written under.
    """

    id: int
    started_ms: int
    ended_ms: int | None
    mode: str
    config: str
    version: str
    end_reason: str
    events: int
    schema_version: int = SCHEMA_VERSION


def open_log(
    path: str | Path, create: bool = True, *, synchronous: Synchronous = "NORMAL"
) -> EventLog:
    """Open the event log at `path`, creating it if `create` and there is no file.

    Args:
        path: the SQLite file.
        create: make a new log when the file is missing (or empty); otherwise that is an error.
        synchronous: "NORMAL" survives a killed process (the promise in `store`); "FULL" also
            survives power loss and OS crashes, at ~0.35 ms more per commit (one fsync).

    Raises:
        LogNotFound: create is False and there is no file.
        NotALog: the file is not an SQLite database, or lacks the log's tables.
        SchemaTooNew: a newer bot wrote the file.
    """
    db, version = connect(path, create=create, synchronous=synchronous)
    return EventLog(db, str(path), version)


class EventLog:
    """An open event log file. One process writes a file; any number may read it.

    Create it with `open_log()`. It is a context manager that closes the file on exit.
    Calls are synchronous and short (a batch commit is well under a millisecond), so Trio code
    calls them inline; `LogWriter` batches appends from many actors.
    """

    def __init__(self, db: sqlite_utils.Database, path: str, schema_version: int) -> None:
        self._db = db
        self._conn = db.conn
        self.path = path
        self.schema_version = schema_version
        self._last: dict[int, int] = {}  # committed seq per session this process appended to
        dicts = Dictionaries(self._conn, path)
        self.bodies = BodyStore(self._conn, path, dicts)
        # `unz`, for rows packed one by one as layout 3 did (the readers' SQL names it).
        PayloadPacker(dicts).register(self._conn)

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<EventLog {self.path}>"

    def close(self) -> None:
        """Close the file. Everything appended is already committed; closing adds nothing."""
        self._db.close()

    # --- sessions ---------------------------------------------------------------------------

    def start_session(self, mode: str, config_json: str, started_ms: int) -> int:
        """Open a new session and return its id.

        Args:
            mode: one of live, record, demo, replay, backtest, sim.
            config_json: the run's configuration as JSON, with no secret in it.
            started_ms: wall-clock start in milliseconds.

        Raises:
            ValueError: an unknown mode or a config that is not JSON.
        """
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        try:
            msgspec.json.decode(config_json)
        except msgspec.DecodeError:
            raise ValueError("config_json is not valid JSON") from None
        row = {
            "started_ms": started_ms,
            "mode": mode,
            "config": config_json,
            "version": _package_version(),
            "end_reason": "",
            "schema_version": SCHEMA_VERSION,
        }
        with self._write("start a session in"):
            bump_schema_version(self._db)
            sid = self._db["sessions"].insert(row).last_pk
        self.schema_version = max(self.schema_version, SCHEMA_VERSION)
        self._last[sid] = 0
        return sid

    def end_session(self, sid: int, ended_ms: int, reason: str = "") -> None:
        """Mark session `sid` ended at `ended_ms` for `reason` ("signal", "duration", ...), and
        seal its last rows into a block (store/blocks.py).

        Raises:
            UnknownSession: the file has no session `sid`.
        """
        with self._write("end a session in"):
            cur = self._conn.execute(
                "UPDATE sessions SET ended_ms = ?, end_reason = ? WHERE id = ?",
                (ended_ms, reason, sid),
            )
            if cur.rowcount:
                seal(self._conn, sid, self.last_seq(sid), rest=True)
        if cur.rowcount == 0:
            raise self._unknown(sid)

    def sessions(self) -> list[SessionInfo]:
        """Return every session in the file, ordered by id, with its event count."""
        return [_session_info(r) for r in self._conn.execute(_SESSION_SQL + " ORDER BY id")]

    def session(self, sid: int) -> SessionInfo:
        """Return session `sid`.

        Raises:
            UnknownSession: the file has no session `sid`.
        """
        row = self._conn.execute(_SESSION_SQL + " WHERE id = ?", (sid,)).fetchone()
        if row is None:
            raise self._unknown(sid)
        return _session_info(row)

    def latest_session(self, mode: str | None = None) -> SessionInfo:
        """Return the newest session, or the newest of `mode` if given.

        Raises:
            UnknownSession: there is no such session.
        """
        where, args = ("", ()) if mode is None else (" WHERE mode = ?", (mode,))
        sql = _SESSION_SQL + where + " ORDER BY id DESC LIMIT 1"
        row = self._conn.execute(sql, args).fetchone()
        if row is None:
            raise self._unknown(None)
        return _session_info(row)

    def session_bytes(self) -> dict[int, int]:
        """Return the bytes each session's events take in the file: its blocks, head and
        payload of its rows, plus the compressed answer bodies it was the first to store (a
        body shared with a later session counts once, for the first).

        One pass over the file's events; meant for `run.py sessions`, not for hot paths.
        """
        sql = f"""
        SELECT s, SUM(n) FROM (
            SELECT id >> {SEQ_BITS} AS s, length(head) + length(payload) AS n FROM events
            UNION ALL
            SELECT id >> {SEQ_BITS}, length(data) FROM blocks
            UNION ALL
            SELECT f >> {SEQ_BITS}, length(b.data) FROM
                (SELECT body, MIN(id) AS f FROM events WHERE body IS NOT NULL GROUP BY body)
                JOIN bodies AS b ON b.digest = body
        ) GROUP BY s"""
        return dict(self._conn.execute(sql).fetchall())

    # --- events -----------------------------------------------------------------------------

    def last_seq(self, sid: int) -> int:
        """Return the highest committed seq of session `sid`, 0 when it has no events.

        Raises:
            UnknownSession: the file has no session `sid`.
        """
        last = self._last.get(sid)
        if last is None:
            row = self._conn.execute(
                "SELECT (SELECT MAX(id) FROM events WHERE id > ? AND id <= ?),"
                " EXISTS (SELECT 1 FROM sessions WHERE id = ?)",
                (*session_range(sid), sid),
            ).fetchone()
            if not row[1]:
                raise self._unknown(sid)
            last = (row[0] or 0) & SEQ_MASK
        return last

    def append(self, envelopes: Sequence[Envelope]) -> None:
        """Commit `envelopes` in one transaction; they survive a killed process once this returns.

        Each session's seqs must continue its log: 1-based, gap-free, in order.

        Raises:
            UnknownSession: an envelope names a session the file does not hold.
            SequenceGap: a seq does not follow the previous one; nothing is committed.
            TypeError: an event that is not part of `events.AnyEvent`.
            LogError: SQLite failed (disk full, file removed); nothing is committed.
        """
        if not envelopes:
            return
        try:
            rows, last = to_rows(self.path, envelopes, self.last_seq, self.bodies)
            with self._write("append to"):
                self._conn.executemany(INSERT, rows)
                self.bodies.insert_pending()
                for sid, seq in last.items():
                    seal(self._conn, sid, seq)
        except BaseException:
            self.bodies.rolled_back()
            raise
        self.bodies.committed()
        self._last.update(last)

    def append_events(
        self, sid: int, events: Sequence[AnyEvent], *, source: str, ts_ms: int, t: float = 0.0
    ) -> list[Envelope]:
        """Wrap `events` in envelopes numbered after `last_seq(sid)`, append them, return them."""
        first = self.last_seq(sid) + 1
        envelopes = [
            Envelope(session=sid, seq=first + i, ts_ms=ts_ms, t=t, source=source, cause=None,
                     event=e)
            for i, e in enumerate(events)
        ]
        self.append(envelopes)
        return envelopes

    def events(
        self, sid: int, types: tuple[type[Event], ...] | None = None, after_seq: int = 0,
        *, lazy: bool = False,
    ) -> Iterator[Envelope]:
        """Iterate session `sid`'s events in seq order.

        Args:
            sid: the session.
            types: only events of these classes (None: all).
            after_seq: only events with a seq above this one.
            lazy: leave answer bodies in the file (an ApiResponse's `body` is empty until
                `body_of(envelope)` fetches it) and decode each BookSnapshot's ads on first
                access (`events.lazy.LazyAds`, Decimal money as always). For readers that
                touch few bodies or books; the events are otherwise the same.

        Raises:
            UnknownSession: at the call, when the file has no session `sid`.
            CorruptEvent: while iterating, on a payload that does not decode.
        """
        version = self.session(sid).schema_version
        return read_envelopes(self._conn, self.path, sid, version, types, after_seq, self.bodies,
                              lazy)

    def body_of(self, envelope: Envelope) -> bytes:
        """Return the raw answer body of `envelope` (an ApiResponse read with `lazy=True`, or
        any event: its own `body`, or b"" when it has none).

        Bodies are decompressed once and kept (the last few hundred, by digest), and the
        decompressor of each dictionary and key body is made once.

        Raises:
            MissingBody: the bodies table does not hold the body the event names.
        """
        body = getattr(envelope.event, "body", b"")
        if body or type(envelope.event) is not ApiResponse:
            return body or b""
        sid, seq = envelope.session, envelope.seq
        digest = self.bodies.ref(sid, seq)
        if digest is None:
            row = self._conn.execute("SELECT body FROM events WHERE id = ?",
                                     ((sid << SEQ_BITS) | seq,)).fetchone()
            if row is None or row[0] is None:
                return b""
            digest = row[0]
        return self.bodies.get(digest, sid, seq)

    # --- helpers ----------------------------------------------------------------------------

    @contextmanager
    def _write(self, what: str) -> Iterator[None]:
        # One BEGIN ... COMMIT through sqlite-utils; SQLite's errors become one-line LogErrors.
        try:
            with self._db.atomic():
                yield
        except sqlite3.Error as exc:
            raise LogError(self.path, f"cannot {what} {self.path}: {exc}") from None

    def _unknown(self, sid: int | None) -> UnknownSession:
        ids = [r[0] for r in self._conn.execute("SELECT id FROM sessions ORDER BY id")]
        return UnknownSession(self.path, sid, ids)


def _session_info(row: tuple) -> SessionInfo:
    sid, started, ended, mode, config, version, reason, schema, count = row
    return SessionInfo(id=sid, started_ms=started, ended_ms=ended, mode=mode, config=config,
                       version=version, end_reason=reason or "", events=count,
                       schema_version=schema)


@cache
def _package_version() -> str:
    try:
        return metadata.version("p2pbot")
    except metadata.PackageNotFoundError:
        return "0.1.0"
