"""What a backtest measures for one strategy, accumulated snapshot by snapshot.

- Filled volume (crypto) and its volume-weighted price (VWAP), per side and overall.
- vs best: my fill price against the market's best other ad during the fill's interval, signed
  so that positive is better for me (SELL: mine - best; BUY: best - mine), volume-weighted.
- Margin: my fill price against the opposite side's best other ad (the latest opposite
  snapshot), signed the same way (SELL: mine - best buyer; BUY: best seller - mine).
- Rank shares: the fraction of time my virtual ad sat at rank 1 and in the top 3 of its side,
  weighted by `t` (the state after a snapshot's decision holds until the next snapshot of that
  side). Rank counts every ad that is not mine at my price or better, ties ahead of me.
- Reprices and the request rate they cost: one EP-7 call each, over the sessions' duration,
  next to the account's 5 requests/s budget.
- Price wars: a streak of at least `WAR_MIN_REPRICES` consecutive reprices on one side, each
  answered within `WAR_WINDOW_S` by a competitor moving to my price or better (the count of ads
  at or ahead of my new price grows while I stand still), and each next reprice of mine coming
  within `WAR_WINDOW_S` of that answer. An unanswered reprice or a lull ends the streak.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from events import BookSnapshot

WAR_MIN_REPRICES = 3
WAR_WINDOW_S = 60.0
REQUEST_BUDGET_PER_S = Decimal(5)
SHARE_QUANTUM = Decimal("0.0001")
PRICE_QUANTUM = Decimal("0.00000001")


def ahead_of(book: BookSnapshot, price: Decimal) -> int:
    """Count the ads of `book`, not mine, at `price` or better for the customer."""
    n = 0
    if book.ad_side == "SELL":
        for ad in book.ads:
            if ad.price <= price and not ad.mine:
                n += 1
    else:
        for ad in book.ads:
            if ad.price >= price and not ad.mine:
                n += 1
    return n


def ratio(num: Decimal, den: Decimal, quantum: Decimal) -> Decimal | None:
    """Return num / den rounded to `quantum`, or None when den is 0."""
    if not den:
        return None
    return (num / den).quantize(quantum, rounding=ROUND_HALF_EVEN)


def seconds(x: float) -> Decimal:
    """Convert a float of seconds to Decimal through its shortest repr (10.0 -> 10.0, exactly)."""
    return Decimal(repr(x))


class WarTracker:
    """Count price-war episodes on one side (see the module docstring for the definition)."""

    def __init__(self) -> None:
        self.episodes = 0
        self._streak = 0
        self._pending: tuple[float, int] | None = None  # (t of my reprice, ads ahead after it)
        self._last_answer = 0.0

    @property
    def waiting(self) -> bool:
        """Whether my last reprice still awaits an answer."""
        return self._pending is not None

    def observe(self, t: float, ahead_now: int) -> None:
        """See the book at `t`, before my decision: `ahead_now` ads at or ahead of my price."""
        if self._pending is None:
            return
        since, ahead = self._pending
        if t - since > WAR_WINDOW_S:
            self._pending = None
            self._end_streak()
        elif ahead_now > ahead:
            self._pending = None
            self._streak += 1
            self._last_answer = t

    def repriced(self, t: float, ahead_after: int) -> None:
        """Note my reprice at `t`, after which `ahead_after` ads are at or ahead of me."""
        if self._pending is not None or t - self._last_answer > WAR_WINDOW_S:
            self._end_streak()
        self._pending = (t, ahead_after)

    def close(self) -> None:
        """End the run: an open streak counts if long enough."""
        self._pending = None
        self._end_streak()

    def _end_streak(self) -> None:
        if self._streak >= WAR_MIN_REPRICES:
            self.episodes += 1
        self._streak = 0


class SideFigures:
    """Fill totals of one side."""

    __slots__ = ("volume", "notional")

    def __init__(self) -> None:
        self.volume = Decimal(0)
        self.notional = Decimal(0)

    def vwap(self) -> Decimal | None:
        """Return the volume-weighted fill price, None without fills."""
        return ratio(self.notional, self.volume, PRICE_QUANTUM)


class Metrics:
    """Accumulate one strategy's figures across snapshots, sides and sessions."""

    def __init__(self) -> None:
        self.snapshots = 0
        self.reprices = 0
        self.wars = 0
        self.sides = {"SELL": SideFigures(), "BUY": SideFigures()}
        self._vs_best = self._vs_best_vol = Decimal(0)
        self._margin = self._margin_vol = Decimal(0)
        self._time = self._rank1 = self._top3 = 0.0

    def add_fill(self, side: str, qty: Decimal, price: Decimal, best: Decimal | None,
                 opposite_best: Decimal | None) -> None:
        """Count a fill of `qty` at `price` on `side`, against the market's best prices."""
        fig = self.sides[side]
        fig.volume += qty
        fig.notional += qty * price
        sign = 1 if side == "SELL" else -1
        if best is not None:
            self._vs_best += qty * sign * (price - best)
            self._vs_best_vol += qty
        if opposite_best is not None:
            self._margin += qty * sign * (price - opposite_best)
            self._margin_vol += qty

    def add_time(self, dt: float, rank: int) -> None:
        """Count `dt` seconds spent at `rank`."""
        self._time += dt
        if rank == 1:
            self._rank1 += dt
        if rank <= 3:
            self._top3 += dt

    @property
    def volume(self) -> Decimal:
        return self.sides["SELL"].volume + self.sides["BUY"].volume

    def vwap(self) -> Decimal | None:
        """Volume-weighted price over both sides (meaningful when one side traded)."""
        notional = self.sides["SELL"].notional + self.sides["BUY"].notional
        return ratio(notional, self.volume, PRICE_QUANTUM)

    def vs_best(self) -> Decimal | None:
        return ratio(self._vs_best, self._vs_best_vol, PRICE_QUANTUM)

    def margin(self) -> Decimal | None:
        return ratio(self._margin, self._margin_vol, PRICE_QUANTUM)

    def shares(self) -> tuple[Decimal, Decimal]:
        """Return the time shares at rank 1 and in the top 3."""
        total = seconds(self._time)
        rank1 = ratio(seconds(self._rank1), total, SHARE_QUANTUM)
        top3 = ratio(seconds(self._top3), total, SHARE_QUANTUM)
        return rank1 or Decimal(0), top3 or Decimal(0)

    def requests_per_s(self, duration_s: float) -> Decimal:
        """Return the reprice request rate over `duration_s` seconds."""
        rate = ratio(Decimal(self.reprices), seconds(duration_s), SHARE_QUANTUM)
        return rate or Decimal(0)
