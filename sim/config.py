"""The simulator's settings: the market it plays, the account it serves, how strictly it plays
Binance, and the faults it injects.

`SimConfig` holds behaviours Binance shows routinely, or whose exact trigger the reference leaves
open (its §10), each with the realistic default of its §11. `Faults` holds what goes wrong on
purpose and is off by default. Every choice is validated when the Struct is built.

The demo key and secret are published on purpose: they open nothing but this simulator.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from c2c.credentials import Secret

DEMO_API_KEY = "simDemoKey" + "0" * 54  # 64 alphanumerics, the format of a real Binance key
DEMO_SECRET = "simDemoSecret000000000000000000000000000000000000000000000000000"

UNSIGNED_ANSWERS = ("401-1002", "400-1102", "400-2014", "401-2015")
RECV_WINDOW_REFUSALS = ("-1102", "-1131")
EP7_SUCCESS_SHAPES = ("null", "true", "absent", "mix")
OFFLINE_AD_ANSWERS = ("187022", "83229")
REST_MODE_ANSWERS = ("83229", "83230")
WEIGHT_HEADERS = ("present", "absent")
WS_CLOSE_KINDS = ("1000", "1002", "drop")
PUBLIC_ERROR_KINDS = ("429", "403", "418", "5xx")
BAD_FRAME_ANSWERS = ("ignore", "illegal_param")


def _check(name: str, value: object, allowed: tuple) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(str, allowed))}; got {value!r}")


class Faults(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """What goes wrong on purpose (all off by default).

    Attributes:
        error_rate: share (0..1) of SAPI requests that pass the rate, method and auth checks
            answered instead with a random error from the reference's table.
        error_kinds: the kinds (names of `sim.answers.KINDS`) that error_rate draws from; empty:
            the reference's mix for the endpoint (5xx, 429, 403, -1021, 187049 on EP-7).
        public_error_rate: share (0..1) of EP-0 calls answered with a public-host fault, while
            SAPI is untouched.
        public_error_kinds: drawn from "429", "403", "418", "5xx".
        latency_ms: delay added to every HTTP answer.
        latency_spike_ms: extra delay added with probability `latency_spike_probability`.
        latency_spike_probability: 0..1.
        ws_close_every_s: close each chat socket this long after it opened (0: never), the
            close drawn from `ws_close_kinds`: "1000" normal, "1002" with one of Netty's reason
            texts, "drop" no close frame at all (reference §8).
        ws_close_kinds: see above.
        drop_ws_every_s: the older name of ws_close_every_s, used when that one is 0.
        ws_illegal_param_probability: share (0..1) of the bot's frames answered with the
            `{"content":"ILLEGAL_PARAM","self":false,"type":"error"}` frame, then a normal
            close 0.7 s later (reference §8).
        clock_skew_ms: added to the wall clock for serverTime and the timestamp check.
        allow_ban_statuses: let the error mix include HTTP 418 and 451 (off: never sent).
    """

    error_rate: float = 0.0
    error_kinds: tuple[str, ...] = ()
    public_error_rate: float = 0.0
    public_error_kinds: tuple[str, ...] = ("429",)
    latency_ms: int = 0
    latency_spike_ms: int = 0
    latency_spike_probability: float = 0.0
    ws_close_every_s: float = 0.0
    ws_close_kinds: tuple[str, ...] = WS_CLOSE_KINDS
    drop_ws_every_s: float = 0.0
    ws_illegal_param_probability: float = 0.0
    clock_skew_ms: int = 0
    allow_ban_statuses: bool = False

    def __post_init__(self) -> None:
        from sim.answers import KINDS  # the catalogue imports this module

        for kind in self.error_kinds:
            _check("error_kinds", kind, tuple(KINDS))
        for kind in self.public_error_kinds:
            _check("public_error_kinds", kind, PUBLIC_ERROR_KINDS)
        for kind in self.ws_close_kinds:
            _check("ws_close_kinds", kind, WS_CLOSE_KINDS)
        if not self.ws_close_kinds:
            raise ValueError("ws_close_kinds must name at least one kind")

    @property
    def close_every_s(self) -> float:
        """The chat socket lifetime in force (ws_close_every_s, else drop_ws_every_s)."""
        return self.ws_close_every_s or self.drop_ws_every_s


class SimMarket(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One more market the simulator serves (`SimConfig.markets`): its own book, competitors,
    customers and the bot's two ads, around its own reference price."""

    asset: str
    fiat: str
    ref_price: Decimal
    fiat_symbol: str = ""


