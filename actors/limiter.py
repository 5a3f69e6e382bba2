"""The limiter: the only actor that speaks HTTP.

ApiRequest events in; for every HTTP attempt one ApiResponse (raw status, the headers that matter,
body bytes) or ApiError out, so a session can be replayed from its log. It keeps Binance's limits
(`RateWindow` over all endpoints, EP-0 included), the circuit breaker, backoff per the wire
layer's error classes, the clock offset for signing, and priorities: an order detail or a reprice
goes before a routine book poll when the budget is short.

Retries: the limiter retries itself what the caller could not do better (a clock resync after
-1021/-1022, a backoff after 429/-1003/5xx, an IP ban or WAF pause), marking the intermediate
answers `final=False`; everything else is the caller's to handle. A write (EP-7, EP-8) is never
sent after a pause: it is not retried after one, and one that would wait behind a pause is
refused at once (ApiError kind "paused"), so the ads actor decides again on a fresh book.

Hosts: the public book (bapi, EP-0) and the merchant API (sapi) are separate services behind
separate edges, so each has its own pause, backoff and breaker: a 429 or a 403 on EP-0 stops EP-0
only, and signed calls keep flowing (and the other way round). One 5/s window covers both.

EP-13's adaptive first try (unsigned, reference §10) is a probe: whatever it is answered is final
and neutral (never fatal, no pause, no breaker count); the orders actor signs and asks again.
"""

from __future__ import annotations

import heapq
import math
import random
from functools import partial
from typing import Callable

import httpx
import trio

from actors.config import BotConfig
from actors.ratelimit import Breaker, RateWindow
from actors.retries import MAX_ATTEMPTS, classify_reply, should_retry
from actors.senders import HttpxSender
from actors.spec import ActorContext, ActorSpec
from actors.supervise import Fatal
from c2c import endpoints
from c2c.credentials import Credentials
from c2c.decode import parse_server_time, retry_after_s, weights
from c2c.errors import Action, Backoff, C2CError
from c2c.http import build_http_request, user_agent_for
from c2c.timesync import ClockOffset, offset_from_round_trip
from events import (ApiError, ApiRequest, ApiResponse, BreakerClosed, BreakerOpened, ClockSynced,
                    Envelope, LimiterBackoff, RequestDispatched)

WEIGHT_LIMITS = {"used_weight_1m": 6000, "sapi_ip_weight_1m": 12000, "sapi_uid_weight_1m": 180000}
WAF_FIRST_PAUSE_S = 5.0
WAF_PAUSE_S = 180.0  # reached when 403s keep coming: 5, 10, 20 ... 180 s
SLOW_FOR_S = 10.0
NEAR_TIE_S = 0.01  # replay: turns this close in the live run keep their recorded order
EP0_GAP_MARGIN_S = 0.05  # EP-0 pages leave page_delay_s + this apart (arrival jitter)


class LimiterDeps:
    """What the limiter needs from the composition root.

    `sender` performs one call; by default an HttpxSender over `client`. Replay passes one that
    answers from the log without building an HTTP request at all (signing and httpx are most of
    a call's CPU, and replay must run at 1000x real time).
    """

    def __init__(self, *, client: httpx.AsyncClient | None, config: BotConfig,
                 credentials: Credentials | None, now_ms: Callable[[], int],
                 rng: random.Random, dry_run: bool = False, sync_clock: bool = True,
                 sender=None, not_before_ms: int = 0, history=(), first_request: int = 0,
                 session_time=None, paused_until_ms: dict[str, int] | None = None) -> None:
        self.sender = sender or HttpxSender(client)
        self.config = config
        self.credentials = credentials
        self.now_ms = now_ms
        self.rng = rng
        self.dry_run = dry_run
        self.sync_clock = sync_clock and credentials is not None
        # A run that starts within a second of an earlier one's last call (a crash and restart)
        # cannot know what that process had in flight; it stays quiet until that second is over.
        self.not_before_ms = not_before_ms
        # A limiter the supervisor restarted: this session's events so far (its pauses), the
        # request number it reached, and the bus's session time to place those pauses.
        self.history = history
        self.first_request = first_request
        self.session_time = session_time
        self.paused_until_ms = paused_until_ms or {}  # the last session's pauses, by host


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


