"""The recorded world of a session: its HTTP answers and its chat sockets, served back in replay.

`RecordedSender` is the limiter's sender in replay. It matches a request by identity (method,
path, canonical query, canonical body: `c2c.http.request_identity`) and by its ordinal among
identical requests, never by timestamp or signature, and answers with the recorded attempt after
the recorded latency on trio's clock. It builds no HTTP request at all: signing and httpx are
most of a call's CPU, and replay must run at 1000x real time.

`RecordedChat` is the chat connector in replay: each connect gets the next recorded socket, which
delivers its recorded frames at their recorded times and closes when the recording says it did.
"""

from __future__ import annotations

import math
from collections import OrderedDict, defaultdict, deque
from hashlib import blake2b

import httpx
import trio

from actors.senders import RawReply
from actors.sleep import sleep_until
from c2c.http import request_identity
from replay.compare import TAIL_S  # a request this close to the end may have been cut off
from events import (ApiError, ApiRequest, ApiResponse, ChatConnected, ChatDisconnected,
                    BookSnapshot, ChatFrameReceived, Envelope, RepriceDecided,
                    RequestDispatched)

NOT_CALLS = ("breaker_open", "dry_run", "paused")  # ApiError kinds that made no HTTP call
NEVER_ANSWERED = ApiError(request_id="", endpoint="", kind="gave_up", message="")  # see _gave_up
DELIVERY_JITTER_S = 0.05  # the most a replay holds a ready call to leave when the live run did
TURNS = ("breaker_open", "paused")  # of those, the ones given when the call's turn came
IDS_KEPT = 4096  # requests whose identity is kept (asked again for their turn and answer)
SERVED = 4096  # served bodies whose digest a streaming comparison can look up by object


IDENTITIES_KEPT = 4096  # distinct requests whose identity is remembered (a poll repeats one)
_identities: dict[tuple, tuple] = {}


def identity_of(req: ApiRequest) -> tuple:
    """`c2c.http.request_identity`, remembered by the fields it reads: an hour asks a few
    hundred distinct things ten thousand times, and canonicalising a body costs ~5 us."""
    key = (req.method, req.path, req.query, req.body)
    ident = _identities.get(key)
    if ident is None:
        if len(_identities) >= IDENTITIES_KEPT:
            _identities.clear()
        ident = _identities[key] = request_identity(req)
    return ident


class Unrecorded(Exception):
    """The replay made a request that the recording never saw: a divergence."""

    def __init__(self, req: ApiRequest, at: float) -> None:
        super().__init__(f"request never seen in the recording at t={at:.3f}s: {req.method} "
                         f"{req.path} {req.body or ''}".strip())
        self.request = req
        self.at = at


