"""Where a backtest's books and settings come from: sessions of the log, and --set / --sweep.

Settings start from the recorded session's own [strategy], [filters] and [ads.overrides] (the
config it logged), so a backtest answers "what if this session had run strategy X", then --set
overrides them: `step=0.05`, `filters.min_month_orders=50`, or one recorded ad's own key,
`ads.overrides.<advNo>.floor=1500`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from decimal import Decimal, InvalidOperation

from typing import TYPE_CHECKING

import msgspec

from actors.config import (OVERRIDE_KEYS, OVERRIDE_PREFIX, AdOverride, ConfigError, cli_value,
                           decode_overrides, split_ad_key)
from events import BookSnapshot, MyAd, MyAdsLoaded
from backtest.engine import SessionTape
from strategies import FiltersConfig, ParamsError, StrategyParams, decode_params, default_params
from strategies.registry import all_keys

if TYPE_CHECKING:
    from store import EventLog, SessionInfo

MAX_GRID = 10_000
FILTERS_PREFIX = "filters."
_STRATEGY_KEYS = tuple(f for f in all_keys() if f != "name")
_FILTER_KEYS = FiltersConfig.__struct_fields__


class BacktestError(Exception):
    """The backtest cannot run as asked; the message is one line for the terminal."""


def open_source(path: str):
    """Open what a backtest reads: an event log (a file) or a Parquet export (a directory).

    Raises:
        store.LogError: not a log, or not a readable export (NotAnExport, ExportError).
    """
    from pathlib import Path

    if Path(path).is_dir():
        from store.parquet_books import open_books

        return open_books(path)
    from store import open_log

    return open_log(path, create=False)


def pick_sessions(log: EventLog, ids: Sequence[int] | None) -> list[SessionInfo]:
    """Return the sessions to backtest: `ids`, or the latest session holding a BookSnapshot.

    Raises:
        BacktestError: none of them holds a BookSnapshot.
        store.UnknownSession: an id is not in the log.
    """
    if ids:
        chosen = [log.session(i) for i in ids]
    else:
        recorded = [s for s in reversed(log.sessions()) if s.mode != "backtest"]
        chosen = next(([s] for s in recorded if _has_books(log, s.id)), [])
        if not chosen:
            raise BacktestError(f"no session in {log.path} holds any BookSnapshot")
    if not any(_has_books(log, s.id) for s in chosen):
        which = ", ".join(str(s.id) for s in chosen)
        raise BacktestError(f"no BookSnapshot in session {which} of {log.path}")
    return chosen


def _has_books(log: EventLog, sid: int) -> bool:
    return next(iter(log.events(sid, types=(BookSnapshot,))), None) is not None


Market = tuple[str, str]  # (asset, fiat)


def tapes(log: EventLog, sessions: Sequence[SessionInfo],
          market: Market | None = None) -> Iterator[SessionTape]:
    """Yield a lazily read SessionTape per session, with its first MyAdsLoaded's ads; with
    `market`, only that market's books and ads."""
    for s in sessions:
        loaded = next(iter(log.events(s.id, types=(MyAdsLoaded,))), None)
        ads = loaded.event.ads if loaded else ()
        books = log.events(s.id, types=(BookSnapshot,))
        if market is not None:
            ads = tuple(a for a in ads if (a.asset, a.fiat) == market)
            books = _of_market(books, market)
        yield SessionTape(session=s.id, my_ads=ads, envelopes=books)


def _of_market(envelopes, market: Market):
    for env in envelopes:
        if (env.event.asset, env.event.fiat) == market:
            yield env


def recorded_markets(session: SessionInfo) -> list[Market]:
    """The markets a session ran with, in config order ([[markets]], or its one [market])."""
    try:
        raw = msgspec.json.decode(session.config)
        bot = raw.get("bot", raw) if isinstance(raw, dict) else {}
        entries = bot.get("markets") or [bot.get("market") or {}]
        return [(m.get("asset", "USDT"), m.get("fiat", "NGN")) for m in entries]
    except (msgspec.DecodeError, AttributeError):
        return [("USDT", "NGN")]


