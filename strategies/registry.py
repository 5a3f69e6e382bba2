"""Strategies by name, as bot.toml's `strategy.name` and the backtester's --strategy spell them."""

from __future__ import annotations

from typing import Callable

from events import BookSnapshot, MyAd
from strategies.params import FiltersConfig, StrategyConfig
from strategies.pricing import rank, spread, undercut
from strategies.quote import Quote, UnknownStrategy

StrategyFn = Callable[[BookSnapshot, MyAd, StrategyConfig, FiltersConfig, BookSnapshot | None],
                      Quote]

STRATEGIES: dict[str, StrategyFn] = {
    "undercut": undercut,
    "rank": rank,
    "spread": spread,
}


def get_strategy(name: str) -> StrategyFn:
    """Return the strategy registered as `name`.

    Raises:
        UnknownStrategy: no such name; its message lists the known ones.
    """
    try:
        return STRATEGIES[name]
    except KeyError:
        raise UnknownStrategy(name, sorted(STRATEGIES)) from None
