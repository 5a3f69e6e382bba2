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
- Fills: the expected number of orders (the fill model's chances added up).
- Money (fiat, Decimal): realised spread PnL on the matched volume, min(bought, sold), at the
  two sides' VWAPs, less the fees on it; fees are `backtest.fee_rate` of every fill's notional
  (per side). Equity marks the unmatched inventory (bought - sold) to the mid of the two books'
  best other ads: cash from fills - all fees + inventory * mid, sampled at every snapshot; max
  drawdown is its largest fall from a running peak. The PnL's confidence interval resamples
  whole days of equity change (a seeded bootstrap, `BOOTSTRAP_REPS` draws, 5%..95%); it needs
  at least two days.
"""

from __future__ import annotations

import random
from decimal import ROUND_HALF_EVEN, Decimal

import msgspec

from events import BookSnapshot

WAR_MIN_REPRICES = 3
WAR_WINDOW_S = 60.0
REQUEST_BUDGET_PER_S = Decimal(5)
SHARE_QUANTUM = Decimal("0.0001")
PRICE_QUANTUM = Decimal("0.00000001")
MONEY_QUANTUM = Decimal("0.01")
DAY_S = 86400.0
BOOTSTRAP_REPS = 1000
BOOTSTRAP_SEED = 0


def realised_pnl(sell_qty: Decimal, sell_notional: Decimal, buy_qty: Decimal,
                 buy_notional: Decimal, fee_rate: Decimal = Decimal(0)) -> Decimal:
    """Return the spread earned on min(bought, sold) at the sides' VWAPs, less its fees."""
    matched = min(sell_qty, buy_qty)
    if matched <= 0:
        return Decimal(0)
    sold, bought = matched * sell_notional / sell_qty, matched * buy_notional / buy_qty
    return (sold - bought - fee_rate * (sold + bought)).quantize(MONEY_QUANTUM)


def bootstrap_ci(daily: list[Decimal], *, reps: int = BOOTSTRAP_REPS,
                 seed: int = BOOTSTRAP_SEED) -> tuple[Decimal, Decimal] | None:
    """Return the 5%..95% interval of the total of `daily` PnLs resampled by day, None with
    fewer than two days."""
    if len(daily) < 2:
        return None
    rng = random.Random(seed)
    totals = sorted(sum(rng.choices(daily, k=len(daily)), Decimal(0)) for _ in range(reps))
    return (totals[int(reps * 0.05)].quantize(MONEY_QUANTUM),
            totals[int(reps * 0.95) - 1].quantize(MONEY_QUANTUM))


class Money(msgspec.Struct, frozen=True, kw_only=True):
    """One strategy's money, in fiat."""

    pnl: Decimal  # realised on the matched volume, fees on it deducted
    fees: Decimal  # on every fill
    inventory: Decimal  # crypto bought - sold
    equity: Decimal  # cash - fees + inventory at the last mid
    max_drawdown: Decimal
    pnl_ci: tuple[Decimal, Decimal] | None = None  # of the equity change, by day
    days: int = 0


class Equity:
    """Cash, inventory and the equity curve of one strategy."""

    def __init__(self, fee_rate: Decimal) -> None:
        self.fee_rate = fee_rate
        self.cash = self.fees = self.inventory = Decimal(0)
        self.mid: Decimal | None = None
        self.peak = self.drawdown = Decimal(0)
        self.day_end: dict[int, Decimal] = {}
        self.curve: list[tuple[float, Decimal]] | None = None

    def fill(self, side: str, qty: Decimal, price: Decimal) -> None:
        notional = qty * price
        self.fees += self.fee_rate * notional
        if side == "SELL":  # my SELL ad sold crypto
            self.cash += notional
            self.inventory -= qty
        else:
            self.cash -= notional
            self.inventory += qty

    def value(self) -> Decimal:
        marked = self.inventory * self.mid if self.mid is not None else Decimal(0)
        return self.cash - self.fees + marked

    def mark(self, t: float, mid: Decimal | None) -> None:
        """Sample the equity at `t` with the books' mid (None: the last one)."""
        if mid is not None:
            self.mid = mid
        value = self.value()
        self.peak = max(self.peak, value)
        self.drawdown = max(self.drawdown, self.peak - value)
        self.day_end[int(t // DAY_S)] = value
        if self.curve is not None and (not self.curve or self.curve[-1][1] != value):
            self.curve.append((t, value))

    def daily(self) -> list[Decimal]:
        out, last = [], Decimal(0)
        for day in sorted(self.day_end):
            out.append(self.day_end[day] - last)
            last = self.day_end[day]
        return out


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

    def __init__(self, fee_rate: Decimal = Decimal(0)) -> None:
        self.snapshots = 0
        self.reprices = 0
        self.fills = Decimal(0)
        self.equity = Equity(fee_rate)
        self.wars = 0
        self.sides = {"SELL": SideFigures(), "BUY": SideFigures()}
        self._vs_best = self._vs_best_vol = Decimal(0)
        self._margin = self._margin_vol = Decimal(0)
        self._time = self._rank1 = self._top3 = 0.0

    def add_fill(self, side: str, qty: Decimal, price: Decimal, best: Decimal | None,
                 opposite_best: Decimal | None, chance: Decimal = Decimal(1)) -> None:
        """Count a fill of `qty` at `price` on `side`, against the market's best prices;
        `chance` is its share of an order (the fills count adds it)."""
        self.fills += chance
        self.equity.fill(side, qty, price)
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

    def money(self) -> Money:
        """Return the money figures so far."""
        eq, sell, buy = self.equity, self.sides["SELL"], self.sides["BUY"]
        daily = eq.daily()
        return Money(
            pnl=realised_pnl(sell.volume, sell.notional, buy.volume, buy.notional,
                             eq.fee_rate),
            fees=eq.fees.quantize(MONEY_QUANTUM), inventory=eq.inventory,
            equity=eq.value().quantize(MONEY_QUANTUM),
            max_drawdown=eq.drawdown.quantize(MONEY_QUANTUM), pnl_ci=bootstrap_ci(daily),
            days=len(daily))

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
