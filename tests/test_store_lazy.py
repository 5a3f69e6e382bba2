"""A lazy read of the log (`events(..., lazy=True)`): the same typed events, with answer bodies
fetched only when asked for (`body_of`) and a snapshot's ads decoded, as Decimals, only when read."""

from __future__ import annotations

import pickle
import sqlite3
from decimal import Decimal

import pytest

from events import ApiResponse, BookSnapshot, ClockSynced, codec
from events.lazy import LazyAds
from store import MissingBody, open_log
from tests.test_store_bodies import _answers


def _log(tmp_path, n=40):
    path = tmp_path / "bot.db"
    events = [ClockSynced(offset_ms=1, round_trip_ms=2), *_answers(n)]
    with open_log(path) as log:
        sid = log.start_session("record", "{}", 0)
        for i in range(0, len(events), 25):
            log.append_events(sid, events[i:i + 25], source="limiter", ts_ms=1)
    return path, sid, events


def test_lazy_read_gives_the_same_events_with_bodies_on_request_byte_exact(tmp_path):
    path, sid, events = _log(tmp_path)
    with open_log(path, create=False) as log:
        lazy = list(log.events(sid, lazy=True))
        assert len(lazy) == len(events)
        for env, event in zip(lazy, events):
            if type(event) is ApiResponse:
                assert env.event.body == b""  # left in the file until asked for
                assert log.body_of(env) == event.body
                assert env.event == ApiResponse(**{**_fields(event), "body": b""})
            else:
                assert env.event == event
                assert codec.encode(env.event) == codec.encode(event)
        eager = list(log.events(sid))
        same = [(a, b) for a, b in zip(lazy, eager) if type(b.event) is not ApiResponse]
        assert all(a == b and b == a and not a != b and not b != a and hash(a) == hash(b)
                   for a, b in same)
        assert lazy[1] != eager[2] and eager[2] != lazy[1]


def test_lazy_snapshot_ads_are_decimal_book_ads_equal_to_the_logged_tuple(tmp_path):
    path, sid, events = _log(tmp_path)
    snaps = [e for e in events if type(e) is BookSnapshot]
    with open_log(path, create=False) as log:
        got = [env.event for env in log.events(sid, types=(BookSnapshot,), lazy=True)]
    assert got == snaps and snaps == got
    assert isinstance(got[0].ads, LazyAds)
    assert all(isinstance(ad.price, Decimal) for ad in got[0].ads)
    assert got[1].ads[0] == snaps[1].ads[0] and got[1].ads[:2] == snaps[1].ads[:2]
    assert got[1].ads + () == () + got[1].ads == snaps[1].ads and len(got[1].ads) == 20
    assert sum(ad.price for ad in got[2].ads) == sum(ad.price for ad in snaps[2].ads)
    assert pickle.loads(pickle.dumps(got[3])) == snaps[3]  # a sweep's worker gets a tuple
    assert hash(got[4]) == hash(snaps[4])


def test_lazily_read_events_appended_to_another_log_are_stored_identically(tmp_path):
    path, sid, events = _log(tmp_path)
    copy = tmp_path / "copy.db"
    with open_log(path, create=False) as log, open_log(copy) as out:
        sid2 = out.start_session("record", "{}", 0)
        lazy = [e for e in log.events(sid, lazy=True)]
        out.append_events(sid2, [e.event for e in lazy if type(e.event) is not ApiResponse],
                          source="limiter", ts_ms=1)
        again = [e.event for e in out.events(sid2)]
    assert again == [e for e in events if type(e) is not ApiResponse]


def test_lazy_read_does_not_touch_bodies_until_one_is_asked_for(tmp_path):
    path, sid, events = _log(tmp_path)
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM bodies WHERE endpoint = 'EP-7'")
    conn.commit()
    conn.close()
    with open_log(path, create=False) as log:
        with pytest.raises(MissingBody):
            list(log.events(sid))  # an eager read needs every body
        lazy = list(log.events(sid, lazy=True))  # a lazy one reads every event
        assert len(lazy) == len(events)
        page = next(e for e in lazy if type(e.event) is ApiResponse and e.event.endpoint == "EP-0")
        assert log.body_of(page).startswith(b"{")
        ack = next(e for e in lazy if type(e.event) is ApiResponse and e.event.endpoint == "EP-7")
        with pytest.raises(MissingBody, match=f"seq {ack.seq}"):
            log.body_of(ack)


def test_body_of_an_eagerly_read_or_bodiless_event_is_its_own_body(tmp_path):
    path, sid, events = _log(tmp_path, n=2)
    with open_log(path, create=False) as log:
        eager = list(log.events(sid))
        assert [log.body_of(e) for e in eager] == [getattr(e, "body", b"") for e in events]
        # a fresh handle has no digests noted by a lazy read: it looks the event up
        with open_log(path, create=False) as other:
            lazy = list(log.events(sid, lazy=True))
            assert [other.body_of(e) for e in lazy] == [getattr(e, "body", b"") for e in events]


def _fields(event):
    return {f: getattr(event, f) for f in event.__struct_fields__}
