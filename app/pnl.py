"""Profit in view: realised spread PnL and inventory per market from the session's fills.

A fill is an order of mine that completed (status 4, reference §6): its OrderOpened, built from
EP-13's details by the orders actor, gives the side of my ad, the crypto amount and the fiat
total. The definitions are the backtest's (`backtest.metrics.SideFigures`):

- bought / sold: crypto filled on my BUY / SELL ads; their VWAPs: fiat over crypto.
- matched: the volume both bought and sold, min(bought, sold).
- realised spread PnL: matched × (sell VWAP − buy VWAP), in fiat. The unmatched rest is open.
- inventory: net bought minus sold (crypto; negative when more was sold than bought).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import msgspec

from backtest.metrics import SideFigures
from events import Event, OrderOpened, OrderStatusChanged

COMPLETED = 4
_CENT = Decimal("0.01")


class MarketPnl(msgspec.Struct, frozen=True, kw_only=True):
    """One market's figures (see the module docstring); money is Decimal."""

    asset: str
    fiat: str
    bought: Decimal
    sold: Decimal
    buy_vwap: Decimal | None
    sell_vwap: Decimal | None
    matched: Decimal
    realised: Decimal  # fiat
    inventory: Decimal  # crypto

    @property
    def market(self) -> str:
        return f"{self.asset}/{self.fiat}"

    def line(self) -> str:
        """One line for a merchant: the market, realised PnL, inventory and the volumes."""
        return (f"{self.market}: realised {self.realised.quantize(_CENT):,} {self.fiat} on "
                f"{self.matched} matched, inventory {self.inventory:+} {self.asset} "
                f"(bought {self.bought}, sold {self.sold})")


class PnlFold:
    """Fold order events into fills per market; `figures()` reads the result."""

    def __init__(self) -> None:
        self._orders: dict[str, OrderOpened] = {}
        self._filled: set[str] = set()
        self._sides: dict[tuple[str, str], dict[str, SideFigures]] = {}

    def apply(self, event: Event) -> None:
        """Fold one event (anything but OrderOpened and OrderStatusChanged is ignored)."""
        if isinstance(event, OrderOpened):
            self._orders.setdefault(event.order_no, event)
            if event.status == COMPLETED:
                self._fill(event.order_no)
        elif isinstance(event, OrderStatusChanged) and event.new_status == COMPLETED:
            self._fill(event.order_no)

    def _fill(self, order_no: str) -> None:
        order = self._orders.get(order_no)
        if order is None or order_no in self._filled or order.side not in ("BUY", "SELL"):
            return  # an order this session never saw opened has no details to count
        self._filled.add(order_no)
        sides = self._sides.setdefault((order.asset, order.fiat),
                                       {"BUY": SideFigures(), "SELL": SideFigures()})
        fig = sides[order.side]
        fig.volume += order.amount
        fig.notional += order.total_price or order.amount * order.price

    def figures(self) -> list[MarketPnl]:
        """Return one MarketPnl per market with a fill, in the order first filled."""
        return [_market(asset, fiat, sides) for (asset, fiat), sides in self._sides.items()]


def _market(asset: str, fiat: str, sides: dict[str, SideFigures]) -> MarketPnl:
    buy, sell = sides["BUY"], sides["SELL"]
    matched = min(buy.volume, sell.volume)
    buy_vwap, sell_vwap = buy.vwap(), sell.vwap()
    realised = (matched * (sell_vwap - buy_vwap) if matched and buy_vwap is not None
                and sell_vwap is not None else Decimal(0))
    return MarketPnl(asset=asset, fiat=fiat, bought=buy.volume, sold=sell.volume,
                     buy_vwap=buy_vwap, sell_vwap=sell_vwap, matched=matched, realised=realised,
                     inventory=buy.volume - sell.volume)


def session_pnl(events: Iterable[Event]) -> list[MarketPnl]:
    """Return realised spread PnL and inventory per market from a session's events."""
    fold = PnlFold()
    for event in events:
        fold.apply(event)
    return fold.figures()
