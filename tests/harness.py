"""Run the real actors against the strict simulator in this process, under MockClock.

The exchange is `sim.SimExchange` (the one `python run.py sim` serves), reached through
`sim.inprocess`: Binance's envelopes, signature checks, the 5-per-second rule, EP-7's refusals
and the chat socket, as the reference documents them. Tests set the scene through `SimBinance`
(a quiet market: no random competitors, no drift, no random orders), script answers through the
simulator's own fault injection (`inject`, `inject_answer`), and read back every request the bot
sent, with trio's (virtual) time of arrival.

Binance is the judge: a behaviour a test needs that the simulator lacks is added to the simulator
only where the reference documents it, never here.
"""

from __future__ import annotations

import dataclasses
import json
import random
from contextlib import asynccontextmanager
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import httpx
import msgspec
import trio

from actors.config import BotConfig, config_json, load_config
from actors.system import LIVE_ACTORS, BotDeps, run_bot
from c2c.credentials import Credentials
from sim import DEMO_API_KEY, DEMO_SECRET, SimConfig, SimExchange
from sim import answers
from sim.endpoints import ROUTES
from sim.inprocess import SimTransport, chat_connector
from sim.market import SimAd, quantize
from sim.wire import Response
from store import open_log

API_KEY = DEMO_API_KEY
SECRET = DEMO_SECRET
BASE_MS = 1_768_000_000_000

# A market that moves only when the test moves it.
QUIET = dict(competitors_per_side=0, volatility=0.0, order_rate_per_s=0.0, chat_nlp_share=0.0,
             chat_auto_reply="", chat_read_copy_share=0.0, chat_extra_copy_share=0.0)


def endpoint_of(path: str) -> str:
    route = ROUTES.get(path)
    return route.endpoint if route else "?"


def query_of(request: httpx.Request) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(str(request.url)).query))


def sample(path, status: int) -> Response:
    """A captured answer (tests/samples), byte for byte, as the exchange's answer."""
    return Response(status, path.read_bytes(), (("content-type", "application/json"),))


class _Socket:
    """A chat socket of the in-process simulator that keeps what the bot sent."""

    def __init__(self, inner, sent: list[dict]) -> None:
        self._inner = inner
        self._sent = sent

    async def get_message(self):
        return await self._inner.get_message()

    async def send_message(self, text) -> None:
        self._sent.append(json.loads(text))
        await self._inner.send_message(text)


class SimBinance:
    """The simulator under a test's control; `exchange` is the `SimExchange` itself.

    Args:
        settings: `SimConfig` fields over the quiet defaults (QUIET).
    """

    def __init__(self, **settings) -> None:
        self.exchange = SimExchange(SimConfig(**{**QUIET, **settings}), now_ms=self.now_ms)
        market = self.exchange.market
        self._template = market.bot_ads()[0]
        for ad in market.bot_ads():  # the test places the bot's ads it wants
            del market.ads[ad.adv_no]
        self.requests: list[tuple[float, str, httpx.Request]] = []
        self.on_request = None
        self.frames_from_bot: list[dict] = []
        self.chat_urls: list[str] = []
        self.sockets_opened = 0
        self._opened: trio.Event | None = None
        self._bugs: dict[str, list[Exception]] = {}

    @staticmethod
    def now_ms() -> int:
        return BASE_MS + int(trio.current_time() * 1000)

    # --- the scene ---------------------------------------------------------------------------

    def my_ad(self, adv_no: str, side: str, price: str, status: int = 1) -> None:
        """Give the bot's account an ad (online 1, offline 3)."""
        ad = dataclasses.replace(self._template, adv_no=adv_no, side=side,
                                 price=Decimal(price), status=status)
        self.exchange.market.ads[adv_no] = ad

    def rival(self, adv_no: str, side: str, price: str, *, nick: str = "rival",
              user_type: str = "merchant", pay: tuple[str, ...] = ("BANK",)) -> None:
        """Put a competitor's ad in the book; it stays where it is until `move`d."""
        price_d = Decimal(price)
        self.exchange.market.ads[adv_no] = SimAd(
            adv_no=adv_no, side=side, nickname=nick, user_no="u" + adv_no, user_type=user_type,
            price=price_d, surplus=Decimal("500"), init_amount=Decimal("500"),
            min_amount=Decimal("1000"), max_amount=Decimal("900000"), pay_methods=pay,
            month_orders=100, finish_rate=0.99, floor=price_d, ceiling=price_d,
            classify="profession" if user_type == "merchant" else "mass")

    def move(self, adv_no: str, price: str) -> None:
        """Move a competitor's ad now, as a scripted market move."""
        ad = self.exchange.market.ads[adv_no]
        ad.floor = ad.ceiling = Decimal(price)
        self.exchange.set_competitor_price(adv_no, Decimal(price))

    def ad(self, adv_no: str) -> SimAd:
        return self.exchange.market.ads[adv_no]

    def open_order(self, adv_no: str, *, amount: str | None = None,
                   counterparty: str = "buyer1") -> str:
        """A counterparty opens an order on one of the bot's ads and then waits (the test moves
        it with `order_status`); return its number."""
        no = self.exchange.open_order(adv_no)
        order = self.exchange.desk.orders[no]
        order.plan.clear()
        order.counterparty = counterparty
        if amount is not None:
            order.amount = Decimal(amount)
            order.total = quantize(order.amount * order.price)
        return no

    def order_status(self, order_no: str, status: int) -> None:
        self.exchange.desk.orders[order_no].status = status

    def skew(self, ms: int) -> None:
        """Run the exchange's clock `ms` ahead of ours from now on."""
        cfg = self.exchange.cfg
        self.exchange.cfg = msgspec.structs.replace(
            cfg, faults=msgspec.structs.replace(cfg.faults, clock_skew_ms=ms))

    # --- answers -----------------------------------------------------------------------------

    def push(self, endpoint: str, *answers_: str | Response) -> None:
        """Answer the next calls to `endpoint` with these, in order: a kind of `sim.answers`
        (the catalogue), or a ready `Response` (a captured sample, a mangled body)."""
        for answer in answers_:
            if isinstance(answer, str):
                self.exchange.inject(endpoint, answer)
            else:
                self.exchange.inject_answer(endpoint, answer)

    def bug_below(self, endpoint: str, exc: Exception) -> None:
        """Make the bot's own HTTP client raise `exc` on its next call to `endpoint`, before
        anything reaches the exchange: a bug in our stack, not something Binance does."""
        self._bugs.setdefault(endpoint, []).append(exc)

    # --- what the bot sent -------------------------------------------------------------------

    def calls(self, endpoint: str) -> list[tuple[float, httpx.Request]]:
        return [(t, r) for t, ep, r in self.requests if ep == endpoint]

    def transport(self) -> httpx.AsyncBaseTransport:
        return _Transport(self)

    def connect(self):
        """The chat actor's `connect`: the simulator's socket, keeping the bot's frames."""
        inner = chat_connector(self.exchange)

        @asynccontextmanager
        async def connect(url: str):
            self.chat_urls.append(url)
            async with inner(url) as sock:
                self.sockets_opened += 1
                if self._opened is not None:
                    self._opened.set()
                yield _Socket(sock, self.frames_from_bot)

        return connect

    async def connected(self, count: int = 1) -> None:
        """Wait until `count` chat sockets have opened since the start."""
        while self.sockets_opened < count:
            self._opened = trio.Event()
            await self._opened.wait()


