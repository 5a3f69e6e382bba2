"""Check a replay's request schedule against Binance's limits and the limiter's own rules.

Answers are served at their recorded times, so a limiter that sends too early, too often or in
the wrong order would otherwise replay equal. The limiter logs every attempt it sends
(`RequestDispatched`, at the virtual time it left); this module checks those times:

- the rate window: no `limits.rps + 1` calls sent within one second (`RateWindow` holds each
  call's slot from its sending until a second after its answer, so any `rps + 1` consecutive
  sends span more than a second; reference §1, 5 requests/s per account);
- the EP-0 page gap: two public book calls at least `limits.page_delay_s` apart (faster pages
  come back empty, reference §3);
- priorities: a call is not sent while a more urgent one (lower `priority`) has waited more
  than `DELIVERY_JITTER_S` for a turn on a host that is not paused (a replay delivers a call
  to the limiter up to that much later than it was asked, as the live run did).

A check only sees what the replay did; comparing the dispatch times with the recorded ones is
`replay.compare`'s job.
"""

from __future__ import annotations

import math
from collections import deque

import msgspec

from events import (ApiError, ApiRequest, ApiResponse, Envelope, LimiterBackoff, RequestDispatched)
from replay.compare import Divergence, _chain, _show
from replay.recorded import DELIVERY_JITTER_S

EPS = 1e-6  # float noise on virtual time
NOT_SENT = ("paused", "breaker_open", "gave_up")  # ApiError kinds that end a queued turn


class Turn(msgspec.Struct, kw_only=True):
    """One attempt of one request waiting at the limiter."""

    request: Envelope
    attempt: int
    queued: float


def check_schedule(replayed: list[Envelope], *, rps: float, page_delay_s: float,
                   live_rank=None) -> Divergence | None:
    """Return the earliest breach of the rate window, the page gap or the priorities, if any.

    Args:
        live_rank: `RecordedSender.live_rank`, when there is a recording: two calls the live
            run sent in the same order are not a priority breach of the replay's (the live
            run's urgent call reached the limiter after the other had left, which
            `limiter_core.replay_holds` takes again).
    """
    check = ScheduleCheck(rps=rps, page_delay_s=page_delay_s, live_rank=live_rank)
    for env in replayed:
        check.feed(env)
    breach = check.finish()
    if breach is None:
        return None
    env, expected, got = breach
    return _breach(env, replayed, expected, got)


