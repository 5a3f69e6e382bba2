"""Chat socket URL and frames; the clock offset used for signed timestamps."""

from __future__ import annotations

import json

import pytest

from c2c.chat import parse_frame, redacted_url, should_answer, socket_url, text_frame
from c2c.errors import C2CError, MalformedResponse
from c2c.models import ChatCredential
from c2c.timesync import ClockOffset, offset_from_round_trip

CRED = ChatCredential(chat_wss_url="wss://im.binance.com:443/chat",
                      listen_key="c2c_0123abcd_v2", listen_token="TOKENfeedface")


def test_socket_url_carries_key_and_token_and_the_redacted_one_does_not():
    assert socket_url(CRED) == (
        "wss://im.binance.com:443/chat/c2c_0123abcd_v2?token=TOKENfeedface&clientType=web")
    shown = redacted_url(CRED)
    assert "TOKENfeedface" not in shown and "c2c_0123abcd_v2" not in shown
    assert shown.startswith("wss://im.binance.com:443/chat/")


def test_text_frame_is_the_json_binance_expects():
    frame = text_frame(order_no="228", content="Hola 😊", uuid="self_1768593854000",
                       create_time_ms=1768593854000)
    assert json.loads(frame) == {
        "type": "text", "uuid": "self_1768593854000", "orderNo": "228", "content": "Hola 😊",
        "self": True, "clientType": "web", "createTime": 1768593854000, "sendStatus": 0,
    }


def test_our_own_frame_parses_back_and_is_not_answered():
    frame = text_frame(order_no="228", content="hi", uuid="u1", create_time_ms=5)
    msg = parse_frame(frame)
    assert (msg.order_no, msg.content, msg.self_sent, msg.create_time) == ("228", "hi", True, 5)
    assert not should_answer(msg)


@pytest.mark.parametrize(("kind", "self_sent", "answer"), [
    ("text", False, True),
    ("image", False, True),
    ("text", True, False),
    ("auto_reply", False, False),
    ("statistics", False, False),
    ("risk_alert", False, False),
    ("system", False, False),
])
def test_only_a_counterpartys_own_words_get_an_answer(kind, self_sent, answer):
    frame = json.dumps({"id": 2055226645140359937, "type": kind, "orderNo": "228",
                        "content": "hello", "self": self_sent, "createTime": 1})
    msg = parse_frame(frame)
    assert msg.id == "2055226645140359937"
    assert should_answer(msg) is answer


@pytest.mark.parametrize("junk", [
    "", "ping", "{", "[]", "null", '{"type":"text"}', '{"orderNo":"1"}',
    '{"type":5,"orderNo":"1"}', '{"type":"text","orderNo":"1","self":"yes"}', "\ud800",
])
def test_junk_frames_raise_a_typed_error_that_keeps_the_frame(junk):
    with pytest.raises(MalformedResponse) as info:
        parse_frame(junk)
    assert isinstance(info.value, C2CError) and info.value.endpoint == "chat-frame"
    assert info.value.raw.decode(errors="replace") == junk.encode(errors="replace").decode()


def test_offset_is_server_time_minus_the_round_trips_midpoint():
    assert offset_from_round_trip(sent_ms=1_000, received_ms=1_200, server_time_ms=5_100) == 4_000
    assert offset_from_round_trip(sent_ms=10_000, received_ms=10_040, server_time_ms=9_520) == -500


def test_clock_offset_shifts_every_timestamp_after_an_update():
    clock = ClockOffset()
    assert clock.now(1_000) == 1_000
    assert clock.update(1_000, 1_300, 2_150) == 1_000
    assert clock.now(5_000) == 6_000 and clock.round_trip_ms == 300
    assert "offset_ms=1000" in repr(clock)
