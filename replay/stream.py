"""Replay a session while reading its recording as it goes, in memory that does not hold it.

`replay.compare` and `replay.schedule` judge two lists of envelopes, which for a day-long session
means every recorded and replayed event, 40 KB book pages included, in memory at once. This
module gives the same verdict as they do (equal or not) without holding either list:

- The recorded world is indexed in one pass (`index_recording`): the sender keeps, per request
  identity, the answers' times, headers and body digests, and fetches a body from the log's
  body table when it serves it (`store.bodies`, whose small cache holds the pages in use).
- `StreamCompare` computes each event's identity exactly as `replay.compare` defines it (actor,
  normalized payload, cause's identity, ordinal among equal digests; a body by its content
  digest), for the replayed events as the bus appends them and for the recorded ones read from
  the log just ahead of the replay's clock. Every event waits in a pending set until its twin
  from the other side arrives; one whose time window (`TIME_TOLERANCE_S`, or
  `DISPATCH_TOLERANCE_S`) has closed before `end_t - TAIL_S` is a divergence (missing, extra or
  mistimed), exactly the cases `compare` reports. The pending sets hold a few seconds of events.
- The schedule checks (`replay.schedule`) run on the replayed envelopes as they come, each
  holding only the calls still waiting at the limiter.
- A long session's comparison runs in a judge process on the other core (`replay.judge`): the
  replay sends each event's `StreamCompare.parts`, the judge reads the recording as they come
  (`more`) and feeds them to its own `StreamCompare.take`, the same code.

What stays per event is one 20-byte identity per side, to look up causes and number
occurrences, not the event. When the verdict is a divergence the runner replays once more with
the lists in memory for `compare`'s readable first divergence (a divergent replay is the rare,
interactive case).
"""

from __future__ import annotations

from array import array
from collections import deque
from hashlib import blake2b

import msgspec
import trio

from events import (ActorFailed, AlertFailed, AlertSent, ApiResponse, BookSnapshot, ChatConnected,
                    ChatDisconnected, ChatFrameReceived, Envelope, RepriceDecided,
                    RequestDispatched, RunStopped, SessionSummary)
from replay.alerts import recorded_channels
from replay.compare import (AT_THE_STOP, DISPATCH_TOLERANCE_S, TAIL_S, TIME_TOLERANCE_S,
                            normalize)
from replay.recorded import DecisionTimes, RecordedChat, RecordedSender
from replay.schedule import ScheduleCheck
from store import LogError
from store.digests import body_digests

EPS = 1e-9
IDENT = 20  # bytes of one identity: a 16-byte digest and a 4-byte ordinal
BLANK = bytes(IDENT)
FIRST = (0).to_bytes(4, "big")  # the ordinal of a digest's first occurrence
LOOKAHEAD_S = 1.0  # how far ahead of the replay's clock the recording is read (> tolerances)


