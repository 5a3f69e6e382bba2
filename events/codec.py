"""Encode and decode events for the log: one Encoder and one Decoder per process, reused.

The log stores each event's payload as msgspec JSON (Decimal as a string, bytes as base64) under
its tag in the `type` column. Payloads of an older schema version pass through `UPCASTERS`
in order before decoding.

Beside the payload the log keeps the envelope's head, its JSON up to the event, so that
`head + payload + b"}"` is the Envelope's JSON: `split_envelope` makes both with one encode (the
event's bytes are identical to `encode(event)`), and `decode_envelopes` turns a JSON array of
whole envelopes into Envelopes in one call, with no Python work per event. On a recording's
mix 85% of the decoding is building BookSnapshots' ads and their `Decimal`s (~18 us a snapshot);
`events.lazy` decodes the same envelopes with each snapshot's ads left as JSON until read.
"""

from __future__ import annotations

from typing import Callable

import msgspec

from events import SCHEMA_VERSION, AnyEvent, Envelope
from events.lazy import enc_hook

# enc_hook: a snapshot read lazily (events.lazy) encodes to the JSON it was read from.
_encoder = msgspec.json.Encoder(enc_hook=enc_hook)
_decoder = msgspec.json.Decoder(AnyEvent)
_envelopes_decoder = msgspec.json.Decoder(list[Envelope])
_envelope_decoder = msgspec.json.Decoder(Envelope)
# Envelope fields are encoded in declaration order and `event` is last; a string field before
# it escapes its quotes, so this is found exactly once, where the event starts.
_EVENT_KEY = b',"event":'
_HEAD_END = len(_EVENT_KEY)


class _Head(msgspec.Struct):
    session: int
    seq: int
    ts_ms: int
    t: float
    source: str
    cause: int | None
    event: None = None

# UPCASTERS[v] turns a raw payload dict of schema version v into one of version v + 1.
UPCASTERS: dict[int, Callable[[dict], dict]] = {}


class SchemaTooNew(Exception):
    """The log was written by a newer version of the bot than this one."""

    def __init__(self, found: int, supported: int = SCHEMA_VERSION) -> None:
        super().__init__(
            f"event log schema version {found} is newer than this bot supports "
            f"({supported}); upgrade the bot to read it"
        )
        self.found = found
        self.supported = supported


class SchemaUnsupported(Exception):
    """The log was written under an older schema that this bot cannot upcast."""


def encode(event: AnyEvent) -> bytes:
    """Return the event's tagged JSON payload."""
    return _encoder.encode(event)


def decode(payload: bytes | str, version: int = SCHEMA_VERSION) -> AnyEvent:
    """Decode one payload written under schema `version` into its typed event.

    Raises:
        SchemaTooNew: the payload comes from a newer schema.
        msgspec.DecodeError: the payload is not a valid event.
    """
    if version > SCHEMA_VERSION:
        raise SchemaTooNew(version)
    if version < SCHEMA_VERSION:
        return _decoder.decode(_encoder.encode(upcast(msgspec.json.decode(payload), version)))
    return _decoder.decode(payload)


def split_envelope(envelope: Envelope) -> tuple[bytes, bytes]:
    """Encode `envelope`; return its head (JSON up to the event) and the event's payload.

    `head + payload + b"}"` is the envelope's JSON and `payload == encode(envelope.event)`.
    """
    blob = _encoder.encode(envelope)
    cut = blob.index(_EVENT_KEY) + _HEAD_END
    return blob[:cut], blob[cut:-1]


def split_stored(blob: bytes) -> tuple[bytes, bytes]:
    """Split an envelope's JSON without its closing brace into head and payload.

    Raises:
        msgspec.DecodeError: there is no event in it.
    """
    cut = blob.find(_EVENT_KEY)
    if cut < 0:
        raise msgspec.DecodeError("no event in the stored envelope")
    return blob[:cut + _HEAD_END], blob[cut + _HEAD_END:]


def decode_envelopes(array: bytes) -> list[Envelope]:
    """Decode a JSON array of envelopes of the current schema.

    Raises:
        msgspec.DecodeError: an element is not a valid envelope.
    """
    return _envelopes_decoder.decode(array)


def decode_envelope(head: bytes, payload: bytes, version: int = SCHEMA_VERSION) -> Envelope:
    """Decode one stored envelope whose payload was written under schema `version`.

    Raises:
        SchemaTooNew: the payload comes from a newer schema.
        msgspec.DecodeError: head or payload is not valid.
    """
    if version == SCHEMA_VERSION:
        return _envelope_decoder.decode(head + payload + b"}")
    event = decode(payload, version)
    h = msgspec.json.decode(head + b"null}", type=_Head)
    return Envelope(session=h.session, seq=h.seq, ts_ms=h.ts_ms, t=h.t, source=h.source,
                    cause=h.cause, event=event)


def upcast(raw: dict, version: int) -> dict:
    """Apply every upcaster from `version` up to the current schema."""
    for v in range(version, SCHEMA_VERSION):
        step = UPCASTERS.get(v)
        if step is None:
            raise SchemaUnsupported(f"no upcaster from event schema version {v} to {v + 1}")
        raw = step(raw)
    return raw
