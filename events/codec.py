"""Encode and decode events for the log: one Encoder and one Decoder per process, reused.

The log stores each event's payload as msgspec JSON (Decimal as a string, bytes as base64) under
its tag in the `type` column. Payloads of an older schema version pass through `UPCASTERS`
in order before decoding.
"""

from __future__ import annotations

from typing import Callable

import msgspec

from events import AnyEvent, SCHEMA_VERSION

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(AnyEvent)

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


def upcast(raw: dict, version: int) -> dict:
    """Apply every upcaster from `version` up to the current schema."""
    for v in range(version, SCHEMA_VERSION):
        step = UPCASTERS.get(v)
        if step is None:
            raise SchemaUnsupported(f"no upcaster from event schema version {v} to {v + 1}")
        raw = step(raw)
    return raw
