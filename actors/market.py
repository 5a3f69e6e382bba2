"""The market actor: polls the public order book (EP-0) and emits BookSnapshot events.

It spends the request budget where it buys reaction time: page 1 of each side where one of my ads
competes is polled often (`fast_interval`), the deeper pages only every `poll_interval_s`, which is
also the ceiling for any poll. My own ads are marked in every snapshot. When EP-0 gives no page
(a 429, 403 or 418 from the public host, its pause or breaker, a 5xx or junk) and the bot has
keys, that page and the next few are read through the merchant API's signed twin of the search
(EP-0S), whose pauses are separate: a blind public host does not blind the bot.
"""

from __future__ import annotations

from functools import partial

import trio

from actors.spec import ActorContext, ActorSpec
from actors.calls import Calls, decode_reply
from actors.config import BotConfig
from c2c import endpoints
from c2c.decode import parse_search
from c2c.models import to_book_ad
from events import BookSnapshot, Envelope, MyAdsLoaded

BOTH_SIDES = ("SELL", "BUY")
MARKET_SHARE = 0.6  # of the request budget; the rest is for reprices, orders and chat
TWIN_PAGES_AFTER_FAILURE = 4  # pages read through EP-0S after EP-0 gave no page


def fast_interval(cfg: BotConfig, sides: int) -> float:
    """Seconds between page-1 polls of one side, so that the market uses its budget share."""
    per_side = cfg.limits.rps * MARKET_SHARE / max(1, sides)
    return min(cfg.market.poll_interval_s, max(1.0 / per_side, cfg.limits.page_delay_s))


class Market:
    def __init__(self, inbox, emit, *, config: BotConfig, sides: tuple[str, ...] | None = None,
                 wait_for_ads: bool = True, signed_twin: bool = False, history=(),
                 first_request: int = 0) -> None:
        self.inbox = inbox
        self.emit = emit
        self.cfg = config
        self.calls = Calls("market", emit, first=first_request)
        self.fixed_sides = sides
        self.my_adv_nos: frozenset[str] = frozenset()
        self.sides: tuple[str, ...] = sides or BOTH_SIDES
        self.signed_twin = signed_twin  # EP-0S is signed: only with keys
        self.twin_pages_left: dict[str, int] = {}
        self.ads_known = trio.Event()
        if not wait_for_ads:
            self.ads_known.set()
        loaded = [env for env in history if isinstance(env.event, MyAdsLoaded)]
        if loaded:  # restarted: my ads as last loaded in this session
            self._take_ads(loaded[-1].event.ads)

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.calls.pump, self.inbox, self._handle)
            task_status.started()
            with trio.move_on_after(15):  # a restarted market may have missed MyAdsLoaded
                await self.ads_known.wait()
            fast = fast_interval(self.cfg, len(self.sides))
            for i, side in enumerate(self.sides):
                # Staggered, so the sides' polls spread over the interval instead of bunching.
                nursery.start_soon(self._poll_side, side, fast, i * fast / len(self.sides))

    async def _handle(self, env: Envelope) -> None:
        if isinstance(env.event, MyAdsLoaded):
            self._take_ads(env.event.ads)

    def _take_ads(self, ads) -> None:
        self.my_adv_nos = frozenset(a.adv_no for a in ads)
        if self.fixed_sides is None and not self.ads_known.is_set():
            mine = tuple(s for s in BOTH_SIDES if any(a.side == s for a in ads))
            self.sides = mine or BOTH_SIDES
        self.ads_known.set()

    async def _poll_side(self, side: str, fast: float, offset_s: float) -> None:
        deep_every = max(1, round(self.cfg.market.poll_interval_s / fast))
        tick = 0
        next_at = trio.current_time() + offset_s
        await trio.sleep_until(next_at)
        while True:
            pages = self.cfg.market.pages if tick % deep_every == 0 else 1
            await self.snapshot(side, pages)
            tick += 1
            next_at = max(next_at + fast, trio.current_time())
            await trio.sleep_until(next_at)

    async def _page(self, side: str, page: int):
        """One page as (reply envelope, SearchPage or None): EP-0, or its signed twin while the
        public host is paused, or at once when EP-0 gave no usable page (refused, paused,
        failed or junk)."""
        m = self.cfg.market

        async def ask(twin: bool):
            env = await self.calls.call(lambda rid: endpoints.search_ads(
                rid, asset=m.asset, fiat=m.fiat, want=endpoints.ads_list_for(side), page=page,
                pay_types=m.pay_types, trans_amount=m.trans_amount,
                publisher_type=m.publisher_type, signed_twin=twin, no_wait=self.signed_twin))
            return env, await decode_reply(self.emit, env, parse_search)

        # Per side: the two sides poll concurrently, and a replay must not depend on which of
        # them takes a shared turn first.
        twin_first = self.signed_twin and self.twin_pages_left.get(side, 0) > 0
        if twin_first:
            self.twin_pages_left[side] -= 1
        env, found = await ask(twin_first)
        if found is None and self.signed_twin and not twin_first:
            # Counted in pages, not timed, so a replay takes the same turns: the next pages
            # (a Retry-After's worth at the fastest poll) go to the twin as well.
            self.twin_pages_left[side] = TWIN_PAGES_AFTER_FAILURE
            env, found = await ask(True)
        return env, found

    async def snapshot(self, side: str, pages: int) -> BookSnapshot:
        """Fetch up to `pages` pages of the list where my `side` ads compete; emit the snapshot."""
        m = self.cfg.market
        ads, complete, cause = [], True, None
        for page in range(1, pages + 1):
            if page > 1:
                await trio.sleep(self.cfg.limits.page_delay_s)
            env, found = await self._page(side, page)
            cause = env.seq
            items = None if found is None else found.items
            if items is None:
                complete = False
                break
            ads.extend(to_book_ad(item, self.my_adv_nos) for item in items)
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