def is_probe(req: ApiRequest) -> bool:
    """True for EP-13's unsigned first try, whose refusal only means "sign it"."""
    return req.endpoint == "EP-13" and not req.signed


class Limiter:
    """State of the limiter actor; `run` is its entry point."""

    def __init__(self, inbox: trio.MemoryReceiveChannel, emit, deps: LimiterDeps) -> None:
        self.inbox = inbox
        self.emit = emit
        self.deps = deps
        lim = deps.config.limits
        # A hair over a second: the window is already provable (see RateWindow); this only
        # keeps float rounding on the right side.
        self.window = RateWindow(max(1, int(lim.rps)), 1.001, reserve=1)
        self.hosts = {"bapi": HostState("bapi", lim), "sapi": HostState("sapi", lim)}
        self.clock = ClockOffset()
        # A browser User-Agent per request, a function of the seed and the request id, so
        # the choice does not depend on the order in which trio runs tasks.
        self.ua_salt = deps.rng.getrandbits(64)
        self.slow_until = 0.0
        self._queue: list[tuple[int, tuple, Envelope, int]] = []  # (priority, order, ...)
        self._order = 0
        self._wake = trio.Event()
        self._ids = deps.first_request
        self._restore_pauses(deps.history)
        self._carry_pauses(deps.paused_until_ms)
        # Binance answers EP-0 pages asked faster than page_delay_s with empty pages; the gap
        # is kept here, where calls leave, with a margin for arrival jitter (20 ms was too
        # little: under load two pages dispatched 120 ms apart arrived < 100 ms apart).
        self.min_gap = {"EP-0": lim.page_delay_s + EP0_GAP_MARGIN_S}
        self.last_sent: dict[str, float] = {}
        self._in_flight: dict[str, Envelope] = {}
        self._accepting: Envelope | None = None  # the request `_accept` is taking in
        self._pauses_seen: dict[str, int] = {}  # request id -> its host's pauses when queued
        self._recheck_at = math.inf  # replay: when a held call's hold ends
        self._ready_since: dict[tuple[str, int], float] = {}  # replay: see _replay_holds

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Serve ApiRequests. Never returns unless cancelled; raises Fatal on a fatal answer."""
        try:
            async with trio.open_nursery() as nursery:
                task_status.started()
                quiet_s = (self.deps.not_before_ms - self.deps.now_ms()) / 1000
                if quiet_s > 0:
                    await trio.sleep(quiet_s)
                if self.deps.sync_clock:
                    await self.sync_time(cause=None)
                nursery.start_soon(self._dispatch, nursery)
                async for env in self.inbox:
                    # Whatever else is already asked is queued too before the dispatcher looks
                    # (no scheduler pass between them), so priorities, not the order in which
                    # trio happened to run two tasks, say which goes first: after a restart
                    # the inbox holds everything asked while the limiter was down.
                    while True:
                        req = env.event
                        if isinstance(req, ApiRequest) and \
                                not req.request_id.startswith("limiter-"):
                            self._accepting = env
                            self._recorded_turn(req, 1)  # replay: its place, even if not queued
                            await self._accept(env)
                            self._accepting = None
                        try:
                            env = self.inbox.receive_nowait()
                        except trio.WouldBlock:
                            break
        except Exception:
            # A restarted limiter starts empty: without a final answer, every actor waiting on
            # a request held here would wait forever.
            await self._give_up_held()
            raise

    async def _give_up_held(self) -> None:
        held = {e.event.request_id: e for _, _, e, _ in self._queue}
        held.update(self._in_flight)
        if self._accepting is not None:
            # The request it was taking in when it failed: already out of the inbox, so the
            # next incarnation never sees it (its caller would wait forever).
            held.setdefault(self._accepting.event.request_id, self._accepting)
        self._queue.clear()
        self._in_flight.clear()
        for env in held.values():
            await self._refuse(env, "gave_up", "the limiter failed and restarted; no answer")

    def _restore_pauses(self, history) -> None:
        """A restarted limiter keeps the pauses and open breakers of its last incarnation: a
        418's Retry-After outlives a crash (reference §1)."""
        if not history or self.deps.session_time is None:
            return
        to_trio = trio.current_time() - self.deps.session_time()
        for env in history:
            event = env.event
            if isinstance(event, LimiterBackoff) and event.host in self.hosts \
                    and event.reason != "weight":
                until = to_trio + env.t + event.delay_s
            elif isinstance(event, BreakerOpened) and event.host in self.hosts:
                until = to_trio + env.t + event.open_s
            else:
                continue
            host = self.hosts[event.host]
            host.paused_until = max(host.paused_until, until)

    def _carry_pauses(self, paused_until_ms: dict[str, int]) -> None:
        """A new session keeps the pauses and open breakers the last one left (restored from
        its SessionSummary): a rotated run is not a reason to call a paused host."""
        now_ms = self.deps.now_ms()
        for name, until_ms in paused_until_ms.items():
            host = self.hosts.get(name)
            if host is not None and until_ms > now_ms:
                until = trio.current_time() + (until_ms - now_ms) / 1000
                host.paused_until = max(host.paused_until, until)

    def host(self, req: ApiRequest) -> HostState:
        return self.hosts[req.base]

    @property
    def breaker(self) -> Breaker:
        """The merchant API's breaker (the one most callers care about)."""
        return self.hosts["sapi"].breaker

    async def _accept(self, env: Envelope) -> None:
        req = env.event
        if req.effect and self.deps.dry_run:
            await self._refuse(env, "dry_run", "--dry-run: effects are recorded, not sent")
            return
        self._push(env, 1)

    async def _refuse_paused(self, env: Envelope) -> None:
        host = self.host(env.event)
        # No clock reading in the message: replay must give the same words.
        await self._refuse(env, "paused",
                           f"{host.name} paused; not sent late (a write is decided again on a "
                           "fresh book, a read asked another way)")

    def _push(self, env: Envelope, attempt: int) -> None:
        self._pauses_seen[env.event.request_id] = self.host(env.event).pauses
        self._order += 1
        rank, at, hold_s = self._recorded_turn(env.event, attempt)
        heapq.heappush(self._queue, (env.event.priority, (rank, self._order, at, hold_s), env,
                                     attempt))
        self._wake.set()

    async def _refuse(self, env: Envelope, kind: str, message: str) -> None:
        req = env.event
        await self.emit(ApiError(request_id=req.request_id, endpoint=req.endpoint, kind=kind,
                                 message=message), cause=env.seq)

    async def _dispatch(self, nursery: trio.Nursery) -> None:
        while True:
            entry = await self._next_candidate()
            if entry is None:
                continue
            priority, _, env, attempt = entry
            now = trio.current_time()
            ready = max(self.window.next_slot(now, priority, now < self.slow_until),
                        self._gap_ready(env.event.endpoint))
            if ready > now:
                with trio.move_on_at(min(ready, self._recheck_at)):
                    self._wake = trio.Event()
                    await self._wake.wait()  # an answer, or a more urgent request, wakes us
                continue
            self._queue.remove(entry)
            heapq.heapify(self._queue)
            self._ready_since.pop((env.event.request_id, attempt), None)
            host = self.host(env.event)
            refuse = self._refuses(env.event, now)
            self._pauses_seen.pop(env.event.request_id, None)
            if refuse:
                # A write (or a read its caller can ask another way) is not sent late.
                await self._refuse_paused(env)
                continue
            if not host.breaker.allows(now):
                reopen = host.breaker.reopen_at()  # None while half open, its trial out
                until = "" if reopen is None else f" for {reopen - now:.0f} s"
                await self._refuse(env, "breaker_open",
                                   f"{host.name} circuit breaker open{until}; no call made")
                continue
            slot = self.window.record(now)
            self.last_sent[env.event.endpoint] = now
            await self._dispatched(env, attempt)
            nursery.start_soon(self._attempt, env, attempt, slot)

    async def _dispatched(self, env: Envelope, attempt: int) -> None:
        # The schedule is part of the log: replay checks it (replay.schedule). emit never
        # blocks, so logging adds no checkpoint to the dispatch loop.
        req = env.event
        await self.emit(RequestDispatched(request_id=req.request_id, endpoint=req.endpoint,
                                          attempt=attempt), cause=env.seq)

    def _recorded_turn(self, req: ApiRequest, attempt: int) -> tuple[float, float, float]:
        """(rank, at, hold_s): live, first come first served, at once: (0, 0.0, 0.0). In a
        replay the sender says where and when the live run took this call's turn, and how long
        a ready call may be held to take it then (see `_replay_holds`). The sender tells
        identical requests apart by the order of their first asking, which `run` does as it
        takes each request in: one that never reaches the queue (its limiter failed taking it
        in, or a dry run refused it) still takes its place among them, as in the recording."""
        pinned = getattr(self.deps.sender, "recorded_turn", None)
        return pinned(req, attempt) if pinned is not None else (0, 0.0, 0.0)

    def _refuses(self, req: ApiRequest, now: float) -> bool:
        """Whether a write or `no_wait` read whose turn has come is refused rather than sent
        late: its host is paused, or a pause began after it was queued. A replay asks its
        sender, which knows what the live run did (it turned on when a pause ended)."""
        if not (req.effect or req.no_wait):
            return False
        pinned = getattr(self.deps.sender, "refused", None)
        answer = pinned(req) if pinned is not None else None
        if answer is not None:
            return answer
        host = self.host(req)
        return host.paused_until > now or self._pauses_seen.get(req.request_id) != host.pauses

    async def _next_candidate(self):
        """The most urgent queued call that may go when the window allows (None: waited, look
        again): one whose host is not paused, or one overtaken by a pause, which is refused
        when its turn comes instead of waiting the pause out."""
        if not self._queue:
            self._wake = trio.Event()
            await self._wake.wait()
            return None
        now = trio.current_time()
        held, first_held, self._recheck_at = self._replay_holds(now)
        resume = self._recheck_at
        for entry in sorted(self._queue):
            if entry[2].event.request_id in held or entry[1][0] > first_held:
                continue
            until = self.host(entry[2].event).paused_until
            if until <= now or self._refuses(entry[2].event, now):
                return self._near_tie(entry, now, held, first_held)
            resume = min(resume, until)
        with trio.move_on_at(resume):
            self._wake = trio.Event()
            await self._wake.wait()
        return None

    def _replay_holds(self, now: float) -> tuple[set, float, float]:
        """Replay only (live, nothing is held): (held request ids, the first recorded rank
        among them, when the next hold ends).

        A live run's calls reached the limiter milliseconds after they were asked (the bus, a
        durable flush, the CPU) and a freed slot went to whichever came first; a replay has no
        such delays. So a call that is ready (window and gap) before its recorded turn is held
        until then, but no longer than `hold_s` after it became ready: the limiter's own waiting
        is never taken from the recording. A held call is no candidate (it blocks no one, as it
        was not there live), and calls the live run sent after it wait for it.
        """
        held, first, recheck = set(), math.inf, math.inf
        for priority, order, env, attempt in self._queue:
            rank, _, at, hold_s = order
            if at <= now:
                continue
            key = (env.event.request_id, attempt)
            ready = max(self.window.next_slot(now, priority, now < self.slow_until),
                        self._gap_ready(env.event.endpoint))
            if ready > now:
                self._ready_since.pop(key, None)
                continue
            until = min(at, self._ready_since.setdefault(key, now) + hold_s)
            if until > now:
                held.add(env.event.request_id)
                first, recheck = min(first, rank), min(recheck, until)
        return held, first, recheck

    def _near_tie(self, entry, now: float, held: set, first_held: float):
        """Replay only: of two calls whose turns the live run took within NEAR_TIE_S of each
        other, the one it took first (which one reached a freed slot first was decided by
        fractions of a millisecond that a recording cannot carry). Live: `entry`."""
        rank, _, at, _ = entry[1]
        for other in self._queue:
            o_rank, _, o_at, _ = other[1]
            req = other[2].event
            if o_rank < rank and abs(o_at - at) < NEAR_TIE_S and req.request_id not in held \
                    and o_rank <= first_held and (self.host(req).paused_until <= now
                                                  or self._refuses(req, now)):
                entry, rank, at = other, o_rank, o_at
        return entry

    def _gap_ready(self, endpoint: str) -> float:
        gap = self.min_gap.get(endpoint)
        last = self.last_sent.get(endpoint)
        return 0.0 if gap is None or last is None else last + gap

    def _answered_slot(self, slot: list) -> None:
        self.window.answered(slot, trio.current_time())
        if self._queue:  # with nothing queued a wake would only find nothing to dispatch
            self._wake.set()

    async def _attempt(self, env: Envelope, attempt: int, slot: list) -> None:
        req: ApiRequest = env.event
        started = trio.current_time()
        self._in_flight[req.request_id] = env
        try:
            reply = await self.deps.sender.send(req, lambda: self._build(req))
        except httpx.HTTPError as exc:
            del self._in_flight[req.request_id]
            self._answered_slot(slot)
            await self._transport_failed(env, attempt, exc)
            return
        finally:
            if slot[0] is None:
                self._answered_slot(slot)  # answered, or cancelled on the way out
        del self._in_flight[req.request_id]
        elapsed = int((trio.current_time() - started) * 1000)
        await self._answered(env, attempt, reply.status, reply.headers, reply.body, elapsed)

    def _build(self, req: ApiRequest) -> httpx.Request:
        ex = self.deps.config.exchange
        return build_http_request(req, sapi_url=ex.sapi_url, bapi_url=ex.bapi_url,
                                  credentials=self.deps.credentials,
                                  timestamp_ms=self.clock.now(self.deps.now_ms()),
                                  user_agent=user_agent_for(self.ua_salt, req.request_id),
                                  recv_window_ms=ex.recv_window_ms)

    async def _transport_failed(self, env: Envelope, attempt: int, exc: Exception) -> None:
        req: ApiRequest = env.event
        probe = is_probe(req)
        retry = not req.effect and not probe and not req.no_wait and attempt < MAX_ATTEMPTS
        await self.emit(ApiError(request_id=req.request_id, endpoint=req.endpoint, kind="transport",
                                 message=f"{type(exc).__name__}: {str(exc)[:200]}",
                                 attempt=attempt, final=not retry), cause=env.seq)
        host = self.host(req)
        if probe:
            host.breaker.release()
            return
        await self._failed(host)
        if retry:
            await self._pause(host, host.backoff.next_delay(None), "transport")
            self._push(env, attempt + 1)

    async def _answered(self, env, attempt, status, headers, body, elapsed) -> None:
        req: ApiRequest = env.event
        action, error = classify_reply(req, status, headers, body)
        probe = is_probe(req)
        retry = not probe and should_retry(req, action, attempt)
        await self.emit(ApiResponse(request_id=req.request_id, endpoint=req.endpoint, status=status,
                                    headers=headers, body=body, elapsed_ms=elapsed,
                                    attempt=attempt, final=not retry), cause=env.seq)
        await self._note_weights(headers)
        host = self.host(req)
        if action is None:
            host.backoff.reset()
            host.waf_backoff.reset()
            await self._succeeded(req)
            return
        if probe:
            host.breaker.release()  # "sign it" says nothing of Binance's health
            return
        await self._react(env, action, error, headers)
        if retry:
            self._push(env, attempt + 1)

    async def _react(self, env: Envelope, action, error, headers) -> None:
        req: ApiRequest = env.event
        host = self.host(req)
        if action is Action.FATAL:
            await self._failed(host)
            raise Fatal(f"Binance refused {req.endpoint}: {error}")
        if action is Action.RESYNC_AND_RETRY:
            host.breaker.release()  # our clock was off: the answer says nothing of Binance's health
            if req.signed:
                await self.sync_time(cause=env.seq)
        elif action is Action.BACKOFF_AND_RETRY:
            await self._failed(host)
            await self._pause(host, host.backoff.next_delay(retry_after_s(headers)), "backoff")
        elif action is Action.IP_BANNED:
            await self._failed(host)
            await self._pause(host, retry_after_s(headers) or 120.0, "418")
        elif action is Action.WAF_PAUSE:
            await self._failed(host)
            await self._pause(host, host.waf_backoff.next_delay(retry_after_s(headers)), "403")
        else:
            await self._succeeded(req)  # Binance answered; the business error is the caller's

    async def _pause(self, host: HostState, delay_s: float, reason: str) -> None:
        host.paused_until = max(host.paused_until, trio.current_time() + delay_s)
        host.pauses += 1
        self._wake.set()  # calls it overtook are refused now
        await self.emit(LimiterBackoff(reason=reason, delay_s=round(delay_s, 3), host=host.name))

    async def _note_weights(self, headers) -> None:
        used = weights(headers)
        for field, limit in WEIGHT_LIMITS.items():
            value = getattr(used, field, None)
            if value is not None and value > 0.8 * limit:
                if trio.current_time() >= self.slow_until:
                    await self.emit(LimiterBackoff(reason="weight", delay_s=SLOW_FOR_S))
                self.slow_until = trio.current_time() + SLOW_FOR_S
                return

    async def _succeeded(self, req: ApiRequest) -> None:
        host = self.host(req)
        if host.breaker.success():
            await self.emit(BreakerClosed(trial_endpoint=req.endpoint, host=host.name))

    async def _failed(self, host: HostState) -> None:
        if host.breaker.failure(trio.current_time()):
            await self.emit(BreakerOpened(failures=host.breaker.consecutive,
                                          open_s=host.breaker.open_s, host=host.name))

    async def sync_time(self, cause: int | None) -> None:
        """Measure the server clock offset with GET /api/v3/time (logged like any call)."""
        self._ids += 1
        req = endpoints.server_time(f"limiter-{self._ids}")
        while (ready := self.window.next_slot(trio.current_time(), 0)) > trio.current_time():
            await trio.sleep_until(min(ready, trio.current_time() + 0.05))
        slot = self.window.record(trio.current_time())
        await self.emit(req, cause=cause)
        await self.emit(RequestDispatched(request_id=req.request_id, endpoint=req.endpoint))
        sent_ms = self.deps.now_ms()
        started = trio.current_time()
        try:
            reply = await self.deps.sender.send(req, lambda: self._build(req))
        except httpx.HTTPError as exc:
            await self.emit(ApiError(request_id=req.request_id, endpoint="TIME", kind="transport",
                                     message=type(exc).__name__), cause=cause)
            return
        finally:
            self._answered_slot(slot)
        received_ms = self.deps.now_ms()
        elapsed = int((trio.current_time() - started) * 1000)
        await self.emit(ApiResponse(request_id=req.request_id, endpoint="TIME",
                                    status=reply.status, headers=reply.headers, body=reply.body,
                                    elapsed_ms=elapsed), cause=cause)
        try:
            server = parse_server_time(reply.status, reply.headers, reply.body)
        except C2CError:
            return
        self.clock.offset_ms = offset_from_round_trip(sent_ms, received_ms, server)
        await self.emit(ClockSynced(offset_ms=self.clock.offset_ms,
                                    round_trip_ms=received_ms - sent_ms), cause=cause)


