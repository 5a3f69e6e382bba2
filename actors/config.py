"""The bot's configuration: bot.toml decoded into frozen Structs that forbid unknown keys.

Every key has a default. Credentials are not configuration: they come from the environment
(`c2c.credentials`) and never enter these Structs, so a config can be logged with the session.
"""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Literal

import msgspec

from strategies.params import FiltersConfig, StrategyConfig


class _Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


MAX_RECV_WINDOW_MS = 60000  # Binance refuses more (reference §2: -1131 / -1102)


class ExchangeConfig(_Section, frozen=True):
    sapi_url: str = "https://api.binance.com"
    bapi_url: str = "https://p2p.binance.com"
    recv_window_ms: int = 60000


class MarketConfig(_Section, frozen=True):
    asset: str = "USDT"
    fiat: str = "NGN"
    pages: int = 3
    poll_interval_s: float = 10.0
    pay_types: tuple[str, ...] = ()
    trans_amount: Decimal | None = None
    # EP-0's publisherType: "merchant" lists merchants' ads only; "all" lists users' ads too,
    # which can rank above mine (reference §3).
    publisher_type: Literal["merchant", "all"] = "merchant"


class AdsConfig(_Section, frozen=True):
    adv_nos: tuple[str, ...] = ()
    refresh_s: float = 60.0  # EP-4 refresh, also how a paused ad is seen back online
    online_on_start: bool = False  # put managed ads that are offline online (EP-8) at start


class LimitsConfig(_Section, frozen=True):
    rps: float = 5.0
    page_delay_s: float = 0.1
    breaker_failures: int = 15
    breaker_open_s: float = 45.0


class OrdersConfig(_Section, frozen=True):
    poll_interval_s: float = 5.0


class ChatConfig(_Section, frozen=True):
    greeting: str = (
        "Hello! Thanks for your order. Please pay within the time limit and mark it as paid."
    )
    auto_replies: dict[str, str] = {}
    credential_refresh_s: float = 1800.0


class BotConfig(_Section, frozen=True):
    exchange: ExchangeConfig = ExchangeConfig()
    market: MarketConfig = MarketConfig()
    ads: AdsConfig = AdsConfig()
    strategy: StrategyConfig = StrategyConfig()
    filters: FiltersConfig = FiltersConfig()
    limits: LimitsConfig = LimitsConfig()
    orders: OrdersConfig = OrdersConfig()
    chat: ChatConfig = ChatConfig()


class ConfigError(Exception):
    """bot.toml cannot be used; the message says which key and why, in one line."""


def _check(cfg: BotConfig) -> BotConfig:
    problems = []
    if not 0 < cfg.exchange.recv_window_ms <= MAX_RECV_WINDOW_MS:
        problems.append(f"exchange.recv_window_ms must be within 1..{MAX_RECV_WINDOW_MS} "
                        f"(Binance refuses more), not {cfg.exchange.recv_window_ms}")
    if cfg.limits.rps <= 0:
        problems.append("limits.rps must be > 0")
    if cfg.market.pages < 1:
        problems.append("market.pages must be >= 1")
    if cfg.strategy.step <= 0:
        problems.append("strategy.step must be > 0")
    if cfg.strategy.floor > cfg.strategy.ceiling:
        problems.append("strategy.floor must not exceed strategy.ceiling")
    if not Decimal("0") <= cfg.filters.min_finish_rate <= Decimal("1"):
        problems.append("filters.min_finish_rate must be within 0..1")
    if problems:
        raise ConfigError("; ".join(problems))
    return cfg


def load_config(data: dict) -> BotConfig:
    """Convert a parsed TOML mapping into a checked BotConfig.

    Raises:
        ConfigError: an unknown key, a value of the wrong type, or a value out of range.
    """
    try:
        cfg = msgspec.convert(data, BotConfig, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"bad configuration: {exc}") from None
    return _check(cfg)


def read_config(path: str | Path | None) -> BotConfig:
    """Read bot.toml at `path` (None: all defaults).

    Raises:
        ConfigError: the file is missing, is not TOML, or holds a bad key or value.
    """
    if path is None:
        return BotConfig()
    try:
        data = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    return load_config(data)


class SessionConfig(_Section, frozen=True):
    """What a session ran with, as stored in the sessions table: enough to replay it.

    It holds no secret by construction: credentials never enter a config Struct.
    """

    bot: BotConfig = BotConfig()
    actors: tuple[str, ...] = ()
    seed: int = 0
    dry_run: bool = False


def config_json(cfg: BotConfig, *, actors: tuple[str, ...] = (), seed: int = 0,
                dry_run: bool = False) -> str:
    """The session's config as JSON for the sessions table."""
    return msgspec.json.encode(SessionConfig(bot=cfg, actors=actors, seed=seed,
                                             dry_run=dry_run)).decode()


def session_config(text: str) -> SessionConfig:
    """Decode a sessions-table config written by `config_json`.

    Raises:
        ConfigError: the stored config does not decode (another program's session).
    """
    try:
        return msgspec.json.decode(text, type=SessionConfig)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ConfigError(f"the session's stored config cannot be read: {exc}") from None
