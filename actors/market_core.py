"""The market actor's pure core: its polling plan, how a logged event changes it, and what the
shell asks next.

The market actor (actors/market.py) is a shell around this: it applies the MyAdsLoaded of its
inbox with `apply`, and each search request it builds (`asked`) and each snapshot it emits
(`apply_event`) at once; it asks which pages a stream's poll reads (`pages_for`), whether a page
goes to EP-0 or its signed twin EP-0S (`ask_twin`, `ask_twin_after`), when the stream polls
next (`next_poll`), and assembles a snapshot from the pages' answers (`Pages`). The same `apply`
rebuilds the plan of a restarted actor from its session so far, so the streams keep their moved
weights, their deep-poll counters and their twin pages.

    state  = fold of MyAdsLoaded / my BookSnapshot / my ApiRequest(EP-0, EP-0S)
    start(state, now, running)    -> [(stream key, offset_s), ...]   (the streams not polled yet)
    pages_for(state, key)         -> 1 | market.pages
    ask_twin(state, key)          -> EP-0S first?      ask_twin_after(state, twin, found) -> EP-0S?
    Pages.read(ads | None)        -> read the next page?     Pages.snapshot() -> BookSnapshot
    next_poll(state, key, after, now) -> the time of the stream's next page-1 poll

Times are the shell's (trio's clock); the log's are session time, and `State.origin` (the
shell's clock at session time 0) turns one into the other. Nothing here does I/O or reads a
clock: it needs no trio.
"""

from __future__ import annotations

from typing import Iterable

import msgspec

from actors.config import BotConfig, MarketConfig
from events import ApiRequest, BookSnapshot, Envelope, MyAdsLoaded

SOURCE = "market"  # the events the fold takes as its own
BOTH_SIDES = ("SELL", "BUY")
MARKET_SHARE = 0.6  # of the request budget; the rest is for reprices, orders and chat
TWIN_PAGES_AFTER_FAILURE = 4  # pages read through EP-0S after EP-0 gave no page
MINE_WEIGHT = 4.0  # a side where my ad competes, against one only watched
MOVED_WEIGHT = 2.0  # a side whose page 1 changed lately, against a quiet one
MOVED_WINDOW_S = 30.0
ROWS = 20  # ads on a full page (reference §3)
SEARCH_ENDPOINTS = ("EP-0", "EP-0S")

StreamKey = tuple[str, str, str]  # (asset, fiat, ad_side): one side of one market


class Stream:
    """One side of one market as the scheduler sees it: its weight, its page-1 history, the
    interval of its page-1 polls and its polls since the last deep one."""

    def __init__(self, market: MarketConfig, side: str, mine: bool) -> None:
        self.market = market
        self.side = side
        self.mine = mine
        self.top: tuple | None = None  # page 1 of the last snapshot, as (advNo, price) pairs
        self.moved_at = -float("inf")
        self.step: float | None = None  # seconds between its page-1 polls, as last computed
        self.since_deep: int | None = None  # polls since its last deep poll (None: none yet)

    @property
    def name(self) -> str:
        return f"{self.market.name} {self.side}"

    @property
    def key(self) -> StreamKey:
        return (self.market.asset, self.market.fiat, self.side)

    def weight(self, now: float) -> float:
        moved = now - self.moved_at <= MOVED_WINDOW_S
        return (MINE_WEIGHT if self.mine else 1.0) * (MOVED_WEIGHT if moved else 1.0)

    def saw(self, snap: BookSnapshot, now: float) -> None:
        """Note a snapshot's page 1: a change from the last one marks the book as moving."""
        if not snap.complete:
            return  # a failed or cut page says nothing about the book moving
        top = tuple((ad.adv_no, ad.price) for ad in snap.ads[:ROWS])
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