class RecordedSender:
    """Answer requests from the recording; note any request it cannot answer.

    Built from a list of envelopes, or fed one envelope at a time (`note`, then `finish`) by a
    streaming replay, which passes each answer's body digest and a `fetch(digest, seq)` that
    reads the body when the answer is served: then no recorded body is held, only an index
    from request identity to the answers' times, headers and digests.
    """

    def __init__(self, envelopes: list[Envelope] | None, end_t: float, *, fetch=None) -> None:
        self.end_t = end_t
        self.t0 = 0.0
        self.attempts: dict[tuple, deque] = defaultdict(deque)
        self.unrecorded: list[Unrecorded] = []
        self.on_unrecorded = None
        self.fetch = fetch
        # id(body) -> (body, digest) of the last bodies served (an OrderedDict: a dict's first
        # key is found by walking past every deleted one)
        self.served: OrderedDict[int, tuple[bytes, bytes]] = OrderedDict()
        # Whether each write or no_wait read was refused behind a pause, in order per identity:
        # whether its turn came during a pause depends on when Binance's pause ended, to the
        # millisecond, which is the recording's to say, like the answers themselves.
        self.refusals: dict[tuple, deque] = defaultdict(deque)
        self._refused: dict[str, bool] = {}
        self._by_id: dict[str, tuple] = {}
        self._sent: dict[tuple[str, int], float] = {}
        self._canon: dict[tuple, tuple] = {}
        self._replies: dict[RawReply, RawReply] = {}
        self._pinned: dict[str, bool] = {}
        self._turn_log = _TurnLog()
        self._ids: OrderedDict[str, tuple] = OrderedDict()  # the last requests' identities
        self._nth: dict[str, tuple] = {}
        self._counts: dict[tuple, int] = defaultdict(int)
        if envelopes is not None:
            for env in envelopes:
                self.note(env)
            self.finish()

    def note(self, env: Envelope, digest: bytes | None = None) -> None:
        """Take in the next recorded envelope (`digest`: its answer body's, when stored)."""
        e = env.event
        by_id = self._by_id
        if e.__class__ is RequestDispatched:
            self._sent[(e.request_id, e.attempt)] = env.t
        elif isinstance(e, ApiRequest):
            ident = identity_of(e)
            ident = by_id[e.request_id] = self._canon.setdefault(ident, ident)
            if e.effect or e.no_wait:
                self.refusals[ident].append(e.request_id)
        elif isinstance(e, (ApiResponse, ApiError)) and e.request_id in by_id:
            if isinstance(e, ApiError) and e.kind == "paused":
                self._refused[e.request_id] = True
            if isinstance(e, ApiError) and e.kind == "gave_up":
                self._gave_up(e.request_id)
            elif not (isinstance(e, ApiError) and e.kind in NOT_CALLS):
                # How long after its logged dispatch the answer was logged (both stamped by
                # the bus alike); else the latency the limiter measured from its real dispatch.
                ident = by_id[e.request_id]
                after = self._sent.pop((e.request_id, e.attempt), None)
                delay = env.t - after if after is not None else answer_delay(e)
                if digest is not None and self.fetch is not None and isinstance(e, ApiResponse):
                    # What the answer was, without its body; answers share a few of these.
                    reply = RawReply(e.status, e.headers, b"")
                    e = self._replies.setdefault(reply, reply)
                else:
                    digest = None
                self.attempts[ident].append((env.t, e, delay, digest, env.seq))
        self._turn_log.note(env, by_id)

    def _gave_up(self, request_id: str) -> None:
        """A limiter that failed answered `request_id` "gave_up": no HTTP answer to serve. One it
        had sent (its dispatch logged, no answer) keeps its place among identical requests with
        an answer that never comes: the replayed limiter fails at the same point, with that call
        still in flight. One still queued made no call at all."""
        sent = [key for key in self._sent if key[0] == request_id]
        for key in sent:
            del self._sent[key]
            self.attempts[self._by_id[request_id]].append(
                (math.inf, NEVER_ANSWERED, math.inf, None, -1))

    def finish(self) -> None:
        """The recording is all in: rank the live run's turns."""
        self._turns = self._turn_log.finish()
        self._turn_log = None
        self._sent.clear()
        self._canon.clear()
        self._replies.clear()
        self._by_id.clear()

    def recorded_turn(self, req: ApiRequest, attempt: int) -> tuple[float, float, float]:
        """(rank, at, hold_s) of this attempt at the limiter, as the live run took its turn.

        rank: its place among all the live run's turns (sent or refused; inf: none), so that
        calls queued together leave in the recorded order, whoever reached the queue first.
        at: the recorded turn's time (inf: none). hold_s: how long a call that is ready before
        `at` may be held to take its turn then (`limiter_core.replay_holds`): the live run's few
        milliseconds of delivery, never the limiter's own waiting.
        """
        key = self._nth.get(req.request_id)
        if key is None:
            ident = self._identity(req)
            key = self._nth[req.request_id] = (ident, self._counts[ident])
            self._counts[ident] += 1
        turn = self._turns.get((*key, attempt))
        if turn is None:
            return math.inf, math.inf, 0.0
        rank, at = turn
        return rank, at, DELIVERY_JITTER_S

    def live_rank(self, request_id: str, attempt: int) -> float:
        """Where the live run took the turn of this replayed call's attempt (inf: unknown)."""
        key = self._nth.get(request_id)
        turn = self._turns.get((*key, attempt)) if key is not None else None
        return turn[0] if turn is not None else math.inf

    def digest_of(self, body: bytes) -> bytes | None:
        """The digest of a body this sender served lately (None: not one of them)."""
        hit = self.served.get(id(body))
        return hit[1] if hit is not None and hit[0] is body else None

    def _identity(self, req: ApiRequest) -> tuple:
        ident = self._ids.get(req.request_id)
        if ident is None:
            ident = self._ids[req.request_id] = identity_of(req)
            if len(self._ids) > IDS_KEPT:
                self._ids.popitem(last=False)
        return ident

    def refused(self, req: ApiRequest) -> bool | None:
        """Whether the live run refused this write or no_wait read behind a pause (None: the
        recording does not say; the limiter decides)."""
        if req.request_id in self._pinned:
            return self._pinned[req.request_id]
        queue = self.refusals.get(self._identity(req))
        if not queue:
            return None
        recorded_id = queue.popleft()
        self._pinned[req.request_id] = answer = self._refused.get(recorded_id, False)
        return answer

    async def send(self, req: ApiRequest, build) -> RawReply:
        queue = self.attempts.get(self._identity(req))
        if not queue:
            now = trio.current_time() - self.t0
            if now < self.end_t - TAIL_S:
                miss = Unrecorded(req, now)
                self.unrecorded.append(miss)
                if self.on_unrecorded is not None:
                    self.on_unrecorded(miss)
            await trio.sleep_forever()  # the live run stopped before this answer came
        answered_at, answer, delay, digest, seq = queue.popleft()
        if answer is NEVER_ANSWERED:
            await trio.sleep_forever()  # the live limiter failed before this answer came
        # The answer arrives when it arrived in the recording (never before its recorded
        # latency), so independent chains interleave as they did live.
        now = trio.current_time()
        await sleep_until(max(now + delay, self.t0 + answered_at))
        if isinstance(answer, ApiError):
            raise httpx.ConnectError(answer.message)
        body = answer.body
        if digest is not None:
            body = self.fetch(digest, seq)
            self.served[id(body)] = (body, digest)
            if len(self.served) > SERVED:
                self.served.popitem(last=False)
        return RawReply(answer.status, answer.headers, body)


