"""Pricing strategies as pure functions, shared by the ads actor and the backtester.

    from strategies import evaluate, RateCap
    quote = evaluate(cfg.name, book, my_ad, cfg, filters, opposite, rate_cap=cap, now_s=now)
"""

from strategies.book import competitors
from strategies.params import FiltersConfig, StrategyConfig
from strategies.pipeline import evaluate, tick_of
from strategies.quote import Quote, RateCap, UnknownStrategy
from strategies.registry import STRATEGIES, StrategyFn, get_strategy

__all__ = [
    "STRATEGIES",
    "FiltersConfig",
    "Quote",
    "RateCap",
    "StrategyConfig",
    "StrategyFn",
    "UnknownStrategy",
    "competitors",
    "evaluate",
    "get_strategy",
    "tick_of",
]
