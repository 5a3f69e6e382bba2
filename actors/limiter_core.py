"""The limiter's pure core: its state, how a logged event changes it, and what it does next.

The limiter (actors/limiter.py) is a shell around this: it takes ApiRequests from its inbox,
asks `decide_next` what the dispatcher does now, performs the HTTP call, asks `decide_answer`
(or `decide_failure`) what an answer calls for, and carries each step out. It changes the state
only through the transitions below, each at trio's time: `enqueue` (a request taken in, or a
retry), `take` and `send` (its turn came), `answered_slot` and `landed` (its answer),
`apply_step` (a pause, a breaker count, a backoff); `decide_next` itself only notes, for
replay, when each held call became ready. `apply` maps each logged event onto the same
transitions at the event's own time, so the queue, the calls in flight, the window and the
pauses are at every moment the fold of what the limiter logged (tests/test_limiter.py checks
it; the breaker's failure count, the backoffs' steps and a weight slow-down are not in the log:
an open breaker folds as a pause). A restarted limiter folds its session so far with `fold`
and keeps the pauses, open breakers and clock offset of its last incarnation.

    state  = fold of ApiRequest / RequestDispatched / ApiResponse / ApiError / LimiterBackoff /
             BreakerOpened / ClockSynced
    decide_next(state, now)                  -> Idle | Wait(until) | Send(entry)
                                                | Refuse(entry, "paused" | "breaker_open", ...)
    decide_answer(state, req, attempt, ...)  -> [NoteWeights, Reset, Succeeded | Release
                                                 | Failed, Pause(host, delay_s) | Resync
                                                 | Stop, Retry?]
    decide_failure(state, req, attempt)      -> [Release] | [Failed, (Pause, Retry)?]

The queue is a heap of `(priority, (rank, order, at, hold_s), envelope, attempt)`: lower
priority first, then the recorded turn (replay; live every call's turn is LIVE_TURN), then
first come first served. Replay's hooks (the sender's `refused`) are passed in; the rest is a
function of the state and `now`. Nothing here does I/O, sleeps or reads a clock: it needs no
trio.
"""

from __future__ import annotations

import heapq
import math
from typing import Any, Callable, Iterable

import msgspec

from actors.ratelimit import Breaker, RateWindow
from actors.retries import MAX_ATTEMPTS, should_retry
from c2c.decode import retry_after_s, weights
from c2c.errors import Action, Backoff
from c2c.timesync import ClockOffset
from events import (ApiError, ApiRequest, ApiResponse, BreakerClosed, BreakerOpened, ClockSynced,
                    Envelope, LimiterBackoff, RequestDispatched)

WEIGHT_LIMITS = {"used_weight_1m": 6000, "sapi_ip_weight_1m": 12000, "sapi_uid_weight_1m": 180000}
WAF_FIRST_PAUSE_S = 5.0
WAF_PAUSE_S = 180.0  # reached when 403s keep coming: 5, 10, 20 ... 180 s
IP_BAN_PAUSE_S = 120.0  # a 418 without Retry-After
SLOW_FOR_S = 10.0
NEAR_TIE_S = 0.01  # replay: turns this close in the live run keep their recorded order
EP0_GAP_MARGIN_S = 0.05  # EP-0 pages leave page_delay_s + this apart (arrival jitter)
LIVE_TURN = (0, 0.0, 0.0)  # (rank, at, hold_s) of every call in a live run

Refused = Callable[[ApiRequest], "bool | None"]  # replay: what the live run did, None: unknown


class HostState:
    """The limiter's view of one host: when it may be called again, its backoff and its breaker."""

    def __init__(self, name: str, lim) -> None:
        self.name = name
        self.breaker = Breaker(lim.breaker_failures, lim.breaker_open_s)
        self.backoff = Backoff()
        # One 403 must not silence a host for minutes; a WAF that keeps refusing does.
        self.waf_backoff = Backoff(WAF_FIRST_PAUSE_S, WAF_PAUSE_S)
        self.paused_until = 0.0
        self.pauses = 0  # how many pauses began: a call queued before one is "overtaken"


