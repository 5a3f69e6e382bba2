"""Read a Parquet export (store/export.py) back as the log's reading API, for the backtester.

`open_books(DIR)` answers `sessions()`, `session(id)` and `events(id, types)` for BookSnapshot
and MyAdsLoaded as an EventLog does, with the same Envelopes (session, seq, t, ts_ms, source,
cause) and the same Decimals, so a backtest of an export equals one of the log.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import msgspec

from events import AdRepriced, BookSnapshot, Envelope, MyAd, MyAdsLoaded, RepriceDecided
from store.errors import LogError, UnknownSession
from store.export import FORMAT, pyarrow_modules
from store.log import SessionInfo

_ENVELOPE = ("session", "seq", "ts_ms", "t", "source", "cause")
_SNAPSHOT_COLUMNS = _ENVELOPE + ("event",)
_snapshots = msgspec.json.Decoder(list[BookSnapshot])
_MY_AD_COLUMNS = _ENVELOPE + tuple(f for f in MyAd.__struct_fields__ if f not in ("asset", "fiat"))


class NotAnExport(LogError):
    """The directory is not (or no longer) a readable Parquet export of this bot."""


def open_books(path: str | Path) -> ParquetBooks:
    """Open the Parquet export at `path` (a directory).

    Raises:
        NotAnExport: no sessions.parquet, a foreign one, or an unreadable file.
        ExportError: pyarrow is not installed.
    """
    return ParquetBooks(Path(path))


class ParquetBooks:
    """A Parquet export read as a log of sessions holding books and my ads."""

    def __init__(self, root: Path) -> None:
        self.pa, self.pq = pyarrow_modules()
        self.root = root
        self.path = str(root)
        index = root / "sessions.parquet"
        if not index.is_file():
            raise NotAnExport(self.path, f"{root} is not a Parquet export of this bot "
                                         "(no sessions.parquet; make one with run.py export)")
        table = self._read(index, ("id", "mode", "started_ms", "ended_ms", "config", "version",
                                   "end_reason", "events", "schema_version"))
        meta = table.schema.metadata or {}
        if meta.get(b"p2pbot_export") != FORMAT.encode():
            raise NotAnExport(self.path, f"{index} was not written by run.py export "
                                         f"(format {FORMAT})")
        self._sessions = {r["id"]: SessionInfo(**{**r, "end_reason": r["end_reason"] or ""})
                          for r in table.to_pylist()}

    def __enter__(self) -> ParquetBooks:
        return self

    def __exit__(self, *exc_info: object) -> None:
        pass

    def close(self) -> None:
        """Nothing to close: each read opens and closes its files."""

    def sessions(self) -> list[SessionInfo]:
        """Return the exported sessions, ordered by id."""
        return [self._sessions[k] for k in sorted(self._sessions)]

    def session(self, sid: int) -> SessionInfo:
        """Return session `sid`.

        Raises:
            UnknownSession: the export does not hold it.
        """
        if sid not in self._sessions:
            raise UnknownSession(self.path, sid, sorted(self._sessions))
        return self._sessions[sid]

    def events(self, sid: int, types: tuple[type, ...] | None = None) -> Iterator[Envelope]:
        """Yield session `sid`'s BookSnapshots, MyAdsLoaded, RepriceDecided and AdRepriced (the
        ones asked for; by default the first two) in seq order.

        Raises:
            UnknownSession: the export does not hold it.
            NotAnExport: one of its files cannot be read.
        """
        self.session(sid)
        types = types or (BookSnapshot, MyAdsLoaded)
        streams = []
        if MyAdsLoaded in types:
            streams.append(self._my_ads(sid))
        if BookSnapshot in types:
            streams.append(self._books(sid))
        for table, cls in (("decisions", RepriceDecided), ("reprices", AdRepriced)):
            if cls in types:
                streams.append(self._rows(table, cls, sid))
        if len(streams) == 1:
            return streams[0]
        return iter(sorted((e for s in streams for e in s), key=lambda e: e.seq))

    def _rows(self, table: str, cls: type, sid: int) -> Iterator[Envelope]:
        """One event per row of an exported events table (`store.export_schema.TABLES`): the
        backtest's fill model measures the reaction time from decisions and reprices."""
        names = tuple(cls.__struct_fields__)
        files = sorted((self.root / table).glob(f"asset=*/fiat=*/date=*/session-{sid}-*.parquet"))
        if not files:
            return iter(())
        c = self._columns(table, sid, _ENVELOPE + ("kind",) + names)
        out = []
        for k in range(len(c["seq"])):
            if c["kind"][k] != cls.__name__:
                continue
            try:
                event = msgspec.convert({n: c[n][k] for n in names},
                                        cls, strict=False)
            except msgspec.ValidationError as exc:
                raise NotAnExport(self.path, f"session {sid}'s {table} in {self.root} do not "
                                             f"decode: {exc}") from None
            out.append(Envelope(session=c["session"][k], seq=c["seq"][k], ts_ms=c["ts_ms"][k],
                                t=c["t"][k], source=c["source"][k], cause=c["cause"][k],
                                event=event))
        return iter(out)

    # --- reading ----------------------------------------------------------------------------

    def _read(self, path: Path, columns: tuple[str, ...]):
        try:
            table = self.pq.read_table(path)
        except (OSError, self.pa.ArrowException) as exc:
            raise NotAnExport(self.path, f"{path} is not a readable Parquet file (truncated or "
                                         f"foreign?): {str(exc).splitlines()[0][:120]}") from None
        missing = [c for c in columns if c not in table.column_names]
        if missing:
            raise NotAnExport(self.path, f"{path} lacks the column(s) {', '.join(missing)}: "
                                         "not a run.py export")
        return table.select(list(columns))

    def _columns(self, table: str, sid: int, columns: tuple[str, ...]) -> dict[str, list]:
        files = sorted((self.root / table).glob(f"asset=*/fiat=*/date=*/session-{sid}-*.parquet"))
        columns_out = columns + ("asset", "fiat")
        if not files:
            return {c: [] for c in columns_out}
        parts = []
        for f in files:
            table = self._read(f, columns)
            for key in ("asset", "fiat"):  # partition keys live in the path, not the file
                value = next(p for p in f.parts if p.startswith(key + "=")).partition("=")[2]
                table = table.append_column(key, self.pa.array([value] * len(table),
                                                               self.pa.string()))
            parts.append(table)
        merged = self.pa.concat_tables(parts)
        seq = merged.column("seq")
        if len(parts) > 1 and not self._ascending(seq):  # several markets in one session
            merged = merged.sort_by("seq")
        return {c: merged.column(c).to_pylist() for c in columns_out}

    def _ascending(self, seq) -> bool:
        import pyarrow.compute as pc

        n = len(seq)
        return n < 2 or pc.all(pc.greater(seq.slice(1), seq.slice(0, n - 1))).as_py()

    def _books(self, sid: int) -> Iterator[Envelope]:
        c = self._columns("snapshots", sid, _SNAPSHOT_COLUMNS)
        if not c["seq"]:
            return iter(())
        try:
            snaps = _snapshots.decode(b"[" + b",".join(c["event"]) + b"]")
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise NotAnExport(self.path, f"session {sid}'s snapshots in {self.root} do not "
                                         f"decode: {exc}") from None
        return (Envelope(session=a, seq=b, ts_ms=ts, t=t, source=src, cause=cause, event=e)
                for a, b, ts, t, src, cause, e in zip(c["session"], c["seq"], c["ts_ms"], c["t"],
                                                      c["source"], c["cause"], snaps))

    def _my_ads(self, sid: int) -> Iterator[Envelope]:
        c = self._columns("my_ads", sid, _MY_AD_COLUMNS)
        by_seq: dict[int, list[MyAd]] = {}
        first: dict[int, int] = {}
        for k, seq in enumerate(c["seq"]):
            first.setdefault(seq, k)
            fields = {f: c[f][k] for f in MyAd.__struct_fields__}  # asset, fiat: the path's
            for f in ("price", "surplus", "min_amount", "max_amount"):
                fields[f] = Decimal(fields[f])
            fields["pay_methods"] = tuple(fields["pay_methods"])
            by_seq.setdefault(seq, []).append(MyAd(**fields))
        for seq, ads in by_seq.items():
            k = first[seq]
            yield Envelope(session=c["session"][k], seq=seq, ts_ms=c["ts_ms"][k], t=c["t"][k],
                           source=c["source"][k], cause=c["cause"][k],
                           event=MyAdsLoaded(ads=tuple(ads)))
