"""Blocks: a session's events sealed, `BLOCK` at a time, into one zstd frame.

    blocks(id INTEGER PRIMARY KEY = the id of its last event, first = the id of its first,
           data = a zstd frame of the JSON array of its envelopes, one a line)

A row is appended to `events` as plain JSON (its `head` and `payload`, as before). Once a
session has `BLOCK` rows after its last block, the append that makes them so also seals them:
their envelopes, glued in SQL as a read glues them, go into one frame, and their rows keep
only `type`, `body` and the id (an empty `head` and `payload`), so the type index, `body_of`
and the digests still find them. Ending a session seals what is left of it. So a session is a
run of blocks (its sealed prefix) and then a tail of at most `BLOCK - 1` rows; a read
decompresses a block and decodes its array in one msgspec call.

Why (bench/bench_log.py; BENCHMARKS.md, "Events sealed in blocks"): one frame per row cost
~1 us an event whatever its size (the call into Python per row, ~0.22 us a frame inside zstd),
half of what a 500k events/s read allows; a 256-event frame decompresses at ~6M events/s. It is
also smaller: successive snapshots and requests repeat each other, which a per-row frame cannot
use (172 bytes an event at the live pace against 233).

The envelopes in a frame are separated by ",\\n": a newline never occurs inside msgspec's
JSON, so `split` finds them without parsing (a read filtered by type decodes only its own).
"""

from __future__ import annotations

import sqlite3

import zstandard

from store.schema import SEQ_BITS, SEQ_MASK

BLOCK = 256
LEVEL = 9
SEPARATOR = b",\n"

# One row as its envelope's JSON: head || payload. A row packed as layout 3 packed them (none
# in a layout-4 file: the upgrade unpacks them) would go through `unz` (store/payloads.py).
GLUED = "CASE WHEN z IS NULL THEN head || payload ELSE unz(z, payload) END || '}'"

_compressor = zstandard.ZstdCompressor(level=LEVEL)


def sealed_seq(conn: sqlite3.Connection, sid: int) -> int:
    """Return the seq of session `sid`'s last sealed event (0: none sealed)."""
    base = sid << SEQ_BITS
    row = conn.execute("SELECT MAX(id) FROM blocks WHERE id > ? AND id <= ?",
                       (base, base | SEQ_MASK)).fetchone()
    return (row[0] or base) & SEQ_MASK


def seal(conn: sqlite3.Connection, sid: int, last_seq: int, *, rest: bool = False) -> int:
    """Seal session `sid`'s rows up to `last_seq` into blocks of `BLOCK` (and, with `rest`,
    what remains into one smaller block); return how many rows were sealed.

    Call it inside the transaction that wrote the rows (or any transaction): a block and the
    emptying of its rows commit together.
    """
    done = sealed_seq(conn, sid)
    base = sid << SEQ_BITS
    sealed = 0
    while last_seq - done >= BLOCK or (rest and last_seq > done):
        lo, hi = base | done, base | min(done + BLOCK, last_seq)
        # Joined here, not by group_concat, whose order SQLite does not promise: a block's
        # order is for good, and readers find an envelope by its place in it.
        rows = conn.execute(f"SELECT CAST({GLUED} AS BLOB) FROM events WHERE id > ? AND id <= ?"
                            " ORDER BY id", (lo, hi)).fetchall()
        n = len(rows)
        if n != hi - lo:  # not every row is there: leave them as rows
            break
        data = SEPARATOR.join([r[0] for r in rows])
        conn.execute("INSERT INTO blocks (id, first, data) VALUES (?, ?, ?)",
                     (hi, lo + 1, _compressor.compress(b"[" + data + b"]")))
        # Deleted and inserted again rather than updated: rows shrunk in place leave their
        # pages nearly empty (a file 3x the size, measured), new rows fill pages again.
        keep = conn.execute("SELECT id, type, body FROM events WHERE id > ? AND id <= ?",
                            (lo, hi)).fetchall()
        conn.execute("DELETE FROM events WHERE id > ? AND id <= ?", (lo, hi))
        conn.executemany("INSERT INTO events (id, type, head, payload, body, z)"
                         " VALUES (?, ?, x'', x'', ?, NULL)", keep)
        sealed += n
        done = hi & SEQ_MASK
    return sealed


def split(array: bytes) -> list[bytes]:
    """Return the envelopes' JSON of a block's decompressed array, one bytes each."""
    return array[1:-1].split(SEPARATOR)
