"""The ads actor: loads my ads (EP-4), asks the strategy on every BookSnapshot, and reprices (EP-7).

Every verdict, "hold" included, is a RepriceDecided event with its rule and reason. EP-7 goes out
only when the rounded price changes, and an accepted EP-7 is any success envelope whatever its
`data` (true, null or absent; reference §4). Error reactions follow the wire layer's classes:
187049 and its family wait 300 ms, refetch and retry; 187055 searches for the valid price nearest
the target; 83229/83230/83723 and 187022 (the ad does not exist or is offline) pause the ad and
re-read my ads (EP-4) at once, and a refresh at least `PAUSE_MIN_S` later that shows it online
resumes it; 83628 ("try again after 30s") makes that ad alone wait the time Binance names. A
write whose turn at the limiter comes during a pause of the merchant API (418, 403, backoff) is
refused, not sent late, and does not count against the rate cap: the next book decides again.
"""

from __future__ import annotations

import math
from decimal import Decimal

import msgspec
import trio

from actors.calls import Calls, decode_reply
from actors.config import BotConfig
from actors.supervise import Fatal
from c2c import endpoints
from c2c.decode import is_last_page, parse_my_ads, parse_status_update, parse_update
from c2c.errors import Action, C2CError
from c2c.models import to_my_ad
from events import (AdPaused, AdRepriced, AdResumed, AdStatusChanged, ApiError, ApiResponse,
                    BookSnapshot, DryRunSkipped, Envelope, MyAd, MyAdsLoaded, RepriceDecided,
                    RepriceFailed)
from strategies import FiltersConfig, Quote, RateCap, StrategyConfig, evaluate
from strategies import floating
from strategies.war import WarGuard, guard_enabled

REFETCH_WAIT_S = 0.3
MAX_REFETCH_RETRIES = 2
MAX_SEARCH_STEPS = 6
# A paused ad is resumed only by a refresh that starts this long after the pause, so an ad that
# EP-4 shows online while EP-7 keeps refusing it costs two calls a refresh period, not a loop.
PAUSE_MIN_S = 10.0
# A floating ad takes its price from my row of the book (its reference moves), but not from a
# book logged this soon after an acknowledged reprice: its pages may predate the update.
FLOAT_SETTLE_S = 2.0


class AdState:
    def __init__(self, ad: MyAd, strategy: StrategyConfig, filters: FiltersConfig) -> None:
        self.ad = ad
        self.strategy = strategy  # this ad's own pricing: [strategy] and [filters], its
        self.filters = filters  # [ads.overrides."<advNo>"] applied
        self.paused = False
        self.paused_at = 0.0
        self.cooldown_until = 0.0  # 83628: Binance asked this ad to wait
        self.busy = False
        self.version = 0  # bumped by every acknowledged price change
        self.rate_cap = RateCap(strategy.max_reprices_per_min, strategy.min_reprice_gap_s)
        self.war = WarGuard(ad.side, strategy) if guard_enabled(strategy) else None
        self.ratios: dict[Decimal, Decimal] = {}  # a floating ad's decided price -> its ratio
        self.acked_at = -math.inf  # session time of the last acknowledged reprice