class _Transport(SimTransport):
    def __init__(self, sim: SimBinance) -> None:
        super().__init__(sim.exchange, rng=random.Random(1))
        self.sim = sim

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        endpoint = endpoint_of(request.url.path)
        self.sim.requests.append((trio.current_time(), endpoint, request))
        if self.sim.on_request is not None:
            self.sim.on_request(endpoint, request)
        bugs = self.sim._bugs.get(endpoint)
        if bugs:
            raise bugs.pop(0)
        return await super().handle_async_request(request)


class Harness:
    def __init__(self, log, session: int, sim: SimBinance) -> None:
        self.log = log
        self.session = session
        self.sim = sim
        self.bus = None
        self.inbox = None
        self.emit = None
        self.reason: str | None = None
        self.seen: list = []  # every envelope, as the bus published it

    def events(self, *types):
        return [e.event for e in self.seen if not types or isinstance(e.event, types)]

    async def final_reply(self, request_id: str):
        """Wait for the final ApiResponse or ApiError to the tester's request `request_id`."""
        async for env in self.inbox:
            if getattr(env.event, "request_id", None) == request_id and env.event.final:
                return env

    async def next_event(self, *types):
        async for env in self.inbox:
            rid = getattr(env.event, "request_id", None)
            if rid is not None and not rid.startswith("tester-"):
                continue  # the actors' own calls
            if isinstance(env.event, types):
                return env


def config(**sections) -> BotConfig:
    return load_config(sections)


@asynccontextmanager
async def running_bot(tmp_path, sim: SimBinance | None = None, *, actors=LIVE_ACTORS,
                      cfg: BotConfig | None = None, chat: bool = True, dry_run=False,
                      restored=None, listen: tuple[type, ...] = (), db_name="bot.db",
                      session_mode="live", give_up_s: float = 3600.0):
    """Start the simulator's market and the bot; yield a Harness; stop both cleanly on exit
    (log flushed, run ended). `chat=False` gives the chat actor no socket at all. A test that
    still waits after `give_up_s` of virtual time fails (the market's clock never stops)."""
    sim = sim or SimBinance()
    log = open_log(tmp_path / db_name)
    sid = log.start_session(session_mode, config_json(cfg or BotConfig(), actors=actors, seed=1,
                                                      dry_run=dry_run), sim.now_ms())
    h = Harness(log, sid, sim)
    stop = trio.Event()
    with trio.fail_after(give_up_s):
        async with _market_and_bot(sim, log, sid, h, stop, actors, cfg, chat, dry_run,
                                   restored, listen):
            yield h
    log.end_session(sid, sim.now_ms(), h.reason or "")


@asynccontextmanager
async def _market_and_bot(sim, log, sid, h, stop, actors, cfg, chat, dry_run, restored, listen):
    async with trio.open_nursery() as market:
        await market.start(sim.exchange.run_market)
        async with httpx.AsyncClient(transport=sim.transport()) as client:
            deps = BotDeps(config=cfg or BotConfig(), client=client,
                           connect=sim.connect() if chat else None,
                           credentials=Credentials(API_KEY, SECRET), now_ms=sim.now_ms, seed=1,
                           dry_run=dry_run, restored=restored)
            async with trio.open_nursery() as nursery:
                async def _run(task_status=trio.TASK_STATUS_IGNORED):
                    h.reason = await run_bot(log, sid, deps, actors=actors, stop=stop,
                                             taps=(h.seen.append,), extra={"tester": listen},
                                             task_status=task_status)
                h.bus, inboxes = await nursery.start(_run)
                h.inbox = inboxes["tester"]
                h.emit = h.bus.emitter("tester")
                try:
                    yield h
                finally:
                    stop.set()
        market.cancel_scope.cancel()


__all__ = ["API_KEY", "SECRET", "SimBinance", "Harness", "answers", "config", "endpoint_of",
           "query_of", "running_bot", "sample"]
