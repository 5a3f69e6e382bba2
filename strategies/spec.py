"""What a strategy is, declared once in its own module: its name, its function, its parameters
and one line a merchant reads in README's table and in `--help`. `strategies.registry` lists
these; adding a strategy is one module with a `SPEC` (and its tests) plus its line there.
"""

from __future__ import annotations

from typing import Callable

import msgspec

from events import BookSnapshot, MyAd
from strategies.params import FiltersConfig, StrategyParams
from strategies.quote import Quote

StrategyFn = Callable[[BookSnapshot, MyAd, StrategyParams, FiltersConfig, BookSnapshot | None],
                      Quote]


class StrategySpec(msgspec.Struct, frozen=True, kw_only=True):
    """One strategy: `fn(book, my_ad, params, filters, opposite) -> Quote` and its `params`
    Struct, tagged `name`."""

    name: str
    fn: StrategyFn
    params: type[StrategyParams]
    about: str
