"""SimExchange: all of the simulator's state, the gateway in front of the endpoints, the market
loop, the chat hub and the measurements. No sockets here: `handle()` takes a Request and returns
a Response, so tests drive it directly."""

from __future__ import annotations

import dataclasses
import random
from decimal import Decimal
from typing import Callable

import msgspec
import trio

from sim.config import SimConfig
from sim.endpoints import ROUTES, Route
from sim.faults import FaultInjector
from sim.market import Market, SimAd
from sim.orders import ChatMessage, OrderDesk
from sim.report import ReactionTracker, SimReport, percentile
from sim.rules import PageGate, RateRule, SlidingWindow, check_api_key, check_signed, too_many
from sim.wire import Request, Response, bapi_error, empty_200, method_not_supported


@dataclasses.dataclass
class _Stats:
    by_endpoint: dict[str, int] = dataclasses.field(default_factory=dict)
    max_1s: int = 0
    violations: int = 0
    soft_limit_hits: int = 0
    faults: int = 0
    reprices_accepted: int = 0
    reprices_refused: dict[str, int] = dataclasses.field(default_factory=dict)
    frames_from_bot: int = 0


def _refusal_code(resp: Response) -> str:
    try:
        body = resp.json()
    except msgspec.DecodeError:
        body = None
    if isinstance(body, dict) and "code" in body:
        return str(body.get("msg")) if body["code"] == -9000 else str(body["code"])
    return str(resp.status)


