"""What "the same events" means for a replay, and the first divergence when they are not.

Trio runs ready tasks in a random order, so two runs of the same session may log the same facts
in a different global order (the market's two sides, the limiter's concurrent calls). What must
not change is each fact, what caused it, which occurrence it is, and when it happened.

Identity. An event's identity is a blake2b digest (stable across processes and machines) of the
actor that emitted it, its normalized payload and the identity of its cause, followed by its
ordinal among the events sharing that digest (an answer's body enters as the recorded answer
it is, see `_Bodies`). A root event (no cause) is thereby numbered by
its occurrence per actor and content: the 3rd EP-0 poll of the SELL side's page 1 is not the
4th, so a poll added, missing or swapped anywhere shifts every later ordinal of its kind, and
everything those polls caused, out of equality. Identities are unique within a session.

Comparison, per actor in the recorded order: every recorded event must be replayed (same
identity), no other event may be replayed, and a matched event must happen within
`TIME_TOLERANCE_S` of its recorded time. `RequestDispatched` (when the limiter sent a call) is
compared the same way, within `DISPATCH_TOLERANCE_S`, when the recording logged it.

The tail. The live run was stopped at `end_t` wherever its tasks were, so one window,
`TAIL_S`, applies to positions: an event recorded or replayed at or after `end_t - TAIL_S` that
has no counterpart is the stop's cut, not a divergence. The recorded sender uses the same
window for a request it has no answer for.

`RunStopped` is compared by reason: a recorded fatal stop must be replayed as the same fatal
stop; a run the user stopped (duration, signal) must not stop on its own in the replay.

Normalizing drops what legitimately differs between a live run and its replay: request ids
(counters whose order follows the scheduler), measured latencies, the clock offset measured
against the wall clock, the createTime and uuid stamped on a chat frame and the wording of a
transport error.
"""

from __future__ import annotations

import json
from hashlib import blake2b

import msgspec

from events import (AdRepriced, ApiError, ApiRequest, ApiResponse, BookSnapshot, ChatDisconnected,
                    ChatFrameSent, ChatMessageSent, ChatSendRequest, ClockSynced, Envelope,
                    MyAdsLoaded, RequestDispatched, RunStopped, SessionSummary)
from events.lazy import enc_hook

TAIL_S = 1.0  # the stop's cut: longer than any answer's latency in a recording
TIME_TOLERANCE_S = 0.25  # a live run's processing delays; a replay has none
DISPATCH_TOLERANCE_S = 0.25  # the same, for when the limiter sent a call
# Compared apart (RunStopped by its reason) or not at all (the summary is a cache of the events
# before it, written at the stop).
AT_THE_STOP = (RunStopped, SessionSummary)
# A book read lazily (events.lazy) encodes to the JSON it was read from, not decoding its ads.
_encoder = msgspec.json.Encoder(enc_hook=enc_hook)


def _drop_request_id(event):
    return msgspec.structs.replace(event, request_id="")


def _response(event):
    return msgspec.structs.replace(event, request_id="", elapsed_ms=0, body=b"")


def _error(event):
    return msgspec.structs.replace(event, request_id="", message="")


def _frame(event):
    frame = json.loads(event.text)
    frame.pop("createTime", None)
    frame.pop("uuid", None)
    return ChatFrameSent(text=json.dumps(frame, sort_keys=True))


def _stopped(event):
    # Only a fatal stop is the bot's own doing; the others are where the user cut the run.
    if event.reason == "fatal":
        return event
    return RunStopped(reason="cut")


_NORMALIZE = {
    ApiRequest: _drop_request_id,
    AdRepriced: _drop_request_id,
    RequestDispatched: _drop_request_id,
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
    RunStopped: _stopped,
}


def normalize(event) -> bytes:
    """The comparable bytes of one event (an answer's body is digested apart, see `identities`)."""
    cls = type(event)
    if cls is BookSnapshot:
        return _book_bytes(event)
    fn = _NORMALIZE.get(cls)
    return _encoder.encode(fn(event) if fn is not None else event)


_BOOKS: dict[int, tuple[BookSnapshot, bytes]] = {}
BOOKS_KEPT = 8


def _book_bytes(book: BookSnapshot) -> bytes:
    """A book's bytes, encoded once: each is read for its identity and by the decision clock
    (`replay.recorded.DecisionTimes`) moments apart, and twenty ads take long to encode. Events
    are frozen, so the same object has the same bytes."""
    hit = _BOOKS.get(id(book))
    if hit is not None and hit[0] is book:
        return hit[1]
    out = _encoder.encode(book)
    if len(_BOOKS) >= BOOKS_KEPT:
        del _BOOKS[next(iter(_BOOKS))]
    _BOOKS[id(book)] = (book, out)
    return out


