"""Export sessions of a log to Parquet, partitioned by asset/fiat/date, for DuckDB, pandas or a
cluster (`backtest DIR --sweep ... --cluster ADDRESS`).

    DIR/sessions.parquet                                    one row per exported session
    DIR/<table>/asset=USDT/fiat=NGN/date=2026-01-01/session-<id>-<part>.parquet

Tables: `books` (one row per ad per snapshot: rank 1.. best first; a snapshot with no ads is one
row with rank 0), `snapshots` (one row per BookSnapshot, the event as the log's JSON in column
`event`: what the backtester reads, decoded in one call per file as the log's reader does, where
rebuilding twenty ads from `books` row by row ran 6x slower than the log), `my_ads` (MyAdsLoaded, one row per ad), `decisions` (RepriceDecided with rule
and reason), `reprices` (AdRepriced), `orders` (OrderOpened and OrderStatusChanged, `kind`
says which) and `backtests` (BacktestCompleted: a strategy's fills over its sources). Each row
carries its envelope's session, seq, ts_ms, t, source and cause. Money is text, exactly as
logged (`CAST(price AS DECIMAL(38, 8))` in DuckDB): a float would not round-trip. The date is
the envelope's UTC date; books take asset and fiat from the snapshot, other tables from the
session's [market]. Exporting a session again overwrites its files and nothing else.

pyarrow is an optional dependency (`pip install -e '.[parquet]'`); without it the command says
so in one line.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path

import msgspec

from events import BookSnapshot, Envelope, MyAdsLoaded, codec
from store.errors import LogError
from store.export_schema import TABLES, schemas, sessions_schema

PART_ROWS = 250_000  # rows per file: bounded memory however long the session
FORMAT = "1"  # written to sessions.parquet's metadata; the reader checks it
BOOK_FIELDS = ("adv_no", "price", "surplus", "min_amount", "max_amount", "pay_methods",
               "nickname", "month_orders", "finish_rate", "mine", "user_type")


class ExportError(LogError):
    """The export cannot run; one line."""


def pyarrow_modules():
    """Return (pyarrow, pyarrow.parquet), or raise ExportError naming the extra to install."""
    try:
        import pyarrow
        import pyarrow.parquet as pq
    except ImportError:
        raise ExportError("", "Parquet needs pyarrow: pip install -e '.[parquet]'") from None
    return pyarrow, pq


class ExportReport(msgspec.Struct, frozen=True, kw_only=True):
    sessions: tuple[int, ...]
    rows: dict[str, int]
    files: int


def export(log, to: str | Path, session_ids: Sequence[int] | None = None) -> ExportReport:
    """Write the sessions (default: every session of the log) to Parquet under `to`.

    Raises:
        ExportError: pyarrow missing, or `to` is a file.
        UnknownSession: an id the log does not hold.
    """
    pa, pq = pyarrow_modules()
    out = Path(to)
    if out.exists() and not out.is_dir():
        raise ExportError(str(out), f"cannot export to {out}: it is a file, not a directory")
    infos = [log.session(i) for i in session_ids] if session_ids else log.sessions()
    rows: dict[str, int] = {}
    files = 0
    for info in infos:
        for sink in _export_session(log, info.id, _market(info.config), out, pa, pq):
            rows[sink.table] = rows.get(sink.table, 0) + sink.written
            files += sink.files
    _write_sessions(out, infos, pa, pq)
    return ExportReport(sessions=tuple(i.id for i in infos), rows=rows, files=files + 1)


def _market(config: str) -> tuple[str, str]:
    try:
        raw = msgspec.json.decode(config)
        market = (raw.get("bot") or raw).get("market") or {}
        return str(market.get("asset", "")), str(market.get("fiat", ""))
    except (msgspec.DecodeError, AttributeError):
        return "", ""


def _date(ts_ms: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ts_ms / 1000))


def _envelope_row(env: Envelope) -> dict:
    return {"session": env.session, "seq": env.seq, "ts_ms": env.ts_ms, "t": env.t,
            "source": env.source, "cause": env.cause}


def _book_rows(env: Envelope) -> Iterable[tuple[tuple[str, str, str], dict]]:
    snap: BookSnapshot = env.event
    key = (snap.asset, snap.fiat, _date(env.ts_ms))
    base = {**_envelope_row(env), "side": snap.ad_side, "pages": snap.pages,
            "complete": snap.complete}
    if not snap.ads:
        yield key, {**base, "rank": 0, **dict.fromkeys(BOOK_FIELDS)}
    for rank, ad in enumerate(snap.ads, 1):
        row = {**base, "rank": rank}
        for f in BOOK_FIELDS:
            v = getattr(ad, f)
            row[f] = str(v) if isinstance(v, Decimal) else list(v) if isinstance(v, tuple) else v
        yield key, row


def _my_ad_rows(env: Envelope, market: tuple[str, str]):
    for ad in env.event.ads:
        row = {**_envelope_row(env), **msgspec.to_builtins(ad)}
        del row["asset"], row["fiat"]  # the partition's
        yield (ad.asset, ad.fiat, _date(env.ts_ms)), row


def _event_rows(env: Envelope, market: tuple[str, str]):
    row = {**_envelope_row(env), **msgspec.to_builtins(env.event)}
    row["kind"] = row.pop("type")
    yield (*market, _date(env.ts_ms)), row


class _Sink:
    """Rows of one table of one session, flushed to a new part file every PART_ROWS rows."""

    def __init__(self, out: Path, table: str, sid: int, schema, pa, pq) -> None:
        self.out, self.table, self.sid = out, table, sid
        self.schema, self.pa, self.pq = schema, pa, pq
        self.rows: dict[tuple[str, str, str], list[dict]] = {}
        self.parts: dict[tuple[str, str, str], int] = {}
        self.written = 0
        self.files = 0

    def add(self, key, row) -> None:
        bucket = self.rows.setdefault(key, [])
        bucket.append(row)
        if len(bucket) >= PART_ROWS:
            self._flush(key)

    def close(self) -> None:
        for key in list(self.rows):
            self._flush(key)

    def _flush(self, key) -> None:
        rows = self.rows.pop(key, [])
        if not rows:
            return
        asset, fiat, date = key
        folder = self.out / self.table / f"asset={asset}" / f"fiat={fiat}" / f"date={date}"
        if key not in self.parts:
            folder.mkdir(parents=True, exist_ok=True)
            for old in folder.glob(f"session-{self.sid}-*.parquet"):
                old.unlink()  # a re-export replaces this session's files
        part = self.parts.get(key, 0)
        self.parts[key] = part + 1
        table = self.pa.Table.from_pylist(rows, schema=self.schema)
        tmp = folder / f".session-{self.sid}-{part:04d}.parquet.tmp"
        self.pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, folder / f"session-{self.sid}-{part:04d}.parquet")
        self.written += len(rows)
        self.files += 1


def _export_session(log, sid: int, market, out: Path, pa, pq):
    tables = schemas(pa)
    sinks = {name: _Sink(out, name, sid, tables[name], pa, pq) for name in tables}
    wanted = (BookSnapshot, MyAdsLoaded) + tuple(t for ts in TABLES.values() for t in ts)
    table_of = {t: name for name, ts in TABLES.items() for t in ts}
    for env in log.events(sid, types=wanted):
        event = env.event
        if type(event) is BookSnapshot:
            for key, row in _book_rows(env):
                sinks["books"].add(key, row)
            sinks["snapshots"].add((event.asset, event.fiat, _date(env.ts_ms)),
                                   {**_envelope_row(env), "event": codec.encode(event)})
        elif type(event) is MyAdsLoaded:
            for key, row in _my_ad_rows(env, market):
                sinks["my_ads"].add(key, row)
        else:
            name = table_of[type(event)]
            for key, row in _event_rows(env, market):
                sinks[name].add(key, row)
    for sink in sinks.values():
        sink.close()
    return list(sinks.values())


def _write_sessions(out: Path, infos, pa, pq) -> None:
    path = out / "sessions.parquet"
    rows = {}
    if path.exists():
        try:
            rows = {r["id"]: r for r in pq.read_table(path).to_pylist()}
        except Exception:  # noqa: BLE001 - a damaged index is rewritten from this export
            rows = {}
    for info in infos:
        rows[info.id] = {"id": info.id, "mode": info.mode, "started_ms": info.started_ms,
                         "ended_ms": info.ended_ms, "config": info.config,
                         "version": info.version, "end_reason": info.end_reason,
                         "events": info.events, "schema_version": info.schema_version}
    out.mkdir(parents=True, exist_ok=True)
    schema = sessions_schema(pa).with_metadata({"p2pbot_export": FORMAT})
    table = pa.Table.from_pylist([rows[k] for k in sorted(rows)], schema=schema)
    tmp = out / ".sessions.parquet.tmp"
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)