async def run(inbox, emit, *, deps: LimiterDeps, task_status=trio.TASK_STATUS_IGNORED) -> None:
    """Entry point in the actor convention; see `Limiter`."""
    await Limiter(inbox, emit, deps).run(task_status=task_status)


# The rate window plus the log writer's lag and a margin: a call the last run sent before it
# died is no later than its last committed event plus the lag, which is the batch delay (5 ms)
# on a quiet machine but more when a commit trains a zstd dictionary or the machine is busy
# (the 20-SIGKILL test once saw one request too many in a second at 1100 ms under load).
QUIET_AFTER_MS = 1500


def _build(ctx: ActorContext):
    deps = ctx.deps
    not_before = deps.restored.last_event_ms + QUIET_AFTER_MS if deps.restored.last_event_ms else 0
    if ctx.history:
        # Restarted: what the dead incarnation had in flight held slots of the window that
        # this one cannot see; it waits that window out before its first call.
        not_before = max(not_before, deps.now_ms() + QUIET_AFTER_MS)
    ldeps = LimiterDeps(client=deps.client, config=deps.config, credentials=deps.credentials,
                        now_ms=deps.now_ms, rng=random.Random(deps.seed), dry_run=deps.dry_run,
                        sender=deps.sender, not_before_ms=not_before, history=ctx.history,
                        first_request=ctx.first_request, session_time=ctx.session_time,
                        paused_until_ms=deps.restored.paused_until_ms)
    return partial(run, ctx.inbox, ctx.emit, deps=ldeps)


SPEC = ActorSpec(name="limiter", subscribes=(ApiRequest,), build=_build)