class SimExchange:
    """The simulated Binance C2C exchange: one market, the bot's account, its rules and faults.

    Args:
        cfg: the market, the account and the faults.
        now_ms: wall-clock milliseconds (serverTime and the timestamp check add the skew).
        rng: the one random source; separate streams for the market, faults and ids are drawn
            from it, so a bot's request pattern does not change the market's prices.
    """

    def __init__(self, cfg: SimConfig, now_ms: Callable[[], int],
                 rng: random.Random | None = None) -> None:
        root = rng if rng is not None else random.Random(cfg.seed)
        self.cfg = cfg
        self.now_ms = now_ms
        self.market_rng = random.Random(root.getrandbits(64))
        self.fault_rng = random.Random(root.getrandbits(64))
        self._id_rng = random.Random(root.getrandbits(64))
        self.market = Market(cfg, self.market_rng)
        self.desk = OrderDesk(cfg.bot_nickname, now_ms)
        self.rate = RateRule()
        self.pages = PageGate()
        self.faults = FaultInjector(cfg.faults, self.fault_rng)
        self.tracker = ReactionTracker()
        self.stats = _Stats()
        self.on_rest = False
        self._all = SlidingWindow()
        self._credentials: dict[str, tuple[str, float]] = {}
        self._sockets: set[trio.MemorySendChannel[str]] = set()
        self._started: float | None = None
        self._last_now = 0.0

    @property
    def bot_ads(self) -> list[SimAd]:
        """Copies of the bot's ads as they stand now (SELL first)."""
        return [dataclasses.replace(a) for a in self.market.bot_ads()]

    def server_ms(self) -> int:
        """The exchange's wall clock: now_ms() plus the configured skew."""
        return self.now_ms() + self.cfg.faults.clock_skew_ms

    def _now(self) -> float:
        self._last_now = trio.current_time()
        if self._started is None:
            self._started = self._last_now
        return self._last_now

    def handle(self, req: Request) -> Response:
        """Answer one HTTP request as Binance would, rules and faults included."""
        now = self._now()
        route = ROUTES.get(req.path)
        endpoint = route.endpoint if route else "OTHER"
        self.stats.by_endpoint[endpoint] = self.stats.by_endpoint.get(endpoint, 0) + 1
        self.stats.max_1s = max(self.stats.max_1s, self._all.add(now))
        resp = self._gate_and_serve(req, route, now)
        if endpoint == "EP-7":
            self._count_reprice(resp)
        delay = self.faults.delay_s()
        return dataclasses.replace(resp, delay_s=delay) if delay else resp

    def _gate_and_serve(self, req: Request, route: Route | None, now: float) -> Response:
        wait = self.rate.admit(req.client, now)
        if wait is not None:
            self.stats.violations += 1
            return too_many(wait)
        if route is None:
            return empty_200() if req.path.startswith("/sapi/") else Response(404, b"", ())
        if req.method != route.method:
            return bapi_error() if route.endpoint == "EP-0" else method_not_supported(req.method)
        refusal = self._authenticate(req, route)
        if refusal is not None:
            return refusal
        fault = self.faults.pick(route.endpoint)
        if fault is None:
            return route.handler(self, req, now)
        self.stats.faults += 1
        if fault.apply_first:
            route.handler(self, req, now)
        return fault.response

    def _authenticate(self, req: Request, route: Route) -> Response | None:
        if route.auth == "public":
            return None
        refusal = check_api_key(req, self.cfg.api_key)
        if refusal is not None or (route.auth == "key" and "signature=" not in req.query):
            return refusal
        return check_signed(req, self.cfg.api_secret, self.server_ms())

    def _count_reprice(self, resp: Response) -> None:
        if resp.status == 200 and resp.body:
            self.stats.reprices_accepted += 1
            return
        code = _refusal_code(resp)
        self.stats.reprices_refused[code] = self.stats.reprices_refused.get(code, 0) + 1

    def set_competitor_price(self, adv_no: str, price: Decimal) -> None:
        """Move a competitor's ad now, as a scripted market move (tests, demos)."""
        now = self._now()
        self.market.set_price(adv_no, price, now)
        self.observe(now, competitor_moved=True)

    def open_order(self, adv_no: str) -> str:
        """Have a counterparty open an order on one of the bot's ads now; return its number.

        Raises:
            ValueError: the ad is not the bot's, or it has no room for an order.
        """
        ad = self.market.ads.get(adv_no)
        now = self._now()
        order = self.desk.take(ad, self.market_rng, now) if ad is not None and ad.mine else None
        if order is None:
            raise ValueError("no order can be opened on that ad")
        self._push([self.desk.opening_message(order)])
        self.observe(now, competitor_moved=False)
        return order.order_no

    def observe(self, now: float, competitor_moved: bool) -> None:
        """Update the reaction measurement after any change to the book."""
        for ad in self.market.bot_ads():
            self.tracker.observe(ad.adv_no, self.market.leads(ad.adv_no), now, competitor_moved)

    def step(self, now: float) -> None:
        """Advance the market by one tick: prices, then orders, then the counterparties' chat."""
        dt = self.cfg.tick_s
        moved = self.market.step(self.market_rng, now, dt)
        self.observe(now, competitor_moved=moved)
        rate = self.cfg.order_rate_per_s
        messages = self.desk.open_orders(self.market, self.market_rng, now, dt, rate)
        messages += self.desk.advance(self.market, self.market_rng, now)
        self.observe(now, competitor_moved=False)
        self._push(messages)

    async def run_market(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Step the market every `tick_s` on trio's clock; never returns unless cancelled."""
        next_at = self._now()
        task_status.started()
        while True:
            next_at += self.cfg.tick_s
            await trio.sleep_until(next_at)
            self.step(self._now())

    # --- chat -------------------------------------------------------------------------------

    def issue_chat_credential(self, host: str, now: float) -> dict:
        """Mint a listenKey and token (earlier ones stay valid for `credential_ttl_s`)."""
        key = f"c2c_{self._id_rng.getrandbits(128):032x}_v2"
        token = f"TOKEN{self._id_rng.getrandbits(128):032x}"
        self._credentials[key] = (token, now + self.cfg.credential_ttl_s)
        return {"chatWssUrl": f"ws://{host}/chat", "listenKey": key, "listenToken": token}

    def chat_allowed(self, listen_key: str, token: str) -> bool:
        """True when the key was issued, the token is its own and it has not expired."""
        issued = self._credentials.get(listen_key)
        return issued is not None and issued[0] == token and self._now() < issued[1]

    def subscribe(self) -> tuple[trio.MemorySendChannel[str], trio.MemoryReceiveChannel[str]]:
        """Open a feed of pushed chat frames for one socket; `unsubscribe` the send end after."""
        send, receive = trio.open_memory_channel[str](256)
        self._sockets.add(send)
        return send, receive

    def unsubscribe(self, send: trio.MemorySendChannel[str]) -> None:
        self._sockets.discard(send)

    def _push(self, messages: list[ChatMessage]) -> None:
        for msg in messages:
            text = msgspec.json.encode(msg.wire()).decode()
            for send in list(self._sockets):
                try:
                    send.send_nowait(text)
                except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
                    pass  # a socket that cannot keep up misses frames, as a real one would

    def record_bot_frame(self, text: str) -> None:
        """Count a frame the bot sent; a well-formed one joins the history and is echoed back."""
        self.stats.frames_from_bot += 1
        try:
            frame = msgspec.json.decode(text)
        except msgspec.DecodeError:
            return
        if isinstance(frame, dict) and self.desk.record_bot_frame(frame):
            self._push([self.desk.messages[-1]])

    # --- measurements -----------------------------------------------------------------------

    def report(self) -> SimReport:
        """Return what the exchange measured so far."""
        try:
            now = self._now()
        except RuntimeError:  # called after trio.run returned (the CLI on Ctrl-C)
            now = self._last_now
        every = [r for rs in self.tracker.reactions.values() for r in rs]
        s = self.stats
        return SimReport(
            duration_s=now - (self._started if self._started is not None else now),
            requests_total=sum(s.by_endpoint.values()), requests_by_endpoint=dict(s.by_endpoint),
            max_requests_1s=s.max_1s, violations=s.violations, soft_limit_hits=s.soft_limit_hits,
            faults_injected=s.faults, reprices_accepted=s.reprices_accepted,
            reprices_refused=dict(s.reprices_refused), orders_opened=dict(self.desk.opened),
            filled_volume=dict(self.desk.filled), chat_frames_from_bot=s.frames_from_bot,
            reactions={k: tuple(v) for k, v in self.tracker.reactions.items()},
            reaction_p50_s=percentile(every, 50), reaction_p95_s=percentile(every, 95),
        )
