"""Requests and responses as the simulator sees them, and Binance's envelopes, byte for byte.

Success: BAPI `{code:"000000", message:null, messageDetail:null, data, total?, success:true}`,
SAPI `{code:"000000", message:"success", data, total?, success:true}`. Gateway errors: non-2xx
`{code:<int>, msg}`. BAPI errors keep the C2C shape with `success:false`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import msgspec

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(float_hook=Decimal)  # EP-7 prices arrive as JSON numbers


@dataclass(frozen=True)
class Request:
    """One HTTP request: header names lower-case, the query string exactly as sent."""

    method: str
    path: str
    query: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    client: str = "127.0.0.1"


@dataclass(frozen=True)
class Response:
    """One HTTP answer; `delay_s` is how long the server waits before sending it. `drop`, when
    set, means no answer at all: the connection fails that way instead ("reset", "refused",
    "timeout", "protocol"; only the in-process driver, `sim.inprocess`, carries it out)."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = (("content-type", "application/json"),)
    delay_s: float = 0.0
    drop: str = ""

    def json(self) -> Any:
        return msgspec.json.decode(self.body) if self.body else None


def decode_body(body: bytes) -> Any:
    """Decode a JSON body with numbers that have a fraction as Decimal; None when not JSON."""
    if not body.strip():
        return {}
    try:
        return _decoder.decode(body)
    except msgspec.DecodeError:
        return None


def encode(obj: Any) -> bytes:
    return _encoder.encode(obj)


def sapi_ok(data: Any, total: int | None = None) -> Response:
    env: dict[str, Any] = {"code": "000000", "message": "success", "data": data}
    if total is not None:
        env["total"] = total
    env["success"] = True
    return Response(200, encode(env))


def ep7_ok(shape: str) -> Response:
    """EP-7's success: `data` null, true, or no `data` key ("null", "true", "absent").

    No source holds a captured body; the schema says CommonRet_boolean (reference §4, §10).
    """
    env: dict[str, Any] = {"code": "000000", "message": "success"}
    if shape != "absent":
        env["data"] = True if shape == "true" else None
    env["success"] = True
    return Response(200, encode(env))


def bapi_ok(data: Any, total: int) -> Response:
    env = {"code": "000000", "message": None, "messageDetail": None, "data": data,
           "total": total, "success": True}
    return Response(200, encode(env))


def bapi_error(status: int = 400, code: str = "000002",
               message: str = "illegal parameter") -> Response:
    env = {"code": code, "message": message, "messageDetail": None, "data": None, "success": False}
    return Response(status, encode(env))


def gateway_error(status: int, code: int, msg: str,
                  headers: tuple[tuple[str, str], ...] = ()) -> Response:
    return Response(status, encode({"code": code, "msg": msg}),
                    (("content-type", "application/json"), *headers))


def mandatory(name: str) -> Response:
    """The -1102 answer for a missing or malformed parameter, as in the captured samples."""
    return gateway_error(
        400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


def illegal() -> Response:
    return gateway_error(400, -1102, "illegal parameter")


def method_not_supported(method: str) -> Response:
    return gateway_error(404, -1000, f"Request method '{method}' is not supported")


def empty_200() -> Response:
    return Response(200, b"", ())
