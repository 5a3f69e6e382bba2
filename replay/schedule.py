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
            `Limiter._replay_holds` takes again).
    """
    sends = [e for e in replayed if isinstance(e.event, RequestDispatched)]
    same_as_live = _live_order(live_rank) if live_rank is not None else None
    found = [d for d in (_rate(sends, replayed, int(rps)),
                         _page_gap(sends, replayed, page_delay_s),
                         _priorities(replayed, same_as_live)) if d is not None]
    return min(found, key=lambda d: d.t) if found else None


def _rate(sends, replayed, limit: int) -> Divergence | None:
    limit = max(1, limit)
    for i in range(len(sends) - limit):
        first, last = sends[i], sends[i + limit]
        if last.t - first.t < 1.0 - EPS:
            return _breach(last, replayed, f"at most {limit} calls sent in any 1 s "
                           "(limits.rps; reference §1)",
                           f"{limit + 1} calls sent within {last.t - first.t:.3f} s, from "
                           f"seq {first.seq} at t={first.t:.3f}s to this one")
    return None


def _page_gap(sends, replayed, gap: float) -> Divergence | None:
    last = None
    for env in sends:
        if env.event.endpoint != "EP-0":
            continue
        if last is not None and env.t - last.t < gap - EPS:
            return _breach(env, replayed, f"EP-0 calls at least {gap} s apart "
                           "(limits.page_delay_s; reference §3)",
                           f"sent {env.t - last.t:.3f} s after the EP-0 call of seq {last.seq}")
        last = env
    return None


def _live_order(live_rank):
    """A predicate: did the live run take `first`'s turn before `second`'s (both Turns)?"""

    def rank(turn: Turn) -> float:
        return live_rank(turn.request.event.request_id, turn.attempt)

    return lambda first, second: rank(first) < rank(second) < math.inf


def _priorities(replayed: list[Envelope], same_as_live=None) -> Divergence | None:
    """One pass in log order, keeping the turns that wait at the limiter."""
    waiting: dict[str, Turn] = {}
    asked: dict[str, Envelope] = {}
    until: dict[str, float] = {}  # host -> paused until
    # The limiter takes requests from its inbox only once its first clock sync is done.
    serving = math.inf if any(isinstance(env.event, ApiRequest) and env.event.endpoint == "TIME"
                              for env in replayed[:50]) else 0.0
    for env in replayed:
        e = env.event
        if serving == math.inf and isinstance(e, (ApiResponse, ApiError)) and \
                e.endpoint == "TIME":
            serving = env.t
        if isinstance(e, ApiRequest):
            if not e.request_id.startswith("limiter-"):
                asked[e.request_id] = env
                waiting[e.request_id] = Turn(request=env, attempt=1, queued=max(env.t, serving))
        elif isinstance(e, RequestDispatched):
            turn = waiting.pop(e.request_id, None)
            if turn is None:
                continue
            for other in waiting.values():
                if other.queued < env.t - DELIVERY_JITTER_S and until.get(other.request.event.base, 0.0) \
                        <= env.t + EPS and _before(other, turn) and not (
                            same_as_live is not None and same_as_live(turn, other)):
                    return _breach(env, replayed,
                                   f"{_who(other)} (queued at t={other.queued:.3f}s) sent first",
                                   f"{_who(turn)} sent at t={env.t:.3f}s while it waited")
        elif isinstance(e, ApiError) and e.kind in NOT_SENT:
            waiting.pop(e.request_id, None)
        elif isinstance(e, (ApiResponse, ApiError)) and not e.final and e.request_id in asked:
            # The limiter queues the next attempt itself (after its pause, if any).
            waiting[e.request_id] = Turn(request=asked[e.request_id], attempt=e.attempt + 1,
                                         queued=env.t)
        elif isinstance(e, LimiterBackoff) and e.host:
            until[e.host] = max(until.get(e.host, 0.0), env.t + e.delay_s)
    return None


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
