"""SimExchange: all of the simulator's state, the gateway in front of the endpoints, the market
loop, the chat hub and the measurements. No sockets here: `handle()` takes a Request and returns
a Response, so tests drive it directly.

The gateway, in order: the 5-per-second rule (429, counted as a violation); unknown paths (200
with an empty body under /sapi/, else 404); an answer scripted with `inject`; the method; the
signed-call checks of `sim.auth`; public-host faults (EP-0) and the random fault mix; then the
endpoint. SAPI successes carry X-SAPI-USED-IP-WEIGHT-1M unless `weight_headers="absent"`.
"""

from __future__ import annotations

import dataclasses
import math
import random
from decimal import Decimal
from typing import Callable

import trio

from sim import answers
from sim.auth import authenticate
from sim.chat import ChatHub
from sim.config import SimConfig
from sim.endpoints import ROUTES, Route
from sim.ep_ads import UpdateGuard
from sim.faults import Fault, FaultInjector
from sim.market import Market, SimAd
from sim.exchange_chat import ChatSide
from sim.orders import OrderDesk
from sim.report import ReactionTracker, SimReport, Stats, build_report, refusal_code
from sim.rules import PageGate, RateRule, SlidingWindow, WeightMeter
from sim.wire import Request, Response, bapi_error, decode_body, empty_200, ep7_ok
from sim.wire import method_not_supported


