"""zstd dictionaries trained from the log itself and kept in it, one series per kind of data.

A kind is an endpoint for answer bodies ("EP-0") or "event:<Type>" for event payloads. A kind's
first dictionary is trained after `TRAIN_AT[0]` of its samples and again at each later
threshold, then every `RETRAIN_EVERY`, on the most recent samples, since a market's ads and
advertisers drift; whatever was compressed with a dictionary keeps its id forever.

    dictionaries(id INTEGER PRIMARY KEY, kind, samples, data = a zstd dictionary)
"""

from __future__ import annotations

import sqlite3
from collections import deque

import zstandard

from store.errors import LogError

LEVEL = 9
TRAIN_AT = (32, 256, 2048)
RETRAIN_EVERY = 16384
SAMPLES = 256
# Training runs inline in the append that crosses a threshold, so its samples are capped in
# bytes too: 1 MB trains in ~0.1-0.3 s on this machine (256 EP-0 pages, 10 MB, took 1 s).
SAMPLE_BYTES = 1 << 20

DICTIONARIES_DDL = """
CREATE TABLE dictionaries (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    samples INTEGER NOT NULL,
    data BLOB NOT NULL
)
"""


class _Kind:
    __slots__ = ("dict_id", "compressor", "count", "samples", "size", "held")

    def __init__(self, size: int) -> None:
        self.dict_id = 0
        self.compressor = zstandard.ZstdCompressor(level=LEVEL)
        self.count = 0
        self.samples: deque[bytes] = deque()
        self.size = size
        self.held = 0  # bytes in samples

    def add(self, data: bytes) -> None:
        self.samples.append(data)
        self.held += len(data)
        while len(self.samples) > 1 and (len(self.samples) > SAMPLES
                                         or self.held > SAMPLE_BYTES):
            self.held -= len(self.samples.popleft())


class Dictionaries:
    """The dictionaries of one open log: the current compressor per kind, decompressors by id."""

    def __init__(self, conn: sqlite3.Connection, path: str) -> None:
        self._conn = conn
        self._path = path
        self._kinds: dict[str, _Kind] = {}
        self._decompressors: dict[int, zstandard.ZstdDecompressor] = {}
        self._loaded = False

    def note(self, kind: str, data: bytes, dict_size: int) -> None:
        """Count `data` as a sample of `kind`, training its next dictionary at a threshold."""
        k = self._kind(kind, dict_size)
        k.count += 1
        k.add(data)
        if k.count in TRAIN_AT or k.count % RETRAIN_EVERY == 0:
            self._train(kind, k)

    def compress(self, kind: str, data: bytes, dict_size: int) -> tuple[int, bytes]:
        """Compress `data` with `kind`'s current dictionary; return the dictionary's id (0:
        none yet) and the frame."""
        k = self._kind(kind, dict_size)
        return k.dict_id, k.compressor.compress(data)

    def decompressor(self, dict_id: int) -> zstandard.ZstdDecompressor:
        """Return the decompressor for frames made with dictionary `dict_id` (0: none).

        Raises:
            LogError: the dictionary is not in the file.
        """
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
                d = zstandard.ZstdDecompressor(dict_data=zstandard.ZstdCompressionDict(row[0]))
            self._decompressors[dict_id] = d
        return d

    def _kind(self, kind: str, size: int) -> _Kind:
        if not self._loaded:
            self._load_latest()
        k = self._kinds.get(kind)
        if k is None:
            k = self._kinds[kind] = _Kind(size)
        return k

    def _load_latest(self) -> None:
        self._loaded = True
        rows = self._conn.execute(
            "SELECT id, kind, data FROM dictionaries WHERE id IN "
            "(SELECT MAX(id) FROM dictionaries GROUP BY kind)")
        for dict_id, kind, data in rows:
            k = self._kinds[kind] = _Kind(len(data))
            k.dict_id, k.compressor = dict_id, _compressor(data)

    def _train(self, kind: str, k: _Kind) -> None:
        samples = list(k.samples)
        try:
            data = zstandard.train_dictionary(k.size, samples, level=LEVEL).as_bytes()
        except zstandard.ZstdError:
            return  # too few or too alike samples: keep the current dictionary
        # Committed on its own, before the rows that use it: a dictionary no row uses yet is
        # harmless if their batch then fails.
        cur = self._conn.execute(
            "INSERT INTO dictionaries (kind, samples, data) VALUES (?, ?, ?)",
            (kind, len(samples), data))
        k.dict_id, k.compressor = cur.lastrowid, _compressor(data)


def _compressor(data: bytes) -> zstandard.ZstdCompressor:
    return zstandard.ZstdCompressor(level=LEVEL, dict_data=zstandard.ZstdCompressionDict(data))
