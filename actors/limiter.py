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

What to send next, and what an answer calls for, is decided by the pure core
(`actors/limiter_core.py`); this shell takes requests in, sleeps until the core's time, performs
the calls (HTTP through the injected sender), emits, and moves the core's state with its
transitions. A limiter the supervisor restarts folds its session so far with the core's `apply`:
it keeps its pauses, open breakers and clock offset.
"""

from __future__ import annotations

import math
import random
from functools import partial
from typing import Callable

import httpx
import trio

from actors import limiter_core
from actors.config import BotConfig
from actors.limiter_core import Pause, Refuse, Resync, Retry, Send, Stop, Wait
from actors.ratelimit import Breaker
from actors.retries import classify_reply
from actors.senders import HttpxSender
from actors.sleep import Wakeup
from actors.spec import ActorContext, ActorSpec
from actors.supervise import Fatal
from c2c import endpoints
from c2c.credentials import Credentials
from c2c.decode import parse_server_time
from c2c.errors import C2CError
from c2c.http import build_http_request, user_agent_for
from c2c.timesync import offset_from_round_trip
from events import ApiError, ApiRequest, ApiResponse, ClockSynced, Envelope, RequestDispatched


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
        # A limiter the supervisor restarted: this session's events so far (the core folds
        # them), the request number it reached, and the bus's session time to place them.
        self.history = history
        self.first_request = first_request
        self.session_time = session_time
        self.paused_until_ms = paused_until_ms or {}  # the last session's pauses, by host


class Limiter:
    """The limiter actor's shell around `limiter_core`; `run` is its entry point."""

    def __init__(self, inbox: trio.MemoryReceiveChannel, emit, deps: LimiterDeps) -> None:
        self.inbox = inbox
        self.emit = emit
        self.deps = deps
        self.state = limiter_core.State(deps.config.limits)
        # A browser User-Agent per request, a function of the seed and the request id, so
        # the choice does not depend on the order in which trio runs tasks.
        self.ua_salt = deps.rng.getrandbits(64)
        self._wake = Wakeup()
        self._ids = deps.first_request
        self._accepting: Envelope | None = None  # the request `_accept` is taking in
        self._restore(deps.history)
        self._carry_pauses(deps.paused_until_ms)
        # Replay's sender says whether the live run refused a call (limiter_core.refuses).
        self._refused = getattr(deps.sender, "refused", None)

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
            for env in limiter_core.give_up(self.state, self._accepting):
                await self._refuse(env, "gave_up", "the limiter failed and restarted; no answer")
            raise

    def _restore(self, history) -> None:
        """A restarted limiter folds its session so far: it keeps the pauses and open breakers
        of its last incarnation (a 418's Retry-After outlives a crash, reference §1) and its
        clock offset, and starts with nothing queued (see `limiter_core.restarted`)."""
        if not history or self.deps.session_time is None:
            return
        now = trio.current_time()
        self.state.to_clock = now - self.deps.session_time()
        limiter_core.restarted(limiter_core.fold(history, self.state), now)

    def _carry_pauses(self, paused_until_ms: dict[str, int]) -> None:
        """A new session keeps the pauses and open breakers the last one left (restored from
        its SessionSummary): a rotated run is not a reason to call a paused host."""
        now_ms = self.deps.now_ms()
        for name, until_ms in paused_until_ms.items():
            if until_ms > now_ms:
                limiter_core.pause_until(self.state, name,
                                         trio.current_time() + (until_ms - now_ms) / 1000)

    @property
    def breaker(self) -> Breaker:
        """The merchant API's breaker (the one most callers care about)."""
        return self.state.hosts["sapi"].breaker

    async def _accept(self, env: Envelope) -> None:
        req = env.event
        if req.effect and self.deps.dry_run:
            await self._refuse(env, "dry_run", "--dry-run: effects are recorded, not sent")
            return
        self._push(env, 1)

    def _push(self, env: Envelope, attempt: int) -> None:
        limiter_core.enqueue(self.state, env, attempt, self._recorded_turn(env.event, attempt))
        self._wake.set()

    async def _refuse(self, env: Envelope, kind: str, message: str) -> None:
        req = env.event
        await self.emit(ApiError(request_id=req.request_id, endpoint=req.endpoint, kind=kind,
                                 message=message), cause=env.seq)

    async def _dispatch(self, nursery: trio.Nursery) -> None:
        state = self.state
        while True:
            now = trio.current_time()
            step = limiter_core.decide_next(state, now, self._refused)
            if type(step) is Send:
                limiter_core.take(state, step.entry)
                _, _, env, attempt = step.entry
                slot = limiter_core.send(state, step.entry, now)
                await self._dispatched(env, attempt)
                nursery.start_soon(self._attempt, env, attempt, slot)
            elif type(step) is Refuse:
                limiter_core.take(state, step.entry)
                await self._refuse(step.entry[2], step.kind, step.message)
            else:
                # An answer, a more urgent request or a pause wakes us.
                await self._wake.wait(step.until if type(step) is Wait else math.inf)

    async def _dispatched(self, env: Envelope, attempt: int) -> None:
        # The schedule is part of the log: replay checks it (replay.schedule). emit never
        # blocks, so logging adds no checkpoint to the dispatch loop.
        req = env.event
        await self.emit(RequestDispatched(request_id=req.request_id, endpoint=req.endpoint,
                                          attempt=attempt), cause=env.seq)

    def _recorded_turn(self, req: ApiRequest, attempt: int) -> tuple[float, float, float]:
        """(rank, at, hold_s): live, first come first served, at once: LIVE_TURN. In a replay
        the sender says where and when the live run took this call's turn, and how long a ready
        call may be held to take it then (see `limiter_core.replay_holds`). The sender tells
        identical requests apart by the order of their first asking, which `run` does as it
        takes each request in: one that never reaches the queue (its limiter failed taking it
        in, or a dry run refused it) still takes its place among them, as in the recording."""
        pinned = getattr(self.deps.sender, "recorded_turn", None)
        return pinned(req, attempt) if pinned is not None else limiter_core.LIVE_TURN

    def _answered_slot(self, request_id: str, slot: list) -> None:
        limiter_core.answered_slot(self.state, request_id, slot, trio.current_time())
        if self.state.queue:  # with nothing queued a wake would only find nothing to dispatch
            self._wake.set()

    async def _attempt(self, env: Envelope, attempt: int, slot: list) -> None:
        req: ApiRequest = env.event
        rid = req.request_id
        started = trio.current_time()
        try:
            reply = await self.deps.sender.send(req, lambda: self._build(req))
        except httpx.HTTPError as exc:
            limiter_core.landed(self.state, rid)
            self._answered_slot(rid, slot)
            await self._transport_failed(env, attempt, exc)
            return
        finally:
            if slot[0] is None:
                self._answered_slot(rid, slot)  # answered, or cancelled on the way out
        limiter_core.landed(self.state, rid)
        elapsed = int((trio.current_time() - started) * 1000)
        await self._answered(env, attempt, reply.status, reply.headers, reply.body, elapsed)

    def _build(self, req: ApiRequest) -> httpx.Request:
        ex = self.deps.config.exchange
        return build_http_request(req, sapi_url=ex.sapi_url, bapi_url=ex.bapi_url,
                                  credentials=self.deps.credentials,
                                  timestamp_ms=self.state.clock.now(self.deps.now_ms()),
                                  user_agent=user_agent_for(self.ua_salt, req.request_id),
                                  recv_window_ms=ex.recv_window_ms)

    async def _transport_failed(self, env: Envelope, attempt: int, exc: Exception) -> None:
        req: ApiRequest = env.event
        steps = limiter_core.decide_failure(self.state, req, attempt)
        await self.emit(ApiError(request_id=req.request_id, endpoint=req.endpoint, kind="transport",
                                 message=f"{type(exc).__name__}: {str(exc)[:200]}",
                                 attempt=attempt, final=limiter_core.is_final(steps)),
                        cause=env.seq)
        await self._carry_out(env, steps)

    async def _answered(self, env, attempt, status, headers, body, elapsed) -> None:
        req: ApiRequest = env.event
        action, error = classify_reply(req, status, headers, body)
        steps = limiter_core.decide_answer(self.state, req, attempt, action, error, headers)
        await self.emit(ApiResponse(request_id=req.request_id, endpoint=req.endpoint, status=status,
                                    headers=headers, body=body, elapsed_ms=elapsed,
                                    attempt=attempt, final=limiter_core.is_final(steps)),
                        cause=env.seq)
        await self._carry_out(env, steps)

    async def _carry_out(self, env: Envelope, steps) -> None:
        for step in steps:
            match step:
                case Retry(attempt=attempt):
                    self._push(env, attempt)
                case Resync():
                    await self.sync_time(cause=env.seq)
                case Stop(message=message):
                    raise Fatal(message)
                case _:
                    event = limiter_core.apply_step(self.state, step, trio.current_time())
                    if type(step) is Pause:
                        self._wake.set()  # calls it overtook are refused now
                    if event is not None:
                        await self.emit(event)

    async def sync_time(self, cause: int | None) -> None:
        """Measure the server clock offset with GET /api/v3/time (logged like any call)."""
        self._ids += 1
        req = endpoints.server_time(f"limiter-{self._ids}")
        window = self.state.window
        while (ready := window.next_slot(trio.current_time(), 0)) > trio.current_time():
            await trio.sleep_until(min(ready, trio.current_time() + 0.05))
        slot = limiter_core.send_own(self.state, req.request_id, trio.current_time())
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
            self._answered_slot(req.request_id, slot)
        received_ms = self.deps.now_ms()
        elapsed = int((trio.current_time() - started) * 1000)
        await self.emit(ApiResponse(request_id=req.request_id, endpoint="TIME",
                                    status=reply.status, headers=reply.headers, body=reply.body,
                                    elapsed_ms=elapsed), cause=cause)
        try:
            server = parse_server_time(reply.status, reply.headers, reply.body)
        except C2CError:
            return
        self.state.clock.offset_ms = offset_from_round_trip(sent_ms, received_ms, server)
        await self.emit(ClockSynced(offset_ms=self.state.clock.offset_ms,
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
