"""Raw answer bodies stored once, zstd-compressed, by content digest.

An ApiResponse's body is the bulk of a recording (a 20-ad EP-0 page is 20-40 KB, and there
are up to 5 a second), and most of it repeats: the same advertisers, the same field names, the
same page with two prices moved. So the `events` row keeps only the body's digest (its `body`
column) and the payload's `body` is empty; the bytes go to `bodies` once per distinct digest:

    bodies(digest BLOB PRIMARY KEY = BLAKE2b-128 of the raw body, endpoint,
           dict = dictionaries.id the frame was made with (0: none), ref = digest of the
           key body this one is a delta against (NULL: a key body itself),
           size = raw length, data = the zstd frame)

A key body is compressed with the endpoint's dictionary (trained from the log's earlier bodies,
store/zdicts.py). Any other body is a zstd frame whose dictionary is one of the last `KEYS` key
bodies of its endpoint, as raw content: successive pages of a book differ in a few prices, so a
40 KB page costs a few hundred bytes. A body becomes a key body when no recent key body makes a
delta smaller than a dictionary frame would be. Deltas refer to key bodies only, so any body is
at most two frames away.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections import OrderedDict

import zstandard

from store.errors import LogError
from store.zdicts import Dictionaries

DIGEST_SIZE = 16
BODY_DICT_SIZE = 96 * 1024
KEYS = 8  # recent key bodies per endpoint tried as a delta's reference, newest first
DELTA_MIN = 1024  # smaller bodies are dictionary frames only
GOOD_DELTA = 64  # a delta under 1/64 of the body is taken without trying older keys
_CACHE = 256  # decompressed bodies kept by digest (replays read the same page many times)
_REFS = 4096  # digests noted by lazy reads

BODIES_DDL = """
CREATE TABLE bodies (
    digest BLOB PRIMARY KEY,
    endpoint TEXT NOT NULL,
    dict INTEGER NOT NULL,
    ref BLOB,
    size INTEGER NOT NULL,
    data BLOB NOT NULL
)
"""
_INSERT = ("INSERT OR IGNORE INTO bodies (digest, endpoint, dict, ref, size, data)"
           " VALUES (?, ?, ?, ?, ?, ?)")


class MissingBody(LogError):
    """An event names a body digest that the bodies table does not hold."""

    def __init__(self, path: str, session: int, seq: int, digest: bytes) -> None:
        super().__init__(path, f"session {session} seq {seq} in {path}: its answer body "
                               f"{digest.hex()} is missing from the bodies table")
        self.session = session
        self.seq = seq
        self.digest = digest


def digest_of(body: bytes) -> bytes:
    """Return the body's content address: its 128-bit BLAKE2b digest."""
    return hashlib.blake2b(body, digest_size=DIGEST_SIZE).digest()


def _raw_dict(body: bytes) -> zstandard.ZstdCompressionDict:
    return zstandard.ZstdCompressionDict(body, dict_type=zstandard.DICT_TYPE_RAWCONTENT)