class State:
    """What the market polls and how, as far as the log tells.

    Attributes:
        cfg: the bot's config (markets, limits).
        fixed_sides: the sides to poll whatever my ads (a record run: both).
        signed_twin: EP-0S may be asked (it is signed: only with keys).
        weighted: streams share the budget by weight (False: equally, the benchmark's baseline).
        origin: the shell's clock at session time 0 (the log's `t` plus this is the shell's
            time).
        my_adv_nos: my ads as last loaded, marked in every snapshot.
        streams: the plan, in polling order (empty until made): the streams of every load of
            my ads so far, a later load adding the sides of new ads and saying which are mine.
        twin_pages_left: per stream, the pages still read through EP-0S first.
        last_twin: per stream, whether its last page request went to EP-0S.
    """

    def __init__(self, cfg: BotConfig, *, fixed_sides: tuple[str, ...] | None = None,
                 signed_twin: bool = False, weighted: bool = True, origin: float = 0.0) -> None:
        self.cfg = cfg
        self.fixed_sides = fixed_sides
        self.signed_twin = signed_twin
        self.weighted = weighted
        self.origin = origin
        self.my_adv_nos: frozenset[str] = frozenset()
        self.streams: list[Stream] = []
        self.by_key: dict[StreamKey, Stream] = {}
        self.twin_pages_left: dict[StreamKey, int] = {}
        self.last_twin: dict[StreamKey, bool] = {}

    @property
    def planned(self) -> bool:
        return bool(self.streams)

    def stream(self, key: StreamKey) -> Stream:
        return self.by_key[key]


# --- the fold -----------------------------------------------------------------------------------

def apply(state: State, env: Envelope) -> State:
    """Apply one logged event to `state` (in place) and return it: any MyAdsLoaded, and the
    market's own snapshots and search requests (at their session time)."""
    event = env.event
    if isinstance(event, MyAdsLoaded) or env.source == SOURCE:
        apply_event(state, event, state.origin + env.t)
    return state


def apply_event(state: State, event, now: float) -> State:
    """Apply one event at the shell's time `now`: the shell applies its own requests and
    snapshots as it makes them, before the log has numbered them."""
    match event:
        case MyAdsLoaded(ads=ads):
            state.my_adv_nos = frozenset(a.adv_no for a in ads)
            _extend(state, plan_streams(state.cfg, ads, state.fixed_sides))
        case BookSnapshot():
            plan(state)
            _saw(state, event, now)
        case ApiRequest(endpoint=endpoint) if endpoint in SEARCH_ENDPOINTS:
            plan(state)
            asked(state, search_key(event), endpoint == "EP-0S")
    return state


def fold(envelopes: Iterable[Envelope], state: State) -> State:
    """Apply `envelopes` in order to `state` and return it."""
    for env in envelopes:
        apply(state, env)
    return state


def plan(state: State) -> list[Stream]:
    """The streams: those my ads' loads gave, or, when none came, those of no ads."""
    if not state.planned:
        _extend(state, plan_streams(state.cfg, (), state.fixed_sides))
    return state.streams


def _extend(state: State, planned: list[Stream]) -> None:
    # A stream once polled stays polled (a side no ad of mine competes on any more is watched),
    # so the plan is the same whichever load it was first made from.
    mine = {s.key for s in planned if s.mine}
    for stream in state.streams:
        stream.mine = stream.key in mine
    for stream in planned:
        if stream.key not in state.by_key:
            state.streams.append(stream)
            state.by_key[stream.key] = stream


def _saw(state: State, snap: BookSnapshot, now: float) -> None:
    stream = state.by_key.get((snap.asset, snap.fiat, snap.ad_side))
    if stream is None:
        return  # not a stream of the plan (a snapshot asked for outside it)
    stream.saw(snap, now)
    # Counted in polls, not timed, so a late answer does not change which polls read every
    # page (a replay takes the same turns); a poll of every page restarts the count.
    deep = snap.pages == stream.market.pages
    stream.since_deep = 1 if deep or stream.since_deep is None else stream.since_deep + 1
    stream.step = interval(state.cfg, state.streams, stream, now, weighted=state.weighted)


