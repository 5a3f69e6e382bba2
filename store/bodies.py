"""Raw answer bodies stored once, zstd-compressed, by content digest.

An ApiResponse's body is the bulk of a recording (a 20-ad EP-0 page is 20-40 KB, and there
are up to 5 a second), and most of it repeats: the same advertisers, the same field names, often
the very same page. So the `events` row keeps only the body's digest (its `body` column) and the
payload's `body` is empty; the bytes go to `bodies` once per distinct digest, compressed with
zstd and a dictionary trained on earlier bodies of the same endpoint. The dictionaries live in
the log too (`dictionaries`), so the file is all a reader needs.

    bodies(digest BLOB PRIMARY KEY = blake2b-128 of the raw body, endpoint, dict -> dictionaries.id
           or 0 for none, size = raw length, data = the zstd frame)
    dictionaries(id INTEGER PRIMARY KEY, endpoint, samples, data = a zstd dictionary)

The writer trains an endpoint's first dictionary after `TRAIN_AT` of its bodies and trains
again at each later threshold on the most recent ones, since a market's ads and advertisers
drift; a body keeps the dictionary it was compressed with forever.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections import OrderedDict, deque

import zstandard

from store.errors import LogError

DIGEST_SIZE = 16
LEVEL = 9
DICT_SIZE = 96 * 1024
# Train an endpoint's dictionary after this many of its distinct bodies, then again at each of
# the later thresholds, then every RETRAIN_EVERY.
TRAIN_AT = (32, 256, 2048)
RETRAIN_EVERY = 8192
SAMPLES = 256  # most recent distinct bodies kept per endpoint to train on
_CACHE = 256  # decompressed bodies kept by digest (replays read the same page many times)

BODIES_DDL = """
CREATE TABLE bodies (
    digest BLOB PRIMARY KEY,
    endpoint TEXT NOT NULL,
    dict INTEGER NOT NULL,
    size INTEGER NOT NULL,
    data BLOB NOT NULL
)
"""
DICTIONARIES_DDL = """
CREATE TABLE dictionaries (
    id INTEGER PRIMARY KEY,
    endpoint TEXT NOT NULL,
    samples INTEGER NOT NULL,
    data BLOB NOT NULL
)
"""
_INSERT = "INSERT OR IGNORE INTO bodies (digest, endpoint, dict, size, data) VALUES (?, ?, ?, ?, ?)"


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


class _Endpoint:
    __slots__ = ("dict_id", "compressor", "count", "samples")

    def __init__(self) -> None:
        self.dict_id = 0
        self.compressor = zstandard.ZstdCompressor(level=LEVEL)
        self.count = 0  # distinct bodies this process stored
        self.samples: deque[bytes] = deque(maxlen=SAMPLES)


class BodyStore:
    """The bodies and dictionaries of one open log: compress on the way in, restore on the way out.

    `put` returns the digest and queues the row; the caller inserts `take_pending()` in the same
    transaction as the events that name it and calls `committed()` after the commit.
    """

    def __init__(self, conn: sqlite3.Connection, path: str) -> None:
        self._conn = conn
        self._path = path
        self._endpoints: dict[str, _Endpoint] = {}
        self._pending: dict[bytes, tuple] = {}
        self._decompressors: dict[int, zstandard.ZstdDecompressor] = {}
        self._cache: OrderedDict[bytes, bytes] = OrderedDict()
        self._loaded = False

    # --- writing ----------------------------------------------------------------------------

    def put(self, endpoint: str, body: bytes) -> bytes:
        """Store `body` (once per digest) and return its digest."""
        digest = digest_of(body)
        if digest in self._pending or digest in self._cache or self._has(digest):
            return digest
        ep = self._endpoint(endpoint)
        data = ep.compressor.compress(body)
        self._pending[digest] = (digest, endpoint, ep.dict_id, len(body), data)
        self._remember(digest, body)
        ep.count += 1
        ep.samples.append(body)
        if ep.count in TRAIN_AT or ep.count % RETRAIN_EVERY == 0:
            self._train(endpoint, ep)
        return digest

    def insert_pending(self) -> None:
        """Insert the queued bodies (inside the caller's transaction)."""
        if self._pending:
            self._conn.executemany(_INSERT, list(self._pending.values()))

    def committed(self) -> None:
        """Forget the queued bodies: the transaction that inserted them committed."""
        self._pending.clear()

    def rolled_back(self) -> None:
        """Forget the queued bodies and their cached copies: their transaction failed."""
        for digest in self._pending:
            self._cache.pop(digest, None)
        self._pending.clear()

    def _has(self, digest: bytes) -> bool:
        row = self._conn.execute("SELECT 1 FROM bodies WHERE digest = ?", (digest,)).fetchone()
        return row is not None

    def _endpoint(self, endpoint: str) -> _Endpoint:
        if not self._loaded:
            self._load_latest_dictionaries()
        ep = self._endpoints.get(endpoint)
        if ep is None:
            ep = self._endpoints[endpoint] = _Endpoint()
        return ep

    def _load_latest_dictionaries(self) -> None:
        self._loaded = True
        rows = self._conn.execute(
            "SELECT id, endpoint, data FROM dictionaries WHERE id IN "
            "(SELECT MAX(id) FROM dictionaries GROUP BY endpoint)")
        for dict_id, endpoint, data in rows:
            ep = self._endpoints[endpoint] = _Endpoint()
            ep.dict_id = dict_id
            ep.compressor = zstandard.ZstdCompressor(
                level=LEVEL, dict_data=zstandard.ZstdCompressionDict(data))

    def _train(self, endpoint: str, ep: _Endpoint) -> None:
        samples = list(ep.samples)
        try:
            trained = zstandard.train_dictionary(DICT_SIZE, samples, level=LEVEL)
        except zstandard.ZstdError:
            return  # too few or too alike samples: keep the current dictionary
        data = trained.as_bytes()
        # Its own transaction: a dictionary no body uses yet is harmless if the batch fails.
        cur = self._conn.execute(
            "INSERT INTO dictionaries (endpoint, samples, data) VALUES (?, ?, ?)",
            (endpoint, len(samples), data))
        ep.dict_id = cur.lastrowid
        ep.compressor = zstandard.ZstdCompressor(
            level=LEVEL, dict_data=zstandard.ZstdCompressionDict(data))

    # --- reading ----------------------------------------------------------------------------

    def get(self, digest: bytes, session: int, seq: int) -> bytes:
        """Return the raw body with this digest.

        Raises:
            MissingBody: the bodies table does not hold it.
            LogError: its frame or dictionary is damaged.
        """
        body = self._cache.get(digest)
        if body is not None:
            return body
        row = self._conn.execute("SELECT dict, data FROM bodies WHERE digest = ?",
                                 (digest,)).fetchone()
        if row is None:
            raise MissingBody(self._path, session, seq, digest)
        try:
            body = self._decompressor(row[0]).decompress(row[1])
        except zstandard.ZstdError as exc:
            raise LogError(self._path, f"session {session} seq {seq} in {self._path}: its answer "
                                       f"body {digest.hex()} does not decompress ({exc})") from None
        self._remember(digest, body)
        return body

    def _decompressor(self, dict_id: int) -> zstandard.ZstdDecompressor:
        d = self._decompressors.get(dict_id)
        if d is None:
            if dict_id == 0:
                d = zstandard.ZstdDecompressor()
            else:
                row = self._conn.execute("SELECT data FROM dictionaries WHERE id = ?",
                                         (dict_id,)).fetchone()
                if row is None:
                    raise LogError(self._path, f"{self._path}: dictionary {dict_id} is missing "
                                               "from the dictionaries table")
                d = zstandard.ZstdDecompressor(
                    dict_data=zstandard.ZstdCompressionDict(row[0]))
            self._decompressors[dict_id] = d
        return d

    def _remember(self, digest: bytes, body: bytes) -> None:
        self._cache[digest] = body
        if len(self._cache) > _CACHE:
            self._cache.popitem(last=False)
