"""Envelopes to `events` rows and back: the encoding, the seq checks and the chunked reader.

A read asks SQLite for CHUNK rows at a time already glued into one JSON array of envelopes
(`group_concat(head || payload || '}')`), which `codec.decode_envelopes` decodes in one call:
SQLite's C loop does the per-row work that the sqlite3 module would do in Python. Chunks are
small because the array is held whole while its envelopes are handed out: 64 rows read fastest
(256: -5%, 1,024: -15%, from allocating and collecting bigger lists). A payload that does not
decode sends its chunk through the row-at-a-time path, which names the bad seq; so do sessions
of an older schema, whose payloads pass through the codec's upcasters.

A session's older rows are sealed into blocks (store/blocks.py): a read decodes each block's
array the same way, one block at a time, and glues rows only for the session's tail. A read
filtered by type seeks its types in the index and decodes only their envelopes of the blocks
that hold them.

A lazy read (`lazy=True`) leaves each ApiResponse's body in the bodies table (the event's `body`
is empty; `EventLog.body_of` fetches it) and each BookSnapshot's ads as JSON until they are read
(events/lazy.py): on a recording's mix that is 2-3x more events a second for readers that touch
neither (bench/bench_log.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Generator, Iterator, Sequence

import msgspec
import zstandard
from msgspec.structs import replace

from events import EVENT_TYPES, SCHEMA_VERSION, ApiResponse, Envelope, Event
from events import codec
from events.lazy import decode_envelopes_lazy
from store.blocks import GLUED, split as split_block
from store.bodies import BodyStore
from store.errors import CorruptEvent, SequenceGap
from store.schema import SEQ_BITS, SEQ_MASK

INSERT = "INSERT INTO events (id, type, head, payload, body, z) VALUES (?, ?, ?, ?, ?, ?)"

_NAME_OF = {cls: name for name, cls in EVENT_TYPES.items()}
# Rows read per query: big enough to amortise the query, small enough that no statement stays
# open while the caller does other work between events (an open read would pin the WAL).
CHUNK = 64
# Seqs covered by one query of a read filtered by type (see read_envelopes).
TYPED_SPAN = 4096
_DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError)
_GLUED = GLUED + " AS e"
_BLOCK_SQL = "SELECT id, first, data FROM blocks WHERE id > ? AND id <= ? ORDER BY id LIMIT 1"
_COUNT_SQL = "SELECT COUNT(*), NULL FROM events WHERE id >= ? AND id <= ?"
# The rows of a block's range: how many there still are, and the digests as "seq:hex,...".
_DIGESTS_SQL = (f"SELECT COUNT(*), group_concat(CASE WHEN body IS NOT NULL THEN (id & {SEQ_MASK})"
                " || ':' || hex(body) END, ',') FROM events WHERE id >= ? AND id <= ?")
_decompress = zstandard.ZstdDecompressor().decompress


def to_rows(
    path: str, envelopes: Sequence[Envelope], last_seq: Callable[[int], int], bodies: BodyStore,
) -> tuple[list[tuple], dict[int, int]]:
    """Encode `envelopes` as rows; return them and each session's new last seq.

    An ApiResponse's body goes to `bodies` (queued for the same transaction); its row keeps
    the digest and a payload whose body is empty. Rows are plain JSON; `blocks.seal` packs
    them later, `BLOCK` at a time.

    Raises:
        SequenceGap: a seq does not follow its session's previous one.
        TypeError: an event outside `events.AnyEvent`.
        UnknownSession: from `last_seq`, for a session the file does not hold.
    """
    split, names = codec.split_envelope, _NAME_OF
    last: dict[int, int] = {}
    rows = []
    for env in envelopes:
        sid, seq = env.session, env.seq
        prev = last.get(sid)
        if prev is None:
            prev = last_seq(sid)
        if seq != prev + 1:
            raise SequenceGap(path, sid, prev + 1, seq)
        name = names.get(type(env.event))
        if name is None:
            raise TypeError(f"{type(env.event).__name__} is not in events.AnyEvent; not loggable")
        last[sid] = seq
        event, digest = env.event, None
        if type(event) is ApiResponse and event.body:
            digest = bodies.put(event.endpoint, event.body)
            env = replace(env, event=replace(event, body=b""))
        head, payload = split(env)
        rows.append(((sid << SEQ_BITS) | seq, name, head, payload, digest, None))
    return rows, last


def session_range(sid: int, after: int = 0) -> tuple[int, int]:
    """Return the ids (low exclusive, high inclusive) of session `sid`'s events after `after`."""
    base = sid << SEQ_BITS
    return base | after, base | SEQ_MASK


