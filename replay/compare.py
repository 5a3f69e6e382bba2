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

import json
from collections import Counter

import msgspec

from events import (AdRepriced, ApiError, ApiRequest, ApiResponse, ChatDisconnected, ChatFrameSent,
                    MyAdsLoaded,
                    ChatMessageSent, ChatSendRequest, ClockSynced, Envelope, RunStopped,
                    SessionSummary)

IGNORED = (RunStopped, SessionSummary)  # the summary is a cache of what came before it
_encoder = msgspec.json.Encoder()


def _drop_request_id(event):
    return msgspec.structs.replace(event, request_id="")


def _response(event):
    return msgspec.structs.replace(event, request_id="", elapsed_ms=0)


def _error(event):
    return msgspec.structs.replace(event, request_id="", message="")


def _frame(event):
    frame = json.loads(event.text)
    frame.pop("createTime", None)
    frame.pop("uuid", None)
    return ChatFrameSent(text=json.dumps(frame, sort_keys=True))


_NORMALIZE = {
    ApiRequest: _drop_request_id,
    AdRepriced: _drop_request_id,
    ApiResponse: _response,
    ApiError: _error,
    ClockSynced: lambda e: msgspec.structs.replace(e, offset_ms=0, round_trip_ms=0),
    ChatFrameSent: _frame,
    ChatSendRequest: lambda e: msgspec.structs.replace(e, uuid=""),
    ChatMessageSent: lambda e: msgspec.structs.replace(e, uuid=""),
    ChatDisconnected: lambda e: ChatDisconnected(reason=""),
    # When the refresh began and how far the ads actor had read its inbox then: scheduler luck,
    # like a latency (what the ads actor does with them shows in its later events).
    MyAdsLoaded: lambda e: msgspec.structs.replace(e, asked_at=0.0, asked_after_seq=0),
}


def normalize(event) -> bytes:
    """The comparable bytes of one event."""
    fn = _NORMALIZE.get(type(event))
    return _encoder.encode(fn(event) if fn is not None else event)


def identities(envelopes: list[Envelope], parents: dict[int, int] | None = None
               ) -> list[tuple[int, Envelope]]:
    """Each compared event's causal identity, in the session's order.

    `parents`, when given, is filled with each event's parent identity by seq.
    """
    by_seq: dict[int, int] = {}
    out = []
    for env in envelopes:
        parent = by_seq.get(env.cause, 0) if env.cause is not None else 0
        # hash() of bytes is stable within one process, which is all a comparison needs.
        digest = hash((normalize(env.event), parent))
        by_seq[env.seq] = digest
        if parents is not None:
            parents[env.seq] = parent
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
    rec_parents: dict[int, int] = {}
    rep_parents: dict[int, int] = {}
    rec = identities(recorded, rec_parents)
    rep = identities(replayed, rep_parents)
    tail = (end_t if end_t is not None else max((e.t for e in recorded), default=0.0)) - tail_s
    left = Counter(d for d, _ in rep)
    for digest, env in rec:
        if left[digest] > 0:
            left[digest] -= 1
            continue
        if env.t >= tail:
            continue
        twin = _twin(env, rec_parents[env.seq], rep, rep_parents)
        return _divergence(env, recorded, twin)
    in_tail = Counter(d for d, e in rep if e.t >= tail)
    extra = [(d, e) for d, e in rep if left[d] > in_tail[d]]
    if extra:
        env = extra[0][1]
        return Divergence(seq=env.seq, type=type(env.event).__name__,
                          expected="(nothing: the recording ends here)",
                          got=_show(env.event), chain=_chain(env, replayed))
    return None


def _twin(env: Envelope, parent: int, rep: list[tuple[int, Envelope]],
          rep_parents: dict[int, int]) -> Envelope | None:
    """The replay's event in the expected one's place: same type from the same cause, else the
    nearest in time of the same type from the same actor."""
    same = [e for _, e in rep if type(e.event) is type(env.event) and e.source == env.source]
    if not same:
        return None
    siblings = [e for e in same if rep_parents.get(e.seq) == parent and parent != 0]
    return min(siblings or same, key=lambda e: abs(e.t - env.t))


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
