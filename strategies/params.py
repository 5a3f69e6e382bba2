"""Parameters of the pricing strategies and of the competitor filters (bot.toml's [strategy] and
[filters]), owned here so that the ads actor and the backtester share one definition.

Each strategy owns its parameters: a Struct subclassing `StrategyParams` (the keys every strategy
shares: the step, the bounds, the deadband, the rate cap and the war guard) and tagged with the
strategy's name, so `[strategy] name = "rank"` decodes into `RankParams` and a key another
strategy owns is refused. The union of the registered ones is `strategies.registry.AnyParams`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

import msgspec


class StrategyParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True,
                     tag_field="name"):
    """The keys every strategy takes; a strategy's own Struct subclasses it with `tag=NAME`."""

    step: Decimal = Decimal("0.01")
    floor: Decimal = Decimal("0")  # a SELL ad is never priced below this
    ceiling: Decimal = Decimal("1000000")  # a BUY ad is never priced above this
    deadband_ticks: int = 0  # ignore moves smaller than this many steps
    max_reprices_per_min: int = 30
    # Seconds between two reprices of one ad: Binance answers bursts with 83628 and a 30 s wait.
    min_reprice_gap_s: float = 1.2
    # Price-war guard (strategies.war): None is "on when the strategy chases the best".
    war_guard: bool | None = None
    war_rounds: int = 3  # answered undercuts of one competitor that make a war...
    war_window_s: float = 120.0  # ...within this many seconds
    war_cooldown_s: float = 300.0  # how long the guard then holds or backs off
    war_backoff_rank: int = 0  # 0: hold my price; N >= 1: price for rank N meanwhile

    # Whether the strategy's quote chases the best competitor: the war guard's default.
    chases_best: ClassVar[bool] = True

    @property
    def name(self) -> str:
        """The strategy these parameters are for (the Struct's tag)."""
        return self.__struct_config__.tag

    def problems(self) -> dict[str, str]:
        """Return key -> the rest of a sentence that starts with the key, for each bad value."""
        checks = {
            "step": (self.step <= 0, " must be > 0"),
            "max_reprices_per_min": (self.max_reprices_per_min < 0, " must be >= 0"),
            "min_reprice_gap_s": (self.min_reprice_gap_s < 0, " must be >= 0"),
            "war_rounds": (self.war_rounds < 1, " must be >= 1"),
            "war_window_s": (self.war_window_s <= 0, " must be > 0"),
            "war_cooldown_s": (self.war_cooldown_s < 0, " must be >= 0"),
            "war_backoff_rank": (self.war_backoff_rank < 0, " must be >= 0 (0 holds)"),
        }
        return {key: why for key, (bad, why) in checks.items() if bad}


COMMON_KEYS = StrategyParams.__struct_fields__


def convert(params: StrategyParams, to: type[StrategyParams], **keys) -> StrategyParams:
    """Return `params` as `to`'s parameters: the keys `to` has are kept, then `keys` set."""
    own = {k: getattr(params, k) for k in to.__struct_fields__ if k in params.__struct_fields__}
    return to(**{**own, **keys})


class FiltersConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    exclude_nicknames: tuple[str, ...] = ()
    min_month_orders: int = 0
    min_finish_rate: Decimal = Decimal("0")  # 0..1
    shared_pay_method: bool = True
    overlapping_limits: bool = True
    merchants_only: bool = False  # ads of advertisers EP-0 marks userType "user" never compete