class _Bodies:
    """What an answer's body contributes to its identity.

    A replay can only serve recorded answers, and it serves the very bytes objects it read
    from the log; so a body that is one of the recording's stands for itself by the seq of the
    (first) recorded answer that carries it, which costs nothing, where a blake2b of every 50 kB
    book page would cost a replay of an hour seconds. A short body, or one that is no recorded
    answer's (a what-if's synthesized answer), is digested.
    """

    SHORT = 256

    def __init__(self, recorded: list[Envelope]) -> None:
        self._seq: dict[int, tuple[bytes, bytes]] = {}
        for env in recorded:
            e = env.event
            if isinstance(e, ApiResponse) and len(e.body) > self.SHORT:
                self._seq.setdefault(id(e.body), (e.body, b"#%d" % env.seq))

    def __call__(self, body: bytes) -> bytes:
        if len(body) <= self.SHORT:
            return body
        hit = self._seq.get(id(body))
        if hit is not None and hit[0] is body:
            return hit[1]
        return blake2b(body, digest_size=16).digest()


def identities(envelopes: list[Envelope], bodies: _Bodies | None = None) -> dict[int, bytes]:
    """Each event's identity by seq (see the module's docstring and `_Bodies`)."""
    bodies = bodies or _Bodies(envelopes)
    by_seq: dict[int, bytes] = {}
    seen: dict[bytes, int] = {}
    for env in envelopes:
        event = env.event
        h = blake2b(env.source.encode(), digest_size=16)
        h.update(b"\0")
        h.update(by_seq.get(env.cause, b"") if env.cause is not None else b"")
        h.update(b"\0")
        h.update(normalize(event))
        if isinstance(event, ApiResponse):
            h.update(bodies(event.body))
        key = h.digest()
        n = seen.get(key, 0)
        seen[key] = n + 1
        by_seq[env.seq] = key + n.to_bytes(4, "big")
    return by_seq


class Divergence(msgspec.Struct, frozen=True, kw_only=True):
    seq: int
    type: str
    expected: str
    got: str
    chain: tuple[str, ...]
    side: str = "recorded"  # whose seq `seq` is: "recorded" or "replayed"
    t: float = 0.0

    def render(self) -> str:
        lines = [f"first divergence at t={self.t:.3f}s, {self.side} seq {self.seq} ({self.type}):",
                 f"  expected: {self.expected}", f"  got:      {self.got}",
                 "  the chain of events that led to it (oldest first):"]
        lines += [f"    {c}" for c in self.chain]
        return "\n".join(lines)


def compare(recorded: list[Envelope], replayed: list[Envelope], *, end_t: float | None = None,
            tail_s: float = TAIL_S) -> Divergence | None:
    """Return None when both hold the same events at the same times, else the first divergence.

    Args:
        end_t: where the live run was stopped (default: its last event).
        tail_s: the stop's cut (see the module's docstring).
    """
    end = end_t if end_t is not None else max((e.t for e in recorded), default=0.0)
    tail = end - tail_s
    if not any(isinstance(e.event, RequestDispatched) for e in recorded):
        # A session recorded before dispatches were logged: their schedule is checked, not
        # compared (replay.schedule).
        replayed = [e for e in replayed if not isinstance(e.event, RequestDispatched)]
    candidates = _stop_divergences(recorded, replayed, end)
    bodies = _Bodies(recorded)
    rec_ids = identities(recorded, bodies)
    rep_ids = identities(replayed, bodies)
    rep_by_id = {ident: env for env in replayed if (ident := rep_ids[env.seq])}
    rec_by_id = {rec_ids[env.seq]: env for env in recorded}
    for actor, envs in _per_actor(recorded).items():
        for env in envs:
            if isinstance(env.event, AT_THE_STOP):
                continue
            got = rep_by_id.get(rec_ids[env.seq])
            if got is None:
                if env.t < tail:
                    candidates.append((env.t, 0, env.seq, lambda env=env: _missing(
                        env, recorded, replayed, rec_ids, rep_ids, rec_by_id)))
                    break  # the first of this actor; what follows from it is consequence
                continue
            tolerance = (DISPATCH_TOLERANCE_S if isinstance(env.event, RequestDispatched)
                         else TIME_TOLERANCE_S)
            if abs(got.t - env.t) > tolerance and min(env.t, got.t) < tail:
                candidates.append((min(env.t, got.t), 1, env.seq, lambda env=env, got=got: _mistimed(
                    env, got, recorded, tolerance)))
                break
    for actor, envs in _per_actor(replayed).items():
        for env in envs:
            if isinstance(env.event, AT_THE_STOP):
                continue
            if rep_ids[env.seq] not in rec_by_id and env.t < tail:
                candidates.append((env.t, 2, env.seq, lambda env=env: _extra(env, replayed)))
                break
    return _first(candidates)