class _Identities:
    """One side's identities: each event's by seq, and how often each digest occurred.

    Identities sit in one bytearray, `IDENT` bytes a seq (a session's seqs run from its first
    without gaps; an event left out of the comparison leaves its slot blank), so a cause is
    found however old it is. Occurrences of a root event's digest (no cause) are counted for
    the whole session: those are the polls a quiet market repeats, few distinct digests. A
    caused event's digest holds its cause's identity, which is unique, so it can repeat only
    among one cause's children, which follow their cause within seconds: those counts are
    forgotten `CHILD_WINDOW_S` after their first occurrence, on both sides alike.
    """

    CHILD_WINDOW_S = 3600.0

    def __init__(self) -> None:
        self.ids = bytearray()
        self.base = -1
        self.roots: dict[bytes, int] = {}
        self.children: dict[bytes, int] = {}
        self._child_order: deque[tuple[float, bytes]] = deque()
        self._sources: dict[str, bytes] = {}

    def of(self, seq: int, source: str, cause: int | None, t: float, normalized: bytes,
           body_token: bytes) -> bytes:
        """The identity of the event at `seq` (`normalized`: `replay.compare.normalize` of it)."""
        ids = self.ids
        if self.base < 0:
            self.base = seq
        base = self.base
        slot = (seq - base) * IDENT
        n_ids = len(ids)
        if slot > n_ids:
            ids.extend(bytes(slot - n_ids))
            n_ids = slot
        name = self._sources.get(source)
        if name is None:
            name = self._sources[source] = source.encode() + b"\0"
        at = cause
        if at is not None:
            cause = b""
            at = (at - base) * IDENT
            if 0 <= at < n_ids:
                cause = ids[at:at + IDENT]
                if cause == BLANK:
                    cause = b""
            key = blake2b(b"".join((name, cause, b"\0", normalized, body_token)),
                          digest_size=16).digest()
            counts = self._children(key, t)
        else:
            counts = self.roots
            key = blake2b(b"".join((name, b"\0", normalized, body_token)),
                          digest_size=16).digest()
        n = counts.get(key)
        if n is None:
            counts[key] = 1
            ident = key + FIRST
        else:
            counts[key] = n + 1
            ident = key + n.to_bytes(4, "big")
        if slot == n_ids:
            ids += ident
        else:
            ids[slot:slot + IDENT] = ident
        return ident

    def _children(self, key: bytes, t: float) -> dict[bytes, int]:
        order, children = self._child_order, self.children
        while order and order[0][0] < t - self.CHILD_WINDOW_S:
            children.pop(order.popleft()[1], None)
        if key not in children:
            order.append((t, key))
        return children


class _Pending:
    """Events of one side still waiting for their twin, oldest first."""

    def __init__(self) -> None:
        self.times: dict[bytes, float] = {}
        self.order: deque[tuple[float, bytes]] = deque()  # (deadline, identity)
        self.peak = 0

    def add(self, ident: bytes, t: float, tolerance: float) -> None:
        times = self.times
        times[ident] = t
        self.order.append((t + tolerance, ident))
        if len(times) > self.peak:
            self.peak = len(times)

    def closed(self, now: float, tail: float) -> bool:
        """Drop what was matched from the front; True if an event whose window closed before
        `now` is still waiting, at a time before `tail` (a divergence)."""
        order, times = self.order, self.times
        while order:
            deadline, ident = order[0]
            t = times.get(ident)
            if t is None:
                order.popleft()
                continue
            return now > deadline + EPS and t < tail
        return False


class RecordedIds(msgspec.Struct, kw_only=True):
    """The recorded side of a comparison, computed while indexing the recording: each event's
    identity (`IDENT` bytes a seq), time and flags, and the run's last stop."""

    ids: bytearray
    times: array
    flags: bytearray  # per event: AT_STOP (not compared), DISPATCH (its time tolerance)
    stop: Envelope | None = None


AT_STOP, DISPATCH = 1, 2
# A replayed event's kind in `StreamCompare.parts`: compared with its time tolerance (REGULAR,
# DISPATCHED), or an identity only (STOPPING: at the stop; STOPPED, FATAL: a RunStopped, whose
# reason is compared when fatal).
REGULAR, DISPATCHED, STOPPING, STOPPED, FATAL = 0, 1, 2, 3, 4