class ScheduleCheck:
    """The schedule checks, fed the replay's envelopes one at a time in log order.

    Holds the last `rps + 1` sends, the last EP-0 send and the calls waiting at the limiter,
    never the whole replay. `finish()` returns the earliest breach as (envelope, expected, got).
    """

    HEAD = 50  # events looked at before the first: whether the limiter syncs its clock first

    def __init__(self, *, rps: float, page_delay_s: float, live_rank=None) -> None:
        self.limit = max(1, int(rps))
        self.gap = page_delay_s
        self.same_as_live = _live_order(live_rank) if live_rank is not None else None
        self.found: list[tuple] = []
        self._sends: deque[Envelope] = deque(maxlen=self.limit + 1)
        self._last_page: Envelope | None = None
        self._rate_done = self._gap_done = self._prio_done = False
        self._head: list[Envelope] | None = []
        self.waiting: dict[str, Turn] = {}
        self._asked: dict[str, Envelope] = {}
        self._until: dict[str, float] = {}  # host -> paused until
        self._serving = 0.0

    def feed(self, env: Envelope) -> None:
        if env.event.__class__ is RequestDispatched:
            self._send(env)
        if self._head is not None:
            self._head.append(env)
            if len(self._head) >= self.HEAD:
                self._start()
            return
        if not self._prio_done:
            self._priority(env)

    def finish(self):
        if self._head is not None:
            self._start()
        return min(self.found, key=lambda b: b[0].t) if self.found else None

    def _send(self, env: Envelope) -> None:
        sends = self._sends
        sends.append(env)
        if not self._rate_done and len(sends) > self.limit:
            first = sends[0]
            if env.t - first.t < 1.0 - EPS:
                self._rate_done = True
                self.found.append((env, f"at most {self.limit} calls sent in any 1 s "
                                   "(limits.rps; reference §1)",
                                   f"{self.limit + 1} calls sent within {env.t - first.t:.3f} s, "
                                   f"from seq {first.seq} at t={first.t:.3f}s to this one"))
        if env.event.endpoint != "EP-0" or self._gap_done:
            return
        last = self._last_page
        if last is not None and env.t - last.t < self.gap - EPS:
            self._gap_done = True
            self.found.append((env, f"EP-0 calls at least {self.gap} s apart "
                               "(limits.page_delay_s; reference §3)",
                               f"sent {env.t - last.t:.3f} s after the EP-0 call of seq "
                               f"{last.seq}"))
        self._last_page = env

    def _start(self) -> None:
        head, self._head = self._head, None
        # The limiter takes requests from its inbox only once its first clock sync is done.
        if any(isinstance(env.event, ApiRequest) and env.event.endpoint == "TIME"
               for env in head):
            self._serving = math.inf
        for env in head:
            if not self._prio_done:
                self._priority(env)

    def _priority(self, env: Envelope) -> None:
        """One step of one pass in log order, keeping the turns that wait at the limiter."""
        e = env.event
        waiting, asked = self.waiting, self._asked
        if self._serving == math.inf and isinstance(e, (ApiResponse, ApiError)) and \
                e.endpoint == "TIME":
            self._serving = env.t
        if isinstance(e, ApiRequest):
            if not e.request_id.startswith("limiter-"):
                asked[e.request_id] = env
                waiting[e.request_id] = Turn(request=env, attempt=1,
                                             queued=max(env.t, self._serving))
        elif e.__class__ is RequestDispatched:
            turn = waiting.pop(e.request_id, None)
            if turn is None:
                return
            for other in waiting.values():
                if other.queued < env.t - DELIVERY_JITTER_S and \
                        self._until.get(other.request.event.base, 0.0) <= env.t + EPS and \
                        _before(other, turn) and not (
                            self.same_as_live is not None and self.same_as_live(turn, other)):
                    self._prio_done = True
                    self.found.append((env, f"{_who(other)} (queued at t={other.queued:.3f}s) "
                                       "sent first",
                                       f"{_who(turn)} sent at t={env.t:.3f}s while it waited"))
                    return
        elif isinstance(e, ApiError) and e.kind in NOT_SENT:
            waiting.pop(e.request_id, None)
            if e.final:
                asked.pop(e.request_id, None)
        elif isinstance(e, (ApiResponse, ApiError)) and e.request_id in asked:
            if e.final:
                asked.pop(e.request_id)
            else:
                # The limiter queues the next attempt itself (after its pause, if any).
                waiting[e.request_id] = Turn(request=asked[e.request_id],
                                             attempt=e.attempt + 1, queued=env.t)
        elif isinstance(e, LimiterBackoff) and e.host:
            self._until[e.host] = max(self._until.get(e.host, 0.0), env.t + e.delay_s)


def _live_order(live_rank):
    """A predicate: did the live run take `first`'s turn before `second`'s (both Turns)?"""

    def rank(turn: Turn) -> float:
        return live_rank(turn.request.event.request_id, turn.attempt)

    return lambda first, second: rank(first) < rank(second) < math.inf


def _before(a: Turn, b: Turn) -> bool:
    # Within one priority a replay keeps the recorded order (RecordedSender.dispatch_rank),
    # not its own arrival order, so only priorities are checked.
    return a.request.event.priority < b.request.event.priority


def _who(turn: Turn) -> str:
    req = turn.request.event
    return f"{req.endpoint} (priority {req.priority}, attempt {turn.attempt})"


def _breach(env: Envelope, replayed: list[Envelope], expected: str, got: str) -> Divergence:
    return Divergence(seq=env.seq, type="RequestDispatched", side="replayed", t=env.t,
                      expected=expected, got=f"{got}: {_show(env.event)}",
                      chain=_chain(env, replayed))
