"""Envelopes to `events` rows and back: the encoding, the seq checks and the chunked reader.

A read asks SQLite for CHUNK rows at a time already glued into one JSON array of envelopes
(`group_concat(head || payload || '}')`), which `codec.decode_envelopes` decodes in one call:
SQLite's C loop does the per-row work that the sqlite3 module would do in Python. Chunks are
small because the array is held whole while its envelopes are handed out: 64 rows read fastest
(256: -5%, 1,024: -15%, from allocating and collecting bigger lists). A payload that does not
decode sends its chunk through the row-at-a-time path, which names the bad seq; so do sessions
of an older schema, whose payloads pass through the codec's upcasters.

A lazy read (`lazy=True`) leaves each ApiResponse's body in the bodies table (the event's `body`
is empty; `EventLog.body_of` fetches it) and each BookSnapshot's ads as JSON until they are read
(events/lazy.py): on a recording's mix that is 2-3x more events a second for readers that touch
neither (bench/bench_log.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Generator, Iterator, Sequence

import msgspec
from msgspec.structs import replace

from events import EVENT_TYPES, SCHEMA_VERSION, ApiResponse, Envelope, Event
from events import codec
from events.lazy import decode_envelopes_lazy
from store.bodies import BodyStore
from store.payloads import PayloadPacker
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
# One row as its envelope's JSON. A packed row's head is inside its frame (and its `head` is
# empty), so only unpacked rows need the concatenation; skipping it for the rest, and the call
# into Python for unpacked rows, reads ~10% faster.
_GLUED = "CASE WHEN z IS NULL THEN head || payload ELSE unz(z, payload) END || '}' AS e"


def to_rows(
    path: str, envelopes: Sequence[Envelope], last_seq: Callable[[int], int], bodies: BodyStore,
    packer: PayloadPacker,
) -> tuple[list[tuple], dict[int, int]]:
    """Encode `envelopes` as rows; return them and each session's new last seq.

    An ApiResponse's body goes to `bodies` (queued for the same transaction); its row keeps
    the digest and a payload whose body is empty. Large payloads are packed by `packer`.

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
        head, payload, z = packer.pack(name, *split(env))
        rows.append(((sid << SEQ_BITS) | seq, name, head, payload, digest, z))
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
    docstring).

    Raises:
        CorruptEvent: a payload does not decode.
        MissingBody: an event's body is not in the bodies table.
    """
    lo, top = session_range(sid, after)
    if types is None:
        rows_sql = f"FROM events WHERE id > ? AND id <= ? ORDER BY id LIMIT {CHUNK}"
        while True:
            n, last = yield from _chunk(conn, path, rows_sql, (lo, top), version, bodies, lazy)
            if n < CHUNK:
                return
            lo = last
    # Rows of several types come out of the index type by type and need sorting, so each query
    # covers a fixed span of seqs (LIMIT would sort every remaining match, once per chunk).
    names = tuple(t.__name__ for t in types)
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
            _restore_bodies(envelopes, digests, bodies, lazy)
        yield from envelopes
    return n, last


def _restore_bodies(envelopes: list[Envelope], digests: str, bodies: BodyStore,
                    lazy: bool) -> None:
    wanted = {}
    for item in digests.split(","):
        seq, _, digest = item.partition(":")
        wanted[int(seq)] = bytes.fromhex(digest)
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
        try:
            if not head:  # a packed row: the frame held head and payload
                head, payload = codec.split_stored(payload)
            env = decode(head, payload, version)
        except _DECODE_ERRORS as exc:
            raise CorruptEvent(path, rowid >> SEQ_BITS, rowid & SEQ_MASK, str(exc)) from None
        if digest is not None and not lazy:
            body = bodies.get(digest, env.session, env.seq)
            env = replace(env, event=replace(env.event, body=body))
        yield env
    return len(rows), rows[-1][0] if rows else args[0]
