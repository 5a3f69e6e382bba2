"""The market actor: polls the public order book (EP-0) and emits BookSnapshot events.

It polls every configured market (`[[markets]]`, or the one `[market]`) within one request
budget, the account's: Binance's 5 requests/s are per account, whatever the pair (reference §1).
Each (market, side) it watches is a stream with a weight: `MINE_WEIGHT` where one of my ads
competes, times `MOVED_WEIGHT` while its page 1 changed within `MOVED_WINDOW_S`. A stream's
page-1 interval is its weight's share of `MARKET_SHARE` of the budget, never longer than its
market's `poll_interval_s` (so no market starves) nor shorter than `limits.page_delay_s`; its
deeper pages are read about every `poll_interval_s` (counted in polls). My own ads are marked
in every snapshot. Sides: those where my ads of that market compete; a market where I have none is watched on both.

When EP-0 gives no page (a 429, 403 or 418 from the public host, its pause or breaker, a 5xx or
junk) and the bot has keys, that page and the next few are read through the merchant API's
signed twin of the search (EP-0S), whose pauses are separate: a blind public host does not
blind the bot.
"""

from __future__ import annotations

from functools import partial

import trio

from actors.spec import ActorContext, ActorSpec
from actors.calls import Calls, decode_reply
from actors.config import BotConfig, MarketConfig
from c2c import endpoints
from c2c.decode import parse_search
from c2c.models import to_book_ad
from events import BookSnapshot, Envelope, MyAdsLoaded

BOTH_SIDES = ("SELL", "BUY")
MARKET_SHARE = 0.6  # of the request budget; the rest is for reprices, orders and chat
TWIN_PAGES_AFTER_FAILURE = 4  # pages read through EP-0S after EP-0 gave no page
MINE_WEIGHT = 4.0  # a side where my ad competes, against one only watched
MOVED_WEIGHT = 2.0  # a side whose page 1 changed lately, against a quiet one
MOVED_WINDOW_S = 30.0


def fast_interval(cfg: BotConfig, sides: int) -> float:
    """Seconds between page-1 polls of each of `sides` equally weighted sides of the first
    market, so that the market uses its budget share."""
    per_side = cfg.limits.rps * MARKET_SHARE / max(1, sides)
    return min(cfg.all_markets()[0].poll_interval_s, max(1.0 / per_side, cfg.limits.page_delay_s))


class Stream:
    """One side of one market as the scheduler sees it: its weight and its page-1 history."""

    def __init__(self, market: MarketConfig, side: str, mine: bool) -> None:
        self.market = market
        self.side = side
        self.mine = mine
        self.top: tuple | None = None  # page 1 of the last snapshot, as (advNo, price) pairs
        self.moved_at = -float("inf")

    @property
    def name(self) -> str:
        return f"{self.market.name} {self.side}"

    def weight(self, now: float) -> float:
        moved = now - self.moved_at <= MOVED_WINDOW_S
        return (MINE_WEIGHT if self.mine else 1.0) * (MOVED_WEIGHT if moved else 1.0)

    def saw(self, snap: BookSnapshot, now: float) -> None:
        """Note a snapshot's page 1: a change from the last one marks the book as moving."""
        if not snap.complete:
            return  # a failed or cut page says nothing about the book moving
        top = tuple((ad.adv_no, ad.price) for ad in snap.ads[:20])
        if self.top is not None and top != self.top:
            self.moved_at = now
        self.top = top


def interval(cfg: BotConfig, streams: list[Stream], stream: Stream, now: float,
             *, weighted: bool = True) -> float:
    """Seconds until `stream`'s next page-1 poll: its weight's share of the market budget,
    within [limits.page_delay_s, its market's poll_interval_s]. Unweighted, every stream gets
    an equal share (the round robin the benchmark compares against)."""
    budget = cfg.limits.rps * MARKET_SHARE
    if weighted:
        share = stream.weight(now) / sum(s.weight(now) for s in streams)
    else:
        share = 1.0 / len(streams)
    return min(stream.market.poll_interval_s, max(1.0 / (budget * share),
                                                  cfg.limits.page_delay_s))


