"""The bot's configuration: bot.toml decoded into frozen Structs that forbid unknown keys.

Every key has a default. `[ads.overrides."<advNo>"]` gives one ad its own [strategy] and
[filters] keys; `BotConfig.pricing_for(adv_no)` returns what prices that ad. Credentials are not
configuration: they come from the environment (`c2c.credentials`) and never enter these Structs,
so a config can be logged with the session.
"""

from __future__ import annotations

import tomllib
import typing
from decimal import Decimal
from pathlib import Path
from typing import Literal

import msgspec
from msgspec.structs import replace

from strategies.params import FiltersConfig, StrategyParams
from strategies.quote import UnknownStrategy
from strategies.registry import (STRATEGIES, AnyParams, ParamsError, all_keys, decode_params,
                                 default_params, foreign_keys, keys_of, retag)


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

    @property
    def key(self) -> tuple[str, str]:
        """(asset, fiat): what books, ads and orders of this market carry."""
        return (self.asset, self.fiat)

    @property
    def name(self) -> str:
        """ASSET/FIAT, as screens and summaries show a market."""
        return f"{self.asset}/{self.fiat}"


def _override_struct() -> type[msgspec.Struct]:
    # Every key of every registered strategy and of [filters], each optional: built from the
    # registry so that a new strategy's keys can be overridden per ad without an edit here.
    hints: dict[str, object] = {"name": str}
    for spec in STRATEGIES.values():
        own = typing.get_type_hints(spec.params)
        hints.update({k: own[k] for k in spec.params.__struct_fields__ if k not in hints})
    filters = typing.get_type_hints(FiltersConfig)
    hints.update({k: filters[k] for k in FiltersConfig.__struct_fields__})
    return msgspec.defstruct(
        "AdOverride", [(k, t | None, None) for k, t in hints.items()], bases=(_Section,),
        module=__name__, frozen=True, omit_defaults=True)


# One ad's own pricing, `[ads.overrides."<advNo>"]`: any [strategy] or [filters] key (a key
# left unset, None, takes the global [strategy] or [filters] value); a `name` picks another
# strategy, whose own keys the override must then set or take as defaults.
AdOverride = _override_struct()
OVERRIDE_KEYS = AdOverride.__struct_fields__
OVERRIDE_PREFIX = "ads.overrides."
_STRATEGY_KEYS = frozenset(all_keys())


class AdsConfig(_Section, frozen=True):
    adv_nos: tuple[str, ...] = ()
    refresh_s: float = 60.0  # EP-4 refresh, also how a paused ad is seen back online
    online_on_start: bool = False  # put managed ads that are offline online (EP-8) at start
    overrides: dict[str, AdOverride] = {}  # advNo -> its own [strategy] / [filters] keys


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


class LogConfig(_Section, frozen=True):
    """`[log]`: the event log's sessions. A live or record run longer than `rotate_after_h`
    hours goes on in a new session every `rotate_after_h` hours (app/rotate.py); 0 never
    rotates."""

    rotate_after_h: float = 24.0


class BacktestConfig(_Section, frozen=True):
    """`[backtest]`: how a backtest counts money and fills.

    Attributes:
        fee_rate: the fee per side, as a share of each fill's notional (0.001 = 0.1%).
        choice_decay: the choice model's decay, 0 < decay < 1; None estimates it from the
            recording (falling back to 0.5 with fewer than 30 orders to fit on).
        price_tolerance: the relative price move of an ad between two snapshots under which
            the rank of an order it took still counts as known.
        pay_methods: a customer only takes ads they can pay (both list methods and share one).
        reaction_s: seconds from a decision until my new price is live; None measures it in
            the log (0 when the log holds no acknowledged reprice).
    """

    fee_rate: Decimal = Decimal(0)
    choice_decay: Decimal | None = None
    price_tolerance: Decimal = Decimal("0.001")
    pay_methods: bool = True
    reaction_s: float | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.fee_rate < 1:
            raise ValueError("backtest.fee_rate must be in [0, 1)")
        if self.choice_decay is not None and not 0 < self.choice_decay < 1:
            raise ValueError("backtest.choice_decay must be between 0 and 1")
        if self.price_tolerance < 0 or (self.reaction_s is not None and self.reaction_s < 0):
            raise ValueError("backtest.price_tolerance and reaction_s must not be negative")
ALERT_KINDS = ("order_opened", "order_paid", "order_appeal", "order_cancelled", "ad_paused",
               "ad_resumed", "breaker_opened", "run_stopped", "price_war", "daily_summary")


