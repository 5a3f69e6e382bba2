"""Every event type round-trips through the log codec; money stays Decimal to the last digit."""

import typing
from decimal import Decimal

import msgspec
import pytest

import events
from events import codec

SAMPLE_VALUES = {
    str: "11372248938411630592",
    int: 3,
    float: 1.25,
    bool: True,
    bytes: b"<html>\x00\xff</html>",
    Decimal: Decimal("123456789.123456789000"),
}


def _sample(tp):
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp in SAMPLE_VALUES:
        return SAMPLE_VALUES[tp]
    if origin is typing.Literal:
        return args[0]
    if origin in (typing.Union, getattr(__import__("types"), "UnionType")):
        return _sample(next(a for a in args if a is not type(None)))
    if origin is dict:
        return {_sample(args[0]): _sample(args[1])}
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return (_sample(args[0]), _sample(args[0]))
        return tuple(_sample(a) for a in args)
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return _instance(tp)
    raise AssertionError(f"no sample for {tp!r}")


def _instance(cls):
    hints = typing.get_type_hints(cls)
    return cls(**{f: _sample(hints[f]) for f in cls.__struct_fields__})


ALL_TYPES = typing.get_args(events.AnyEvent)


def test_the_union_lists_every_event_class_defined():
    defined = {c for c in vars(events.types).values()
               if isinstance(c, type) and issubclass(c, events.Event) and c is not events.Event}
    assert defined == set(ALL_TYPES)


@pytest.mark.parametrize("cls", ALL_TYPES, ids=lambda c: c.__name__)
def test_every_event_type_round_trips_through_the_codec(cls):
    event = _instance(cls)
    payload = codec.encode(event)
    assert msgspec.json.decode(payload)["type"] == cls.__name__
    back = codec.decode(payload)
    assert back == event
    assert type(back) is cls


@pytest.mark.parametrize("cls", ALL_TYPES, ids=lambda c: c.__name__)
def test_every_event_is_frozen(cls):
    event = _instance(cls)
    field = cls.__struct_fields__[0]
    with pytest.raises(AttributeError):
        setattr(event, field, getattr(event, field))


def test_decimal_keeps_every_digit_and_is_written_as_a_string():
    price = Decimal("123456789.123456789000")
    event = events.AdRepriced(adv_no="1", old_price=Decimal("0.10"), new_price=price)
    payload = codec.encode(event)
    assert b'"new_price":"123456789.123456789000"' in payload
    back = codec.decode(payload)
    assert isinstance(back.new_price, Decimal)
    assert str(back.new_price) == "123456789.123456789000"
    assert str(back.old_price) == "0.10"


def test_a_numeric_price_in_a_payload_still_decodes_to_the_exact_decimal():
    payload = b'{"type":"AdRepriced","adv_no":"1","old_price":"1.0","new_price":1.1}'
    back = codec.decode(payload)
    assert back.new_price == Decimal("1.1")


def test_a_payload_from_a_newer_schema_is_refused_with_a_clear_message():
    payload = codec.encode(events.RunStopped(reason="done"))
    with pytest.raises(codec.SchemaTooNew, match="newer than this bot supports"):
        codec.decode(payload, version=events.SCHEMA_VERSION + 1)


def test_an_older_schema_without_an_upcaster_is_refused_clearly():
    payload = codec.encode(events.RunStopped(reason="done"))
    with pytest.raises(codec.SchemaUnsupported, match="no upcaster"):
        codec.decode(payload, version=0)


def test_envelope_round_trips_with_its_event():
    env = events.Envelope(session=2, seq=7, ts_ms=1768441557876, t=1.5, source="ads", cause=6,
                          event=events.AdResumed(adv_no="42"))
    assert msgspec.json.decode(msgspec.json.encode(env), type=events.Envelope) == env