def plan_streams(cfg: BotConfig, ads, fixed_sides: tuple[str, ...] | None) -> list[Stream]:
    """The streams to poll: per market, the sides where my ads of it compete (`fixed_sides`
    when given), both sides of a market where I have none."""
    streams = []
    for m in cfg.all_markets():
        mine = {a.side for a in ads if (a.asset, a.fiat) == m.key}
        sides = fixed_sides or tuple(s for s in BOTH_SIDES if s in mine) or BOTH_SIDES
        streams += [Stream(m, side, side in mine) for side in sides]
    return streams


class Market:
    def __init__(self, inbox, emit, *, config: BotConfig, sides: tuple[str, ...] | None = None,
                 wait_for_ads: bool = True, signed_twin: bool = False, history=(),
                 first_request: int = 0, weighted: bool = True) -> None:
        self.inbox = inbox
        self.emit = emit
        self.cfg = config
        self.calls = Calls("market", emit, first=first_request)
        self.fixed_sides = sides
        self.weighted = weighted
        self.my_adv_nos: frozenset[str] = frozenset()
        # (market, side, page) -> (SearchPage, my_adv_nos, its BookAds): a page that decoded to
        # the very SearchPage as last time (`parse_search` keeps the last pages) gives the same
        # (frozen) BookAds while my ads are the same.
        self._converted: dict[tuple, tuple] = {}
        self.my_ads: tuple = ()
        self.streams: list[Stream] = []
        self.signed_twin = signed_twin  # EP-0S is signed: only with keys
        self.twin_pages_left: dict[tuple, int] = {}
        self.ads_known = trio.Event()
        if not wait_for_ads:
            self.ads_known.set()
        loaded = [env for env in history if isinstance(env.event, MyAdsLoaded)]
        if loaded:  # restarted: my ads as last loaded in this session
            self._take_ads(loaded[-1].event.ads)

    @property
    def sides(self) -> tuple[str, ...]:
        """The sides polled in the first market (what a one-market bot polls)."""
        first = self.cfg.all_markets()[0]
        return tuple(s.side for s in self._plan() if s.market is first)

    def _plan(self) -> list[Stream]:
        return plan_streams(self.cfg, self.my_ads, self.fixed_sides)

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.calls.pump, self.inbox, self._handle)
            task_status.started()
            with trio.move_on_after(15):  # a restarted market may have missed MyAdsLoaded
                await self.ads_known.wait()
            self.streams = self._plan()
            now, n = trio.current_time(), len(self.streams)
            first = self.cfg.limits.rps * MARKET_SHARE
            for i, stream in enumerate(self.streams):
                # Staggered, so the streams' polls spread out instead of bunching.
                fast = interval(self.cfg, self.streams, stream, now, weighted=self.weighted)
                nursery.start_soon(self._poll_side, stream, fast, i / first if n > 1 else 0.0)

    async def _handle(self, env: Envelope) -> None:
        if isinstance(env.event, MyAdsLoaded):
            self._take_ads(env.event.ads)

    def _take_ads(self, ads) -> None:
        self.my_adv_nos = frozenset(a.adv_no for a in ads)
        if not self.ads_known.is_set():
            self.my_ads = tuple(ads)  # the streams are planned once, from the first load
        self.ads_known.set()

    async def _poll_side(self, stream: Stream, fast: float, offset_s: float) -> None:
        """Poll one stream forever, page 1 every `interval`, all pages about every
        poll_interval_s (the first poll too); `fast` is its first interval."""
        next_at = trio.current_time() + offset_s
        await trio.sleep_until(next_at)
        step, since_deep = fast, None
        while True:
            # Counted in polls, not timed, so a late answer does not change which polls read
            # every page (a replay takes the same turns).
            deep = since_deep is None or since_deep >= max(1, round(
                stream.market.poll_interval_s / step))
            if deep:
                since_deep = 0
            snap = await self.snapshot(stream.side, stream.market.pages if deep else 1,
                                       market=stream.market)
            since_deep += 1
            stream.saw(snap, trio.current_time())
            step = interval(self.cfg, self.streams or [stream], stream, trio.current_time(),
                            weighted=self.weighted)
            next_at = max(next_at + step, trio.current_time())
            await trio.sleep_until(next_at)

    async def _page(self, side: str, page: int, m: MarketConfig):
        """One page as (reply envelope, SearchPage or None): EP-0, or its signed twin while the
        public host is paused, or at once when EP-0 gave no usable page (refused, paused,
        failed or junk)."""
        stream = (m.key, side)

        async def ask(twin: bool):
            env = await self.calls.call(lambda rid: endpoints.search_ads(
                rid, asset=m.asset, fiat=m.fiat, want=endpoints.ads_list_for(side), page=page,
                pay_types=m.pay_types, trans_amount=m.trans_amount,
                publisher_type=m.publisher_type, signed_twin=twin, no_wait=self.signed_twin))
            return env, await decode_reply(self.emit, env, parse_search)

        # Per side: the two sides poll concurrently, and a replay must not depend on which of
        # them takes a shared turn first.
        twin_first = self.signed_twin and self.twin_pages_left.get(stream, 0) > 0
        if twin_first:
            self.twin_pages_left[stream] -= 1
        env, found = await ask(twin_first)
        if found is None and self.signed_twin and not twin_first:
            # Counted in pages, not timed, so a replay takes the same turns: the next pages
            # (a Retry-After's worth at the fastest poll) go to the twin as well.
            self.twin_pages_left[stream] = TWIN_PAGES_AFTER_FAILURE
            env, found = await ask(True)
        return env, found

    def _book_ads(self, market_key, side: str, page: int, found) -> tuple:
        key = (market_key, side, page)
        hit = self._converted.get(key)
        mine = self.my_adv_nos
        if hit is not None and hit[0] is found and hit[1] is mine:
            return hit[2]
        ads = tuple(to_book_ad(item, mine) for item in found.items)
        self._converted[key] = (found, mine, ads)
        return ads

    async def snapshot(self, side: str, pages: int, market: MarketConfig | None = None
                       ) -> BookSnapshot:
        """Fetch up to `pages` pages of the list where my `side` ads of `market` (default: the
        first) compete; emit the snapshot."""
        m = market or self.cfg.all_markets()[0]
        ads, complete, cause = [], True, None
        for page in range(1, pages + 1):
            if page > 1:
                await trio.sleep(self.cfg.limits.page_delay_s)
            env, found = await self._page(side, page, m)
            cause = env.seq
            items = None if found is None else found.items
            if items is None:
                complete = False
                break
            ads.extend(self._book_ads(m.key, side, page, found))
            if len(items) < 20:
                complete = complete and (len(items) > 0 or page > 1)
                break
        snap = BookSnapshot(asset=m.asset, fiat=m.fiat, ad_side=side, pages=pages,
                            ads=tuple(ads), complete=complete)
        await self.emit(snap, cause=cause)
        return snap


async def run(inbox, emit, *, config: BotConfig, sides=None, wait_for_ads: bool = True,
              signed_twin: bool = False, history=(), first_request: int = 0,
              task_status=trio.TASK_STATUS_IGNORED) -> None:
    """Poll the book forever; never returns unless cancelled."""
    await Market(inbox, emit, config=config, sides=sides, wait_for_ads=wait_for_ads,
                 signed_twin=signed_twin, history=history,
                 first_request=first_request).run(task_status=task_status)


def _build(ctx: ActorContext):
    return partial(run, ctx.inbox, ctx.emit, config=ctx.deps.config,
                   sides=("SELL", "BUY") if ctx.record_only else None,
                   wait_for_ads=not ctx.record_only,
                   signed_twin=ctx.deps.credentials is not None, history=ctx.history,
                   first_request=ctx.first_request)


SPEC = ActorSpec(name="market", subscribes=(MyAdsLoaded,), build=_build)