class StreamCompare:
    """The verdict of `replay.compare.compare` (equal or not), fed one envelope at a time.

    Args:
        end_t: where the live run was stopped.
        recorded: the recording's identities (`index_recording`), matched just ahead of the
            replay's clock.
        with_dispatches: whether the recording logged RequestDispatched (else the replayed
            ones are left out, as `compare` does).
        digest_of: the digest of a replayed body served from the recording (None: unknown).
        more: None when `recorded` is complete; else it is read as the comparison goes
            (`replay.judge`): `more(until)` adds the recorded events up to `until`.
    """

    def __init__(self, end_t: float, recorded: RecordedIds, *, with_dispatches: bool,
                 digest_of, tail_s: float = TAIL_S, more=None) -> None:
        self.end_t = end_t
        self.tail = end_t - tail_s
        self.diverged = False
        self.why = ""
        self._rec = recorded
        self._i = 0
        self._rep_ids = _Identities()
        self._rec_pending = _Pending()
        self._rep_pending = _Pending()
        self._rec_t = float("-inf")
        self._rep_t = 0.0
        self._with_dispatches = with_dispatches
        self._digest_of = digest_of
        self._rep_fatal: bytes | None = None  # the replay's fatal RunStopped, normalized
        self._next_t = float("-inf")  # the next recorded event's time
        # Where `recorded` is read as the comparison goes (the judge process): `more(until)`
        # adds the recorded events up to `until` and returns the next one's time.
        self._more = more

    def replayed(self, env: Envelope) -> None:
        """Take in the replay's next envelope (in the bus's order)."""
        parts = self.parts(env)
        if parts is not None:
            self.take(*parts)

    def parts(self, env: Envelope) -> tuple | None:
        """What the comparison reads of a replayed envelope (None: it is not compared):
        (seq, t, source, cause, kind, normalized bytes, body token)."""
        e = env.event
        cls = e.__class__
        t = env.t
        if t > self.end_t and cls is not RunStopped:
            return None
        if cls is RequestDispatched:
            if not self._with_dispatches:
                return None
            kind = DISPATCHED
        elif cls in AT_THE_STOP:
            kind = STOPPING if cls is not RunStopped else FATAL if e.reason == "fatal" else STOPPED
        else:
            kind = REGULAR
        token = self._replayed_token(e) if cls is ApiResponse else b""
        return env.seq, t, env.source, env.cause, kind, normalize(e), token

    def take(self, seq: int, t: float, source: str, cause: int | None, kind: int,
             normalized: bytes, token: bytes) -> None:
        """Take in one replayed event's `parts`."""
        if self._next_t <= t + LOOKAHEAD_S:
            self._advance(t + LOOKAHEAD_S)
        self._rep_t = t
        ident = self._rep_ids.of(seq, source, cause, t, normalized, token)
        if kind >= STOPPING:
            if kind != STOPPING:  # the run's (last) stop
                self._rep_fatal = normalized if kind == FATAL else None
            return
        tolerance = DISPATCH_TOLERANCE_S if kind == DISPATCHED else TIME_TOLERANCE_S
        recorded_t = self._rec_pending.times.pop(ident, None)
        if recorded_t is not None:
            if abs(t - recorded_t) > tolerance and min(t, recorded_t) < self.tail:
                self._diverge("an event at another time")
        else:
            self._rep_pending.add(ident, t, tolerance)
        if not self.diverged:
            self._close()

    def finish(self) -> bool:
        """Take in the rest of the recording; return whether the replay was equal."""
        self._advance(float("inf"))
        self._rep_t = float("inf")
        self._close()
        if self._rec_pending.closed(float("inf"), self.tail) or \
                self._rep_pending.closed(float("inf"), self.tail):
            self._diverge("an event without its twin")
        self._check_stops()
        return not self.diverged

    @property
    def peak_pending(self) -> int:
        """The most events either side held waiting for a twin at once."""
        return max(self._rec_pending.peak, self._rep_pending.peak)

    def _advance(self, until: float) -> None:
        unread = self._more(until) if self._more is not None else float("inf")
        rec, i = self._rec, self._i
        times, flags, ids = rec.times, rec.flags, rec.ids
        n = len(times)
        rep_times, pending = self._rep_pending.times, self._rec_pending
        while i < n and times[i] <= until:
            t = times[i]
            flag = flags[i]
            self._rec_t = t
            if not flag & AT_STOP:
                ident = bytes(ids[i * IDENT:(i + 1) * IDENT])
                tolerance = DISPATCH_TOLERANCE_S if flag & DISPATCH else TIME_TOLERANCE_S
                t_replayed = rep_times.pop(ident, None)
                if t_replayed is not None:
                    self._check_time(t_replayed, t, tolerance)
                else:
                    pending.add(ident, t, tolerance)
            i += 1
        self._i = i
        self._next_t = times[i] if i < n else unread

    def _close(self) -> None:
        if self.diverged:
            return
        if self._rec_pending.closed(self._rep_t, self.tail):
            self._diverge("a recorded event the replay did not make in time")
        elif self._rep_pending.closed(self._rec_t, self.tail):
            self._diverge("a replayed event the recording does not hold")

    def _check_time(self, t_replayed: float, recorded_t: float, tolerance: float) -> None:
        if abs(t_replayed - recorded_t) > tolerance and min(t_replayed, recorded_t) < self.tail:
            self._diverge("an event at another time")

    def _replayed_token(self, e) -> bytes:
        if not e.body:
            return b""
        digest = self._digest_of(e.body)
        return digest if digest is not None else blake2b(e.body, digest_size=16).digest()

    def _diverge(self, why: str) -> None:
        if not self.diverged:
            self.diverged, self.why = True, why

    def _check_stops(self) -> None:
        rec = self._rec.stop
        rec_fatal = normalize(rec.event) if rec is not None and rec.event.reason == "fatal" \
            else None
        if rec_fatal != self._rep_fatal:  # a fatal stop on one side only, or another one
            self._diverge("a different stop")