class Ads:
    def __init__(self, inbox, emit, *, config: BotConfig, dry_run: bool = False,
                 session_time=None, decision_clock=None) -> None:
        self.inbox = inbox
        # Session time (the envelopes' `t`), and the clock a decision reads: the session time
        # live, the recorded decision's time in a replay (so the rate cap reads what it read).
        self.now = session_time or trio.current_time
        self.decision_clock = decision_clock or (lambda adv_no, now, book: now)
        self.emit = emit
        self.cfg = config
        self.dry_run = dry_run
        self.calls = Calls("ads", emit)
        self.state: dict[str, AdState] = {}
        self.books: dict[str, BookSnapshot] = {}
        self.book_seqs: dict[str, int] = {}
        self._nursery: trio.Nursery | None = None
        self._overrides_checked = False

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            nursery.start_soon(self.calls.pump, self.inbox, self._handle)
            task_status.started()
            await self.refresh(cause=None)
            if self.cfg.ads.online_on_start:
                await self._online_on_start()
            while True:
                await trio.sleep(self.cfg.ads.refresh_s)
                await self.refresh(cause=None)

    # --- EP-4 ---------------------------------------------------------------------------------

    async def refresh(self, cause: int | None) -> None:
        """Reload my ads with EP-4 (all pages) and emit MyAdsLoaded; resume paused ads online."""
        loaded: list[MyAd] = []
        page = 1
        started = self.now()
        versions = {adv_no: st.version for adv_no, st in self.state.items()}
        while True:
            env = await self.calls.call(lambda rid: endpoints.list_my_ads(rid, page=page), cause)
            got = await decode_reply(self.emit, env, parse_my_ads)
            if got is None:
                return
            details, total = got
            loaded.extend(to_my_ad(d) for d in details)
            if is_last_page(len(details), 20, page, total):
                break
            page += 1
        self._check_overrides(loaded)
        wanted = self.cfg.ads.adv_nos
        if wanted:
            ads = tuple(a for a in loaded if a.adv_no in wanted)
        else:
            ads = tuple(a for a in loaded if a.status == 1)
        await self.emit(MyAdsLoaded(ads=ads), cause=env.seq)
        await self._apply_loaded(ads, env.seq, versions, started)

    async def _apply_loaded(self, ads: tuple[MyAd, ...], cause: int,
                            versions: dict[str, int], started: float) -> None:
        for ad in ads:
            st = self.state.get(ad.adv_no)
            if st is None:
                self.state[ad.adv_no] = AdState(ad, *self.cfg.pricing_for(ad.adv_no))
                continue
            if st.busy or st.version != versions.get(ad.adv_no):
                # EP-4 answered with the price as it was when asked; a reprice acknowledged
                # since (or in flight) is newer, so keep it and take the rest.
                # A floating ad keeps the ratio that goes with that price.
                st.ad = floating.moved(ad, st.ad.price, st.ad.floating_ratio
                                       if floating.is_floating(ad) else None)
            else:
                st.ad = ad
            if st.paused and ad.status == 1 and started >= st.paused_at + PAUSE_MIN_S:
                st.paused = False
                await self.emit(AdResumed(adv_no=ad.adv_no), cause=cause)

    def _check_overrides(self, loaded: list[MyAd]) -> None:
        # With ads.adv_nos set, the config load checked the overrides against it; without,
        # my ads are only known now. Every status counts: an offline ad may come online.
        if self._overrides_checked or self.cfg.ads.adv_nos:
            return
        self._overrides_checked = True
        listed = {ad.adv_no for ad in loaded}
        unknown = sorted(set(self.cfg.ads.overrides) - listed)
        if unknown:
            raise Fatal(f"ads.overrides names advNo {', '.join(unknown)} which EP-4 does not "
                        f"list among my ads")

    # --- pricing ------------------------------------------------------------------------------

    async def _handle(self, env: Envelope) -> None:
        snap = env.event
        if not isinstance(snap, BookSnapshot):
            return
        self.books[snap.ad_side] = snap
        self.book_seqs[snap.ad_side] = env.seq
        for st in list(self.state.values()):
            if (not st.busy and env.t - st.acked_at >= FLOAT_SETTLE_S
                    and (snap.asset, snap.fiat) == (st.ad.asset, st.ad.fiat)):
                st.ad = floating.as_listed(st.ad, snap)  # a floating ad follows its reference
        for st in list(self.state.values()):
            await self._decide_on_latest(st, snap.ad_side, snap.asset, snap.fiat)

    async def _decide_on_latest(self, st: AdState, side: str, asset: str, fiat: str) -> None:
        ad = st.ad
        if ad.side != side or ad.asset != asset or ad.fiat != fiat:
            return
        if st.paused or st.busy or ad.status != 1:
            return
        snap = self.books[side]
        opposite = self.books.get("BUY" if side == "SELL" else "SELL")
        await self._decide(st, snap, opposite, self.book_seqs[side])

    async def _decide(self, st: AdState, snap: BookSnapshot, opposite, cause: int) -> None:
        s = st.strategy
        now = self.decision_clock(st.ad.adv_no, self.now(), snap)
        quote: Quote = evaluate(s.name, snap, st.ad, s, st.filters, opposite,
                                rate_cap=st.rate_cap, now_s=now, war=st.war)
        war = st.war.take_started() if st.war is not None else None
        if war is not None:
            await self.emit(war, cause=cause)
        quote = self._wait_gate(st, quote, now)
        wait = st.rate_cap.gap_wait(now) if quote.price is not None else 0.0
        if wait > 0:
            # Binance answers a burst of updates with 83628 and a 30 s wait; the gap keeps one
            # ad's updates apart, and the price leaves as soon as the gap allows.
            quote = msgspec.structs.replace(quote, reason=(
                f"{quote.reason}; sent {wait:.3f} s later, {st.rate_cap.min_gap_s} s after the "
                "last reprice"))
        decided = RepriceDecided(
            adv_no=st.ad.adv_no, strategy=s.name,
            action="reprice" if quote.price is not None else "hold",
            old_price=st.ad.price, new_price=quote.price, rule=quote.rule, reason=quote.reason,
            competitor=quote.competitor, competitor_price=quote.competitor_price,
            clamp=quote.clamp, at=now,
            new_ratio=quote.ratio if quote.price is not None else None)
        await self.emit(decided, cause=cause)
        if st.war is not None:
            st.war.apply(decided)
        if quote.price is None:
            return
        st.rate_cap.record(now + wait)
        if quote.ratio is not None:
            st.ratios = {quote.price: quote.ratio}
        if self.dry_run:
            body = _update_request(st, quote.price)("dry-run").body
            await self.emit(DryRunSkipped(endpoint="EP-7", body=body), cause=cause)
            st.ad = floating.moved(st.ad, quote.price, quote.ratio)
            st.version += 1
            return
        st.busy = True
        self._nursery.start_soon(self._reprice, st, quote.price, cause, now + wait)

    def _wait_gate(self, st: AdState, quote: Quote, now: float) -> Quote:
        """Hold a reprice while Binance asked this ad to wait (83628).

        A pause of the merchant API is not a hold here: whether its news reached this actor
        before a book did is the scheduler's luck, which a replay cannot repeat. The limiter
        refuses a write whose turn comes during a pause, and the refusal is logged.
        """
        if quote.price is None or now >= st.cooldown_until:
            return quote
        return msgspec.structs.replace(
            quote, price=None, rule="cooldown",
            reason=f"{quote.reason}; holding: Binance asked this ad to wait (83628)")

    async def _reprice(self, st: AdState, price: Decimal, cause: int, send_at: float) -> None:
        try:
            # Until a session time derived from the decision's, not from when this task ran,
            # so a replay sends it when the live run did.
            await trio.sleep(max(0.0, send_at - self.now()))
            await self._reprice_with_retries(st, price, cause)
        finally:
            st.busy = False

    async def _reprice_with_retries(self, st: AdState, price: Decimal, cause: int) -> None:
        for retry in range(MAX_REFETCH_RETRIES + 1):
            err, env = await self._send_price(st, price, cause)
            if err is None or err.action is not Action.REFETCH_AND_RETRY:
                break
            if retry == MAX_REFETCH_RETRIES:
                return
            await trio.sleep(REFETCH_WAIT_S)
            await self.refresh(cause=env.seq)
        if err is None:
            return
        if _never_sent(env):
            st.rate_cap.forget_last()  # refused before it left: Binance never counted it
        if err.action is Action.FIND_VALID_PRICE:
            await self._search_valid_price(st, price, env.seq)
        elif err.action is Action.PAUSE_AD:
            st.paused, st.paused_at = True, env.t
            await self.emit(AdPaused(adv_no=st.ad.adv_no, code=err.c2c_code or 0,
                                     reason=str(err)), cause=env.seq)
            await self.refresh(cause=env.seq)
        elif err.action is Action.AD_COOLDOWN:
            st.cooldown_until = env.t + err.wait_s

    async def _send_price(self, st: AdState, price: Decimal, cause: int):
        """Send one EP-7; return (None on success or the typed error, the reply envelope)."""
        adv_no, old = st.ad.adv_no, st.ad.price
        env = await self.calls.call(_update_request(st, price), cause)
        accepted, err = _reply(env, parse_update)
        if err is None and not accepted:
            err = C2CError("EP-7", env.event.status, "update answered data: false",
                           raw=env.event.body)
        if err is None:
            st.ad = floating.moved(st.ad, price, _ratio_of(st, price))
            st.version += 1
            st.acked_at = env.t
            await self.emit(AdRepriced(adv_no=adv_no, old_price=old, new_price=price,
                                       request_id=env.event.request_id), cause=env.seq)
            return None, env
        await self.emit(RepriceFailed(
            adv_no=adv_no, price=price, code=err.c2c_code, message=str(err)[:300],
            will_retry=err.action in (Action.REFETCH_AND_RETRY, Action.FIND_VALID_PRICE)),
            cause=env.seq)
        return err, env

    async def _search_valid_price(self, st: AdState, target: Decimal, cause: int) -> None:
        """187055: binary search between the current (valid) price and the target."""
        good, bad = st.ad.price, target
        tick = Decimal(1).scaleb(-st.ad.price_scale)
        for _ in range(MAX_SEARCH_STEPS):
            if abs(bad - good) <= tick:
                return
            mid = ((good + bad) / 2).quantize(tick)
            if mid in (good, bad):
                return
            err, _ = await self._send_price(st, mid, cause)
            if err is None:
                good = mid
            elif err.action is Action.FIND_VALID_PRICE:
                bad = mid
            else:
                return

    # --- EP-8 ---------------------------------------------------------------------------------

    async def set_status(self, adv_nos: tuple[str, ...], status: int, cause=None) -> bool:
        """Put ads online (1) or offline (3) with EP-8; on -1102 retry once with "a,b"."""
        if self.dry_run:
            await self.emit(DryRunSkipped(endpoint="EP-8", body=f"{list(adv_nos)} -> {status}"))
            return True
        for as_string in (False, True):
            env = await self.calls.call(lambda rid: endpoints.update_status(
                rid, adv_nos=adv_nos, status=status, as_string=as_string), cause)
            result, err = _reply(env, parse_status_update)
            if err is None:
                failed = result.failed_adv_nos
                await self.emit(AdStatusChanged(adv_nos=adv_nos, status=status, failed=failed),
                                cause=env.seq)
                return not failed
            if err.code != -1102:
                return False
        return False

    async def _online_on_start(self) -> None:
        offline = tuple(st.ad.adv_no for st in self.state.values() if st.ad.status == 3)
        if offline and await self.set_status(offline, 1):
            await self.refresh(cause=None)