class SimExchange(ChatSide):
    """The simulated Binance C2C exchange: its markets (`markets`, by (asset, fiat); `market` is
    the first), the bot's account with one rate limit over all of them, its rules and faults.

    Args:
        cfg: the market, the account, the rules and the faults.
        now_ms: wall-clock milliseconds (serverTime and the timestamp check add the skew).
        rng: the one random source; separate streams for the market, faults, ids and chat are
            drawn from it, so a bot's request pattern does not change the market's prices
            (the market splits its own further: `sim.market.Streams`).
    """

    def __init__(self, cfg: SimConfig, now_ms: Callable[[], int],
                 rng: random.Random | None = None) -> None:
        root = rng if rng is not None else random.Random(cfg.seed)
        self.cfg = cfg
        self.now_ms = now_ms
        self.market_rng = random.Random(root.getrandbits(64))
        self.fault_rng = random.Random(root.getrandbits(64))
        self._id_rng = random.Random(root.getrandbits(64))
        self.chat_rng = random.Random(root.getrandbits(64))
        configs = cfg.market_configs()
        self.market = Market(configs[0], self.market_rng)  # the first market
        self.desk = OrderDesk(cfg, now_ms, self.chat_rng)
        self.chat = ChatHub(cfg, random.Random(root.getrandbits(64)))
        self.rate = RateRule()
        self.pages = PageGate()
        self.sapi_weight = WeightMeter()
        self.api_weight = WeightMeter()
        self.faults = FaultInjector(cfg.faults, self.fault_rng)
        self.update_guard = UpdateGuard(cfg.ep7_burst_limit, cfg.ep7_burst_window_s,
                                        cfg.ep7_cooldown_s)
        self.tracker = ReactionTracker()
        self.stats = Stats()
        self.on_rest = False
        self.suspended_until = -math.inf
        self.chat_url: str | None = None  # set by serve_sim to its chat listener
        self._all = SlidingWindow()
        self._credentials: dict[str, tuple[str, float]] = {}
        self._started: float | None = None
        self._last_now = 0.0
        # Further markets draw their sources after everything above, so a one-market
        # exchange's draws are those of before there were several.
        self.markets: dict[tuple[str, str], Market] = {self.market.key: self.market}
        for more in configs[1:]:
            market = Market(more, random.Random(root.getrandbits(64)))
            self.markets[market.key] = market

    @property
    def bot_ads(self) -> list[SimAd]:
        """Copies of the bot's ads as they stand now (SELL first, market by market)."""
        return [dataclasses.replace(a) for m in self.markets.values() for a in m.bot_ads()]

    def market_of(self, adv_no: str) -> Market | None:
        """The market that lists ad `adv_no`, or None."""
        return next((m for m in self.markets.values() if adv_no in m.ads), None)

    def cfg_of(self, asset: str, fiat: str) -> SimConfig:
        """The settings of market asset/fiat (the first market's for an unknown pair)."""
        market = self.markets.get((asset, fiat), self.market)
        return market.cfg

    def server_ms(self) -> int:
        """The exchange's wall clock: now_ms() plus the configured skew."""
        return self.now_ms() + self.cfg.faults.clock_skew_ms

    def _now(self) -> float:
        self._last_now = trio.current_time()
        if self._started is None:
            self._started = self._last_now
            if self.cfg.ep7_suspended_s > 0:
                self.suspended_until = self._last_now + self.cfg.ep7_suspended_s
        return self._last_now

    # --- the gateway ------------------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        """Answer one HTTP request as Binance would, rules and faults included."""
        now = self._now()
        route = ROUTES.get(req.path)
        endpoint = route.endpoint if route else "OTHER"
        self.stats.by_endpoint[endpoint] = self.stats.by_endpoint.get(endpoint, 0) + 1
        self.stats.max_1s = max(self.stats.max_1s, self._all.add(now))
        resp = self._gate_and_serve(req, route, endpoint, now)
        if endpoint == "EP-7":
            self.stats.count_reprice(resp)
        self.stats.count_refusal(endpoint, resp)
        if req.path.startswith("/sapi/"):
            resp = self._with_weight(req, resp, now)
        delay = self.faults.delay_s()
        return dataclasses.replace(resp, delay_s=delay) if delay else resp

    def _gate_and_serve(self, req: Request, route: Route | None, endpoint: str,
                        now: float) -> Response:
        wait = self.rate.admit(req.client, now)
        if wait is not None:
            self.stats.violations += 1
            return answers.too_many(wait)
        if route is None:
            return empty_200() if req.path.startswith("/sapi/") else Response(404, b"", ())
        fault = self.faults.scripted(endpoint)
        if fault is None:
            if req.method != route.method:
                return bapi_error() if endpoint == "EP-0" else method_not_supported(req.method)
            if route.auth == "signed":
                refusal = authenticate(req, self.cfg, self.server_ms())
                if refusal is not None:
                    return refusal
            fault = self.faults.public() if endpoint == "EP-0" else None
            fault = fault or self.faults.pick(endpoint)
        if fault is None:
            return route.handler(self, req, now)
        return self._fault(fault, route, req, now)

    def _fault(self, fault: Fault, route: Route, req: Request, now: float) -> Response:
        self.stats.faults += 1
        if fault.kind in answers.SUCCESS_KINDS:
            resp = route.handler(self, req, now)
            return ep7_ok(fault.kind[3:]) if resp.status == 200 else resp
        if fault.reshape is not None:
            return fault.reshape(route.handler(self, req, now))
        if fault.apply_first:
            route.handler(self, req, now)
        if fault.response is not None:
            return fault.response
        return answers.answer(fault.kind, method=req.method, side=self._side(req),
                              now_ms=self.server_ms())

    def _side(self, req: Request) -> str:
        body = decode_body(req.body) if req.path.endswith("/ads/update") else None
        market = self.market_of(str(body.get("advNo"))) if isinstance(body, dict) else None
        ad = market.ads[str(body.get("advNo"))] if market is not None else None
        return ad.side if ad is not None else "SELL"

    def _with_weight(self, req: Request, resp: Response, now: float) -> Response:
        used = self.sapi_weight.add(req.client, now)
        if self.cfg.weight_headers == "absent" or resp.status != 200 or not resp.body:
            return resp
        headers = (*resp.headers, ("x-sapi-used-ip-weight-1m", str(used)))
        return dataclasses.replace(resp, headers=headers)

    def inject(self, endpoint: str, kind: str, count: int = 1) -> None:
        """Answer the next `count` calls to `endpoint` ("EP-7", "EP-13", "EP-0", ...) that pass
        the rate rule with the named answer (see `sim.answers`), whatever they carry.

        Raises:
            ValueError: an unknown kind.
        """
        self.faults.inject(endpoint, kind, count)

    def inject_answer(self, endpoint: str, response: Response | None = None, *,
                      reshape: Callable[[Response], Response] | None = None,
                      kind: str = "scripted") -> None:
        """Answer the next call to `endpoint` (after the rate rule, in line with `inject`) with
        `response`, or with `reshape(the real answer)` after the real handler ran (its effect
        kept). For tests whose point is an answer the catalogue has no name for: a captured
        sample byte for byte, or a good answer mangled as a proxy or an edge would mangle it
        (reference §7: HTML pages from CloudFront, empty 200s, outcome-unknown 5xx).
        """
        if (response is None) == (reshape is None):
            raise ValueError("give either a response or a reshape")
        self.faults.script(endpoint, Fault(kind, response=response, reshape=reshape))

    # --- the account and the market ---------------------------------------------------------

    def set_ad_status(self, adv_no: str, status: int) -> None:
        """Put one of the bot's ads online (1), offline (3) or closed (4) now."""
        self.market_of(adv_no).ads[adv_no].status = status
        self.observe(self._now(), competitor_moved=False)

    def set_rest(self, on: bool) -> None:
        """Put the merchant in rest mode (EP-7 refused with `rest_mode_answer`) or out of it."""
        self.on_rest = on

    def suspend_updates(self, seconds: float) -> None:
        """Refuse EP-7 with 83723 for the next `seconds`."""
        self.suspended_until = self._now() + seconds

    def set_competitor_price(self, adv_no: str, price: Decimal) -> None:
        """Move a competitor's ad now, as a scripted market move (tests, demos)."""
        now = self._now()
        self.market_of(adv_no).set_price(adv_no, price, now)
        self.observe(now, competitor_moved=True)

    def open_order(self, adv_no: str) -> str:
        """Have a counterparty open an order on one of the bot's ads now; return its number.

        Raises:
            ValueError: the ad is not the bot's, or it has no room for an order.
        """
        market = self.market_of(adv_no)
        ad = market.ads[adv_no] if market is not None else None
        now = self._now()
        mine = ad is not None and ad.mine
        order = self.desk.take(ad, market.streams.orders, now) if mine else None
        if order is None:
            raise ValueError("no order can be opened on that ad")
        self.chat.deliver(self.desk.opening_messages(order), now)
        self.observe(now, competitor_moved=False)
        return order.order_no

    def observe(self, now: float, competitor_moved: bool,
                market: Market | None = None) -> None:
        """Update the reaction measurement after any change to the book (of `market` only,
        when given)."""
        for mk in (market,) if market is not None else self.markets.values():
            for ad in mk.bot_ads():
                self.tracker.observe(ad.adv_no, mk.leads(ad.adv_no), now, competitor_moved)

    def step(self, now: float) -> None:
        """Advance the market by one tick: prices, orders, the counterparties' chat, then the
        chat frames now due (read copies, closes)."""
        dt = self.cfg.tick_s
        for market in self.markets.values():
            self.observe(now, competitor_moved=market.step(now, dt), market=market)
        rate = self.cfg.order_rate_per_s
        messages = []
        for market in self.markets.values():
            messages += self.desk.open_orders(market, now, dt, rate)
        messages += self.desk.advance(self.markets, now)
        self.observe(now, competitor_moved=False)
        self.chat.deliver(messages, now)
        self.chat.flush(now)

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

    # --- measurements -----------------------------------------------------------------------

    def report(self) -> SimReport:
        """Return what the exchange measured so far."""
        try:
            now = self._now()
        except RuntimeError:  # called after trio.run returned (the CLI on Ctrl-C)
            now = self._last_now
        started = self._started if self._started is not None else now
        return build_report(self.stats, self.desk, self.tracker, self.chat.stats, now - started)