class _TurnLog:
    """(request identity, its ordinal among identical requests, attempt) -> (position, time)
    of that attempt's turn in the recording: logged (RequestDispatched, refusals), or for a
    session recorded before dispatches were logged, estimated from each answer's time less its
    latency. Fed in log order (`note`), with each recorded request's identity by request id."""

    def __init__(self) -> None:
        self.keys: dict[str, tuple] = {}
        self.counts: dict[tuple, int] = defaultdict(int)
        self.logged: list[tuple[int, tuple, float]] = []  # (seq, key, t): already in order
        self.estimated: list[tuple[float, int, tuple, float]] | None = []

    def note(self, env: Envelope, identities: dict[str, tuple]) -> None:
        e = env.event
        if isinstance(e, ApiRequest):
            ident = identities[e.request_id]
            self.keys[e.request_id] = (ident, self.counts[ident])
            self.counts[ident] += 1
        elif e.__class__ is RequestDispatched:
            key = self.keys.get(e.request_id)
            if key is not None:
                self.logged.append((env.seq, (*key, e.attempt), env.t))
            self.estimated = None  # dispatches are logged: no estimate is needed
        elif isinstance(e, ApiError) and e.kind in TURNS and e.request_id in self.keys:
            # refused when its turn came: it held its place in the queue until then (the
            # dispatcher logs turns in the order it takes them; envelope times lag a little)
            key = (*self.keys[e.request_id], e.attempt)
            self.logged.append((env.seq, key, env.t))
            if self.estimated is not None:
                self.estimated.append((env.t, env.seq, key, env.t))
        elif self.estimated is not None and isinstance(e, (ApiResponse, ApiError)) and \
                e.request_id in self.keys and not (isinstance(e, ApiError) and e.kind in NOT_CALLS):
            at = env.t - answer_delay(e)
            self.estimated.append((at, env.seq, (*self.keys[e.request_id], e.attempt), at))

    def finish(self) -> dict[tuple, tuple[int, float]]:
        if self.estimated is None:
            return {key: (i, at) for i, (_, key, at) in enumerate(self.logged)}
        self.estimated.sort()
        return {key: (i, at) for i, (_, _, key, at) in enumerate(self.estimated)}