class AlertsConfig(_Section, frozen=True):
    """[alerts]: what the notifier sends and how often. Where it sends is not configuration:
    BOT_TELEGRAM_TOKEN / BOT_TELEGRAM_CHAT_ID and BOT_ALERT_WEBHOOK_URL come from the environment
    (a webhook URL is a credential too, and this config is stored with every session)."""

    enabled: bool = True
    kinds: tuple[str, ...] = ALERT_KINDS
    dedup_s: float = 600.0  # the same key (e.g. one ad's pause) alerts once in this window
    max_per_minute: int = 20  # per channel; Telegram allows ~20/min into one group
    queue_size: int = 50  # alerts waiting per channel; beyond it new ones are dropped, counted
    timeout_s: float = 10.0
    daily_summary_utc: str = "20:00"  # HH:MM UTC; "" sends none
    telegram_api_url: str = "https://api.telegram.org"
    stop_timeout_s: float = 3.0  # how long a stopping run waits to send its last alert


class BotConfig(_Section, frozen=True):
    """The whole bot.toml. The markets traded are `[[markets]]` entries, or the one `[market]`
    table of older configs (`all_markets()` gives either as a tuple)."""

    exchange: ExchangeConfig = ExchangeConfig()
    market: MarketConfig = MarketConfig()
    markets: tuple[MarketConfig, ...] = ()
    ads: AdsConfig = AdsConfig()
    strategy: AnyParams = default_params()
    filters: FiltersConfig = FiltersConfig()
    limits: LimitsConfig = LimitsConfig()
    orders: OrdersConfig = OrdersConfig()
    chat: ChatConfig = ChatConfig()
    backtest: BacktestConfig = BacktestConfig()
    alerts: AlertsConfig = AlertsConfig()
    log: LogConfig = LogConfig()

    def all_markets(self) -> tuple[MarketConfig, ...]:
        """The markets this bot trades, in config order: `[[markets]]`, else `[market]`."""
        return self.markets or (self.market,)

    def market_for(self, asset: str, fiat: str) -> MarketConfig | None:
        """The configured market of `asset`/`fiat`, or None when it is not traded."""
        return next((m for m in self.all_markets() if m.key == (asset, fiat)), None)

    def pricing_for(self, adv_no: str) -> tuple[StrategyParams, FiltersConfig]:
        """Return the [strategy] and [filters] that price ad `adv_no`, its override applied."""
        return merge_override(self.strategy, self.filters, self.ads.overrides.get(adv_no))


class ConfigError(Exception):
    """bot.toml cannot be used; the message says which key and why, in one line."""


def merge_override(strategy: StrategyParams, filters: FiltersConfig,
                   override: AdOverride | None) -> tuple[StrategyParams, FiltersConfig]:
    """Return `strategy` and `filters` with the keys `override` sets replaced (None: as given).

    A `name` makes the ad another strategy's: the global keys that strategy takes carry over.

    Raises:
        UnknownStrategy: the override names no registered strategy.
        ParamsError: the override sets a key its strategy does not take.
    """
    if override is None:
        return strategy, filters
    ours = {k: v for k in OVERRIDE_KEYS if (v := getattr(override, k)) is not None}
    mine = {k: v for k, v in ours.items() if k in _STRATEGY_KEYS and k != "name"}
    base = retag(strategy, ours.get("name", strategy.name))
    foreign = foreign_keys(mine, base.name)
    if foreign:
        raise ParamsError(f"{foreign[0]}: not a key of strategy {base.name!r} "
                          f"(its keys: {', '.join(keys_of(base.name))})")
    return (replace(base, **mine),
            replace(filters, **{k: v for k, v in ours.items() if k not in _STRATEGY_KEYS}))


def _pricing_problems(strategy: StrategyParams, filters: FiltersConfig) -> dict[str, str]:
    # key -> the rest of a sentence that starts with the key's path
    problems = strategy.problems()
    if not Decimal("0") <= filters.min_finish_rate <= Decimal("1"):
        problems["min_finish_rate"] = " must be within 0..1"
    return problems


def _override_problems(adv_no: str, strategy: StrategyParams, filters: FiltersConfig,
                       override: AdOverride) -> list[str]:
    # The merged settings are checked, but only the keys the override sets are reported: the
    # inherited ones are the global config's, reported once under their own path.
    try:
        merged = _pricing_problems(*merge_override(strategy, filters, override))
    except UnknownStrategy as exc:
        return [f'ads.overrides."{adv_no}".name: {exc}']
    except ParamsError as exc:
        return [f'ads.overrides."{adv_no}".{exc}']
    return [f'ads.overrides."{adv_no}".{key}{why}' for key, why in merged.items()
            if getattr(override, key) is not None]


