"""The body digest of each answer in a session, in seq order, without reading the bodies.

An ApiResponse's row keeps its body's content address (`store.bodies`); a replay that streams
the recording uses it to name a body (identity, what to fetch when the answer is served)
instead of hashing 40 KB pages again or holding them.
"""

from __future__ import annotations

from collections.abc import Iterator

from store.rows import read_envelopes, session_range
from store.schema import SEQ_MASK

CHUNK = 1024  # rows per query: no statement stays open between the caller's reads


def body_digests(log, sid: int, after_seq: int = 0) -> Iterator[tuple[int, bytes]]:
    """Yield (seq, digest) of session `sid`'s events that carry a stored body, in seq order."""
    lo, top = session_range(sid, after_seq)
    sql = (f"SELECT id, body FROM events WHERE id > ? AND id <= ? AND body IS NOT NULL"
           f" ORDER BY id LIMIT {CHUNK}")
    while True:
        rows = log._conn.execute(sql, (lo, top)).fetchall()
        for rowid, digest in rows:
            yield rowid & SEQ_MASK, digest
        if len(rows) < CHUNK:
            return
        lo = rows[-1][0]


class _NoBodies:
    """A body store that restores no body: the reader leaves each answer's body empty."""

    def get(self, digest: bytes, session: int, seq: int) -> bytes:
        return b""


def events_without_bodies(log, sid: int, after_seq: int = 0) -> Iterator:
    """Iterate session `sid`'s envelopes like `EventLog.events`, but leave stored answer
    bodies empty (`body_digests` names them): no body is read or decompressed."""
    version = log.session(sid).schema_version
    return read_envelopes(log._conn, log.path, sid, version, None, after_seq, _NoBodies())
