"""The market actor: polls the public order book (EP-0) and emits BookSnapshot events.

It polls every configured market (`[[markets]]`, or the one `[market]`) within one request
budget, the account's: Binance's 5 requests/s are per account, whatever the pair (reference §1).
Each (market, side) it watches is a stream with a weight: `MINE_WEIGHT` where one of my ads
competes, times `MOVED_WEIGHT` while its page 1 changed within `MOVED_WINDOW_S`. A stream's
page-1 interval is its weight's share of `MARKET_SHARE` of the budget, never longer than its
market's `poll_interval_s` (so no market starves) nor shorter than `limits.page_delay_s`; its
deeper pages are read about every `poll_interval_s` (counted in polls). My own ads are marked
in every snapshot. Sides: those where my ads of that market compete; a market where I have
none is watched on both. Each load of my ads (MyAdsLoaded) says which sides are mine: the side
of an ad that came later is polled from that load on, and a side my ads left stays watched.

When EP-0 gives no page (a 429, 403 or 418 from the public host, its pause or breaker, a 5xx or
junk) and the bot has keys, that page and the next few are read through the merchant API's
signed twin of the search (EP-0S), whose pauses are separate: a blind public host does not
blind the bot.

The plan (the streams, their weights and intervals, which polls read every page, which pages go
to EP-0S) is the pure core's (`actors/market_core.py`); this shell sleeps, calls through the
bus, emits, and folds what it asks and emits into the core's state. That state is a fold of the
log: a market the supervisor restarts folds its session so far and goes on with the same
streams, their moved weights, deep-poll counters and twin pages.
"""

from __future__ import annotations

from functools import partial

import trio

from actors import market_core
from actors.calls import Calls, decode_reply
from actors.config import BotConfig, MarketConfig
from actors.market_core import StreamKey
from actors.sleep import sleep, sleep_until
from actors.spec import ActorContext, ActorSpec
from c2c import endpoints
from c2c.decode import parse_search
from c2c.models import to_book_ad
from events import BookSnapshot, Envelope, MyAdsLoaded

ADS_WAIT_S = 15  # the first load of my ads is waited for this long at most


