"""Envelopes to `events` rows and back: the encoding, the seq checks and the chunked reader."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence

import msgspec

from events import EVENT_TYPES, Envelope, Event
from events import codec
from store.errors import CorruptEvent, SequenceGap

INSERT = "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)"

_NAME_OF = {cls: name for name, cls in EVENT_TYPES.items()}
# Rows read per query: big enough to amortise the query, small enough that no statement stays
# open while the caller does other work between events (an open read would pin the WAL).
CHUNK = 4096


def to_rows(
    path: str, envelopes: Sequence[Envelope], last_seq: Callable[[int], int]
) -> tuple[list[tuple], dict[int, int]]:
    """Encode `envelopes` as rows; return them and each session's new last seq.

    Raises:
        SequenceGap: a seq does not follow its session's previous one.
        TypeError: an event outside `events.AnyEvent`.
        UnknownSession: from `last_seq`, for a session the file does not hold.
    """
    encode, names = codec.encode, _NAME_OF
    last: dict[int, int] = {}
    rows = []
    for env in envelopes:
        sid, seq, event = env.session, env.seq, env.event
        prev = last.get(sid)
        if prev is None:
            prev = last_seq(sid)
        if seq != prev + 1:
            raise SequenceGap(path, sid, prev + 1, seq)
        name = names.get(type(event))
        if name is None:
            raise TypeError(f"{type(event).__name__} is not in events.AnyEvent; not loggable")
        last[sid] = seq
        rows.append((sid, seq, env.ts_ms, env.t, env.source, env.cause, name, encode(event)))
    return rows, last


def read_envelopes(
    conn: sqlite3.Connection,
    path: str,
    sid: int,
    version: int,
    types: tuple[type[Event], ...] | None,
    after: int,
) -> Iterator[Envelope]:
    """Yield session `sid`'s envelopes after seq `after`, decoding payloads of schema `version`.

    Raises:
        CorruptEvent: a payload does not decode.
    """
    where, names = "", ()
    if types is not None:
        names = tuple(t.__name__ for t in types)
        where = f" AND type IN ({', '.join('?' * len(names))})"
    sql = (f"SELECT seq, ts_ms, t, source, cause, payload FROM events"
           f" WHERE session = ? AND seq > ?{where} ORDER BY seq LIMIT {CHUNK}")
    decode = codec.decode
    while True:
        rows = conn.execute(sql, (sid, after, *names)).fetchall()
        for seq, ts_ms, t, source, cause, payload in rows:
            try:
                event = decode(payload, version)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                raise CorruptEvent(path, sid, seq, str(exc)) from None
            yield Envelope(session=sid, seq=seq, ts_ms=ts_ms, t=t, source=source, cause=cause,
                           event=event)
        if len(rows) < CHUNK:
            return
        after = rows[-1][0]
