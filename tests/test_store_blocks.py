"""Events sealed in blocks (store/blocks.py): whatever mix of blocks and rows a session is in,
a reader gets every event once, in order, typed, with Decimal money, filtered and resumed as
asked; a damaged block is named by session and seq; a read racing another process's sealing
loses nothing."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import pytest
import zstandard

from events import (
    SCHEMA_VERSION,
    AdRepriced,
    ApiResponse,
    BookAd,
    BookSnapshot,
    ClockSynced,
    Envelope,
    codec,
)
from store import CorruptEvent, open_log
from store.blocks import BLOCK

N = 2 * BLOCK + 190  # two blocks and a tail


def _event(i: int):
    if i % 5 == 0:
        ads = tuple(BookAd(adv_no=f"a{j}", price=Decimal(f"{461 + j}.{i % 100:02d}"),
                           surplus=Decimal("0.000001"), min_amount=Decimal("500"),
                           max_amount=Decimal("90000")) for j in range(3))
        return BookSnapshot(asset="USDT", fiat="KZT", ad_side="SELL", pages=1, ads=ads)
    if i % 5 == 1:
        return ApiResponse(request_id=f"r{i}", endpoint="EP-0", status=200,
                           body=b'{"data":[%d]}' % (i % 7))
    if i % 37 == 0:
        return AdRepriced(adv_no="A1", old_price=Decimal("461.50"), new_price=Decimal(i) / 100)
    return ClockSynced(offset_ms=i, round_trip_ms=7)


def _envs(sid: int, first: int, count: int) -> list[Envelope]:
    return [Envelope(session=sid, seq=s, ts_ms=1_700_000_000_000 + s, t=s / 8, source="market",
                     cause=s - 1 if s > 1 else None, event=_event(s))
            for s in range(first, first + count)]


@pytest.fixture
def logged(tmp_path):
    """A session of N events appended in batches of odd sizes (1, 7, 300, ...) and a second
    session interleaved with it."""
    path = tmp_path / "bot.db"
    with open_log(path) as log:
        sid = log.start_session("record", "{}", 0)
        other = log.start_session("record", "{}", 0)
        seq = 1
        for i, size in enumerate((1, 7, 300, 1, 100, 3, 150, N)):
            size = min(size, N + 1 - seq)
            log.append(_envs(sid, seq, size) + _envs(other, 1 + 5 * i, 5))
            seq += size
            if seq > N:
                break
    return path, sid


def _blocks(path):
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT first & 1023, id & 1023 FROM blocks WHERE id >> 40 = 1"
                            " ORDER BY id").fetchall()


def test_a_session_is_blocks_of_256_then_rows_and_reads_back_whole_in_order(logged):
    path, sid = logged
    assert _blocks(path) == [(1, BLOCK), (BLOCK + 1, 2 * BLOCK)]
    with sqlite3.connect(path) as conn:  # the tail is still rows of JSON
        assert conn.execute("SELECT COUNT(*) FROM events WHERE id >> 40 = 1 AND payload != x''"
                            ).fetchone() == (N - 2 * BLOCK,)
    with open_log(path, create=False) as log:
        assert list(log.events(sid)) == _envs(sid, 1, N)
        lazy = list(log.events(sid, lazy=True))
        assert lazy == [e if type(e.event) is not ApiResponse else
                        Envelope(**{**_fields(e), "event": ApiResponse(
                            request_id=e.event.request_id, endpoint="EP-0", status=200)})
                        for e in _envs(sid, 1, N)]
        assert [log.body_of(e) for e in lazy[-300:]] == [
            getattr(e.event, "body", b"") for e in _envs(sid, N - 299, 300)]
        money = next(e.event for e in lazy if type(e.event) is BookSnapshot)
        assert type(money.ads[0].price) is Decimal and money.ads[1].price == Decimal("462.05")


def _fields(env: Envelope) -> dict:
    return {f: getattr(env, f) for f in env.__struct_fields__}


@pytest.mark.parametrize("after", [0, 1, 100, BLOCK - 1, BLOCK, BLOCK + 1, 2 * BLOCK, 600, N])
def test_a_read_after_any_seq_starts_right_after_it(logged, after):
    path, sid = logged
    with open_log(path, create=False) as log:
        assert list(log.events(sid, after_seq=after)) == _envs(sid, after + 1, N - after)
        assert [e.seq for e in log.events(sid, after_seq=after, lazy=True)] == list(
            range(after + 1, N + 1))


@pytest.mark.parametrize("types", [(AdRepriced,), (BookSnapshot, AdRepriced), (ApiResponse,)])
@pytest.mark.parametrize("after", [0, 150, BLOCK + 30, 600])
def test_a_read_by_type_gets_exactly_those_events_from_blocks_and_rows(logged, types, after):
    path, sid = logged
    want = [e for e in _envs(sid, 1, N) if isinstance(e.event, types) and e.seq > after]
    with open_log(path, create=False) as log:
        assert list(log.events(sid, types=types, after_seq=after)) == want
        assert [e.seq for e in log.events(sid, types=types, after_seq=after, lazy=True)] == [
            e.seq for e in want]


def test_ending_a_session_seals_its_tail_and_appending_later_goes_on_from_there(tmp_path):
    path = tmp_path / "bot.db"
    with open_log(path) as log:
        sid = log.start_session("record", "{}", 0)
        log.append(_envs(sid, 1, 300))
        log.end_session(sid, 5, "signal")
        log.append(_envs(sid, 301, 260))  # a late event after the end is still logged
        assert list(log.events(sid)) == _envs(sid, 1, 560)
    assert _blocks(path) == [(1, BLOCK), (BLOCK + 1, 300), (301, 300 + BLOCK)]


def test_a_read_racing_another_process_that_seals_its_rows_loses_nothing(tmp_path):
    path = tmp_path / "bot.db"
    with open_log(path) as writer:
        sid = writer.start_session("record", "{}", 0)
        writer.append(_envs(sid, 1, 200))
        with open_log(path, create=False) as reader:
            for lazy in (False, True):
                events = reader.events(sid, lazy=lazy)
                got = [next(events) for _ in range(70)]  # past the first chunk of rows
                writer.append(_envs(sid, 201 + 100 * lazy, 100))  # seals rows 1..256 (257..)
                got += list(events)
                assert [e.seq for e in got] == list(range(1, len(got) + 1))
                assert len(got) in (300, 400)
            assert list(reader.events(sid)) == _envs(sid, 1, 400)


def test_a_damaged_block_is_named_by_session_and_seq(logged):
    path, sid = logged
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE blocks SET data = x'28b52ffd0000' WHERE id = ?",
                     ((sid << 40) | 2 * BLOCK,))
    with open_log(path, create=False) as log:
        events = log.events(sid)
        assert [next(events).seq for _ in range(BLOCK)] == list(range(1, BLOCK + 1))
        with pytest.raises(CorruptEvent, match=f"session {sid} seq {BLOCK + 1} in .*: its block"
                                               f" \\(to seq {2 * BLOCK}\\) does not decompress"):
            next(events)


def test_a_damaged_event_inside_a_block_is_named_by_its_own_seq(logged):
    path, sid = logged
    with sqlite3.connect(path) as conn:
        data = conn.execute("SELECT data FROM blocks WHERE id = ?", ((sid << 40) | BLOCK,)
                            ).fetchone()[0]
        array = zstandard.ZstdDecompressor().decompress(data)
        bad = array.replace(b'"seq":77,', b'"seq":"x",', 1)
        conn.execute("UPDATE blocks SET data = ? WHERE id = ?",
                     (zstandard.ZstdCompressor().compress(bad), (sid << 40) | BLOCK))
    with open_log(path, create=False) as log:
        with pytest.raises(CorruptEvent, match=f"session {sid} seq 77 in "):
            list(log.events(sid))
        assert [e.seq for e in log.events(sid, after_seq=77)][:2] == [78, 79]


def test_an_older_schema_session_in_blocks_reads_through_the_upcasters(tmp_path, monkeypatch):
    path = tmp_path / "bot.db"
    with open_log(path) as log:
        old = log.start_session("record", "{}", 0)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE sessions SET schema_version = ? WHERE id = ?", (SCHEMA_VERSION - 1, old))
    rows = []
    for s in range(1, 301):  # as a schema-0 bot wrote them: the field was called "offset"
        head = f'{{"session":{old},"seq":{s},"ts_ms":5,"t":0.5,"source":"limiter","cause":null,'
        rows.append(((old << 40) | s, head.encode() + b'"event":',
                     b'{"type":"ClockSynced","offset":%d,"round_trip_ms":40}' % -s))
    conn.executemany("INSERT INTO events (id, type, head, payload) VALUES (?, 'ClockSynced', ?, ?)",
                     rows)
    conn.commit()
    conn.close()

    def rename_offset(raw: dict) -> dict:
        raw = dict(raw)
        raw["offset_ms"] = raw.pop("offset")
        return raw

    monkeypatch.setitem(codec.UPCASTERS, SCHEMA_VERSION - 1, rename_offset)
    with open_log(path) as log:
        log.end_session(old, 9)  # seals all 300: a block of 256 and one of 44
        assert _blocks(path) == [(1, BLOCK), (BLOCK + 1, 300)]
        want = [ClockSynced(offset_ms=-s, round_trip_ms=40) for s in range(1, 301)]
        assert [e.event for e in log.events(old)] == want
        assert [e.event for e in log.events(old, after_seq=250)] == want[250:]


def test_rows_sealed_a_few_at_a_time_leave_the_file_dense(tmp_path):
    """At the live pace (a commit of a few events), sealing must not leave the pages its rows
    were written to nearly empty (rows shrunk in place did: a file 3x the size)."""
    path = tmp_path / "bot.db"
    with open_log(path) as log:
        sid = log.start_session("record", "{}", 0)
        for seq in range(1, 2001, 5):
            log.append(_envs(sid, seq, 5))
    with sqlite3.connect(path) as conn:
        used, size = conn.execute("SELECT SUM(pgsize - unused), SUM(pgsize) FROM dbstat"
                                  " WHERE name = 'events'").fetchone()
    assert used > size / 2


def test_an_event_row_deleted_in_sql_is_gone_from_reads_though_its_block_holds_it(logged):
    """The events table stays the index of what the log holds (tests/test_replay.py removes
    recorded answers this way)."""
    path, sid = logged
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM events WHERE id IN (?, ?)", ((sid << 40) | 11, (sid << 40) | 300))
    want = [e for e in _envs(sid, 1, N) if e.seq not in (11, 300)]
    with open_log(path, create=False) as log:
        assert list(log.events(sid)) == want
        assert [e.seq for e in log.events(sid, lazy=True, after_seq=5)] == [
            e.seq for e in want if e.seq > 5]
        assert list(log.events(sid, types=(ApiResponse,))) == [
            e for e in want if type(e.event) is ApiResponse]
