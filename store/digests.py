"""The body digest of each answer in a session, in seq order, without reading the bodies.

An ApiResponse's row keeps its body's content address (`store.bodies`); a replay that streams
the recording uses it to name a body (identity, what to fetch when the answer is served)
instead of hashing 40 KB pages again or holding them.
"""

from __future__ import annotations

from collections.abc import Iterator

from store.bodies import MissingBody
from store.rows import read_envelopes, session_range
from store.schema import SEQ_MASK

CHUNK = 1024  # rows per query: no statement stays open between the caller's reads


def body_digests(log, sid: int, after_seq: int = 0) -> Iterator[tuple[int, bytes]]:
    """Yield (seq, digest) of session `sid`'s events that carry a stored body, in seq order.

    Raises:
        MissingBody: an event names a digest that the bodies table does not hold.
    """
    lo, top = session_range(sid, after_seq)
    sql = ("SELECT e.id, e.body, b.digest IS NULL FROM events e LEFT JOIN bodies b"
           " ON b.digest = e.body WHERE e.id > ? AND e.id <= ? AND e.body IS NOT NULL"
           f" ORDER BY e.id LIMIT {CHUNK}")
    while True:
        rows = log._conn.execute(sql, (lo, top)).fetchall()
        for rowid, digest, missing in rows:
            if missing:
                raise MissingBody(log.path, sid, rowid & SEQ_MASK, digest)
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