def answer_delay(answer) -> float:
    return answer.elapsed_ms / 1000 if isinstance(answer, ApiResponse) else 0.0


class _Socket:
    def __init__(self, frames: list[tuple[float, str]], closed_at: float | None, t0: float):
        self.frames = deque(frames)
        self.closed_at = closed_at
        self.t0 = t0
        self.sent: list[str] = []

    async def get_message(self) -> str:
        if self.frames:
            t, text = self.frames.popleft()
            await sleep_until(max(trio.current_time(), self.t0 + t))
            return text
        if self.closed_at is None:
            await trio.sleep_forever()
        await sleep_until(max(trio.current_time(), self.t0 + self.closed_at))
        raise ConnectionResetError("recorded disconnect")

    async def send_message(self, text: str) -> None:
        self.sent.append(text)

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc) -> None:
        return None


class RecordedChat:
    """The chat connector of a replay: recorded sockets, one per connect, in order."""

    def __init__(self, envelopes: list[Envelope]) -> None:
        self.t0 = 0.0
        self.scripts: deque = deque()
        current = None
        for env in envelopes:
            e = env.event
            if isinstance(e, ChatConnected):
                current = {"frames": [], "closed_at": None, "failed": False}
                self.scripts.append(current)
            elif isinstance(e, ChatFrameReceived) and current is not None:
                current["frames"].append((env.t, e.text))
            elif isinstance(e, ChatDisconnected):
                if current is None:
                    self.scripts.append({"failed": True, "reason": e.reason})
                else:
                    current["closed_at"] = env.t
                current = None

    def connect(self, url: str):
        if not self.scripts:
            return _Refused("no more recorded chat connections")
        script = self.scripts.popleft()
        if script.get("failed"):
            return _Refused(script["reason"])
        return _Socket(script["frames"], script["closed_at"], self.t0)


class _Refused:
    def __init__(self, reason: str) -> None:
        self.reason = reason

    async def __aenter__(self):
        raise ConnectionRefusedError(self.reason)

    async def __aexit__(self, *exc) -> None:
        return None


class DecisionTimes:
    """The clock each recorded pricing decision read, handed back to the replayed ads actor.

    A decision's rate cap compares times to the microsecond; live, the ads actor reads the clock
    a little after the snapshot it prices arrived, in a replay at the same virtual instant, so a
    reprice 1.2 s after the last one could be allowed in one and held in the other. The
    recording logs the time each decision read (`RepriceDecided.at`); a replayed decision for an
    ad on a book reads the time the recorded decision for that ad on the same book read (the
    n-th such, where a quiet market repeats a book). A decision the recording does not hold (a
    replay that already diverged), or a session recorded before `at` was logged, reads the
    replay's own clock.
    """

    BOOKS = 4096  # recent books whose decisions may still be logged (they follow at once)

    def __init__(self, envelopes: list[Envelope] = ()) -> None:
        from replay.compare import normalize

        self._normalize = normalize
        self._books: OrderedDict[int, bytes] = OrderedDict()
        # (adv_no, book digest) -> the times its decisions read, in order (a list: most hold
        # one, and a deque is eight times the size)
        self._at: dict[tuple, list[float]] = {}
        for env in envelopes:
            self.note(env)

    def note(self, env: Envelope) -> None:
        """Take in the next recorded envelope."""
        event = env.event
        if isinstance(event, BookSnapshot):
            self._books[env.seq] = self._key(event)
            if len(self._books) > self.BOOKS:
                self._books.popitem(last=False)
        elif isinstance(event, RepriceDecided) and event.at and env.cause in self._books:
            self._at.setdefault((event.adv_no, self._books[env.cause]), []).append(event.at)

    def _key(self, book: BookSnapshot) -> bytes:
        return blake2b(self._normalize(book), digest_size=16).digest()

    def __call__(self, adv_no: str, now: float, book: BookSnapshot | None = None) -> float:
        if book is None:
            return now
        key = (adv_no, self._key(book))
        queue = self._at.get(key)
        if not queue:
            return now
        at = queue.pop(0)
        if not queue:
            del self._at[key]
        return at
