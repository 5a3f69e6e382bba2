"""Answer bodies stored once by digest, compressed with dictionaries the log trains itself, and
events sealed in blocks: what a reader gets back is byte for byte what was logged."""

from __future__ import annotations

import argparse
import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

from events import ApiResponse, BookAd, BookSnapshot, ClockSynced
from replay.cli import main as replay_main
from store import MissingBody, open_log

SAMPLES = Path(__file__).parent / "samples"
PAGE = (SAMPLES / "bapi-adv-search_USDT-RUB_tradeType-SELL_2022-06-20.json").read_bytes()
ACK = b'{"code":"000000","message":"success","data":null,"success":true}'


def _page(i: int) -> bytes:
    """The real EP-0 page (Binance's field set, 20 ads) with its first price moved: one poll."""
    return PAGE.replace(b'"price":"61.45"', f'"price":"{61 + i % 97 / 100:.2f}"'.encode(), 1)


def _answers(n: int) -> list:
    out = []
    for i in range(n):
        out.append(ApiResponse(request_id=f"r{i}", endpoint="EP-0", status=200, body=_page(i)))
        out.append(ApiResponse(request_id=f"a{i}", endpoint="EP-7", status=200, body=ACK))
        out.append(BookSnapshot(asset="USDT", fiat="RUB", ad_side="SELL", pages=1, ads=tuple(
            BookAd(adv_no=f"{1000 + j}", price=_d(61 + (i + j) % 7), surplus=_d(100 + j),
                   min_amount=_d(1000), max_amount=_d(5000), pay_methods=("Tinkoff",),
                   nickname=f"trader{j}", month_orders=j) for j in range(20))))
    return out


def _d(x):
    from decimal import Decimal
    return Decimal(str(x))


def test_answers_read_back_byte_exact_with_each_distinct_body_stored_once(tmp_path):
    path = tmp_path / "bot.db"
    events = _answers(300)
    with open_log(path) as log:
        sid = log.start_session("record", "{}", 0)
        for i in range(0, len(events), 50):  # batches, as the writer commits them
            log.append_events(sid, events[i:i + 50], source="limiter", ts_ms=1)
    with open_log(path, create=False) as log:
        assert [e.event for e in log.events(sid)] == events
    conn = sqlite3.connect(path)
    bodies, raw, stored = conn.execute(
        "SELECT COUNT(*), SUM(size), SUM(length(data)) FROM bodies").fetchone()
    assert bodies == 97 + 1  # 97 distinct pages, one acknowledgement for all 300
    assert raw > 30 * stored  # dictionary and delta frames: 2 MB of pages in under 70 KB
    kinds = {r[0] for r in conn.execute("SELECT kind FROM dictionaries")}
    assert "EP-0" in kinds  # trained from the log itself
    assert conn.execute("SELECT COUNT(*) FROM bodies WHERE ref IS NOT NULL").fetchone()[0] > 50
    # 900 events: three blocks of 256 sealed (store/blocks.py), the last 132 still rows
    assert conn.execute("SELECT COUNT(*), MIN(first & 1023), MAX(id & 1023) FROM blocks"
                        ).fetchone() == (3, 1, 768)
    assert conn.execute("SELECT COUNT(*) FROM events WHERE payload = x''").fetchone() == (768,)


def test_the_log_opens_with_sqlite_utils_and_shows_its_tables(tmp_path):
    path = tmp_path / "bot.db"
    with open_log(path) as log:
        sid = log.start_session("record", "{}", 0)
        log.append_events(sid, _answers(2), source="limiter", ts_ms=1)
    db = sqlite_utils.Database(path)
    assert {"meta", "sessions", "events", "bodies", "dictionaries", "blocks"} <= set(
        db.table_names())
    assert db["bodies"].count == 3
    assert {"body", "z"} <= set(db["events"].columns_dict)


def test_a_body_missing_from_its_table_is_one_line_naming_session_seq_and_digest(tmp_path,
                                                                                  capsys):
    path = tmp_path / "bot.db"
    with open_log(path) as log:
        sid = log.start_session("record", "{}", 0)
        log.append_events(sid, [ClockSynced(offset_ms=1, round_trip_ms=2), *_answers(1)],
                          source="limiter", ts_ms=1)
    conn = sqlite3.connect(path)
    digest = conn.execute("SELECT body FROM events WHERE session=? AND seq=2", (sid,)).fetchone()[0]
    conn.execute("DELETE FROM bodies WHERE digest=?", (digest,))
    conn.commit()
    conn.close()
    with open_log(path, create=False) as log:
        with pytest.raises(MissingBody) as err:
            list(log.events(sid))
    assert str(err.value) == (f"session {sid} seq 2 in {path}: its answer body {digest.hex()} "
                              "is missing from the bodies table")
    assert replay_main(argparse.Namespace(path=str(path), session=sid, set=[], strategy=None,
                                          no_progress=True, judge="auto")) == 2
    assert capsys.readouterr().err.strip() == f"error: {err.value}"


def test_sessions_shows_the_bytes_each_session_takes_counting_a_shared_body_once(tmp_path,
                                                                                  capsys):
    from app.cli import _bytes, sessions_main

    path = tmp_path / "bot.db"
    with open_log(path) as log:
        big = log.start_session("record", "{}", 0)
        log.append_events(big, _answers(40), source="limiter", ts_ms=1)
        log.end_session(big, 2)  # seals its 120 events into a block
        small = log.start_session("record", "{}", 0)
        log.append_events(small, [ApiResponse(request_id="x", endpoint="EP-0", status=200,
                                              body=_page(0))], source="limiter", ts_ms=1)
        sizes = log.session_bytes()
    conn = sqlite3.connect(path)
    rows = dict(conn.execute("SELECT session, SUM(length(head) + length(payload)) FROM events "
                             "GROUP BY session"))
    stored = conn.execute("SELECT SUM(length(data)) FROM bodies").fetchone()[0]
    block = conn.execute("SELECT length(data) FROM blocks WHERE id >> 40 = ?", (big,)).fetchone()
    conn.close()
    assert rows[big] == 0 and block[0] > 0
    assert sizes[big] == block[0] + stored  # every body was first stored by session 1
    assert sizes[small] == rows[small]  # its one page repeats one of session 1's
    assert sessions_main(argparse.Namespace(path=str(path))) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[-2:] == ["bytes", "end"]
    assert f" {_bytes(sizes[big])} " in lines[1] + " " and f" {_bytes(sizes[small])} " in (
        lines[2] + " ")
