"""Parameters of the pricing strategies and of the competitor filters (bot.toml's [strategy] and
[filters]), owned here so that the ads actor and the backtester share one definition."""

from __future__ import annotations

from decimal import Decimal

import msgspec


class StrategyConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    name: str = "undercut"
    step: Decimal = Decimal("0.01")
    floor: Decimal = Decimal("0")  # a SELL ad is never priced below this
    ceiling: Decimal = Decimal("1000000")  # a BUY ad is never priced above this
    deadband_ticks: int = 0  # ignore moves smaller than this many steps
    max_reprices_per_min: int = 30
    # Seconds between two reprices of one ad: Binance answers bursts with 83628 and a 30 s wait.
    min_reprice_gap_s: float = 1.2
    rank: int = 2  # "rank": the place to hold
    min_margin: Decimal = Decimal("0")  # "spread": fiat kept against the opposite side's best
    # Price-war guard (strategies.war): None is "on for the strategies that chase the best".
    war_guard: bool | None = None
    war_rounds: int = 3  # answered undercuts of one competitor that make a war...
    war_window_s: float = 120.0  # ...within this many seconds
    war_cooldown_s: float = 300.0  # how long the guard then holds or backs off
    war_backoff_rank: int = 0  # 0: hold my price; N >= 1: price for rank N meanwhile


class FiltersConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    exclude_nicknames: tuple[str, ...] = ()
    min_month_orders: int = 0
    min_finish_rate: Decimal = Decimal("0")  # 0..1
    shared_pay_method: bool = True
    overlapping_limits: bool = True
    merchants_only: bool = False  # ads of advertisers EP-0 marks userType "user" never compete
