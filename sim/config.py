"""The simulator's settings: the market it plays, the account it serves and the faults it injects.

The demo key and secret are published on purpose: they open nothing but this simulator.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from c2c.credentials import Secret

DEMO_API_KEY = "simDemoKey0000000000000000000000000000000000000000000000000000000"
DEMO_SECRET = "simDemoSecret000000000000000000000000000000000000000000000000000"


class Faults(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """What goes wrong on purpose.

    Attributes:
        error_rate: share (0..1) of requests that pass the rate, method and auth checks
            answered instead with a random error from the reference's table.
        latency_ms: delay added to every HTTP answer.
        latency_spike_ms: extra delay added with probability `latency_spike_probability`.
        latency_spike_probability: 0..1.
        drop_ws_every_s: close each chat socket this long after it was opened (0: never).
        clock_skew_ms: added to the wall clock for serverTime and the timestamp check.
        allow_ban_statuses: let the error mix include HTTP 418 and 451 (off: never sent).
    """

    error_rate: float = 0.0
    latency_ms: int = 0
    latency_spike_ms: int = 0
    latency_spike_probability: float = 0.0
    drop_ws_every_s: float = 0.0
    clock_skew_ms: int = 0
    allow_ban_statuses: bool = False


class SimConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The simulated exchange: one market, one merchant account (the bot's), many competitors.

    Attributes:
        seed: seeds every random choice; the same seed and the same bot give the same market.
        asset, fiat, fiat_symbol: the market served (other pairs get an empty book).
        ref_price: the reference price competitors start around.
        band: EP-7 refuses (187055) a price farther than this share from the current reference.
        volatility: standard deviation of the reference's relative move per second.
        competitors_per_side: competitor ads on each side.
        reactive_share: share of competitors that answer the bot's price after a few seconds.
        order_rate_per_s: counterparty orders per second on each side of the book.
        tick_s: the market's step.
        bot_pay_methods: pay method identifiers of the bot's two ads.
        status_list_reject_share: share of EP-8 calls with a JSON list refused with -1102.
        credential_ttl_s: how long a chat listenKey/token stays valid after it was issued.
        api_key, api_secret: the bot account's credentials.
    """

    seed: int = 7
    asset: str = "USDT"
    fiat: str = "NGN"
    fiat_symbol: str = "₦"
    ref_price: Decimal = Decimal("1600.00")
    band: Decimal = Decimal("0.05")
    volatility: float = 0.0002
    competitors_per_side: int = 12
    reactive_share: float = 0.25
    order_rate_per_s: float = 0.12
    tick_s: float = 0.25
    bot_nickname: str = "SimBotMerchant"
    bot_pay_methods: tuple[str, ...] = ("BANK", "OPay")
    bot_surplus: Decimal = Decimal("2500.00")
    bot_min_amount: Decimal = Decimal("5000.00")
    bot_max_amount: Decimal = Decimal("800000.00")
    status_list_reject_share: float = 0.0
    credential_ttl_s: float = 3600.0
    api_key: str = DEMO_API_KEY
    api_secret: Secret = Secret(DEMO_SECRET)
    faults: Faults = Faults()
