"""What "the same events" means for a replay, and the first divergence when they are not.

Trio runs ready tasks in a random order, so two runs of the same session may log the same facts
in a different global order (the market's two sides, the limiter's concurrent calls). What must
not change is each fact and what caused it. So an event is identified by its normalized payload
together with the identity of its cause, recursively (a causal chain), and two sessions are equal
when they hold the same multiset of such identities.

Normalizing drops what legitimately differs between a live run and its replay: request ids
(counters whose order follows the scheduler), measured latencies, the clock offset measured
against the wall clock, the createTime and uuid stamped on a chat frame, the wording of a
transport error, and RunStopped (the replay ends where the recording ends).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter

import msgspec

from events import (AdRepriced, ApiError, ApiRequest, ApiResponse, ChatDisconnected, ChatFrameSent,
                    ChatMessageSent, ChatSendRequest, ClockSynced, Envelope, RunStopped)

IGNORED = (RunStopped,)
_encoder = msgspec.json.Encoder()


def normalize(event) -> bytes:
    """The comparable bytes of one event."""
    match event:
        case ApiRequest() | ApiResponse() | ApiError() | AdRepriced():
            fields = {"request_id": ""}
            if isinstance(event, ApiResponse):
                fields["elapsed_ms"] = 0
            if isinstance(event, ApiError):
                fields["message"] = ""
            event = msgspec.structs.replace(event, **fields)
        case ClockSynced():
            event = msgspec.structs.replace(event, offset_ms=0, round_trip_ms=0)
        case ChatFrameSent(text=text):
            frame = json.loads(text)
            frame.pop("createTime", None)
            frame.pop("uuid", None)
            event = ChatFrameSent(text=json.dumps(frame, sort_keys=True))
        case ChatSendRequest() | ChatMessageSent():
            event = msgspec.structs.replace(event, uuid="")
        case ChatDisconnected():
            event = ChatDisconnected(reason="")
    return _encoder.encode(event)


def identities(envelopes: list[Envelope]) -> list[tuple[bytes, Envelope]]:
    """Each compared event's causal identity, in the session's order."""
    by_seq: dict[int, bytes] = {}
    out = []
    for env in envelopes:
        parent = by_seq.get(env.cause, b"") if env.cause is not None else b""
        digest = hashlib.blake2b(normalize(env.event) + parent, digest_size=16).digest()
        by_seq[env.seq] = digest
        if not isinstance(env.event, IGNORED):
            out.append((digest, env))
    return out


class Divergence(msgspec.Struct, frozen=True, kw_only=True):
    seq: int
    type: str
    expected: str
    got: str
    chain: tuple[str, ...]

    def render(self) -> str:
        lines = [f"first divergence at recorded seq {self.seq} ({self.type}):",
                 f"  expected: {self.expected}", f"  got:      {self.got}",
                 "  the chain of events that led to it (oldest first):"]
        lines += [f"    {c}" for c in self.chain]
        return "\n".join(lines)


def compare(recorded: list[Envelope], replayed: list[Envelope], *, end_t: float | None = None,
            tail_s: float = 1.0) -> Divergence | None:
    """Return None when both hold the same causal events, else the first divergence.

    The live run was stopped at `end_t` wherever its tasks were; the replay's timing differs by
    at most the noise of real latencies, so an event missing on either side within `tail_s` of
    the end is the stop's cut, not a divergence.
    """
    rec = identities(recorded)
    rep = identities(replayed)
    tail = (end_t if end_t is not None else max((e.t for e in recorded), default=0.0)) - tail_s
    left = Counter(d for d, _ in rep)
    for digest, env in rec:
        if left[digest] > 0:
            left[digest] -= 1
            continue
        if env.t >= tail:
            continue
        return _divergence(env, recorded, _closest(env, rep))
    in_tail = Counter(d for d, e in rep if e.t >= tail)
    extra = [(d, e) for d, e in rep if left[d] > in_tail[d]]
    if extra:
        env = extra[0][1]
        return Divergence(seq=env.seq, type=type(env.event).__name__,
                          expected="(nothing: the recording ends here)",
                          got=_show(env.event), chain=_chain(env, replayed))
    return None


def _closest(env: Envelope, rep: list[tuple[bytes, Envelope]]) -> Envelope | None:
    same = [e for _, e in rep if type(e.event) is type(env.event)]
    if not same:
        return None
    return min(same, key=lambda e: abs(e.t - env.t))


def _divergence(env: Envelope, recorded: list[Envelope], got: Envelope | None) -> Divergence:
    return Divergence(seq=env.seq, type=type(env.event).__name__, expected=_show(env.event),
                      got=_show(got.event) if got else "(no such event in the replay)",
                      chain=_chain(env, recorded))


def _chain(env: Envelope, envelopes: list[Envelope], depth: int = 6) -> tuple[str, ...]:
    by_seq = {e.seq: e for e in envelopes}
    chain = []
    cur = env
    while cur is not None and len(chain) < depth:
        chain.append(f"seq {cur.seq} t={cur.t:.3f}s {cur.source}: {_show(cur.event)}")
        cur = by_seq.get(cur.cause) if cur.cause is not None else None
    return tuple(reversed(chain))


def _show(event, limit: int = 240) -> str:
    text = _encoder.encode(event).decode(errors="replace")
    return text if len(text) <= limit else text[:limit] + "..."
