"""Layout 3's event payloads, each compressed with a per-type dictionary trained from the log.

Layout 4 no longer writes them (store/blocks.py seals events a block at a time: one frame per
row cost ~1 us an event to read back); `unz` still reads them, for `run.py upgrade` and any row
of that kind, and `pack` is how layout 3 wrote them (tests/oldlayout.py makes such files).
What layout 3 did:

After the bodies left them, most of a recording's bytes are BookSnapshots (20 ads, ~1.7 KB of
JSON each), ApiRequests and RepriceDecided verdicts, each much like the one before. A payload
of at least `MIN_SIZE` bytes (with its head) whose type has a trained dictionary is stored as a zstd frame and
its row's `z` column names the dictionary; other payloads stay JSON (`z` NULL). A packed row's
frame holds the envelope's head too (its `head` column is empty): the head is ~95 bytes of
JSON that changes little from row to row. Readers glue rows into one JSON array in SQLite as
before, through the SQL function `unz(z, payload)` that every connection of `store` registers.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import zstandard

from store.errors import LogError
from store.zdicts import Dictionaries

MIN_SIZE = 128
PAYLOAD_DICT_SIZE = 16 * 1024


class PayloadPacker:
    """Pack payloads on the way in; `unz` unpacks them on the way out."""

    def __init__(self, dicts: Dictionaries) -> None:
        self._dicts = dicts

    def pack(self, type_name: str, head: bytes, payload: bytes
             ) -> tuple[bytes, bytes, int | None]:
        """Return the head and payload to store and the row's `z` (None: stored as JSON).

        A packed row's head is empty and its payload the frame of head and payload together.
        """
        both = head + payload
        if len(both) < MIN_SIZE:
            return head, payload, None
        kind = "event:" + type_name
        self._dicts.note(kind, both, PAYLOAD_DICT_SIZE)
        dict_id, frame = self._dicts.compress(kind, both, PAYLOAD_DICT_SIZE)
        if dict_id == 0:
            return head, payload, None  # no dictionary yet: plain zstd gains little here
        return b"", frame, dict_id

    def register(self, conn: sqlite3.Connection) -> None:
        """Make `unz(z, payload)` available to SQL on `conn`."""
        # Called by SQLite once per row read: one dict lookup to the bound decompress method.
        decompress: dict[int, Callable[[bytes], bytes]] = {}

        def unz(z, payload):
            if z is None:
                return payload
            try:
                fn = decompress.get(z)
                if fn is None:
                    fn = decompress[z] = self._dicts.decompressor(z).decompress
                return fn(payload)
            except (zstandard.ZstdError, LogError):
                return b"!"  # fails to decode, so the reader names the row
        conn.create_function("unz", 2, unz, deterministic=True)