class BodyStore:
    """The bodies of one open log: compress on the way in, restore on the way out.

    `put` returns the digest and queues the row; the caller inserts them with `insert_pending()`
    in the transaction that adds the events naming them, then calls `committed()` (or
    `rolled_back()`).
    """

    def __init__(self, conn: sqlite3.Connection, path: str, dicts: Dictionaries) -> None:
        self._conn = conn
        self._path = path
        self._dicts = dicts
        self._keys: dict[str, list[tuple[bytes, zstandard.ZstdCompressor]]] = {}
        self._pending: dict[bytes, tuple] = {}
        self._deltas: OrderedDict[bytes, zstandard.ZstdDecompressor] = OrderedDict()
        self._cache: OrderedDict[bytes, bytes] = OrderedDict()
        self._refs: dict[tuple[int, int], bytes] = {}  # (session, seq) -> digest, lazy reads

    # --- writing ----------------------------------------------------------------------------

    def put(self, endpoint: str, body: bytes) -> bytes:
        """Store `body` (once per digest) and return its digest."""
        digest = digest_of(body)
        if digest in self._pending or digest in self._cache or self._has(digest):
            return digest
        self._dicts.note(endpoint, body, BODY_DICT_SIZE)
        ref, frame = self._best_delta(endpoint, body)
        dict_id = 0
        if ref is None or len(frame) > len(body) // GOOD_DELTA:
            dict_id, key_frame = self._dicts.compress(endpoint, body, BODY_DICT_SIZE)
            if ref is None or len(key_frame) <= len(frame):
                ref, frame = None, key_frame
                if len(body) >= DELTA_MIN:
                    self._add_key(endpoint, digest, body)
            else:
                dict_id = 0
        self._pending[digest] = (digest, endpoint, dict_id, ref, len(body), frame)
        self._remember(digest, body)
        return digest

    def _best_delta(self, endpoint: str, body: bytes) -> tuple[bytes | None, bytes]:
        best: tuple[bytes | None, bytes] = (None, b"")
        if len(body) < DELTA_MIN:
            return best
        for ref, compressor in reversed(self._keys.get(endpoint, ())):
            frame = compressor.compress(body)
            if best[0] is None or len(frame) < len(best[1]):
                best = (ref, frame)
            if len(frame) <= len(body) // GOOD_DELTA:
                break
        return best

    def _add_key(self, endpoint: str, digest: bytes, body: bytes) -> None:
        keys = self._keys.setdefault(endpoint, [])
        keys.append((digest, zstandard.ZstdCompressor(level=1, dict_data=_raw_dict(body))))
        del keys[:-KEYS]

    def insert_pending(self) -> None:
        """Insert the queued bodies (inside the caller's transaction)."""
        if self._pending:
            self._conn.executemany(_INSERT, list(self._pending.values()))

    def committed(self) -> None:
        """Forget the queued bodies: the transaction that inserted them committed."""
        self._pending.clear()

    def rolled_back(self) -> None:
        """Forget the queued bodies, their cached copies and any key among them."""
        for digest in self._pending:
            self._cache.pop(digest, None)
        for endpoint, keys in self._keys.items():
            keys[:] = [k for k in keys if k[0] not in self._pending]
        self._pending.clear()

    def _has(self, digest: bytes) -> bool:
        row = self._conn.execute("SELECT 1 FROM bodies WHERE digest = ?", (digest,)).fetchone()
        return row is not None

    # --- reading ----------------------------------------------------------------------------

    def get(self, digest: bytes, session: int, seq: int) -> bytes:
        """Return the raw body with this digest.

        Raises:
            MissingBody: the bodies table does not hold it (or the key body it refers to).
            LogError: its frame or dictionary is damaged.
        """
        body = self._cache.get(digest)
        if body is not None:
            return body
        row = self._conn.execute("SELECT dict, ref, data FROM bodies WHERE digest = ?",
                                 (digest,)).fetchone()
        if row is None:
            raise MissingBody(self._path, session, seq, digest)
        dict_id, ref, frame = row
        try:
            if ref is None:
                body = self._dicts.decompressor(dict_id).decompress(frame)
            else:
                body = self._delta(ref, session, seq).decompress(frame)
        except zstandard.ZstdError as exc:
            raise LogError(self._path, f"session {session} seq {seq} in {self._path}: its answer "
                                       f"body {digest.hex()} does not decompress ({exc})") from None
        self._remember(digest, body)
        return body

    def note_refs(self, session: int, digests: dict[int, bytes]) -> None:
        """Remember the body digests of session `session`'s events by seq, as a lazy read
        hands them out (a few thousand at most: the latest chunks' are what get asked for)."""
        if len(self._refs) > _REFS:
            self._refs.clear()
        for seq, digest in digests.items():
            self._refs[session, seq] = digest

    def ref(self, session: int, seq: int) -> bytes | None:
        """Return the body digest of event `seq` of `session` if a lazy read noted it."""
        return self._refs.get((session, seq))

    def _delta(self, ref: bytes, session: int, seq: int) -> zstandard.ZstdDecompressor:
        d = self._deltas.get(ref)
        if d is None:
            d = zstandard.ZstdDecompressor(dict_data=_raw_dict(self.get(ref, session, seq)))
            self._deltas[ref] = d
            if len(self._deltas) > 2 * KEYS:
                self._deltas.popitem(last=False)
        return d

    def _remember(self, digest: bytes, body: bytes) -> None:
        self._cache[digest] = body
        if len(self._cache) > _CACHE:
            self._cache.popitem(last=False)
