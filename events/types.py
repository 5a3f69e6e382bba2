"""Every fact the bot can log, as frozen tagged msgspec Structs.

Events carry only the fact. Where and when it was logged (session, seq, wall-clock ts, trio time,
the actor that emitted it and the event that caused it) lives in the `Envelope` that the bus's one
writer fills: the emitter cannot know its seq, replay must compare facts without timestamps, and
one event type never has to grow bookkeeping fields that its tests would have to fake.

Evolution follows msgspec's rules: a new field gets a default; a tag or a field's type never
changes. A breaking change bumps `SCHEMA_VERSION` and adds an upcaster in `events/codec.py`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

import msgspec

SCHEMA_VERSION = 1

Side = Literal["BUY", "SELL"]


class Event(msgspec.Struct, frozen=True, kw_only=True, tag=True, gc=False):
    """Base of every logged fact.

    gc=False: events are frozen and hold only scalars, bytes and tuples of frozen Structs, so
    they can never be part of a reference cycle; untracked, they decode ~7% faster.
    """


# --- HTTP through the limiter -------------------------------------------------------------------


class ApiRequest(Event, frozen=True, kw_only=True):
    """An actor asks the limiter to perform one C2C call.

    The request is unsigned: the limiter adds timestamp, recvWindow and signature when it sends,
    so no secret and nothing time-dependent is logged. `effect` marks calls that change something
    at Binance (EP-7, EP-8): the bus makes them durable before the limiter sees them.
    """

    request_id: str  # unique per session, chosen by the requesting actor
    endpoint: str  # "EP-0", "EP-7", "TIME", ...
    method: str
    base: Literal["sapi", "bapi"]
    path: str
    query: tuple[tuple[str, str], ...] = ()
    body: str | None = None  # JSON text exactly as sent
    signed: bool = True
    effect: bool = False
    priority: int = 5  # lower goes first when the budget is short
    purpose: str = ""  # what the caller will do with the answer (e.g. the advNo)
    # Refuse at once (ApiError "paused") rather than wait behind a pause of its host or be
    # retried after one: the caller has another way (EP-0 and its signed twin).
    no_wait: bool = False


class ApiResponse(Event, frozen=True, kw_only=True):
    """The raw answer to an ApiRequest, whatever its status, as recorded for replay."""

    request_id: str
    endpoint: str
    status: int
    headers: tuple[tuple[str, str], ...] = ()  # only those that matter (weights, Retry-After)
    body: bytes = b""
    elapsed_ms: int = 0
    attempt: int = 1
    final: bool = True  # False when the limiter will retry this request itself


class ApiError(Event, frozen=True, kw_only=True):
    """An ApiRequest that ended without a usable answer (transport failure, refusal, give-up)."""

    request_id: str
    endpoint: str
    kind: str  # "transport", "breaker_open", "banned", "fatal", "gave_up", "dry_run"
    message: str
    code: int | None = None
    status: int | None = None
    body: bytes = b""
    attempt: int = 1
    final: bool = True  # False when the limiter will retry this request itself


class RequestDispatched(Event, frozen=True, kw_only=True):
    """The limiter sent one attempt of an ApiRequest (its envelope's `t` is when).

    Logged so that replay can check the schedule itself (the rate window, the EP-0 page gap,
    priorities) and compare it with the recorded one, not only the answers. `cause` is the
    request's seq.
    """

    request_id: str
    endpoint: str
    attempt: int = 1


class ClockSynced(Event, frozen=True, kw_only=True):
    offset_ms: int
    round_trip_ms: int


class BreakerOpened(Event, frozen=True, kw_only=True):
    failures: int
    open_s: float
    host: str = ""  # "bapi" (the public book) or "sapi" (the merchant API); each has its own


class BreakerClosed(Event, frozen=True, kw_only=True):
    trial_endpoint: str
    host: str = ""


class LimiterBackoff(Event, frozen=True, kw_only=True):
    """The limiter stops calling one host for `delay_s` (or slows down on "weight")."""

    reason: str  # "backoff", "transport", "418", "403", "weight"
    delay_s: float
    host: str = ""  # "bapi" or "sapi": a pause on one host never stops the other


# --- the order book -----------------------------------------------------------------------------


class BookAd(msgspec.Struct, frozen=True, kw_only=True, gc=False, array_like=True):
    """One ad as the book shows it, compact: what pricing and fill models need, nothing more.

    Logged as a JSON array (field order is its schema), a BookSnapshot holding twenty of them.
    """

    adv_no: str
    price: Decimal
    surplus: Decimal  # crypto left
    min_amount: Decimal  # fiat per order
    max_amount: Decimal
    pay_methods: tuple[str, ...] = ()
    nickname: str = ""
    month_orders: int = 0
    finish_rate: Decimal = Decimal("0")
    mine: bool = False
    user_type: str = ""  # the advertiser's: "merchant" or "user" ("" when EP-0 did not say)


class BookSnapshot(Event, frozen=True, kw_only=True):
    """The ads competing on one side of one market, best first.

    `ad_side` is the side of the ads listed (SELL ads are what a buyer sees), which is the side of
    my ad that competes in this list.
    """

    asset: str
    fiat: str
    ad_side: Side
    pages: int
    ads: tuple[BookAd, ...]
    complete: bool = True  # False when a page failed or came back empty early (soft limit)


# --- my ads and pricing -------------------------------------------------------------------------


class MyAd(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    adv_no: str
    side: Side
    asset: str
    fiat: str
    price: Decimal
    status: int  # 1 online, 3 offline, 4 closed
    surplus: Decimal = Decimal("0")
    min_amount: Decimal = Decimal("0")
    max_amount: Decimal = Decimal("0")
    pay_methods: tuple[str, ...] = ()
    price_scale: int = 2
    # EP-4's priceType (reference §4): 1 fixed, 2 floating. A floating ad's price is the
    # reference price times floating_ratio / 100, and EP-7 moves it through the ratio.
    price_type: int = 1
    floating_ratio: Decimal | None = None  # percent, as EP-4's priceFloatingRatio


class MyAdsLoaded(Event, frozen=True, kw_only=True):
    """My ads as EP-4 listed them.

    `asked_at` is the session time the refresh started and `asked_after_seq` the last event the
    ads actor had applied then: a reprice acknowledged after that is newer than EP-4's price.
    """

    ads: tuple[MyAd, ...]
    asked_at: float = 0.0
    asked_after_seq: int = 0


class RepriceDecided(Event, frozen=True, kw_only=True):
    """The strategy's verdict for one ad on one snapshot, "hold" included, with its reason."""

    adv_no: str
    strategy: str
    action: Literal["reprice", "hold"]
    old_price: Decimal
    new_price: Decimal | None
    rule: str  # which rule decided: "undercut", "lead_by_one", "deadband", "rate_cap", ...
    reason: str  # readable: "best competitor X at 461.50, one step 0.01 better"
    competitor: str | None = None  # advNo of the ad priced against
    competitor_price: Decimal | None = None
    clamp: str | None = None  # "floor" / "ceiling" when a bound changed the price
    at: float = 0.0  # session time the decision was made at (the rate cap's clock)
    send_at: float | None = None  # a reprice leaves then: `at`, or later to keep the gap
    new_ratio: Decimal | None = None  # a floating ad's priceFloatingRatio that sets new_price


class PriceWarDetected(Event, frozen=True, kw_only=True):
    """One competitor and my ad undercut each other `rounds` times within `window_s`: for
    `cooldown_s` from `at` the war guard keeps my price behind the rival's (or prices for rank
    `backoff_rank`) instead of answering (strategies.war)."""

    adv_no: str
    competitor: str  # advNo of the rival
    competitor_name: str = ""  # its nickname, when the book showed one
    rounds: int
    window_s: float
    my_price: Decimal
    competitor_price: Decimal
    base_price: Decimal  # my price before the first round: what the war has cost so far
    cooldown_s: float
    backoff_rank: int = 0  # 0: hold
    at: float = 0.0  # session time of the decision that saw the war


class AdRepriced(Event, frozen=True, kw_only=True):
    adv_no: str
    old_price: Decimal
    new_price: Decimal
    request_id: str = ""


class RepriceFailed(Event, frozen=True, kw_only=True):
    adv_no: str
    price: Decimal
    code: int | None
    message: str
    will_retry: bool
    sent: bool = True  # False: refused before it left (a pause, the breaker): Binance never saw it
    wait_s: float = 0.0  # 83628: Binance asked this ad to wait this long


class RepriceDone(Event, frozen=True, kw_only=True):
    """A reprice (with its retries, its valid-price search and any refresh) has ended: the ad may
    be priced again. `restarted`: it ended because the ads actor was restarted."""

    adv_no: str
    restarted: bool = False


class AdPaused(Event, frozen=True, kw_only=True):
    adv_no: str
    code: int
    reason: str


class AdResumed(Event, frozen=True, kw_only=True):
    adv_no: str


class AdStatusChanged(Event, frozen=True, kw_only=True):
    adv_nos: tuple[str, ...]
    status: int
    failed: tuple[str, ...] = ()


class DryRunSkipped(Event, frozen=True, kw_only=True):
    """An effect that --dry-run recorded instead of sending.

    A chat message the dry run would have said names its order and why ("greeting",
    "auto_reply"), so a restarted chat of the same dry run greets no order twice; it is no
    ChatSendRequest, so nothing ever sends it and a later real run does not count it as said.
    """

    endpoint: str
    body: str
    order_no: str = ""
    reason: str = ""


# --- orders -------------------------------------------------------------------------------------


class OrderOpened(Event, frozen=True, kw_only=True):
    order_no: str
    adv_no: str
    side: Side  # the merchant's side of the trade (my ad's tradeType)
    asset: str
    fiat: str
    amount: Decimal
    price: Decimal
    total_price: Decimal
    status: int
    counterparty: str = ""
    create_time_ms: int = 0


class OrderStatusChanged(Event, frozen=True, kw_only=True):
    order_no: str
    old_status: int
    new_status: int


class OrderDetailRefused(Event, frozen=True, kw_only=True):
    """An order that left the open list got no detail from EP-13 for the `tries`-th time this
    session; `answered`: Binance answered with a refusal, rather than the call failing.

    After FOLLOW_TRIES answered refusals the orders actor stops asking (reference §5: an order
    Binance does not know gets 400 -1102); a restarted one folds these and does not start over.
    """

    order_no: str
    tries: int
    answered: bool = True


# --- chat ---------------------------------------------------------------------------------------


class ChatConnected(Event, frozen=True, kw_only=True):
    attempt: int


class ChatDisconnected(Event, frozen=True, kw_only=True):
    reason: str


class ChatFrameReceived(Event, frozen=True, kw_only=True):
    """One WebSocket text frame exactly as received, for replay."""

    text: str


class ChatFrameSent(Event, frozen=True, kw_only=True):
    text: str


class ChatMessageReceived(Event, frozen=True, kw_only=True):
    message_id: str
    order_no: str
    msg_type: str
    content: str
    self_sent: bool = False
    create_time_ms: int = 0
    source: Literal["socket", "history"] = "socket"
    nickname: str = ""  # the sender's, when the frame carried one (first deliveries never do)


class ChatNicknameSeen(Event, frozen=True, kw_only=True):
    """A later copy of a message named its sender, which its first delivery did not."""

    message_id: str
    order_no: str
    nickname: str


class ChatServerError(Event, frozen=True, kw_only=True):
    """An `error` frame from the chat server (e.g. ILLEGAL_PARAM); never answered."""

    content: str


class ChatSendRequest(Event, frozen=True, kw_only=True):
    """Write-ahead of a chat reply: durable in the log before the frame leaves."""

    order_no: str
    uuid: str
    content: str
    reason: Literal["greeting", "auto_reply"]
    keyword: str | None = None


class ChatMessageSent(Event, frozen=True, kw_only=True):
    order_no: str
    uuid: str
    content: str
    reason: Literal["greeting", "auto_reply"]


# --- bad input and supervision ------------------------------------------------------------------


class DecodeFailed(Event, frozen=True, kw_only=True):
    """Input that could not be understood: kept raw, with the typed error that rejected it."""

    source: str  # "EP-0", "chat-frame", ...
    error: str
    message: str
    raw: bytes = b""


class ActorFailed(Event, frozen=True, kw_only=True):
    actor: str
    error: str
    message: str
    restart_in_s: float


class ActorStarted(Event, frozen=True, kw_only=True):
    actor: str
    attempt: int = 1


class BacktestCompleted(Event, frozen=True, kw_only=True):
    """One strategy's result over the books of one or more recorded sessions."""

    strategy: str
    params: str  # the strategy's parameters as JSON (strategies.registry.AnyParams)
    source_sessions: tuple[int, ...]
    snapshots: int
    filled_volume: Decimal  # crypto
    vwap: Decimal | None  # both sides' fills together; see vwap_sell / vwap_buy
    vs_best: Decimal | None  # fiat per unit, signed so that positive is better for me
    margin: Decimal | None  # against the opposite side's best
    share_rank1: Decimal  # 0..1 of time
    share_top3: Decimal
    reprices: int
    requests_per_s: Decimal
    price_wars: int
    vwap_sell: Decimal | None = None  # my SELL ad's fills only
    vwap_buy: Decimal | None = None  # my BUY ad's fills only
    filters: str = ""  # the FiltersConfig as JSON
    war_ratchet: Decimal | None = None  # backtest.wars: fiat per unit my price gave in rounds
    war_cost: Decimal | None = None  # fiat given away on fills during wars
    fills: Decimal | None = None  # the expected number of orders
    pnl: Decimal | None = None  # fiat: realised spread on the matched volume, less its fees
    equity: Decimal | None = None  # fiat: cash - fees + inventory marked to the mid
    fees: Decimal | None = None
    max_drawdown: Decimal | None = None  # of the equity curve
    pnl_ci_low: Decimal | None = None  # per-day bootstrap, 5%..95% (two days or more)
    pnl_ci_high: Decimal | None = None
    market: str = ""  # ASSET/FIAT when the recording held several markets


class SessionSummary(Event, frozen=True, kw_only=True):
    """What a later run must remember of this session and every one before it, logged last
    when a run stops, so that start-up reads this one event instead of months of history.

    `orders` holds the orders still open (advNo -> status) and `greeted` those of them greeted;
    an ended order never needs either again. `seen_ids` are the chat message ids already seen.
    What a next session carries on with (a rotated one starts a moment later): `requests`, the
    request number each actor reached (its ids go on from there); `paused_until_ms`, each
    host's pause or open breaker (wall ms it ends); `reprices_ms`, each ad's reprices of its
    last minute (wall ms sent), which its rate cap still counts.
    """

    orders: dict[str, int] = {}
    greeted: tuple[str, ...] = ()
    seen_ids: tuple[str, ...] = ()
    last_event_ms: int = 0
    requests: dict[str, int] = {}
    paused_until_ms: dict[str, int] = {}
    reprices_ms: dict[str, tuple[int, ...]] = {}


class RunStopped(Event, frozen=True, kw_only=True):
    reason: str  # "duration", "signal", "fatal", "done", "rotated" (app/rotate.py)
    message: str = ""


# --- alerts to the merchant ---------------------------------------------------------------------


class AlertSent(Event, frozen=True, kw_only=True):
    """One alert delivered to one channel ("telegram", "webhook"). Replay answers from these."""

    channel: str
    kind: str  # "order_opened", "order_paid", "ad_paused", "breaker_opened", ...
    key: str  # what de-duplicates it: "order_paid:<orderNo>"
    text: str
    status: int = 0  # the channel's HTTP status


class AlertFailed(Event, frozen=True, kw_only=True):
    """An alert one channel did not take (transport error, refusal, timeout); never retried
    more than once, never a reason to slow trading."""

    channel: str
    kind: str
    key: str
    error: str  # never holds the bot token or the webhook URL
    status: int | None = None