# The demo's markets, in the order `--markets N` takes them: (asset, fiat, reference, symbol).
DEMO_MARKETS = (("USDT", "NGN", "1600.00", "₦"), ("BTC", "NGN", "150000000.00", "₦"),
                ("ETH", "NGN", "5400000.00", "₦"), ("USDC", "NGN", "1600.00", "₦"))


def demo_markets(n: int) -> tuple[SimMarket, ...]:
    """The markets for `--markets n` (1..4); one market is the plain SimConfig's.

    Raises:
        ValueError: n is out of range.
    """
    if not 1 <= n <= len(DEMO_MARKETS):
        raise ValueError(f"--markets must be within 1..{len(DEMO_MARKETS)}, not {n}")
    if n == 1:
        return ()
    return tuple(SimMarket(asset=a, fiat=f, ref_price=Decimal(ref), fiat_symbol=sym)
                 for a, f, ref, sym in DEMO_MARKETS[:n])


class SimConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The simulated exchange: its markets, one merchant account (the bot's), many competitors.

    Market:
        seed: seeds every random choice; the same seed and the same bot give the same market.
        asset, fiat, fiat_symbol: the market served (other pairs get an empty book).
        markets: the markets served when set (the first is usually this asset/fiat), each
            with the other market settings above; empty: the one market above. The rate
            limit and the account are shared by all of them, as Binance's are per account
            (reference §1).
        ref_price: the reference price competitors start around.
        band: EP-7 refuses (187055) a price farther than this share from the current reference.
        volatility: standard deviation of the reference's relative move per second.
        competitors_per_side: competitor ads on each side.
        user_share: share of competitor ads published by non-merchants (userType "user",
            classify "mass"); in the captured books most rows are theirs (reference §3).
        aggressive_user_share: share of those priced like merchants, so that a non-merchant
            can hold rank 1 (as in the 2026 USDT/MXN capture); the rest sit further back.
        reactive_share: share of merchant competitors that answer the bot's price.
        order_rate_per_s: counterparty orders per second on each side of the book.
        tick_s: the market's step.
        bot_pay_methods: pay method identifiers of the bot's two ads.
        status_list_reject_share: share of EP-8 calls with a JSON list refused with -1102.

    Signing (reference §2, §11):
        unsigned_detail_answer: what a signed call without timestamp and signature gets:
            "401-1002" (captured on EP-13), "400-1102", "400-2014" or "401-2015".
        recv_window_refusal: recvWindow over 60000 is refused with "-1102" (today's
            errors.md text) or "-1131" (2019 change log).
        client_type_everywhere: require the clientType header on every SAPI call, not only on
            retrieveChatCredential.
        weight_headers: "present" puts X-SAPI-USED-IP-WEIGHT-1M on SAPI successes, "absent"
            never (reference §7: not captured either way).

    ads/update, EP-7 (reference §4, §7):
        ep7_success: the success body's data: "null", "true", "absent" (no data key) or "mix".
        ep7_burst_limit, ep7_burst_window_s: more than `limit` updates of one ad within the
            window get 83628, and the ad stays refused for `ep7_cooldown_s`.
        order_race_window_s: an update within this long after an order opened on the ad gets
            -9000/187049.
        offline_ad_update: what an update of an offline ad gets: "187022" or "83229".
        rest_mode_answer: what an update in rest mode gets: "83229" or "83230".
        ep7_suspended_s: updates refused with 83723 for this long from the start (0: never).

    Chat (reference §8):
        chat_read_copy_share: share of pushed messages repeated as a `status:"read"` copy.
        chat_read_delay_s: (low, high) seconds after the first delivery for the read copy.
        chat_extra_copy_share: share of read copies sent once or twice more.
        chat_empty_nickname_share: share of counterparty read copies with fromNickname "".
        chat_nlp_share: share of counterparty texts followed by a system nlp_third_party frame.
        chat_auto_reply: the bot's ad auto-reply pushed on a new order ("" for none).
        history_from_nickname: EP-34 items carry `fromNickName` (schema) rather than omit it
            as the 2026 capture does.
        revoke_credential_on_close: a listenKey whose socket the server closed is refused
            afterwards, so the bot must fetch a new credential.
        ws_ping_interval_s: the server's ping period (payload 08 01 08 01).
        ws_bad_frame_answer: a bot frame that is not a message for a known order is
            "ignore"d or answered "illegal_param" (the error frame, then a close).
        credential_ttl_s: how long a chat listenKey/token stays valid after it was issued.

    Account:
        api_key, api_secret: the bot account's credentials.
        bot_nickname, bot_surplus, bot_min_amount, bot_max_amount: the bot's two ads.
        bot_floating_sides: sides ("SELL", "BUY") whose bot ad is a floating-price ad
            (priceType 2): its price is the reference times its priceFloatingRatio / 100,
            following the reference as it drifts (reference §4).
    """

    seed: int = 7
    asset: str = "USDT"
    fiat: str = "NGN"
    fiat_symbol: str = "₦"
    ref_price: Decimal = Decimal("1600.00")
    band: Decimal = Decimal("0.05")
    volatility: float = 0.0002
    competitors_per_side: int = 12
    user_share: float = 0.4
    aggressive_user_share: float = 0.5
    reactive_share: float = 0.25
    order_rate_per_s: float = 0.12
    tick_s: float = 0.25
    bot_nickname: str = "SimBotMerchant"
    bot_pay_methods: tuple[str, ...] = ("BANK", "OPay")
    bot_surplus: Decimal = Decimal("2500.00")
    bot_min_amount: Decimal = Decimal("5000.00")
    bot_max_amount: Decimal = Decimal("800000.00")
    bot_floating_sides: tuple[str, ...] = ()
    status_list_reject_share: float = 0.0
    unsigned_detail_answer: str = "401-1002"
    recv_window_refusal: str = "-1102"
    client_type_everywhere: bool = False
    weight_headers: str = "present"
    ep7_success: str = "null"
    ep7_burst_limit: int = 5
    ep7_burst_window_s: float = 5.0
    ep7_cooldown_s: float = 30.0
    order_race_window_s: float = 0.5
    offline_ad_update: str = "187022"
    rest_mode_answer: str = "83229"
    ep7_suspended_s: float = 0.0
    chat_read_copy_share: float = 1.0
    chat_read_delay_s: tuple[float, float] = (1.0, 8.0)
    chat_extra_copy_share: float = 0.1
    chat_empty_nickname_share: float = 0.72
    chat_nlp_share: float = 0.1
    chat_auto_reply: str = "Welcome! Please pay within the time limit; I release at once."
    history_from_nickname: bool = False
    revoke_credential_on_close: bool = True
    ws_ping_interval_s: float = 30.0
    ws_bad_frame_answer: str = "ignore"
    credential_ttl_s: float = 3600.0
    api_key: str = DEMO_API_KEY
    api_secret: Secret = Secret(DEMO_SECRET)
    faults: Faults = Faults()
    markets: tuple[SimMarket, ...] = ()

    def market_configs(self) -> list[SimConfig]:
        """One SimConfig per market served, this one's other settings kept."""
        if not self.markets:
            return [self]
        return [msgspec.structs.replace(self, asset=m.asset, fiat=m.fiat, ref_price=m.ref_price,
                                        fiat_symbol=m.fiat_symbol or self.fiat_symbol,
                                        markets=())
                for m in self.markets]

    def __post_init__(self) -> None:
        _check("unsigned_detail_answer", self.unsigned_detail_answer, UNSIGNED_ANSWERS)
        _check("recv_window_refusal", self.recv_window_refusal, RECV_WINDOW_REFUSALS)
        _check("weight_headers", self.weight_headers, WEIGHT_HEADERS)
        _check("ep7_success", self.ep7_success, EP7_SUCCESS_SHAPES)
        _check("offline_ad_update", self.offline_ad_update, OFFLINE_AD_ANSWERS)
        _check("rest_mode_answer", self.rest_mode_answer, REST_MODE_ANSWERS)
        _check("ws_bad_frame_answer", self.ws_bad_frame_answer, BAD_FRAME_ANSWERS)
        for side in self.bot_floating_sides:
            _check("bot_floating_sides", side, ("SELL", "BUY"))
        if len({(m.asset, m.fiat) for m in self.markets}) != len(self.markets):
            raise ValueError("markets must not name one asset/fiat twice")
        low, high = self.chat_read_delay_s
        if not 0 <= low <= high:
            raise ValueError("chat_read_delay_s must be (low, high) with 0 <= low <= high")