def decode_overrides(raw: dict, strategy: StrategyParams,
                     filters: FiltersConfig) -> dict[str, AdOverride]:
    """Decode `ads.overrides` tables (advNo -> {key: value}) and check each merged over these.

    Raises:
        ConfigError: one line naming every bad advNo, key or value by its path.
    """
    problems = _override_key_problems(raw)
    if not problems:
        try:
            overrides = msgspec.convert(raw, dict[str, AdOverride], strict=False)
        except msgspec.ValidationError as exc:
            raise ConfigError(f"ads.overrides: {exc}") from None
        for adv_no, override in overrides.items():
            problems += _override_problems(adv_no, strategy, filters, override)
    if problems:
        raise ConfigError("; ".join(problems))
    return overrides


def split_ad_key(key: str) -> tuple[str, str] | None:
    """Split a command line's `ads.overrides.<advNo>.<key>` into (advNo, key).

    The advNo may be quoted as in bot.toml (`ads.overrides."123".floor`).

    Returns:
        None for a key that does not start with "ads.overrides.".

    Raises:
        ConfigError: the advNo or the key is missing.
    """
    if not key.startswith(OVERRIDE_PREFIX):
        return None
    adv_no, dot, field = key.removeprefix(OVERRIDE_PREFIX).rpartition(".")
    if not dot or not adv_no or not field:
        raise ConfigError(f"a per-ad setting is {OVERRIDE_PREFIX}<advNo>.<key>, got {key!r}")
    return adv_no.strip('"'), field


def cli_value(key: str, text: str) -> str | list[str]:
    """Return a command line's `text` for config `key`: a comma-separated list for a list key,
    else the text itself, which the lax decoding turns into a number, Decimal or bool."""
    if key.rpartition(".")[2] == "exclude_nicknames":
        return [v.strip() for v in text.split(",") if v.strip()]
    return text


def _override_key_problems(overrides) -> list[str]:
    # Non-digit advNos, unknown keys and values of the wrong type, each named by its path,
    # before msgspec, whose own message would hide the advNo.
    if not isinstance(overrides, dict):
        return []  # absent, or of the wrong type: msgspec says so
    problems = []
    for adv_no, keys in overrides.items():
        where = f'ads.overrides."{adv_no}"'
        if not (isinstance(adv_no, str) and adv_no.isascii() and adv_no.isdigit()):
            problems.append(f"{where}: an advNo is a string of digits")
        elif isinstance(keys, dict):
            problems += [_key_problem(where, key, value) for key, value in keys.items()]
    return [p for p in problems if p]


def _key_problem(where: str, key, value) -> str | None:
    if key not in OVERRIDE_KEYS:
        return f"{where}.{key}: unknown key (known: {', '.join(OVERRIDE_KEYS)})"
    try:
        msgspec.convert({key: value}, AdOverride, strict=False)
    except msgspec.ValidationError as exc:
        return f"{where}.{key}: {str(exc).partition(' - at ')[0]}"
    return None


def _check(cfg: BotConfig) -> BotConfig:
    problems = []
    if not 0 < cfg.exchange.recv_window_ms <= MAX_RECV_WINDOW_MS:
        problems.append(f"exchange.recv_window_ms must be within 1..{MAX_RECV_WINDOW_MS} "
                        f"(Binance refuses more), not {cfg.exchange.recv_window_ms}")
    if cfg.log.rotate_after_h < 0:
        problems.append("log.rotate_after_h must be >= 0 (0: never rotate)")
    if cfg.limits.rps <= 0:
        problems.append("limits.rps must be > 0")
    problems += _markets_problems(cfg)
    problems += _alerts_problems(cfg.alerts)
    for key, why in _pricing_problems(cfg.strategy, cfg.filters).items():
        section = "strategy" if key in _STRATEGY_KEYS else "filters"
        problems.append(f"{section}.{key}{why}")
    overrides = cfg.ads.overrides
    if cfg.ads.adv_nos:
        # With adv_nos empty the managed ads are only known from EP-4: the ads actor checks.
        problems += [f"ads.overrides names advNo {adv_no} which is not in ads.adv_nos"
                     for adv_no in overrides if adv_no not in cfg.ads.adv_nos]
    for adv_no, override in overrides.items():
        problems += _override_problems(adv_no, cfg.strategy, cfg.filters, override)
    if problems:
        raise ConfigError("; ".join(problems))
    return cfg