def _first(candidates) -> Divergence | None:
    if not candidates:
        return None
    return min(candidates, key=lambda c: c[:3])[3]()


def _per_actor(envelopes: list[Envelope]) -> dict[str, list[Envelope]]:
    out: dict[str, list[Envelope]] = {}
    for env in envelopes:
        out.setdefault(env.source, []).append(env)
    return out


def _stop_divergences(recorded, replayed, end: float):
    rec = [e for e in recorded if isinstance(e.event, RunStopped)]
    rep = [e for e in replayed if isinstance(e.event, RunStopped)]
    rec_fatal = rec[-1] if rec and rec[-1].event.reason == "fatal" else None
    rep_fatal = rep[-1] if rep and rep[-1].event.reason == "fatal" else None
    if rec_fatal is None and rep_fatal is None:
        return []
    if rec_fatal is not None and rep_fatal is not None and \
            normalize(rec_fatal.event) == normalize(rep_fatal.event):
        return []
    if rec_fatal is not None:
        got = (f"{_show(rep_fatal.event)} at t={rep_fatal.t:.3f}s" if rep_fatal is not None
               else "(the replay did not stop: it ran on to the end of the recording)")
        return [(rec_fatal.t, 0, rec_fatal.seq, lambda: Divergence(
            seq=rec_fatal.seq, type="RunStopped", expected=_show(rec_fatal.event), got=got,
            chain=_chain(rec_fatal, recorded), t=rec_fatal.t))]
    return [(rep_fatal.t, 0, rep_fatal.seq, lambda: Divergence(
        seq=rep_fatal.seq, type="RunStopped", side="replayed", t=rep_fatal.t,
        expected=f"(the recorded run did not stop before its end at t={end:.3f}s)",
        got=_show(rep_fatal.event), chain=_chain(rep_fatal, replayed)))]


def _missing(env, recorded, replayed, rec_ids, rep_ids, rec_by_id) -> Divergence:
    """The replay's event in the expected one's place: the same actor's unmatched event of the
    same type from the same cause, else the nearest in time of the same type from that actor."""
    parent = rec_ids.get(env.cause) if env.cause is not None else None
    by_seq = {e.seq: e for e in replayed}
    same = [e for e in replayed if e.source == env.source and type(e.event) is type(env.event)
            and rep_ids[e.seq] not in rec_by_id]
    siblings = [e for e in same if parent is not None and e.cause is not None
                and rep_ids.get(e.cause) == parent]
    twin = min(siblings or same, key=lambda e: abs(e.t - env.t), default=None)
    got = "(no such event in the replay)"
    if twin is not None:
        got = f"{_show(twin.event)} at t={twin.t:.3f}s"
        if twin.cause is not None and twin.cause in by_seq and not siblings:
            got += f" (caused by replayed {_brief(by_seq[twin.cause])})"
    return Divergence(seq=env.seq, type=type(env.event).__name__, t=env.t,
                      expected=f"{_show(env.event)} at t={env.t:.3f}s", got=got,
                      chain=_chain(env, recorded))


def _mistimed(env, got, recorded, tolerance: float) -> Divergence:
    late = got.t - env.t
    word = "late" if late > 0 else "early"
    return Divergence(seq=env.seq, type=type(env.event).__name__, t=min(env.t, got.t),
                      expected=f"{_show(env.event)} at t={env.t:.3f}s",
                      got=f"the same at t={got.t:.3f}s, {abs(late):.3f} s {word} (tolerance "
                          f"{tolerance} s)",
                      chain=_chain(env, recorded))


def _extra(env, replayed) -> Divergence:
    return Divergence(seq=env.seq, type=type(env.event).__name__, side="replayed", t=env.t,
                      expected="(nothing: the recording has no such event from "
                               f"{env.source} here)",
                      got=f"{_show(env.event)} at t={env.t:.3f}s", chain=_chain(env, replayed))


def _chain(env: Envelope, envelopes: list[Envelope], depth: int = 6) -> tuple[str, ...]:
    by_seq = {e.seq: e for e in envelopes}
    chain = []
    cur = env
    while cur is not None and len(chain) < depth:
        chain.append(f"seq {cur.seq} t={cur.t:.3f}s {cur.source}: {_show(cur.event)}")
        cur = by_seq.get(cur.cause) if cur.cause is not None else None
    return tuple(reversed(chain))


def _brief(env: Envelope) -> str:
    return f"seq {env.seq} t={env.t:.3f}s {_show(env.event, 120)}"


def _show(event, limit: int = 240) -> str:
    text = _encoder.encode(event).decode(errors="replace")
    return text if len(text) <= limit else text[:limit] + "..."