def read_envelopes(
    conn: sqlite3.Connection,
    path: str,
    sid: int,
    version: int,
    types: tuple[type[Event], ...] | None,
    after: int,
    bodies: BodyStore,
    lazy: bool = False,
) -> Iterator[Envelope]:
    """Yield session `sid`'s envelopes after seq `after`, decoding payloads of schema `version`
    and restoring each ApiResponse's body from `bodies` (unless `lazy`: see the module's
    docstring). The session's blocks come first (store/blocks.py), then its tail of rows.

    Raises:
        CorruptEvent: a payload does not decode.
        MissingBody: an event's body is not in the bodies table.
    """
    lo, top = session_range(sid, after)
    names = None if types is None else tuple(t.__name__ for t in types)
    while True:
        end = [lo]
        # One generator frame per event, not two: _blocks hands out a block's list at a time.
        for envelopes in _blocks(conn, path, sid, version, names, lo, top, bodies, lazy, end):
            yield from envelopes
        lo = end[0]
        try:
            if names is None:
                yield from _rows(conn, path, lo, top, version, bodies, lazy)
            else:
                yield from _typed_rows(conn, path, names, lo, top, version, bodies, lazy)
            return
        except _Sealed as sealed:
            # Another process sealed rows this read was about to glue: read them as a block.
            if conn.execute("SELECT 1 FROM blocks WHERE id > ? AND first <= ? LIMIT 1",
                            (sealed.after, sealed.after + 1)).fetchone() is None:
                raise CorruptEvent(path, sid, (sealed.after + 1) & SEQ_MASK,
                                   "an empty row outside any block") from None
            lo = sealed.after


class _Sealed(Exception):
    """The rows after `after` were sealed into a block since the read began."""

    def __init__(self, after: int) -> None:
        self.after = after


def _blocks(
    conn: sqlite3.Connection, path: str, sid: int, version: int, names: tuple[str, ...] | None,
    lo: int, top: int, bodies: BodyStore, lazy: bool, end: list[int],
) -> Iterator[list[Envelope]]:
    # Yield the envelopes of each block after id `lo`, a list a block; leave in end[0] the id
    # the rows take over at.
    while True:
        end[0] = lo
        wanted = None
        if names is not None:  # skip to the next block holding one of the types, if any
            nxt = _next_of(conn, names, lo, top)
            row = None if nxt is None else conn.execute(_BLOCK_SQL, (nxt - 1, top)).fetchone()
            if row is None:  # no more in blocks: the rows go on after the last block
                end[0] = _sealed_top(conn, lo, top)
                return
            if row[1] > nxt:
                return  # the next one is a row before a block (a read racing a sealing)
            qs = ", ".join("?" * len(names))
            wanted = [r[0] for r in conn.execute(
                f"SELECT id FROM events WHERE type IN ({qs}) AND id > ? AND id <= ? ORDER BY id",
                (*names, max(lo, row[1] - 1), row[0]))]
        else:
            row = conn.execute(_BLOCK_SQL, (lo, top)).fetchone()
            if row is None:
                return
        last, first, data = row
        envelopes = _decode_block(path, sid, version, lazy, first, last, data, lo, wanted)
        if envelopes:
            start = max(first, lo + 1)
            # A lazy read leaves the digests to body_of (one seek when asked): noting them
            # here cost ~0.1 us an event.
            rows, digests = conn.execute(_COUNT_SQL if lazy else _DIGESTS_SQL,
                                         (start, last)).fetchone()
            if wanted is None and rows != last - start + 1:
                # Rows deleted in SQL: the events table is the index of what the log holds.
                kept = {r[0] & SEQ_MASK for r in conn.execute(
                    "SELECT id FROM events WHERE id >= ? AND id <= ?", (start, last))}
                envelopes = [e for e in envelopes if e.seq in kept]
            if digests and envelopes:
                _restore_bodies(envelopes, _parse_digests(digests), bodies, lazy)
            yield envelopes
        lo = last