def pick_markets(sessions: Sequence[SessionInfo], wanted: str | None) -> list[Market]:
    """The markets to backtest: `wanted` ("ASSET/FIAT"), else every market the sessions ran.

    Raises:
        BacktestError: `wanted` is not ASSET/FIAT, or no session traded it.
    """
    known = list(dict.fromkeys(m for s in sessions for m in recorded_markets(s)))
    if wanted is None:
        return known
    asset, sep, fiat = wanted.strip().upper().partition("/")
    if not sep or not asset or not fiat:
        raise BacktestError(f"--market wants ASSET/FIAT (e.g. USDT/NGN), got {wanted!r}")
    if (asset, fiat) not in known:
        names = ", ".join(f"{a}/{f}" for a, f in known)
        raise BacktestError(f"--market {asset}/{fiat}: the sessions traded {names}")
    return [(asset, fiat)]


def recorded_ads(log: EventLog, sessions: Sequence[SessionInfo]) -> list[MyAd]:
    """Return the recorded ads the backtest prices: in each session's first MyAdsLoaded, the
    first of each (side, asset, fiat), as `backtest.side.virtual_ad` picks them."""
    ads: dict[tuple[int, str, str, str], MyAd] = {}
    for s in sessions:
        loaded = next(iter(log.events(s.id, types=(MyAdsLoaded,))), None)
        for ad in loaded.event.ads if loaded else ():
            ads.setdefault((s.id, ad.side, ad.asset, ad.fiat), ad)
    return list(ads.values())


def check_ad_sets(keys: Sequence[str], ads: Sequence[MyAd], ids: Sequence[int]) -> None:
    """Refuse a per-ad setting for an advNo that no side of the backtest is priced as.

    Raises:
        BacktestError: one line naming the advNo and the ads that are there.
    """
    known = {ad.adv_no for ad in ads}
    for key in keys:
        adv_no = (split_ad_key(key) or (None,))[0]
        if adv_no is not None and adv_no not in known:
            there = ", ".join(f"{ad.adv_no} ({ad.side})" for ad in ads) or "none"
            raise BacktestError(
                f"ads.overrides names advNo {adv_no} which is not the recorded ad of any side "
                f"in session {', '.join(map(str, ids))} (recorded ads: {there})")


def recorded_overrides(session: SessionInfo) -> dict[str, AdOverride]:
    """Return the [ads.overrides] the session ran with (none where absent or unreadable)."""
    try:
        raw = msgspec.json.decode(session.config)
        raw = raw["bot"]["ads"]["overrides"]
        return msgspec.convert(raw, dict[str, AdOverride], strict=False)
    except (msgspec.DecodeError, msgspec.ValidationError, KeyError, TypeError):
        return {}


def recorded_config(session: SessionInfo) -> tuple[StrategyParams, FiltersConfig]:
    """Return the [strategy] and [filters] the session ran with (defaults where unreadable).

    Sessions the bot ran store the whole bot.toml under "bot" (`actors.config.config_json`);
    a bare {"strategy": ..., "filters": ...} is read too. Keys the recorded strategy does not
    take (sessions stored before each strategy owned its keys held every one) are dropped.
    """
    try:
        raw = msgspec.json.decode(session.config)
        if isinstance(raw.get("bot"), dict):
            raw = raw["bot"]
        cfg = decode_params(raw.get("strategy", {}), lenient=True)
        filters = msgspec.convert(raw.get("filters", {}), FiltersConfig, strict=False)
    except (msgspec.DecodeError, msgspec.ValidationError, ParamsError, AttributeError,
            TypeError):
        return default_params(), FiltersConfig()
    return cfg, filters