class State:
    """What the limiter knows; every time in it is on the shell's clock (trio's).

    Attributes:
        window: the calls of the last second (all endpoints, EP-0 included; reference §7).
        hosts: "bapi" (the public book) and "sapi" (the merchant API), each with its own pause,
            backoff and breaker.
        min_gap: endpoint -> how far apart its calls leave (EP-0 pages: page_delay_s + margin).
        last_sent: endpoint -> when its last call left.
        slow_until: answers reported heavy weights; routine calls take half the window until then.
        queue: the waiting calls (a heap; see the module docstring).
        pauses_seen: request id -> its host's `pauses` when it was queued.
        in_flight: request id -> the envelope of a caller's request sent and not yet answered.
        slots: request id -> the window slot its call holds (the limiter's own calls too).
        ready_since: replay only: when each held call became ready (see `replay_holds`).
        clock: the server clock offset for signing.
        to_clock: the shell's clock at session time 0, to place logged times (`apply`).
    """

    def __init__(self, limits, *, to_clock: float = 0.0) -> None:
        # A hair over a second: the window is already provable (see RateWindow); this only
        # keeps float rounding on the right side.
        self.window = RateWindow(max(1, int(limits.rps)), 1.001, reserve=1)
        self.hosts = {"bapi": HostState("bapi", limits), "sapi": HostState("sapi", limits)}
        # Binance answers EP-0 pages asked faster than page_delay_s with empty pages; the gap
        # is kept here, where calls leave, with a margin for arrival jitter (20 ms was too
        # little: under load two pages dispatched 120 ms apart arrived < 100 ms apart).
        self.min_gap = {"EP-0": limits.page_delay_s + EP0_GAP_MARGIN_S}
        self.last_sent: dict[str, float] = {}
        self.slow_until = 0.0
        self.queue: list[tuple[int, tuple, Envelope, int]] = []
        self.order = 0
        self.pauses_seen: dict[str, int] = {}
        self.in_flight: dict[str, Envelope] = {}
        self.slots: dict[str, list] = {}
        self.ready_since: dict[tuple[str, int], float] = {}
        self.clock = ClockOffset()
        self.to_clock = to_clock


def is_probe(req: ApiRequest) -> bool:
    """True for EP-13's unsigned first try, whose refusal only means "sign it"."""
    return req.endpoint == "EP-13" and not req.signed


def host_of(state: State, req: ApiRequest) -> HostState:
    """The host `req` is sent to."""
    return state.hosts[req.base]


# --- what the core asks for ---------------------------------------------------------------------

class Idle(msgspec.Struct, frozen=True):
    """Nothing is queued: wait for a request."""


class Wait(msgspec.Struct, frozen=True):
    """Nothing may leave before `until` (inf: before an answer); a new request or an answer may
    change that, so look again when one comes."""

    until: float


class Send(msgspec.Struct, frozen=True):
    """Send queued `entry` now: `take` it, then `send` it."""

    entry: Any


class Refuse(msgspec.Struct, frozen=True):
    """Answer queued `entry` with ApiError `kind` instead of sending it: `take` it."""

    entry: Any
    kind: str
    message: str


class NoteWeights(msgspec.Struct, frozen=True):
    """Read the used-weight headers; heavy weights slow routine calls for SLOW_FOR_S."""

    headers: Any


class Reset(msgspec.Struct, frozen=True):
    """A success: `host`'s backoffs start again."""

    host: str


class Succeeded(msgspec.Struct, frozen=True):
    """Binance answered a call to `endpoint`: `host`'s breaker closes."""

    host: str
    endpoint: str


class Failed(msgspec.Struct, frozen=True):
    """One more consecutive failure of `host` (its breaker may open)."""

    host: str


class Release(msgspec.Struct, frozen=True):
    """An answer that says nothing of `host`'s health: free its breaker's half-open trial."""

    host: str