def _next_of(conn: sqlite3.Connection, names: tuple[str, ...], lo: int, top: int) -> int | None:
    # One seek of the type index per type: MIN over an IN list would scan every match.
    parts = " UNION ALL ".join(
        "SELECT MIN(id) AS m FROM events WHERE type = ? AND id > ? AND id <= ?" for _ in names)
    args = [a for name in names for a in (name, lo, top)]
    return conn.execute(f"SELECT MIN(m) FROM ({parts})", args).fetchone()[0]


def _sealed_top(conn: sqlite3.Connection, lo: int, top: int) -> int:
    last = conn.execute("SELECT MAX(id) FROM blocks WHERE id > ? AND id <= ?", (lo, top))
    return last.fetchone()[0] or lo


def _decode_block(
    path: str, sid: int, version: int, lazy: bool, first: int, last: int, data: bytes, lo: int,
    wanted: list[int] | None,
) -> list[Envelope]:
    try:
        array = _decompress(data)
    except zstandard.ZstdError as exc:
        raise CorruptEvent(path, sid, first & SEQ_MASK,
                           f"its block (to seq {last & SEQ_MASK}) does not decompress: {exc}"
                           ) from None
    decode = decode_envelopes_lazy if lazy else codec.decode_envelopes
    if wanted is None and lo < first and version == SCHEMA_VERSION:
        try:
            return decode(array)
        except _DECODE_ERRORS:
            pass  # find and name the bad envelope below
    parts = split_block(array)
    if len(parts) != last - first + 1:
        raise CorruptEvent(path, sid, first & SEQ_MASK,
                           f"its block (to seq {last & SEQ_MASK}) holds {len(parts)} envelopes, "
                           f"not {last - first + 1}")
    ids = wanted if wanted is not None else range(max(first, lo + 1), last + 1)
    if version == SCHEMA_VERSION:
        try:
            return decode(b"[" + b",".join([parts[i - first] for i in ids]) + b"]")
        except _DECODE_ERRORS:
            pass
    out = []
    for i in ids:
        try:
            head, payload = codec.split_stored(parts[i - first][:-1])
            out.append(codec.decode_envelope(head, payload, version))
        except _DECODE_ERRORS as exc:
            raise CorruptEvent(path, sid, i & SEQ_MASK, str(exc)) from None
    return out


def _rows(
    conn: sqlite3.Connection, path: str, lo: int, top: int, version: int, bodies: BodyStore,
    lazy: bool,
) -> Generator[Envelope, None, None]:
    rows_sql = f"FROM events WHERE id > ? AND id <= ? ORDER BY id LIMIT {CHUNK}"
    while True:
        n, last = yield from _chunk(conn, path, rows_sql, (lo, top), version, bodies, lazy)
        if n < CHUNK:
            return
        lo = last