def _reply(env: Envelope, parse):
    """Parse a reply once: (value, None) on success, else (None, its typed error)."""
    event = env.event
    if not isinstance(event, ApiResponse):
        return None, C2CError(event.endpoint, event.status or 0,
                              f"{event.kind}: {event.message}", code=event.code)
    try:
        return parse(event.status, event.headers, event.body), None
    except C2CError as exc:
        return None, exc


def _never_sent(env: Envelope) -> bool:
    event = env.event
    return isinstance(event, ApiError) and event.kind in ("paused", "breaker_open", "dry_run")


def _ratio_of(st: AdState, price: Decimal) -> Decimal | None:
    """The ratio that gives a floating ad `price` (the one decided, else the nearest)."""
    if not floating.is_floating(st.ad):
        return None
    ratio = st.ratios.get(price)
    return ratio if ratio is not None else floating.ratio_for(
        st.ad, price, up=price > st.ad.price)


def _update_request(st: AdState, price: Decimal):
    """EP-7 for `price`: through priceFloatingRatio for a floating ad, else the price."""
    adv_no, ratio = st.ad.adv_no, _ratio_of(st, price)
    if ratio is None:
        return lambda rid: endpoints.update_price(rid, adv_no=adv_no, price=price)
    return lambda rid: endpoints.update_ratio(rid, adv_no=adv_no, ratio=ratio)


async def run(inbox, emit, *, config: BotConfig, dry_run: bool = False, session_time=None,
              decision_clock=None, task_status=trio.TASK_STATUS_IGNORED) -> None:
    """Manage my ads forever; never returns unless cancelled."""
    await Ads(inbox, emit, config=config, dry_run=dry_run, session_time=session_time,
              decision_clock=decision_clock).run(task_status=task_status)
