"""The ads actor: loads my ads (EP-4), asks the strategy on every BookSnapshot, and reprices (EP-7).

It manages my ads of every configured market (`[[markets]]` or `[market]`): with `ads.adv_nos`
empty, my online ads of those markets; each is priced only from its own market's books (the
core keeps books by asset, fiat and side).

Every verdict, "hold" included, is a RepriceDecided event with its rule and reason. EP-7 goes out
only when the rounded price changes, and an accepted EP-7 is any success envelope whatever its
`data` (true, null or absent; reference §4). Error reactions follow the wire layer's classes:
187049 and its family wait 300 ms, refetch and retry; 187055 searches for the valid price nearest
the target; 83229/83230/83723 and 187022 (the ad does not exist or is offline) pause the ad and
re-read my ads (EP-4) at once, and a refresh at least `PAUSE_MIN_S` later that shows it online
resumes it; 83628 ("try again after 30s") makes that ad alone wait the time Binance names. A
write whose turn at the limiter comes during a pause of the merchant API (418, 403, backoff) is
refused, not sent late, and does not count against the rate cap: the next book decides again.

The state and the decision are a pure core (actors/ads_core.py): this shell applies its inbox to
it in seq order and does the I/O, so the state is a fold of the log, which a restarted actor,
the re-check and the backtester repeat.
"""

from __future__ import annotations

import math
from decimal import Decimal
from functools import partial

import trio

from actors import ads_core
from actors.ads_core import PAUSE_MIN_S, AdsState, AdState  # noqa: F401 - the actor's API
from actors.calls import Calls, decode_reply
from actors.config import BotConfig
from actors.spec import ActorContext, ActorSpec
from actors.supervise import Fatal
from c2c import endpoints
from c2c.decode import is_last_page, parse_my_ads, parse_status_update, parse_update
from c2c.errors import Action, C2CError
from c2c.models import to_my_ad
from events import (AdPaused, AdRepriced, AdResumed, AdStatusChanged, ApiError, ApiResponse,
                    BookSnapshot, DryRunSkipped, Envelope, MyAd, MyAdsLoaded, RepriceDecided,
                    RepriceDone, RepriceFailed)

REFETCH_WAIT_S = 0.3
MAX_REFETCH_RETRIES = 2
MAX_SEARCH_STEPS = 6
FIRST_LOAD_RETRY_S = 1.0  # a failed first EP-4 is asked again after 1, 2, 4 ... refresh_s
SUBSCRIBES = (BookSnapshot, *ads_core.OWN_TYPES)


