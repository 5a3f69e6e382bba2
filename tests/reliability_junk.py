"""Bad input, drawn by hypothesis: ways a real answer or chat frame gets mangled on its way in.

A `Junk` is a recipe applied to the good answer the fake exchange was about to give, so the junk
looks like what a proxy, an overloaded edge or a Binance bug produces: HTML pages, truncated
JSON, a field of the wrong type, huge numbers, empty bodies, random bytes, valid envelopes around
junk data, unexpected statuses and dropped connections. Statuses and codes that end a run by
design (451, -2008, -2014, -2015) are left out: the run must go on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
from hypothesis import strategies as st

HTML = (b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><center>"
        b"<h1>502 Bad Gateway</h1></center><hr><center>CloudFront</center></body></html>")
HUGE = "9" * 40 + ".99"
JUNK_VALUES = [None, [], {}, "", "x", True, False, 0, -1, 2**80, -(2**80), 1e308, 0.5, "1e999999",
               "-1e999999", "NaN", "Infinity", "1E-999999", HUGE, "1,600.50", "\u0661\u0662",
               "\x00", [None, {}], {"a": [[[]]]}, "12345678901234567890123456"]
# The fields the bot computes with, and values that break arithmetic or meaning.
NUMERIC_KEYS = {"price", "surplusAmount", "amount", "totalPrice", "minSingleTransAmount",
                "maxSingleTransAmount", "priceScale", "orderStatus", "advStatus", "createTime",
                "serverTime", "total", "monthFinishRate", "monthOrderCount", "tradeType"}
NUMERIC_JUNK = ["1e999999", "-1e999999", HUGE, "1E-999999", "-1", "0", "-0", 1e308, -2, 30,
                2**63, "NaN", "1e17", "0.000000000000000000000000001", None, "BUY", "SELL"]
STATUSES = [200, 201, 204, 206, 301, 304, 400, 401, 403, 404, 405, 409, 413, 418, 422, 429, 500,
            501, 502, 503, 504, 520, 599]
CODES = [-1000, -1003, -1021, -1022, -1102, -9000, 83628, 187049, 187055, 187022, 83229, 0, 1,
         2**40, "000002", "oops", None]
TRANSPORT = {
    "timeout": httpx.ReadTimeout, "refused": httpx.ConnectError,
    "protocol": httpx.RemoteProtocolError, "reset": httpx.ReadError,
}


def leaves(value: Any, path: tuple = ()) -> list[tuple]:
    """Paths to every scalar in a decoded JSON value, in document order."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in leaves(v, (*path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in leaves(v, (*path, i))]
    return [path]


def replaced(value: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[head] = replaced(value[head], rest, new)
    return copy


def blown_up(value: Any) -> Any:
    """Every number, and every string that reads as one, made astronomically large."""
    if isinstance(value, dict):
        return {k: blown_up(v) for k, v in value.items()}
    if isinstance(value, list):
        return [blown_up(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return 2**70 if isinstance(value, int) else 1e300
    try:
        float(value)
    except ValueError:
        return value
    return HUGE


@dataclass(frozen=True)
class Junk:
    """One way to mangle an answer: `kind` names it, `arg` parametrises it."""

    kind: str
    arg: Any = None
    status: int = 200

    def body(self, good: bytes) -> bytes:
        """The mangled body, from the good one."""
        if self.kind == "html":
            return HTML
        if self.kind == "empty":
            return b""
        if self.kind == "bytes":
            return self.arg
        if self.kind == "truncate":
            return good[: int(len(good) * self.arg)]
        if self.kind == "deep":
            nested = b"[" * self.arg + b"]" * self.arg
            return b'{"code":"000000","success":true,"data":' + nested + b',"total":1}'
        if self.kind == "envelope":
            data, total = self.arg
            return json.dumps({"code": "000000", "message": "success", "success": True,
                               "data": data, "total": total}).encode()
        if self.kind == "error":
            return json.dumps({"code": self.arg, "msg": "junk error"}).encode()
        decoded = _json_or_none(good)
        if decoded is None:
            return good
        if self.kind in ("mutate", "numeric"):
            paths = leaves(decoded)
            if self.kind == "numeric":
                paths = [p for p in paths if p and p[-1] in NUMERIC_KEYS] or paths
            index, value = self.arg
            return json.dumps(replaced(decoded, paths[index % len(paths)], value)).encode()
        if self.kind == "blowup":
            return json.dumps(blown_up(decoded)).encode()
        return good  # "status": the good body under an unexpected status

    def answer(self, request: httpx.Request, good: httpx.Response) -> httpx.Response:
        """The response to give instead of `good` (raises for a dropped connection)."""
        if self.kind == "transport":
            raise TRANSPORT[self.arg]("junk: the connection went away", request=request)
        return httpx.Response(self.status, content=self.body(good.content),
                              headers={"content-type": "application/json"})


def _json_or_none(body: bytes):
    try:
        return json.loads(body)
    except ValueError:
        return None


json_junk = st.recursive(st.sampled_from(JUNK_VALUES),
                         lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                 st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=3)),
                         max_leaves=8)
junk = st.one_of(
    st.builds(Junk, st.just("html"), status=st.sampled_from([200, 403, 500, 502, 503, 504])),
    st.builds(Junk, st.just("empty"), status=st.sampled_from([200, 204, 500, 502])),
    st.builds(Junk, st.just("bytes"), st.binary(max_size=64), status=st.sampled_from(STATUSES)),
    st.builds(Junk, st.just("truncate"), st.floats(0, 0.99)),
    st.builds(Junk, st.just("mutate"), st.tuples(st.integers(0, 10**6), json_junk)),
    st.builds(Junk, st.just("numeric"), st.tuples(st.integers(0, 10**6),
                                                  st.sampled_from(NUMERIC_JUNK))),
    st.builds(Junk, st.just("blowup")),
    st.builds(Junk, st.just("deep"), st.sampled_from([50, 3000, 100_000])),
    st.builds(Junk, st.just("envelope"), st.tuples(json_junk, st.sampled_from(JUNK_VALUES))),
    st.builds(Junk, st.just("error"), st.sampled_from(CODES), status=st.sampled_from(STATUSES)),
    st.builds(Junk, st.just("status"), status=st.sampled_from(STATUSES)),
    st.builds(Junk, st.just("transport"), st.sampled_from(sorted(TRANSPORT))),
)

GOOD_FRAME = {"id": "1", "uuid": "u1", "type": "text", "orderNo": "2284", "content": "hello",
              "self": False, "status": "unread", "createTime": 1768000000000,
              "fromNickName": "buyer1"}


def frame_of(recipe: Junk) -> str | bytes:
    """A chat frame mangled the way `recipe` mangles an answer's body (text, or binary bytes)."""
    body = recipe.body(json.dumps(GOOD_FRAME).encode())
    if recipe.kind in ("bytes", "truncate"):
        return body if recipe.kind == "bytes" else body.decode("utf-8", "replace")
    return body.decode("utf-8", "replace")


frames = st.one_of(
    junk.filter(lambda j: j.kind != "transport").map(frame_of),
    st.text(max_size=200),
    st.sampled_from(["null", "[]", "42", '"text"', "{}", '{"type":null}', "\u202e\U0001f4a9"]),
)