def _split(item: str, what: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise BacktestError(f"{what} wants key=value, got {item!r}")
    try:
        ad = split_ad_key(key)
    except ConfigError as exc:
        raise BacktestError(str(exc)) from None
    if ad is not None:
        if ad[1] not in OVERRIDE_KEYS:
            raise BacktestError(f"unknown setting {key!r} (per ad: {', '.join(OVERRIDE_KEYS)})")
    elif key not in _STRATEGY_KEYS and key.removeprefix(FILTERS_PREFIX) not in _FILTER_KEYS:
        raise BacktestError(
            f"unknown setting {key!r} (strategy: {', '.join(_STRATEGY_KEYS)}; "
            f"filters: {', '.join(FILTERS_PREFIX + k for k in _FILTER_KEYS)}; "
            f"per ad: ads.overrides.<advNo>.<key>)")
    return key, value.strip()


def parse_sets(items: Sequence[str]) -> dict[str, str]:
    """Parse --set key=value items.

    Raises:
        BacktestError: malformed item or unknown key.
    """
    return dict(_split(item, "--set") for item in items)


def apply_sets(cfg: StrategyParams, filters: FiltersConfig,
               sets: dict[str, str]) -> tuple[StrategyParams, FiltersConfig]:
    """Return `cfg` and `filters` with `sets` applied (filters keys prefixed "filters.";
    per-ad keys are left to `apply_ad_sets`).

    Raises:
        BacktestError: a value that does not fit its field, or a key `cfg`'s strategy does not
            take.
    """
    strat = msgspec.to_builtins(cfg)
    filt = msgspec.to_builtins(filters)
    for key, value in sets.items():
        if key.startswith(OVERRIDE_PREFIX):
            continue
        if key.startswith(FILTERS_PREFIX):
            filt[key.removeprefix(FILTERS_PREFIX)] = cli_value(key, value)
        else:
            strat[key] = value
    try:
        return (decode_params(strat),
                msgspec.convert(filt, FiltersConfig, strict=False))
    except ParamsError as exc:
        raise BacktestError(f"bad --set value: {exc}") from None
    except msgspec.ValidationError as exc:
        raise BacktestError(f"bad --set value: {exc}") from None


def apply_ad_sets(cfg: StrategyParams, filters: FiltersConfig, overrides: dict[str, AdOverride],
                  sets: dict[str, str]) -> dict[str, AdOverride]:
    """Return `overrides` with the per-ad `sets` (`ads.overrides.<advNo>.<key>`) applied, each
    checked merged over `cfg` and `filters` as bot.toml's are.

    Raises:
        BacktestError: a non-digit advNo, or a value that does not fit or is out of range.
    """
    raw = {adv_no: msgspec.to_builtins(o) for adv_no, o in overrides.items()}
    for key, value in sets.items():
        ad = split_ad_key(key)
        if ad is not None:
            raw.setdefault(ad[0], {})[ad[1]] = cli_value(ad[1], value)
    try:
        return decode_overrides(raw, cfg, filters)
    except ConfigError as exc:
        raise BacktestError(str(exc)) from None


def parse_sweeps(items: Sequence[str]) -> list[dict[str, str]]:
    """Expand --sweep key=a:b:step items into the grid of settings, first key slowest.

    Raises:
        BacktestError: malformed range, non-positive step, unknown key, or a grid too large.
    """
    axes = []
    for item in items:
        key, spec = _split(item, "--sweep")
        axes.append([(key, str(v)) for v in _range(key, spec)])
    grid = 1
    for axis in axes:
        grid *= len(axis)
    if grid > MAX_GRID:
        raise BacktestError(f"--sweep grid has {grid} points; at most {MAX_GRID}")
    return [dict(point) for point in itertools.product(*axes)]


def _range(key: str, spec: str) -> list[Decimal]:
    try:
        start, stop, step = (Decimal(p) for p in spec.split(":"))
    except (ValueError, InvalidOperation):
        raise BacktestError(f"--sweep {key} wants a:b:step, got {spec!r}") from None
    if step <= 0 or stop < start:
        raise BacktestError(f"--sweep {key}={spec}: need step > 0 and a <= b")
    if (stop - start) / step >= MAX_GRID:
        raise BacktestError(f"--sweep {key}={spec} has more than {MAX_GRID} values")
    values, v = [], start
    while v <= stop:
        values.append(v)
        v += step
    return values