class Pause(msgspec.Struct, frozen=True):
    """Call `host` no more for `delay_s`: `reason` "backoff"/"transport" (the next delay of its
    backoff, which applying the step counts), "403" (of its WAF backoff) or "418" (Retry-After,
    else IP_BAN_PAUSE_S)."""

    host: str
    reason: str
    delay_s: float


class Resync(msgspec.Struct, frozen=True):
    """Measure the server clock offset again (a signed call's -1021/-1022)."""


class Stop(msgspec.Struct, frozen=True):
    """A fatal answer: stop the run with `message`."""

    message: str


class Retry(msgspec.Struct, frozen=True):
    """Queue the request again as attempt `attempt` (the answer was not final)."""

    attempt: int


Step = NoteWeights | Reset | Succeeded | Failed | Release | Pause | Resync | Stop | Retry


# --- transitions --------------------------------------------------------------------------------

def enqueue(state: State, env: Envelope, attempt: int, turn: tuple = LIVE_TURN) -> None:
    """Queue attempt `attempt` of the request in `env`; `turn` is its recorded turn (replay)."""
    req = env.event
    state.pauses_seen[req.request_id] = host_of(state, req).pauses
    state.order += 1
    rank, at, hold_s = turn
    heapq.heappush(state.queue, (req.priority, (rank, state.order, at, hold_s), env, attempt))


def take(state: State, entry) -> None:
    """Take `entry` out of the queue: its turn has come (sent or refused)."""
    state.queue.remove(entry)
    heapq.heapify(state.queue)
    rid = entry[2].event.request_id
    state.ready_since.pop((rid, entry[3]), None)
    state.pauses_seen.pop(rid, None)


def send(state: State, entry, now: float) -> list:
    """Note that taken `entry` leaves at `now`; returns the window slot it holds."""
    env = entry[2]
    req = env.event
    host_of(state, req).breaker.allows(now)  # claims a half-open breaker's one trial
    state.last_sent[req.endpoint] = now
    state.in_flight[req.request_id] = env
    return send_own(state, req.request_id, now)


def send_own(state: State, request_id: str, now: float) -> list:
    """Note that a call leaves at `now` (the limiter's own clock sync too); returns its slot."""
    slot = state.slots[request_id] = state.window.record(now)
    return slot


def answered_slot(state: State, request_id: str, slot: list, now: float) -> None:
    """The call holding `slot` was answered (or failed) at `now`: its slot runs out a window
    later. The request stays `in_flight` until the shell has its answer."""
    state.window.answered(slot, now)
    if state.slots.get(request_id) is slot:
        del state.slots[request_id]


def landed(state: State, request_id: str) -> None:
    """The answer to `request_id`'s call (or its transport failure) is in: not in flight."""
    del state.in_flight[request_id]


def pause_until(state: State, host: str, until: float) -> None:
    """Call `host` no earlier than `until` (a pause carried over from the last session)."""
    h = state.hosts.get(host)
    if h is not None:
        h.paused_until = max(h.paused_until, until)


def give_up(state: State, accepting: Envelope | None = None) -> list[Envelope]:
    """Empty the queue and what is in flight, and return their requests (and `accepting`, the
    one being taken in), each once: a limiter that fails answers them all "gave_up"."""
    held = {e.event.request_id: e for _, _, e, _ in state.queue}
    held.update(state.in_flight)
    if accepting is not None:
        held.setdefault(accepting.event.request_id, accepting)
    state.queue.clear()
    state.in_flight.clear()
    return list(held.values())