def _typed_rows(
    conn: sqlite3.Connection, path: str, names: tuple[str, ...], lo: int, top: int,
    version: int, bodies: BodyStore, lazy: bool,
) -> Generator[Envelope, None, None]:
    # Rows of several types come out of the index type by type and need sorting, so each query
    # covers a fixed span of seqs (LIMIT would sort every remaining match, once per chunk).
    rows_sql = (f"FROM events WHERE id > ? AND id <= ? AND type IN ({', '.join('?' * len(names))})"
                " ORDER BY id")
    end = lo
    while lo < end or (end := _last_id(conn, lo, top)) > lo:
        hi = min(lo + TYPED_SPAN, end)
        yield from _chunk(conn, path, rows_sql, (lo, hi, *names), version, bodies, lazy)
        lo = hi


def _last_id(conn: sqlite3.Connection, lo: int, top: int) -> int:
    last = conn.execute("SELECT MAX(id) FROM events WHERE id > ? AND id <= ?", (lo, top))
    return last.fetchone()[0] or lo


def _chunk(
    conn: sqlite3.Connection, path: str, rows_sql: str, args: tuple, version: int,
    bodies: BodyStore, lazy: bool,
) -> Generator[Envelope, None, tuple[int, int]]:
    if version != SCHEMA_VERSION:
        return (yield from _one_by_one(conn, path, rows_sql, args, version, bodies, lazy))
    # The digests come along as "seq:hex,seq:hex" (group_concat skips the NULLs of other rows).
    sql = ("SELECT CAST(group_concat(e, ',') AS BLOB), count(*), max(id), group_concat(d, ',')"
           f" FROM (SELECT id, {_GLUED},"
           f" CASE WHEN body IS NOT NULL THEN (id & {SEQ_MASK}) || ':' || hex(body) END AS d"
           f" {rows_sql})")
    array, n, last, digests = conn.execute(sql, args).fetchone()
    if n:
        try:
            envelopes = (decode_envelopes_lazy if lazy else codec.decode_envelopes)(
                b"[" + array + b"]")
        except _DECODE_ERRORS:
            # Find and name the bad row; the good rows before it are still handed out.
            return (yield from _one_by_one(conn, path, rows_sql, args, version, bodies, lazy))
        if digests:
            _restore_bodies(envelopes, _parse_digests(digests), bodies, lazy)
        yield from envelopes
    return n, last


def _parse_digests(digests: str) -> dict[int, bytes]:
    wanted = {}
    for item in digests.split(","):
        seq, _, digest = item.partition(":")
        wanted[int(seq)] = bytes.fromhex(digest)
    return wanted


def _restore_bodies(envelopes: list[Envelope], wanted: dict[int, bytes], bodies: BodyStore,
                    lazy: bool) -> None:
    if lazy:  # only where to find them, for EventLog.body_of
        sid = envelopes[0].session
        bodies.note_refs(sid, wanted)
        return
    for i, env in enumerate(envelopes):
        digest = wanted.get(env.seq)
        if digest is not None:
            body = bodies.get(digest, env.session, env.seq)
            envelopes[i] = replace(env, event=replace(env.event, body=body))


def _one_by_one(
    conn: sqlite3.Connection, path: str, rows_sql: str, args: tuple, version: int,
    bodies: BodyStore, lazy: bool,
) -> Generator[Envelope, None, tuple[int, int]]:
    decode = codec.decode_envelope
    sql = f"SELECT id, head, unz(z, payload), body {rows_sql}"
    rows = conn.execute(sql, args).fetchall()
    for rowid, head, payload, digest in rows:
        if not head and not payload:
            raise _Sealed(rowid - 1)
        try:
            if not head:  # a row packed by layout 3: the frame held head and payload
                head, payload = codec.split_stored(payload)
            env = decode(head, payload, version)
        except _DECODE_ERRORS as exc:
            raise CorruptEvent(path, rowid >> SEQ_BITS, rowid & SEQ_MASK, str(exc)) from None
        if digest is not None and not lazy:
            body = bodies.get(digest, env.session, env.seq)
            env = replace(env, event=replace(env.event, body=body))
        yield env
    return len(rows), rows[-1][0] if rows else args[0]
