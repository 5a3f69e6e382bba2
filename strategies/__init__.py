"""Pricing strategies as pure functions, shared by the ads actor and the backtester.

    from strategies import evaluate, RateCap, decode_params
    cfg = decode_params({"name": "rank", "rank": 2})
    quote = evaluate(book, my_ad, cfg, filters, opposite, rate_cap=cap, now_s=now)

Each strategy is one module (`undercut`, `rank`, `spread`) declaring its parameters and a
`SPEC`; `strategies.registry` lists them.
"""

from strategies.book import competitors
from strategies.params import FiltersConfig, StrategyParams
from strategies.pipeline import evaluate, tick_of
from strategies.quote import Quote, RateCap, UnknownStrategy
from strategies.rank import RankParams
from strategies.registry import (STRATEGIES, AnyParams, ParamsError, decode_params,
                                 default_params, get_strategy, keys_of, retag)
from strategies.spec import StrategyFn, StrategySpec
from strategies.spread import SpreadParams
from strategies.undercut import UndercutParams

__all__ = [
    "STRATEGIES",
    "AnyParams",
    "FiltersConfig",
    "ParamsError",
    "Quote",
    "RankParams",
    "RateCap",
    "SpreadParams",
    "StrategyFn",
    "StrategyParams",
    "StrategySpec",
    "UndercutParams",
    "UnknownStrategy",
    "competitors",
    "decode_params",
    "default_params",
    "evaluate",
    "get_strategy",
    "keys_of",
    "retag",
    "tick_of",
]