def apply_step(state: State, step: Step, now: float):
    """Apply one of `decide_answer`'s / `decide_failure`'s state steps at `now`; returns the
    event to log (LimiterBackoff, BreakerOpened, BreakerClosed) or None. Resync, Stop and
    Retry are the shell's to carry out and change nothing here."""
    match step:
        case NoteWeights(headers=headers):
            return _note_weights(state, headers, now)
        case Reset(host=name):
            state.hosts[name].backoff.reset()
            state.hosts[name].waf_backoff.reset()
        case Succeeded(host=name, endpoint=endpoint):
            if state.hosts[name].breaker.success():
                return BreakerClosed(trial_endpoint=endpoint, host=name)
        case Failed(host=name):
            breaker = state.hosts[name].breaker
            if breaker.failure(now):
                return BreakerOpened(failures=breaker.consecutive, open_s=breaker.open_s,
                                     host=name)
        case Release(host=name):
            state.hosts[name].breaker.release()
        case Pause(host=name, reason=reason, delay_s=delay_s):
            backoff = _backoff_of(state.hosts[name], reason)
            if backoff is not None:
                backoff.next_delay()  # one more step of the schedule
            pause(state, name, delay_s, now)
            return LimiterBackoff(reason=reason, delay_s=round(delay_s, 3), host=name)
    return None


def pause(state: State, host: str, delay_s: float, now: float) -> None:
    """Pause `host` for `delay_s` from `now`; what was queued before is overtaken by it."""
    h = state.hosts[host]
    h.paused_until = max(h.paused_until, now + delay_s)
    h.pauses += 1


def _backoff_of(host: HostState, reason: str) -> Backoff | None:
    if reason == "418":
        return None  # Binance says how long
    return host.waf_backoff if reason == "403" else host.backoff


def _pause(host: HostState, reason: str, retry_after: float | None) -> Pause:
    backoff = _backoff_of(host, reason)
    delay_s = backoff.peek(retry_after) if backoff is not None else \
        retry_after or IP_BAN_PAUSE_S
    return Pause(host.name, reason, delay_s)


def _note_weights(state: State, headers, now: float):
    used = weights(headers)
    for field, limit in WEIGHT_LIMITS.items():
        value = getattr(used, field, None)
        if value is not None and value > 0.8 * limit:
            event = None
            if now >= state.slow_until:
                event = LimiterBackoff(reason="weight", delay_s=SLOW_FOR_S)
            state.slow_until = now + SLOW_FOR_S
            return event
    return None


# --- the fold -----------------------------------------------------------------------------------

def apply(state: State, env: Envelope) -> State:
    """Apply one logged event to `state` (in place) at its own time, and return it.

    A weight slow-down is not folded: the log carries only its start, not how heavy answers
    kept extending it.
    """
    now = state.to_clock + env.t
    match env.event:
        case ApiRequest(request_id=rid) if not rid.startswith("limiter-"):
            enqueue(state, env, 1)
        case RequestDispatched(request_id=rid, attempt=attempt):
            entry = _queued(state, rid, attempt)
            if entry is None:
                send_own(state, rid, now)
            else:
                take(state, entry)
                send(state, entry, now)
        case ApiResponse(request_id=rid, final=final, attempt=attempt) | \
                ApiError(request_id=rid, final=final, attempt=attempt):
            _apply_answer(state, rid, final, attempt, now)
        case LimiterBackoff(host=host, reason=reason, delay_s=delay_s) \
                if host in state.hosts and reason != "weight":
            pause(state, host, delay_s, now)
        case BreakerOpened(host=host, open_s=open_s) if host in state.hosts:
            pause_until(state, host, now + open_s)
        case ClockSynced(offset_ms=offset_ms):
            state.clock.offset_ms = offset_ms
    return state


def _queued(state: State, rid: str, attempt: int | None = None):
    for entry in state.queue:
        if entry[2].event.request_id == rid and attempt in (None, entry[3]):
            return entry
    return None


def _apply_answer(state: State, rid: str, final: bool, attempt: int, now: float) -> None:
    slot = state.slots.get(rid)
    if slot is not None:
        answered_slot(state, rid, slot, now)
    env = state.in_flight.pop(rid, None)
    if env is not None:
        if not final:
            enqueue(state, env, attempt + 1)
    elif final and (entry := _queued(state, rid)) is not None:
        take(state, entry)  # refused (paused, breaker open, dry run) or given up


def fold(envelopes: Iterable[Envelope], state: State) -> State:
    """Apply `envelopes` in order to `state` and return it."""
    for env in envelopes:
        apply(state, env)
    return state