def _markets_problems(cfg: BotConfig) -> list[str]:
    if not cfg.markets:
        return ["market.pages must be >= 1"] if cfg.market.pages < 1 else []
    problems, seen = [], set()
    for i, m in enumerate(cfg.markets):
        where = f"markets[{i}] ({m.name})"
        if m.key in seen:
            problems.append(f"{where}: {m.name} is configured twice; one [[markets]] entry "
                            f"per asset/fiat")
        seen.add(m.key)
        if m.pages < 1:
            problems.append(f"{where}.pages must be >= 1")
        if m.poll_interval_s <= 0:
            problems.append(f"{where}.poll_interval_s must be > 0")
    return problems


def _default_dump(market) -> bool:
    # Every key of [market], each at its default: a written-out config, not a user's table.
    if not isinstance(market, dict) or set(market) != set(MarketConfig.__struct_fields__):
        return False
    try:
        return msgspec.convert(market, MarketConfig, strict=False) == MarketConfig()
    except msgspec.ValidationError:
        return False


def _markets_layout_problem(data: dict) -> str | None:
    # Both forms at once would leave one silently unused. A whole config written back out
    # (msgspec.to_builtins) holds both, the unused one at its default: that is not a conflict.
    markets, market = data.get("markets"), data.get("market")
    empty = isinstance(markets, (list, tuple)) and not markets
    if markets is None or (empty and market is not None):
        return None
    if market is not None and not _default_dump(market):
        return ("config has both [market] and [[markets]]: keep one (a [market] table is "
                "one [[markets]] entry)")
    if empty:
        return "markets is empty: give at least one [[markets]] entry, or a [market] table"
    return None


def _alerts_problems(alerts: AlertsConfig) -> list[str]:
    problems = [f"alerts.kinds: unknown kind {k!r} (known: {', '.join(ALERT_KINDS)})"
                for k in alerts.kinds if k not in ALERT_KINDS]
    if alerts.daily_summary_utc and parse_hhmm(alerts.daily_summary_utc) is None:
        problems.append(f"alerts.daily_summary_utc must be HH:MM (UTC) or \"\", "
                        f"not {alerts.daily_summary_utc!r}")
    for key in ("max_per_minute", "queue_size", "timeout_s", "stop_timeout_s"):
        if getattr(alerts, key) <= 0:
            problems.append(f"alerts.{key} must be > 0")
    if alerts.dedup_s < 0:
        problems.append("alerts.dedup_s must be >= 0")
    return problems


def parse_hhmm(text: str) -> tuple[int, int] | None:
    """Return (hour, minute) for "HH:MM", or None when it is not a time of day."""
    hh, sep, mm = text.partition(":")
    if not (sep and hh.isdigit() and mm.isdigit() and len(mm) == 2):
        return None
    hour, minute = int(hh), int(mm)
    return (hour, minute) if hour < 24 and minute < 60 else None


def load_config(data: dict) -> BotConfig:
    """Convert a parsed TOML mapping into a checked BotConfig.

    Raises:
        ConfigError: an unknown key, a value of the wrong type, or a value out of range.
    """
    layout = _markets_layout_problem(data)
    if layout is not None:
        raise ConfigError(layout)
    ads = data.get("ads")
    problems = _override_key_problems(ads.get("overrides") if isinstance(ads, dict) else None)
    if problems:
        raise ConfigError("; ".join(problems))
    data = _named_strategy(data)
    try:
        cfg = msgspec.convert(data, BotConfig, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"bad configuration: {exc}") from None
    return _check(cfg)


def _named_strategy(data: dict, *, lenient: bool = False) -> dict:
    # [strategy] names its strategy ("undercut" when it does not) and holds only that one's
    # keys; msgspec then decodes it into that strategy's Struct.
    table = data.get("strategy")
    if not isinstance(table, dict):
        return data  # absent (the default), or of the wrong type: msgspec says so
    try:
        params = decode_params(table, lenient=lenient)
    except ParamsError as exc:
        raise ConfigError(str(exc)) from None
    return {**data, "strategy": params}


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
        raw = msgspec.json.decode(text)
        if isinstance(raw, dict) and isinstance(raw.get("bot"), dict):
            # Sessions stored before each strategy owned its keys carry every strategy's.
            bot = _named_strategy(raw["bot"], lenient=True)
            raw["bot"] = {**bot, "strategy": msgspec.to_builtins(bot["strategy"])} \
                if "strategy" in bot else bot
        return msgspec.json.decode(msgspec.json.encode(raw), type=SessionConfig)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ConfigError(f"the session's stored config cannot be read: {exc}") from None