def _token(e, digest: bytes | None) -> bytes:
    """A recorded answer's body as it enters the identity: its content digest (the log's, or
    for a body stored inline by an older layout, computed alike: `store.bodies.digest_of`)."""
    if digest is not None:
        return digest
    if e.__class__ is not ApiResponse or not e.body:
        return b""
    return blake2b(e.body, digest_size=16).digest()


def recording(log, sid: int):
    """Yield session `sid`'s envelopes with their answer body's digest (None: no stored body),
    read lazily: the stored bodies left empty (neither read nor decompressed) and each book's
    ads left as their logged JSON, which is what their identity encodes (`replay.compare`'s
    encoder writes a lazy book's kept JSON back, the bytes a decoded book encodes to)."""
    digests = body_digests(log, sid)
    pending = next(digests, None)
    for env in log.events(sid, lazy=True):
        digest = None
        while pending is not None and pending[0] < env.seq:
            pending = next(digests, None)
        if pending is not None and pending[0] == env.seq:
            digest = pending[1]
        yield env, digest


# What `index_recording` does with an event of each class besides indexing it.
_SOCKET, _ALERT, _STOP, _DISPATCH, _FAILED, _SUMMARY = 1, 2, 3, 4, 5, 6
_KINDS = {ChatConnected: _SOCKET, ChatFrameReceived: _SOCKET, ChatDisconnected: _SOCKET,
          AlertSent: _ALERT, AlertFailed: _ALERT, RunStopped: _STOP,
          RequestDispatched: _DISPATCH, ActorFailed: _FAILED, SessionSummary: _SUMMARY}
_FLAGS = {0: 0, _SOCKET: 0, _ALERT: 0, _STOP: AT_STOP, _DISPATCH: DISPATCH, _FAILED: 0,
          _SUMMARY: AT_STOP}


class RecordedSide:
    """The recorded side of a comparison, built one recorded event at a time (in log order)."""

    def __init__(self) -> None:
        self._idents = _Identities()
        self.rec = RecordedIds(ids=self._idents.ids, times=array("d"), flags=bytearray())

    def note(self, env: Envelope, digest: bytes | None, kind: int | None = None) -> None:
        """Take in the next recorded event (`kind`: its `_KINDS` entry, if known)."""
        e = env.event
        if kind is None:
            kind = _KINDS.get(e.__class__, 0)
        if kind == _STOP:
            self.rec.stop = env
        self._idents.of(env.seq, env.source, env.cause, env.t, normalize(e), _token(e, digest))
        self.rec.times.append(env.t)
        self.rec.flags.append(_FLAGS[kind])


