"""The circuit breaker does exactly what bot.toml says when the simulator fails every call.

The whole bot runs against the simulator in this process (sim.inprocess) under MockClock, so the
times at which calls reach the exchange are exact: with `breaker_failures = 5` and
`breaker_open_s = 3`, the breaker opens on the 5th consecutive failure, no call reaches the
exchange for 3 s, then one trial call at a time; once the exchange heals, the trial closes it and
trading resumes. Also: a limiter that crashes answers what it held, so no actor waits forever.
"""

from __future__ import annotations

import httpx
import trio

from actors.config import load_config
from actors.system import BotDeps, run_bot
from c2c.credentials import Credentials
from c2c.decode import decode_envelope
from c2c.errors import Action, C2CError, MalformedResponse
from events import (ActorFailed, AdRepriced, ApiError, ApiResponse, BreakerClosed,
                    BreakerOpened)
from sim import DEMO_API_KEY, DEMO_SECRET, Faults, SimConfig, SimExchange
from sim.inprocess import SimTransport, chat_connector
from store import open_log
from tests.harness import SimBinance, config, running_bot

EPS = 1e-9
OPEN_S = 3.0
FAILING = (Action.BACKOFF_AND_RETRY, Action.IP_BANNED, Action.WAF_PAUSE, Action.FATAL)


class RecordingTransport(SimTransport):
    """The in-process simulator, noting when each call reached it and when its answer left."""

    def __init__(self, exchange: SimExchange) -> None:
        super().__init__(exchange)
        self.calls: list[tuple[float, float, str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        start = trio.current_time()
        try:
            return await super().handle_async_request(request)
        finally:
            self.calls.append((start, trio.current_time(), request.url.path))


def _outcome(event) -> str:
    """How the limiter's breaker counts one answer: "failure", "success" or "neutral"."""
    if isinstance(event, ApiError):
        return "failure" if event.kind == "transport" else "neutral"
    try:
        decode_envelope(event.endpoint, event.status, event.headers, event.body)
    except MalformedResponse:
        return "failure"
    except C2CError as exc:
        if exc.action is Action.RESYNC_AND_RETRY:
            return "neutral"  # our clock, not Binance's health
        return "failure" if exc.action in FAILING else "success"
    return "success"


async def _run_until_healed_and_trading(tmp_path, exchange, transport, heal_at: float):
    cfg = load_config({"exchange": {"sapi_url": "http://sim", "bapi_url": "http://sim"},
                       "limits": {"breaker_failures": 5, "breaker_open_s": OPEN_S}})
    log = open_log(tmp_path / "bot.db")
    sid = log.start_session("live", "{}", exchange.now_ms())
    seen: list[tuple[float, object]] = []
    stop = trio.Event()

    async def heal_then_stop() -> None:
        await trio.sleep(heal_at)
        exchange.faults.faults = Faults()
        while not any(isinstance(e, AdRepriced) for t, e in seen if t > heal_at):
            await trio.sleep(1)
        stop.set()

    async with trio.open_nursery() as nursery:
        await nursery.start(exchange.run_market)
        nursery.start_soon(heal_then_stop)
        async with httpx.AsyncClient(transport=transport) as client:
            deps = BotDeps(config=cfg, client=client, connect=chat_connector(exchange),
                           credentials=Credentials(DEMO_API_KEY, DEMO_SECRET),
                           now_ms=exchange.now_ms, seed=3)
            with trio.fail_after(1200):
                await run_bot(log, sid, deps, stop=stop,
                              taps=(lambda env: seen.append((trio.current_time(), env.event)),))
        nursery.cancel_scope.cancel()
    log.close()
    return seen


async def test_breaker_opens_on_the_5th_failure_is_silent_3s_then_tries_one_call_at_a_time(
        tmp_path, autojump_clock):
    exchange = SimExchange(SimConfig(seed=5, faults=Faults(error_rate=1.0)),
                           now_ms=lambda: 1_768_000_000_000 + int(trio.current_time() * 1000))
    transport = RecordingTransport(exchange)
    heal_at = 60.0
    seen = await _run_until_healed_and_trading(tmp_path, exchange, transport, heal_at)
    events = [e for _, e in seen]
    first = events.index(next(e for e in events if isinstance(e, BreakerOpened)))
    host = events[first].host  # each host (public book, merchant API) has its own breaker
    opens = [t for t, e in seen if isinstance(e, BreakerOpened) and e.host == host]
    assert len(opens) >= 3

    answers = [_outcome(e) for e in events[:first] if isinstance(e, (ApiResponse, ApiError))
               and e.endpoint != "TIME" and _host(e.endpoint) == host]
    assert answers.count("failure") == 5 and "success" not in answers
    assert events[first].failures == 5 and events[first].open_s == OPEN_S

    closed = [t for t, e in seen if isinstance(e, BreakerClosed) and e.host == host]
    assert closed and closed[0] > heal_at  # the first trial after the exchange healed
    calls = [(s, end) for s, end, path in transport.calls
             if path != "/api/v3/time" and s <= closed[0] and _path_host(path) == host]
    for t_open in opens:  # silent for exactly open_s ...
        assert not [s for s, _ in calls if t_open + EPS < s < t_open + OPEN_S - EPS]
    trials = [c for c in calls if c[0] > opens[0] + EPS]
    for (_, end), (start, _) in zip(trials, trials[1:]):
        assert start >= end - EPS  # ... then one trial call at a time
    # Refused without a call only while open, or while the one trial is out: never longer.
    refused = [t for t, e in seen if isinstance(e, ApiError) and e.kind == "breaker_open"
               and _host(e.endpoint) == host]
    windows = [(t - EPS, t + OPEN_S) for t in opens] + [(s - EPS, e + EPS) for s, e in trials]
    assert refused and all(any(a <= t <= b for a, b in windows) for t in refused)
    assert any(isinstance(e, AdRepriced) for t, e in seen if t > closed[0])
    assert not [e for e in events if isinstance(e, ActorFailed)]
    assert exchange.report().violations == 0


def _host(endpoint: str) -> str:
    return "bapi" if endpoint == "EP-0" else "sapi"


def _path_host(path: str) -> str:
    return "bapi" if path.startswith("/bapi/") else "sapi"


async def test_a_limiter_crash_answers_every_held_request_and_the_bot_goes_on(
        tmp_path, autojump_clock):
    fake = SimBinance()
    fake.my_ad("111", "SELL", "1600.50")
    fake.rival("c1", "SELL", "1600.00")
    fake.bug_below("EP-15", RuntimeError("a bug below the limiter, not an HTTP error"))
    cfg = config(market={"pages": 1, "poll_interval_s": 2}, orders={"poll_interval_s": 1})
    async with running_bot(tmp_path, fake, actors=("limiter", "market", "ads", "orders"),
                           cfg=cfg) as h:
        await trio.sleep(20)
    failed = h.events(ActorFailed)
    assert [f.actor for f in failed] == ["limiter"]
    gave_up = [e for e in h.events(ApiError) if e.kind == "gave_up"]
    assert gave_up and all(e.final for e in gave_up)
    restarted_at = next(env.t for env in h.seen if isinstance(env.event, ActorFailed))
    later = [env.event for env in h.seen if env.t > restarted_at + 1]
    assert any(isinstance(e, ApiResponse) and e.endpoint == "EP-15" for e in later)
    assert any(isinstance(e, AdRepriced) for e in h.events(AdRepriced))
