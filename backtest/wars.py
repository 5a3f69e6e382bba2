"""What price wars cost a strategy in a backtest, with the war guard acting or only watching.

The war guard (`strategies.war`) runs in every backtest: acting when the strategy's settings turn
it on, watching otherwise, so the same definition of a round and a war measures both.

- Ratchet: the fiat per unit my price moved in rounds (answers to the same competitor's
  undercut), summed. Without the guard it grows with every round; with it, a war stops it.
- Cost: fiat given away on fills during a fight: each fill's quantity times the price given in
  that fight's rounds so far (`WarGuard.conceded`: the market's own moves between rounds are
  not counted; with the guard acting, the rounds stop at the war and so does the cost).
"""

from __future__ import annotations

from decimal import Decimal

from strategies.war import WarGuard


class WarCost:
    """The ratchet and the cost of one side's price wars (see the module docstring)."""

    __slots__ = ("ratchet", "fiat")

    def __init__(self) -> None:
        self.ratchet = Decimal(0)
        self.fiat = Decimal(0)

    def repriced(self, was_round: bool, old: Decimal, new: Decimal) -> None:
        """Count a reprice from `old` to `new`; only a round moves the ratchet."""
        if was_round:
            self.ratchet += abs(new - old)

    def filled(self, guard: WarGuard, qty: Decimal, t: float) -> None:
        """Count a fill of `qty` at `t`."""
        self.fiat += qty * guard.conceded(t)

    def add(self, other: WarCost) -> None:
        self.ratchet += other.ratchet
        self.fiat += other.fiat