def restarted(state: State, now: float) -> State:
    """The state a restarted limiter starts from, after folding its session so far: its
    predecessor answered every call it held "gave_up", and what it never took in comes again
    through the inbox, so nothing is queued or in flight; a call it made whose answer never came
    holds its slot until `now` (the shell waits the window out before its first call anyway)."""
    for rid, slot in list(state.slots.items()):
        answered_slot(state, rid, slot, now)
    state.queue.clear()
    state.in_flight.clear()
    state.pauses_seen.clear()
    state.ready_since.clear()
    return state


# --- the decisions ------------------------------------------------------------------------------

def gap_ready(state: State, endpoint: str) -> float:
    """When the next call to `endpoint` may leave for its gap (EP-0's page delay; 0: no gap)."""
    gap = state.min_gap.get(endpoint)
    last = state.last_sent.get(endpoint)
    return 0.0 if gap is None or last is None else last + gap


def ready_at(state: State, priority: int, endpoint: str, now: float) -> float:
    """When a call of `priority` to `endpoint` may leave: the window and the gap allow it."""
    return max(state.window.next_slot(now, priority, now < state.slow_until),
               gap_ready(state, endpoint))


def refuses(state: State, req: ApiRequest, now: float, refused: Refused | None = None) -> bool:
    """Whether a write or `no_wait` read whose turn has come is refused rather than sent late:
    its host is paused, or a pause began after it was queued. In a replay `refused` (the
    sender's) says what the live run did (it turned on when a pause ended)."""
    if not (req.effect or req.no_wait):
        return False
    answer = refused(req) if refused is not None else None
    if answer is not None:
        return answer
    host = host_of(state, req)
    return host.paused_until > now or state.pauses_seen.get(req.request_id) != host.pauses


def decide_next(state: State, now: float, refused: Refused | None = None):
    """What the dispatcher does at `now`: the most urgent queued call whose host is not paused
    (or one overtaken by a pause, refused when its turn comes instead of waiting the pause out)
    is sent once the window and the page gap allow it; a write behind a pause, or a call to a
    host whose breaker is open, is refused. Replay's holds (`replay_holds`) are noted here.

    Returns:
        Idle, Wait(until), Send(entry) or Refuse(entry, kind, message).
    """
    if not state.queue:
        return Idle()
    held, first_held, recheck = replay_holds(state, now)
    resume = recheck
    entry = None
    for candidate in sorted(state.queue):
        req = candidate[2].event
        if req.request_id in held or candidate[1][0] > first_held:
            continue
        until = host_of(state, req).paused_until
        if until <= now or refuses(state, req, now, refused):
            entry = near_tie(state, candidate, now, held, first_held, refused)
            break
        resume = min(resume, until)
    if entry is None:
        return Wait(resume)
    priority, _, env, _ = entry
    req = env.event
    ready = ready_at(state, priority, req.endpoint, now)
    if ready > now:
        return Wait(min(ready, recheck))
    host = host_of(state, req)
    if refuses(state, req, now, refused):
        # No clock reading in the message: replay must give the same words.
        return Refuse(entry, "paused", f"{host.name} paused; not sent late (a write is decided "
                                       "again on a fresh book, a read asked another way)")
    if not host.breaker.would_allow(now):
        reopen = host.breaker.reopen_at()  # None while half open, its trial out
        until_text = "" if reopen is None else f" for {reopen - now:.0f} s"
        return Refuse(entry, "breaker_open",
                      f"{host.name} circuit breaker open{until_text}; no call made")
    return Send(entry)


