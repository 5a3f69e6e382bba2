"""The one place strategies are registered, by the name bot.toml's `strategy.name` and the
backtester's --strategy spell them. README's table and `--help` list them from here.

    [strategy]          ->  decode_params({"name": "rank", "rank": 2})  ->  RankParams(rank=2)
"""

from __future__ import annotations

from typing import Union

import msgspec

from strategies import rank, spread, undercut
from strategies.params import COMMON_KEYS, StrategyParams, convert
from strategies.quote import UnknownStrategy
from strategies.spec import StrategySpec

DEFAULT = "undercut"  # the strategy of a [strategy] table that names none

STRATEGIES: dict[str, StrategySpec] = {s.name: s for s in (
    undercut.SPEC,
    rank.SPEC,
    spread.SPEC,
)}

# The tagged union of every registered strategy's parameters (msgspec picks by "name").
AnyParams = Union[tuple(s.params for s in STRATEGIES.values())]  # type: ignore[valid-type]


class ParamsError(ValueError):
    """A [strategy] table cannot be used; the message names the key, in one line."""


def get_strategy(name: str) -> StrategySpec:
    """Return the strategy registered as `name`.

    Raises:
        UnknownStrategy: no such name; its message lists the known ones.
    """
    try:
        return STRATEGIES[name]
    except KeyError:
        raise UnknownStrategy(name, sorted(STRATEGIES)) from None


def keys_of(name: str) -> tuple[str, ...]:
    """Return the keys strategy `name` takes, its own after the common ones."""
    fields = get_strategy(name).params.__struct_fields__
    return (*COMMON_KEYS, *(k for k in fields if k not in COMMON_KEYS))


def own_keys(name: str) -> tuple[str, ...]:
    """Return the keys only strategy `name` takes (none for `undercut`)."""
    return tuple(k for k in keys_of(name) if k not in COMMON_KEYS)


def all_keys() -> tuple[str, ...]:
    """Return every key some strategy takes: "name", the common ones, then each one's own."""
    return ("name", *COMMON_KEYS, *(k for n in STRATEGIES for k in own_keys(n)))


def default_params() -> StrategyParams:
    """The parameters of an empty [strategy] table."""
    return STRATEGIES[DEFAULT].params()


def retag(params: StrategyParams, name: str) -> StrategyParams:
    """Return `params` as strategy `name`'s: the common keys kept, keys `name` lacks dropped."""
    if params.name == name:
        return params
    return convert(params, get_strategy(name).params)


def foreign_keys(raw: dict, name: str) -> list[str]:
    """Return the keys of `raw` that strategy `name` does not take."""
    return [k for k in raw if k != "name" and k not in keys_of(name)]


def decode_params(raw: dict, *, where: str = "strategy", lenient: bool = False,
                  default: str = DEFAULT) -> StrategyParams:
    """Decode a [strategy] table (values as TOML or a command line gives them).

    Args:
        where: the table's path in messages ("strategy", 'ads.overrides."123"').
        lenient: drop keys the named strategy does not take instead of refusing them (for
            configs stored by sessions that ran before strategies owned their keys).
        default: the name when `raw` gives none.

    Raises:
        ParamsError: an unknown strategy, a key it does not take, or a value of the wrong type.
    """
    raw = dict(raw)
    name = raw.setdefault("name", default)
    if not isinstance(name, str) or name not in STRATEGIES:
        raise ParamsError(f"{where}.name: {UnknownStrategy(str(name), sorted(STRATEGIES))}")
    foreign = foreign_keys(raw, name)
    if foreign and not lenient:
        raise ParamsError(f"{where}.{foreign[0]}: not a key of strategy {name!r} "
                          f"(its keys: {', '.join(keys_of(name))})")
    for key in foreign:
        del raw[key]
    try:
        return msgspec.convert(raw, AnyParams, strict=False)
    except msgspec.ValidationError as exc:
        raise ParamsError(f"{where}: {exc}") from None


def table() -> list[tuple[str, str, tuple[str, ...]]]:
    """Return (name, one line about it, its own keys) per registered strategy."""
    return [(s.name, s.about, own_keys(s.name)) for s in STRATEGIES.values()]


def help_lines() -> str:
    """The strategies, one per line, as `--help` shows them."""
    width = max(map(len, STRATEGIES))
    lines = []
    for name, about, keys in table():
        extra = f" (keys: {', '.join(keys)})" if keys else ""
        lines.append(f"  {name:<{width}}  {about}{extra}")
    return "\n".join(lines)
