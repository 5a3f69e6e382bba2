"""Where a backtest's books and settings come from: sessions of the log, and --set / --sweep.

Settings start from the recorded session's own [strategy] and [filters] (the config it logged),
so a backtest answers "what if this session had run strategy X", then --set overrides them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from decimal import Decimal, InvalidOperation

from typing import TYPE_CHECKING

import msgspec

from events import BookSnapshot, MyAdsLoaded
from replay.backtest_engine import SessionTape
from strategies import FiltersConfig, StrategyConfig

if TYPE_CHECKING:
    from store import EventLog, SessionInfo

MAX_GRID = 10_000
FILTERS_PREFIX = "filters."
_STRATEGY_KEYS = tuple(f for f in StrategyConfig.__struct_fields__ if f != "name")
_FILTER_KEYS = FiltersConfig.__struct_fields__


class BacktestError(Exception):
    """The backtest cannot run as asked; the message is one line for the terminal."""


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


def tapes(log: EventLog, sessions: Sequence[SessionInfo]) -> Iterator[SessionTape]:
    """Yield a lazily read SessionTape per session, with its first MyAdsLoaded's ads."""
    for s in sessions:
        loaded = next(iter(log.events(s.id, types=(MyAdsLoaded,))), None)
        yield SessionTape(session=s.id, my_ads=loaded.event.ads if loaded else (),
                          envelopes=log.events(s.id, types=(BookSnapshot,)))


def recorded_config(session: SessionInfo) -> tuple[StrategyConfig, FiltersConfig]:
    """Return the [strategy] and [filters] the session ran with (defaults where unreadable).

    Sessions the bot ran store the whole bot.toml under "bot" (`actors.config.config_json`);
    a bare {"strategy": ..., "filters": ...} is read too.
    """
    try:
        raw = msgspec.json.decode(session.config)
        if isinstance(raw.get("bot"), dict):
            raw = raw["bot"]
        cfg = msgspec.convert(raw.get("strategy", {}), StrategyConfig, strict=False)
        filters = msgspec.convert(raw.get("filters", {}), FiltersConfig, strict=False)
    except (msgspec.DecodeError, msgspec.ValidationError, AttributeError):
        return StrategyConfig(), FiltersConfig()
    return cfg, filters


def _split(item: str, what: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise BacktestError(f"{what} wants key=value, got {item!r}")
    if key not in _STRATEGY_KEYS and key.removeprefix(FILTERS_PREFIX) not in _FILTER_KEYS:
        raise BacktestError(
            f"unknown setting {key!r} (strategy: {', '.join(_STRATEGY_KEYS)}; "
            f"filters: {', '.join(FILTERS_PREFIX + k for k in _FILTER_KEYS)})")
    return key, value.strip()


def parse_sets(items: Sequence[str]) -> dict[str, str]:
    """Parse --set key=value items.

    Raises:
        BacktestError: malformed item or unknown key.
    """
    return dict(_split(item, "--set") for item in items)


def apply_sets(cfg: StrategyConfig, filters: FiltersConfig,
               sets: dict[str, str]) -> tuple[StrategyConfig, FiltersConfig]:
    """Return `cfg` and `filters` with `sets` applied (filters keys prefixed "filters.").

    Raises:
        BacktestError: a value that does not fit its field.
    """
    strat = msgspec.to_builtins(cfg)
    filt = msgspec.to_builtins(filters)
    for key, value in sets.items():
        if key.startswith(FILTERS_PREFIX):
            name = key.removeprefix(FILTERS_PREFIX)
            filt[name] = _list_value(value) if name == "exclude_nicknames" else value
        else:
            strat[key] = value
    try:
        return (msgspec.convert(strat, StrategyConfig, strict=False),
                msgspec.convert(filt, FiltersConfig, strict=False))
    except msgspec.ValidationError as exc:
        raise BacktestError(f"bad --set value: {exc}") from None


def _list_value(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


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