def replay_holds(state: State, now: float) -> tuple[set, float, float]:
    """Replay only (live, nothing is held): (held request ids, the first recorded rank among
    them, when the next hold ends).

    A live run's calls reached the limiter milliseconds after they were asked (the bus, a
    durable flush, the CPU) and a freed slot went to whichever came first; a replay has no such
    delays. So a call that is ready (window and gap) before its recorded turn is held until
    then, but no longer than `hold_s` after it became ready: the limiter's own waiting is never
    taken from the recording. A held call is no candidate (it blocks no one, as it was not there
    live), and calls the live run sent after it wait for it. Notes in `state.ready_since` when
    each call became ready.
    """
    held, first, recheck = set(), math.inf, math.inf
    for priority, order, env, attempt in state.queue:
        rank, _, at, hold_s = order
        if at <= now:
            continue
        key = (env.event.request_id, attempt)
        if ready_at(state, priority, env.event.endpoint, now) > now:
            state.ready_since.pop(key, None)
            continue
        until = min(at, state.ready_since.setdefault(key, now) + hold_s)
        if until > now:
            held.add(env.event.request_id)
            first, recheck = min(first, rank), min(recheck, until)
    return held, first, recheck


def near_tie(state: State, entry, now: float, held: set, first_held: float,
             refused: Refused | None = None):
    """Replay only: of two calls whose turns the live run took within NEAR_TIE_S of each
    other, the one it took first (which one reached a freed slot first was decided by fractions
    of a millisecond that a recording cannot carry). Live: `entry`."""
    rank, _, at, _ = entry[1]
    for other in state.queue:
        o_rank, _, o_at, _ = other[1]
        req = other[2].event
        if o_rank < rank and abs(o_at - at) < NEAR_TIE_S and req.request_id not in held \
                and o_rank <= first_held and (host_of(state, req).paused_until <= now
                                              or refuses(state, req, now, refused)):
            entry, rank, at = other, o_rank, o_at
    return entry


def decide_answer(state: State, req: ApiRequest, attempt: int, action: Action | None, error,
                  headers) -> list[Step]:
    """What an HTTP answer to attempt `attempt` of `req` calls for, in order (`action`, `error`:
    the answer's class, from `actors.retries.classify_reply`; None for a success).

    The limiter retries itself what the caller could not do better (a clock resync after
    -1021/-1022, a backoff after 429/-1003/5xx, an IP ban or a WAF pause): the steps then end
    with Retry and the answer is not final. EP-13's unsigned probe is answered neutrally: no
    pause, no breaker count, never fatal. A fatal answer (a rejected key, 451) stops the run.
    """
    steps: list[Step] = [NoteWeights(headers)]
    h = host_of(state, req)
    host = h.name
    probe = is_probe(req)
    if action is None:
        return steps + [Reset(host), Succeeded(host, req.endpoint)]
    if probe:
        return steps + [Release(host)]  # "sign it" says nothing of Binance's health
    if action is Action.FATAL:
        return steps + [Failed(host), Stop(f"Binance refused {req.endpoint}: {error}")]
    if action is Action.RESYNC_AND_RETRY:
        # Our clock was off: the answer says nothing of Binance's health.
        steps += [Release(host)] + ([Resync()] if req.signed else [])
    elif action is Action.BACKOFF_AND_RETRY:
        steps += [Failed(host), _pause(h, "backoff", retry_after_s(headers))]
    elif action is Action.IP_BANNED:
        steps += [Failed(host), _pause(h, "418", retry_after_s(headers))]
    elif action is Action.WAF_PAUSE:
        steps += [Failed(host), _pause(h, "403", retry_after_s(headers))]
    else:
        steps.append(Succeeded(host, req.endpoint))  # Binance answered; the error is the caller's
    if should_retry(req, action, attempt):
        steps.append(Retry(attempt + 1))
    return steps


def decide_failure(state: State, req: ApiRequest, attempt: int) -> list[Step]:
    """What a call that got no answer at all (a transport error) calls for: a read is tried
    again after a backoff, up to MAX_ATTEMPTS; a write or a `no_wait` read is the caller's."""
    h = host_of(state, req)
    if is_probe(req):
        return [Release(h.name)]
    if req.effect or req.no_wait or attempt >= MAX_ATTEMPTS:
        return [Failed(h.name)]
    return [Failed(h.name), _pause(h, "transport", None), Retry(attempt + 1)]


def is_final(steps: list[Step]) -> bool:
    """False when `steps` send the request again (its answer is then logged `final=False`)."""
    return not steps or not isinstance(steps[-1], Retry)