class Ads:
    """The shell: applies its inbox to the core's state in seq order, asks the core's `decide`
    on each snapshot, and does the I/O (EP-4, EP-7, EP-8) through the bus.

    `history` is this session's events so far when the supervisor restarts the actor (empty on
    the first start); `first_request` the number of requests it already made.
    """

    def __init__(self, inbox, emit, *, config: BotConfig, dry_run: bool = False,
                 session_time=None, decision_clock=None, history=(),
                 first_request: int = 0, carried: dict | None = None) -> None:
        self.inbox = inbox
        # Session time (the envelopes' `t`), and the clock a decision reads: the session time
        # live, the recorded decision's time in a replay (so the rate cap reads what it read).
        self.now = session_time or trio.current_time
        self.decision_clock = decision_clock or (lambda adv_no, now, book: now)
        self.emit = emit
        self.cfg = config
        self.dry_run = dry_run
        self.calls = Calls("ads", emit, first=first_request)
        self.core = AdsState(config.pricing_for, dry_run=dry_run)
        self.core.carried = dict(carried or {})
        self._died_busy = ads_core.restore_session(self.core, history)
        self._nursery: trio.Nursery | None = None
        self._overrides_checked = bool(history)

    @property
    def state(self) -> dict[str, AdState]:
        return self.core.ads

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            for adv_no in self._died_busy:
                # Its reprice died with the last incarnation; the refresh below reads its price.
                await self.emit(RepriceDone(adv_no=adv_no, restarted=True))
            nursery.start_soon(self.calls.pump, self.inbox, self._handle)
            task_status.started()
            loaded = await self.refresh(cause=None)
            retry_s = FIRST_LOAD_RETRY_S
            while loaded is None:  # no ad known yet, so nothing to price: ask again soon
                await trio.sleep(retry_s)
                retry_s = min(retry_s * 2, self.cfg.ads.refresh_s)
                loaded = await self.refresh(cause=None)
            if self.cfg.ads.online_on_start and loaded:
                await self._online_on_start(loaded)
            while True:
                await trio.sleep(self.cfg.ads.refresh_s)
                await self.refresh(cause=None)

    # --- EP-4 ---------------------------------------------------------------------------------

    async def refresh(self, cause: int | None) -> tuple[MyAd, ...] | None:
        """Reload my ads with EP-4 (all pages), emit MyAdsLoaded and return the ads (None when
        EP-4 failed). The core applies it when it comes back (a paused ad EP-4 shows online is
        resumed then)."""
        loaded: list[MyAd] = []
        page = 1
        asked_at, asked_after = self.now(), self.core.last_seq
        while True:
            env = await self.calls.call(lambda rid: endpoints.list_my_ads(rid, page=page), cause)
            got = await decode_reply(self.emit, env, parse_my_ads)
            if got is None:
                return None
            details, total = got
            loaded.extend(to_my_ad(d) for d in details)
            if is_last_page(len(details), 20, page, total):
                break
            page += 1
        self._check_overrides(loaded)
        wanted = self.cfg.ads.adv_nos
        if wanted:
            ads = tuple(a for a in loaded if a.adv_no in wanted)
        else:  # my online ads of every configured market, each priced by its own book
            ads = tuple(a for a in loaded if a.status == 1
                        and self.cfg.market_for(a.asset, a.fiat) is not None)
        await self.emit(MyAdsLoaded(ads=ads, asked_at=asked_at, asked_after_seq=asked_after),
                        cause=env.seq)
        return ads

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
        event = env.event
        if isinstance(event, MyAdsLoaded):
            for adv_no in ads_core.resumed_by(self.core, event):
                await self.emit(AdResumed(adv_no=adv_no), cause=env.seq)
        ads_core.apply(self.core, env)
        if not isinstance(event, BookSnapshot):
            return
        now = self.now()
        decisions = ads_core.decide(self.core, event,
                                    lambda adv_no: self.decision_clock(adv_no, now, event))
        for decided in decisions:
            await self.emit(decided, cause=env.seq)
            if not isinstance(decided, RepriceDecided):
                continue  # a PriceWarDetected: the guard already counts it
            ads_core.apply_decision(self.core, decided)
            if decided.action != "reprice":
                continue
            if self.dry_run:
                st = self.core.ads[decided.adv_no]
                body = _update_request(st, decided.new_price)("dry-run").body
                await self.emit(DryRunSkipped(endpoint="EP-7", body=body), cause=env.seq)
                continue
            self._nursery.start_soon(self._reprice, self.core.ads[decided.adv_no],
                                     decided.new_price, env.seq, decided.send_at)

    async def _reprice(self, st: AdState, price: Decimal, cause: int, send_at: float) -> None:
        try:
            # Until a session time derived from the decision's, not from when this task ran,
            # so a replay sends it when the live run did.
            await trio.sleep(max(0.0, send_at - self.now()))
            await self._reprice_with_retries(st, price, cause)
        finally:
            await self.emit(RepriceDone(adv_no=st.ad.adv_no), cause=cause)

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
        if err.action is Action.FIND_VALID_PRICE:
            await self._search_valid_price(st, price, env.seq)
        elif err.action is Action.PAUSE_AD:
            await self.emit(AdPaused(adv_no=st.ad.adv_no, code=err.c2c_code or 0,
                                     reason=str(err)), cause=env.seq)
            await self.refresh(cause=env.seq)

    async def _send_price(self, st: AdState, price: Decimal, cause: int):
        """Send one EP-7; return (None on success or the typed error, the reply envelope).

        The outcome is emitted; the core takes the new price when AdRepriced comes back."""
        adv_no, old = st.ad.adv_no, st.ad.price
        env = await self.calls.call(_update_request(st, price), cause)
        accepted, err = _reply(env, parse_update)
        if err is None and not accepted:
            err = C2CError("EP-7", env.event.status, "update answered data: false",
                           raw=env.event.body)
        if err is None:
            await self.emit(AdRepriced(adv_no=adv_no, old_price=old, new_price=price,
                                       request_id=env.event.request_id), cause=env.seq)
            return None, env
        await self.emit(RepriceFailed(
            adv_no=adv_no, price=price, code=err.c2c_code, message=str(err)[:300],
            will_retry=err.action in (Action.REFETCH_AND_RETRY, Action.FIND_VALID_PRICE),
            sent=not _never_sent(env),
            wait_s=err.wait_s if err.action is Action.AD_COOLDOWN else 0.0), cause=env.seq)
        return err, env

    async def _search_valid_price(self, st: AdState, target: Decimal, cause: int) -> None:
        """187055: binary search between the current (valid) price and the target."""
        good, bad = st.ad.price, target  # EP-7 refused the target: the price is still ours
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

    async def _online_on_start(self, loaded: tuple[MyAd, ...]) -> None:
        offline = tuple(ad.adv_no for ad in loaded if ad.status == 3)
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