class World(msgspec.Struct, kw_only=True):
    """What a replay serves from the recording, indexed in one pass over it."""

    sender: RecordedSender
    chat: RecordedChat
    decisions: DecisionTimes
    alerts: tuple
    end_t: float
    dispatches: bool  # whether the recording logged RequestDispatched
    events: int
    recorded: RecordedIds
    restarts: bool  # whether an actor failed and was restarted in the recording


def index_recording(log, sid: int, *, identities: bool = True) -> World:
    """Read session `sid` once and build its replay's world without holding its events: the
    sender keeps each answer's digest and fetches the body from the log when serving it.
    `identities`: False leaves `World.recorded` empty (a judge process computes it apart)."""
    sender = RecordedSender(None, 0.0, fetch=_Fetch(log, sid))
    decisions = DecisionTimes()
    sockets, alerts = [], []
    end_t = last_t = None
    dispatches = restarts = False
    events = 0
    side = RecordedSide()
    note, note_decision, identify = sender.note, decisions.note, side.note
    for env, digest in recording(log, sid):
        events += 1
        e = env.event
        cls = e.__class__
        note(env, digest)
        if cls is BookSnapshot or cls is RepriceDecided:
            note_decision(env)
        kind = _KINDS.get(cls, 0)
        if identities:
            identify(env, digest, kind)
        if kind:
            if kind == _SOCKET:
                sockets.append(env)
            elif kind == _ALERT:
                alerts.append(env)
            elif kind == _STOP:
                end_t = env.t
            elif kind == _DISPATCH:
                dispatches = True
            elif kind == _FAILED:
                restarts = True
        last_t = env.t
    sender.finish()
    # Where the actors stopped: the run's last alert may be logged a moment after RunStopped.
    end_t = end_t if end_t is not None else (last_t if last_t is not None else 0.0)
    sender.end_t = end_t
    return World(sender=sender, chat=RecordedChat(sockets), decisions=decisions,
                 alerts=recorded_channels(alerts), end_t=end_t, dispatches=dispatches,
                 events=events, recorded=side.rec, restarts=restarts)


class _Fetch:
    """Read a served answer's body from the log; a damaged one ends the replay after the run
    with its one-line error (inside the run the sender's caller would retry it)."""

    def __init__(self, log, sid: int) -> None:
        self.log, self.sid = log, sid
        self.error: LogError | None = None

    def __call__(self, digest: bytes, seq: int) -> bytes:
        try:
            return self.log.bodies.get(digest, self.sid, seq)
        except LogError as exc:
            self.error = self.error or exc
            raise


class StreamingWriter:
    """The replay's log writer when streaming: each envelope goes to the comparison and the
    schedule check, and is not kept.

    An actor restarted by its supervisor reads its session so far (`envelopes`); a streaming
    replay does not have it, so it notes that it must be replayed with its events in memory.
    """

    def __init__(self, compare: StreamCompare, schedule: ScheduleCheck, *, end_t: float,
                 keep: bool = False) -> None:
        self.end_t = end_t
        self.kept: list[Envelope] = []
        self._keep = keep
        self.compare = compare
        self.schedule = schedule
        self.produced = 0
        self.needs_lists = False

    @property
    def envelopes(self) -> list[Envelope]:
        self.needs_lists = True
        return []

    def append_nowait(self, envelope: Envelope) -> None:
        self.produced += 1
        if self._keep:
            self.kept.append(envelope)
        self.compare.replayed(envelope)
        if envelope.t <= self.end_t or envelope.event.__class__ is RunStopped:
            self.schedule.feed(envelope)

    async def flush(self) -> None:
        return None

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        await trio.sleep_forever()