class Market:
    """The shell: folds MyAdsLoaded and its own requests and snapshots into the core's state,
    asks the core what to poll and when, and does the I/O (EP-0, EP-0S) through the bus.

    `state` is the fold of this session so far when the supervisor restarts the actor (a new
    one on the first start): the restarted market goes on with the same streams, their moved
    weights, their deep-poll counters and their twin pages.
    """

    def __init__(self, inbox, emit, *, config: BotConfig, sides: tuple[str, ...] | None = None,
                 wait_for_ads: bool = True, signed_twin: bool = False,
                 state: market_core.State | None = None, first_request: int = 0,
                 weighted: bool = True) -> None:
        self.inbox = inbox
        self.emit = emit
        self.cfg = config
        self.calls = Calls("market", emit, first=first_request)
        self.state = state if state is not None else market_core.State(
            config, fixed_sides=sides, signed_twin=signed_twin, weighted=weighted)
        # (market, side, page) -> (SearchPage, my_adv_nos, its BookAds): a page that decoded to
        # the very SearchPage as last time (`parse_search` keeps the last pages) gives the same
        # (frozen) BookAds while my ads are the same.
        self._converted: dict[tuple, tuple] = {}
        self.ads_known = trio.Event()
        if not wait_for_ads or self.state.planned:
            self.ads_known.set()
        self._running: set[StreamKey] = set()
        self._nursery: trio.Nursery | None = None  # once polling

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.calls.pump, self.inbox, self._handle)
            task_status.started()
            with trio.move_on_after(ADS_WAIT_S):
                await self.ads_known.wait()
            self._nursery = nursery
            self._start_new()

    def _start_new(self) -> None:
        for key, offset_s in market_core.start(self.state, trio.current_time(), self._running):
            self._running.add(key)
            self._nursery.start_soon(self._poll_side, key, offset_s)

    async def _handle(self, env: Envelope) -> None:
        if isinstance(env.event, MyAdsLoaded):
            market_core.apply(self.state, env)
            self.ads_known.set()
            if self._nursery is not None:
                self._start_new()  # the side of an ad that came since

    async def _poll_side(self, key: StreamKey, offset_s: float) -> None:
        """Poll one stream forever: page 1 at its interval, every page as often as the core
        says (the first poll too), from `offset_s` on. Never returns unless cancelled."""
        stream = self.state.stream(key)
        next_at = trio.current_time() + offset_s
        await sleep_until(next_at)
        while True:
            await self.snapshot(stream.side, market_core.pages_for(self.state, key),
                                market=stream.market)
            next_at = market_core.next_poll(self.state, key, next_at, trio.current_time())
            await sleep_until(next_at)

    async def _page(self, side: str, page: int, m: MarketConfig):
        """One page as (reply envelope, SearchPage or None): EP-0, or its signed twin while the
        public host is paused, or at once when EP-0 gave no usable page (refused, paused,
        failed or junk)."""
        key = (m.asset, m.fiat, side)

        async def ask(twin: bool):
            def build(rid: str):
                market_core.asked(self.state, key, twin)
                return endpoints.search_ads(
                    rid, asset=m.asset, fiat=m.fiat, want=endpoints.ads_list_for(side),
                    page=page, pay_types=m.pay_types, trans_amount=m.trans_amount,
                    publisher_type=m.publisher_type, signed_twin=twin,
                    no_wait=self.state.signed_twin)
            env = await self.calls.call(build)
            return env, await decode_reply(self.emit, env, parse_search)

        twin = market_core.ask_twin(self.state, key)
        env, found = await ask(twin)
        if market_core.ask_twin_after(self.state, twin, found):
            env, found = await ask(True)
        return env, found

    def _book_ads(self, market_key, side: str, page: int, found) -> tuple:
        key = (market_key, side, page)
        hit = self._converted.get(key)
        mine = self.state.my_adv_nos
        if hit is not None and hit[0] is found and hit[1] is mine:
            return hit[2]
        ads = tuple(to_book_ad(item, mine) for item in found.items)
        self._converted[key] = (found, mine, ads)
        return ads

    async def snapshot(self, side: str, pages: int, market: MarketConfig | None = None
                       ) -> BookSnapshot:
        """Fetch up to `pages` pages of the list where my `side` ads of `market` (default: the
        first) compete; emit the snapshot and apply it."""
        m = market or self.cfg.all_markets()[0]
        book, cause, page, more = market_core.Pages(m, side, pages), None, 0, True
        while more:
            page += 1
            if page > 1:
                await sleep(self.cfg.limits.page_delay_s)
            env, found = await self._page(side, page, m)
            cause = env.seq
            more = book.read(None if found is None else self._book_ads(m.key, side, page, found))
        snap = book.snapshot()
        await self.emit(snap, cause=cause)
        market_core.apply_event(self.state, snap, trio.current_time())
        return snap


async def run(inbox, emit, *, config: BotConfig, sides=None, wait_for_ads: bool = True,
              signed_twin: bool = False, state: market_core.State | None = None,
              first_request: int = 0, task_status=trio.TASK_STATUS_IGNORED) -> None:
    """Poll the book forever; never returns unless cancelled."""
    await Market(inbox, emit, config=config, sides=sides, wait_for_ads=wait_for_ads,
                 signed_twin=signed_twin, state=state,
                 first_request=first_request).run(task_status=task_status)


def _build(ctx: ActorContext):
    """This session's events so far, folded by the core when restarted: the same streams go
    on with their moved weights, deep-poll counters and twin pages."""
    sides = ("SELL", "BUY") if ctx.record_only else None
    signed_twin = ctx.deps.credentials is not None
    # The shell's clock at session time 0, so the log's times are the shell's.
    origin = trio.current_time() - ctx.session_time() if ctx.session_time is not None else 0.0
    state = market_core.fold(ctx.history, market_core.State(
        ctx.deps.config, fixed_sides=sides, signed_twin=signed_twin, origin=origin))
    return partial(run, ctx.inbox, ctx.emit, config=ctx.deps.config, sides=sides,
                   wait_for_ads=not ctx.record_only, signed_twin=signed_twin, state=state,
                   first_request=ctx.first_request)


SPEC = ActorSpec(name="market", subscribes=(MyAdsLoaded,), build=_build)