def _update_request(st: AdState, price: Decimal):
    """EP-7 for `price`: through priceFloatingRatio for a floating ad, else the price."""
    adv_no, ratio = st.ad.adv_no, ads_core.ratio_of(st, price)
    if ratio is None:
        return lambda rid: endpoints.update_price(rid, adv_no=adv_no, price=price)
    return lambda rid: endpoints.update_ratio(rid, adv_no=adv_no, ratio=ratio)


def _never_sent(env: Envelope) -> bool:
    event = env.event
    return isinstance(event, ApiError) and event.kind in ("paused", "breaker_open", "dry_run")


async def run(inbox, emit, *, config: BotConfig, dry_run: bool = False, session_time=None,
              decision_clock=None, history=(), first_request: int = 0,
              carried: dict[str, tuple[float, ...]] | None = None,
              task_status=trio.TASK_STATUS_IGNORED) -> None:
    """Manage my ads forever; never returns unless cancelled.

    `carried` holds each ad's reprices that the last session sent within the last minute (in
    this session's time, so negative), which its rate cap still counts.
    """
    await Ads(inbox, emit, config=config, dry_run=dry_run, session_time=session_time,
              decision_clock=decision_clock, history=history, first_request=first_request,
              carried=carried).run(task_status=task_status)


def _carried(ctx: ActorContext) -> dict[str, tuple[float, ...]]:
    deps = ctx.deps
    if not deps.restored.reprices_ms or ctx.session_time is None:
        return {}
    now_ms, now_t = deps.now_ms(), ctx.session_time()
    return {adv_no: tuple(round(now_t - (now_ms - ms) / 1000, 3) for ms in times)
            for adv_no, times in deps.restored.reprices_ms.items()}


def _build(ctx: ActorContext):
    deps = ctx.deps
    return partial(run, ctx.inbox, ctx.emit, config=deps.config, dry_run=deps.dry_run,
                   session_time=ctx.session_time, decision_clock=deps.decision_clock,
                   history=ctx.history, first_request=ctx.first_request,
                   carried=_carried(ctx))


SPEC = ActorSpec(name="ads", subscribes=SUBSCRIBES, build=_build)
