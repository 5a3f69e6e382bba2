"""The event log as its readers see it: order, filters, exact money, sessions, clear errors."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import msgspec
import pytest

from events import (
    SCHEMA_VERSION,
    AdRepriced,
    ApiResponse,
    BookAd,
    BookSnapshot,
    ClockSynced,
    Envelope,
    OrderStatusChanged,
    RunStopped,
)
from events import codec
from store import (
    CorruptEvent,
    EventLog,
    LogError,
    LogNotFound,
    NotALog,
    SchemaTooNew,
    SequenceGap,
    SessionInfo,
    UnknownSession,
    open_log,
)


@pytest.fixture
def log(tmp_path):
    with open_log(tmp_path / "bot.db") as log:
        yield log


def _clock(i: int) -> ClockSynced:
    return ClockSynced(offset_ms=i, round_trip_ms=10 + i)


def _envs(sid: int, first: int, count: int, source: str = "market") -> list[Envelope]:
    return [
        Envelope(session=sid, seq=s, ts_ms=1_700_000_000_000 + s, t=s / 8, source=source,
                 cause=s - 1 if s > 1 else None, event=_clock(s))
        for s in range(first, first + count)
    ]


def test_events_read_back_in_order_across_batches_and_interleaved_sessions(log):
    a = log.start_session("live", "{}", 1000)
    b = log.start_session("demo", "{}", 1001)
    written = {a: [], b: []}
    for batch in range(4):
        envs = _envs(a, batch * 3 + 1, 3) + _envs(b, batch * 2 + 1, 2, source="orders")
        log.append(envs)
        for env in envs:
            written[env.session].append(env)

    assert list(log.events(a)) == written[a]
    assert list(log.events(b)) == written[b]
    assert [e.seq for e in log.events(a)] == list(range(1, 13))
    assert log.last_seq(a) == 12 and log.last_seq(b) == 8


def test_reading_survives_reopening_the_file(tmp_path):
    with open_log(tmp_path / "bot.db") as log:
        sid = log.start_session("record", '{"market": {"fiat": "KZT"}}', 5)
        written = log.append_events(sid, [_clock(i) for i in range(5)], source="limiter",
                                    ts_ms=77, t=1.5)
    with open_log(tmp_path / "bot.db", create=False) as log:
        assert list(log.events(sid)) == written
        assert log.session(sid).config == '{"market": {"fiat": "KZT"}}'


def test_filter_by_type_and_after_seq(log):
    sid = log.start_session("live", "{}", 0)
    events = [
        _clock(1),
        AdRepriced(adv_no="A1", old_price=Decimal("461.50"), new_price=Decimal("461.49")),
        OrderStatusChanged(order_no="O1", old_status=1, new_status=2),
        AdRepriced(adv_no="A1", old_price=Decimal("461.49"), new_price=Decimal("461.48")),
        _clock(2),
    ]
    log.append_events(sid, events, source="ads", ts_ms=1)

    repriced = list(log.events(sid, types=(AdRepriced,)))
    assert [(e.seq, e.event.new_price) for e in repriced] == [
        (2, Decimal("461.49")),
        (4, Decimal("461.48")),
    ]
    both = log.events(sid, types=(AdRepriced, ClockSynced), after_seq=2)
    assert [e.seq for e in both] == [4, 5]
    assert [e.seq for e in log.events(sid, after_seq=3)] == [4, 5]
    assert list(log.events(sid, types=(RunStopped,))) == []


def test_reads_past_one_query_chunk_stay_gap_free(log):
    sid = log.start_session("sim", "{}", 0)
    log.append_events(sid, [_clock(i) for i in range(10_000)], source="market", ts_ms=1)
    assert [e.seq for e in log.events(sid)] == list(range(1, 10_001))
    assert [e.event.offset_ms for e in log.events(sid, after_seq=9_998)] == [9_998, 9_999]


def test_decimal_keeps_every_digit_through_the_log(tmp_path):
    price = Decimal("123456789.123456789000")
    ad = BookAd(adv_no="1", price=price, surplus=Decimal("0.00000001"),
                min_amount=Decimal("500"), max_amount=Decimal("1E+6"))
    book = BookSnapshot(asset="USDT", fiat="KZT", ad_side="SELL", pages=1, ads=(ad,))
    with open_log(tmp_path / "bot.db") as log:
        sid = log.start_session("live", "{}", 0)
        log.append_events(sid, [book], source="market", ts_ms=1)
    with open_log(tmp_path / "bot.db", create=False) as log:
        (env,) = log.events(sid)
    got = env.event.ads[0]
    assert isinstance(got.price, Decimal)
    assert str(got.price) == "123456789.123456789000"
    assert str(got.surplus) == "1E-8" and got.surplus == Decimal("0.00000001")
    assert env.event == book


def test_raw_bytes_round_trip(log):
    sid = log.start_session("record", "{}", 0)
    body = bytes(range(256)) * 4
    log.append_events(sid, [ApiResponse(request_id="r1", endpoint="EP-0", status=200, body=body)],
                      source="limiter", ts_ms=1)
    assert next(log.events(sid)).event.body == body


def test_sessions_list_counts_and_end_session(log):
    a = log.start_session("live", '{"a": 1}', 1000)
    b = log.start_session("backtest", "{}", 2000)
    log.append_events(a, [_clock(i) for i in range(3)], source="market", ts_ms=1)
    log.end_session(a, 1500, reason="signal")

    assert log.sessions() == [
        SessionInfo(id=a, started_ms=1000, ended_ms=1500, mode="live", config='{"a": 1}',
                    version="0.1.0", end_reason="signal", events=3,
                    schema_version=SCHEMA_VERSION),
        SessionInfo(id=b, started_ms=2000, ended_ms=None, mode="backtest", config="{}",
                    version="0.1.0", end_reason="", events=0, schema_version=SCHEMA_VERSION),
    ]
    assert log.session(a).ended_ms == 1500
    assert log.latest_session().id == b
    assert log.latest_session(mode="live").id == a
    assert log.last_seq(b) == 0


def test_append_refuses_a_gap_and_commits_nothing(log):
    sid = log.start_session("live", "{}", 0)
    log.append(_envs(sid, 1, 2))
    with pytest.raises(SequenceGap, match="expected seq 4, got 5"):
        log.append(_envs(sid, 3, 1) + _envs(sid, 5, 1))
    assert log.last_seq(sid) == 2
    log.append(_envs(sid, 3, 1))
    assert [e.seq for e in log.events(sid)] == [1, 2, 3]


def test_start_session_rejects_unknown_mode_and_non_json_config(log):
    with pytest.raises(ValueError, match="mode must be one of"):
        log.start_session("paper", "{}", 0)
    with pytest.raises(ValueError, match="not valid JSON"):
        log.start_session("live", "fiat = KZT", 0)


def test_a_text_file_is_not_a_log(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("these are my trading notes\n" * 50)
    with pytest.raises(NotALog) as err:
        open_log(path)
    assert str(err.value) == f"{path} is not a bot event log (not an SQLite database)"
    assert path.read_text().startswith("these are my trading notes")


def test_an_sqlite_file_without_our_tables_is_not_a_log(tmp_path):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY)")
    conn.commit()
    conn.close()
    for create in (False, True):
        with pytest.raises(NotALog, match="without the log's tables"):
            open_log(path, create=create)


def test_a_missing_file_is_an_error_without_create(tmp_path):
    path = tmp_path / "missing.db"
    with pytest.raises(LogNotFound) as err:
        open_log(path, create=False)
    assert isinstance(err.value, NotALog) and isinstance(err.value, LogError)
    assert str(err.value) == f"{path} is not a bot event log (no such file)"
    assert not path.exists()


def test_a_log_from_a_newer_bot_asks_for_an_upgrade(tmp_path):
    path = tmp_path / "bot.db"
    open_log(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                 (str(SCHEMA_VERSION + 1),))
    conn.commit()
    conn.close()
    with pytest.raises(SchemaTooNew) as err:
        open_log(path, create=False)
    message = str(err.value)
    assert str(SCHEMA_VERSION + 1) in message and str(SCHEMA_VERSION) in message
    assert "upgrade the bot" in message and "\n" not in message
    assert isinstance(err.value, codec.SchemaTooNew) and isinstance(err.value, LogError)


def test_an_unknown_session_names_the_sessions_there_are(log):
    for _ in range(3):
        log.start_session("live", "{}", 0)
    with pytest.raises(UnknownSession) as err:
        log.session(9)
    assert str(err.value) == f"no session 9 in {log.path} (sessions: 1-3)"
    for call in (lambda: log.events(9), lambda: log.last_seq(9),
                 lambda: log.end_session(9, 1), lambda: log.append(_envs(9, 1, 1))):
        with pytest.raises(UnknownSession, match="no session 9"):
            call()


def test_no_session_yet(log):
    with pytest.raises(UnknownSession) as err:
        log.latest_session()
    assert str(err.value) == f"no session in {log.path} (sessions: none)"


def test_only_union_events_can_be_logged(log):
    class Stray(msgspec.Struct, tag=True):
        x: int

    sid = log.start_session("live", "{}", 0)
    env = Envelope(session=sid, seq=1, ts_ms=0, t=0.0, source="x", cause=None, event=Stray(x=1))
    with pytest.raises(TypeError, match="Stray is not in events.AnyEvent"):
        log.append([env])
    assert log.last_seq(sid) == 0


def test_the_file_is_in_wal_mode_with_the_documented_tables(tmp_path):
    path = tmp_path / "bot.db"
    log = open_log(path)
    assert isinstance(log, EventLog)
    log.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"meta", "sessions", "events"} <= tables
    indexes = [r[1] for r in conn.execute("PRAGMA index_list(events)")]
    assert "events_by_type" in indexes
    assert conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == (
        str(SCHEMA_VERSION),
    )
    conn.close()


def test_a_damaged_payload_is_named_by_session_and_seq(tmp_path):
    path = tmp_path / "bot.db"
    with open_log(path) as log:
        sid = log.start_session("live", "{}", 0)
        log.append_events(sid, [_clock(1), _clock(2)], source="market", ts_ms=1)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE events SET payload = ? WHERE seq = 2", (b'{"type":"Nope"}',))
    conn.commit()
    conn.close()
    with open_log(path, create=False) as log:
        reader = log.events(sid)
        assert next(reader).seq == 1
        with pytest.raises(CorruptEvent, match=f"session {sid} seq 2 in .* does not decode"):
            next(reader)


def test_a_session_of_an_older_schema_reads_through_the_upcasters(tmp_path, monkeypatch):
    path = tmp_path / "bot.db"
    with open_log(path) as log:
        old = log.start_session("record", "{}", 0)
        new = log.start_session("record", "{}", 0)
    conn = sqlite3.connect(path)
    # A payload as a schema-0 bot would have written it: the field was called "offset".
    conn.execute("UPDATE sessions SET schema_version = ? WHERE id = ?", (SCHEMA_VERSION - 1, old))
    head = f'{{"session":{old},"seq":1,"ts_ms":5,"t":0.5,"source":"limiter","cause":null,"event":'
    conn.execute("INSERT INTO events (id, type, head, payload) VALUES (?, 'ClockSynced', ?, ?)",
                 ((old << 40) | 1, head.encode(),
                  b'{"type":"ClockSynced","offset":-3,"round_trip_ms":40}'))
    conn.commit()
    conn.close()

    def rename_offset(raw: dict) -> dict:
        raw = dict(raw)
        raw["offset_ms"] = raw.pop("offset")
        return raw

    monkeypatch.setitem(codec.UPCASTERS, SCHEMA_VERSION - 1, rename_offset)
    with open_log(path, create=False) as log:
        assert [e.event for e in log.events(old)] == [ClockSynced(offset_ms=-3, round_trip_ms=40)]
        log.append_events(new, [_clock(4)], source="limiter", ts_ms=1)
        assert [e.event for e in log.events(new)] == [_clock(4)]
        assert [s.schema_version for s in log.sessions()] == [SCHEMA_VERSION - 1, SCHEMA_VERSION]


def test_power_loss_durability_is_one_keyword_away(tmp_path):
    with open_log(tmp_path / "bot.db", synchronous="FULL") as log:
        assert log._conn.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
    with open_log(tmp_path / "bot.db") as log:
        assert log._conn.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
    with pytest.raises(ValueError, match="NORMAL or FULL"):
        open_log(tmp_path / "bot.db", synchronous="OFF")


def test_sql_readers_see_session_seq_type_and_the_encoded_event(tmp_path):
    # Replay tests and people at the sqlite3 prompt read, alter and delete rows by these columns.
    path = tmp_path / "bot.db"
    with open_log(path) as log:
        log.start_session("live", "{}", 0)
        sid = log.start_session("live", "{}", 0)
        written = log.append_events(sid, [_clock(1), _clock(2), _clock(3)], source="market",
                                    ts_ms=9)
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT session, seq, type, payload FROM events ORDER BY seq").fetchall()
    assert rows == [(sid, e.seq, "ClockSynced", codec.encode(e.event)) for e in written]
    conn.execute("UPDATE events SET payload = ? WHERE session = ? AND seq = 2",
                 (codec.encode(_clock(20)), sid))
    conn.execute("DELETE FROM events WHERE session = ? AND seq = 3", (sid,))
    conn.commit()
    conn.close()
    with open_log(path, create=False) as log:
        assert [e.event for e in log.events(sid)] == [_clock(1), _clock(20)]
        assert log.last_seq(sid) == 2 and log.session(sid).events == 2


def test_a_damaged_payload_mid_chunk_yields_every_event_before_it(tmp_path):
    path = tmp_path / "bot.db"
    with open_log(path) as log:
        sid = log.start_session("live", "{}", 0)
        log.append_events(sid, [_clock(i) for i in range(200)], source="market", ts_ms=1)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE events SET payload = ? WHERE seq = 100", (b'{"type":"ClockSynced"}',))
    conn.commit()
    conn.close()
    seen = []
    with open_log(path, create=False) as log, pytest.raises(CorruptEvent, match="seq 100 "):
        for env in log.events(sid):
            seen.append(env.seq)
    assert seen == list(range(1, 100))


def test_a_type_filter_reads_those_types_in_seq_order_across_many_queries(log):
    sid = log.start_session("sim", "{}", 0)
    events = [
        AdRepriced(adv_no=str(i), old_price=Decimal(i), new_price=Decimal("1.01")) if i % 7 == 0
        else OrderStatusChanged(order_no=str(i), old_status=1, new_status=2) if i % 11 == 0
        else _clock(i)
        for i in range(10_000)
    ]
    log.append_events(sid, events, source="ads", ts_ms=1)
    wanted = (OrderStatusChanged, AdRepriced)
    got = list(log.events(sid, types=wanted, after_seq=71))
    assert [e.seq for e in got] == [
        i + 1 for i, e in enumerate(events) if isinstance(e, wanted) and i + 1 > 71]
    assert all(e.event == events[e.seq - 1] for e in got)
    assert [e.seq for e in log.events(sid, types=(AdRepriced,), after_seq=9_990)] == [9_997]


def test_a_log_of_the_old_session_seq_layout_is_refused_in_one_line(tmp_path):
    path = tmp_path / "old.db"
    open_log(path).close()
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM meta WHERE key = 'layout'")
    conn.commit()
    conn.close()
    with pytest.raises(LogError) as err:
        open_log(path, create=False)
    assert str(err.value) == (f"{path} uses event log layout 1; this bot reads layout 4 only "
                              "(re-record the session with this bot)")


def test_envelope_head_and_payload_rebuild_the_envelope_exactly():
    env = Envelope(session=3, seq=9, ts_ms=1, t=0.30000000000000004, source='odd ","event": name',
                   cause=8, event=AdRepriced(adv_no="A", old_price=Decimal("461.50"),
                                             new_price=Decimal("461.490")))
    head, payload = codec.split_envelope(env)
    assert payload == codec.encode(env.event)
    assert codec.decode_envelope(head, payload) == env
    assert codec.decode_envelopes(b"[" + head + payload + b"}," + head + payload + b"}]") == [
        env, env]