def asked(state: State, key: StreamKey, twin: bool) -> None:
    """Apply one page request of the stream, to EP-0S (`twin`) or EP-0 (the shell applies its
    own as it makes them, without decoding their bodies again)."""
    if twin and not state.last_twin.get(key, False):
        # EP-0 gave no page and its twin is asked: the next pages (a Retry-After's worth at
        # the fastest poll) go to the twin first. Counted in pages, not timed, so a replay
        # takes the same turns.
        state.twin_pages_left[key] = TWIN_PAGES_AFTER_FAILURE
    elif twin:
        state.twin_pages_left[key] = max(0, state.twin_pages_left.get(key, 0) - 1)
    state.last_twin[key] = twin


def search_key(request: ApiRequest) -> StreamKey:
    """The stream an EP-0 or EP-0S request reads (its `tradeType` is the taker's side: BUY
    lists sellers' ads, reference §3)."""
    body = msgspec.json.decode(request.body or "{}")
    side = "SELL" if body.get("tradeType") == "BUY" else "BUY"
    return (body.get("asset", ""), body.get("fiat", ""), side)


# --- the decisions ------------------------------------------------------------------------------

def start(state: State, now: float, running: Iterable[StreamKey] = ()
          ) -> list[tuple[StreamKey, float]]:
    """The streams to start polling: those of the plan (made here when no load came) that are
    not `running`, each with its first interval where it has none and the delay of its first
    poll, staggered so the polls spread out instead of bunching."""
    streams = plan(state)
    running = set(running)
    new = [s for s in streams if s.key not in running]
    for stream in new:
        if stream.step is None:
            stream.step = interval(state.cfg, streams, stream, now, weighted=state.weighted)
    first = state.cfg.limits.rps * MARKET_SHARE
    return [(s.key, i / first) for i, s in enumerate(new)]


def pages_for(state: State, key: StreamKey) -> int:
    """The pages the stream's next poll reads: every page on its first poll and about every
    poll_interval_s (counted in polls at its current interval), else page 1."""
    stream = state.stream(key)
    m = stream.market
    deep = stream.since_deep is None or stream.since_deep >= max(1, round(
        m.poll_interval_s / stream.step))
    return m.pages if deep else 1


def next_poll(state: State, key: StreamKey, after: float, now: float) -> float:
    """When the stream polls next: its interval after the last poll's time `after`, or `now`
    when that has passed (a late poll does not make the next ones bunch)."""
    return max(after + state.stream(key).step, now)


def ask_twin(state: State, key: StreamKey) -> bool:
    """A page of the stream goes to EP-0S first: EP-0 lately gave it no page (the pages after
    a failure, per stream: the two sides poll concurrently, and a replay must not depend on
    which of them takes a shared turn first)."""
    return state.signed_twin and state.twin_pages_left.get(key, 0) > 0


def ask_twin_after(state: State, twin: bool, found) -> bool:
    """The page is asked again through EP-0S: EP-0 gave no usable page (refused, paused,
    failed or junk) and the bot has keys."""
    return found is None and state.signed_twin and not twin


class Pages:
    """One snapshot read page by page: `read` each page's ads (None: the page failed) while it
    says so, then `snapshot()`."""

    def __init__(self, market: MarketConfig, side: str, pages: int) -> None:
        self.market = market
        self.side = side
        self.pages = pages
        self.read_pages = 0
        self.ads: list = []
        self.complete = True

    def read(self, ads: tuple | None) -> bool:
        """Take the next page's ads; True when the page after it is to be read. A failed page
        cuts the book; a short page ends it (an empty first page: cut, the soft limit's
        answer)."""
        self.read_pages += 1
        if ads is None:
            self.complete = False
            return False
        self.ads.extend(ads)
        if len(ads) < ROWS:
            self.complete = self.complete and (len(ads) > 0 or self.read_pages > 1)
            return False
        return self.read_pages < self.pages

    def snapshot(self) -> BookSnapshot:
        m = self.market
        return BookSnapshot(asset=m.asset, fiat=m.fiat, ad_side=self.side, pages=self.pages,
                            ads=tuple(self.ads), complete=self.complete)
