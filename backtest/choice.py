"""The choice model of the fill model, and its calibration from the recording itself.

A customer who comes to a side's book takes its i-th listed ad (1 = best) with probability

    p_i = decay**(i-1) * (1 - decay) / (1 - decay**n)        (n ads listed)

`decay` is the one parameter: 0.5 means half the customers take the best ad, a quarter the
second, and so on (what the simulator's customers do). `calibrate` estimates it by maximum
likelihood from the ranks at which the recording's orders landed (an order at an ad whose
price moved more than the tolerance during the interval has no known rank and is left out),
with at least `MIN_ORDERS` of them. An order's ad may change place between the two snapshots
around it; the customer came at one or the other, so its likelihood is the mean of the two
places' chances (as the fill model gives my ad the mean of its two chances); otherwise, or when `backtest.choice_decay` is set, the
configured value holds. It also measures, from the same recording, where my own ad's orders
sat between its limits, on average over both sides (the sizes customers bring to my ads), and
the reaction time: the median time from a reprice decided to the reprice acknowledged
(`AdRepriced`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import Decimal
from functools import lru_cache
from statistics import median

import msgspec

from actors.config import BacktestConfig
from events import AdRepriced, BookSnapshot, Envelope, RepriceDecided

DEFAULT_DECAY = Decimal("0.5")
MIN_ORDERS = 30
DECAY_QUANTUM = Decimal("0.001")
SHARE_QUANTUM = Decimal("0.0001")


class Calibration(msgspec.Struct, frozen=True, kw_only=True):
    """The fill model's parameters for one backtest, fitted or configured."""

    decay: Decimal = DEFAULT_DECAY
    order_share: Decimal | None = None  # my recorded ad's orders' mean place in its limits
    reaction_s: float = 0.0
    tolerance: Decimal = Decimal("0.001")
    pay_methods: bool = True
    fee_rate: Decimal = Decimal(0)
    orders_fitted: int = 0  # orders the decay was estimated on (0: configured)

    def describe(self) -> str:
        """One line for the terminal."""
        how = f"fitted on {self.orders_fitted} orders" if self.orders_fitted else "configured"
        size = ("the customer's own" if self.order_share is None else
                f"{self.order_share:.0%} of the way from my min to my max")
        return (f"fill model: choice decay {self.decay} ({how}); order size {size}; "
                f"reaction {self.reaction_s:.3f} s; fee {self.fee_rate} per side")


@lru_cache(maxsize=4096)
def choice_probability(rank: int, listed: int, decay: Decimal) -> Decimal:
    """Return the probability that a customer takes the ad at `rank` of `listed` ads."""
    if rank < 1 or rank > listed:
        return Decimal(0)
    return decay ** (rank - 1) * (1 - decay) / (1 - decay**listed)


def _p(q: float, r: int, n: int) -> float:
    return q ** (r - 1) * (1 - q) / (1 - q**n)


def _log_likelihood(q: float, obs: list[tuple[int, ...]]) -> float:
    total = 0.0
    for o in obs:
        if len(o) == 2:
            total += math.log(_p(q, *o))
        else:  # seen at two places, the earlier book's and the later's: the mean chance
            total += math.log((_p(q, o[0], o[1]) + _p(q, o[2], o[3])) / 2)
    return total


def fit_decay(observations: list[tuple[int, ...]]) -> Decimal:
    """Return the maximum-likelihood decay for (rank, listed) observations, or (rank, listed,
    later rank, later listed) ones for orders whose ad changed place during the interval."""
    lo, hi = 0.01, 0.99
    for _ in range(60):  # golden-section search; the likelihood is unimodal in q
        a, b = hi - (hi - lo) * 0.618, lo + (hi - lo) * 0.618
        if _log_likelihood(a, observations) < _log_likelihood(b, observations):
            lo = a
        else:
            hi = b
    return Decimal(repr((lo + hi) / 2)).quantize(DECAY_QUANTUM)


def measure_reaction(envelopes: Iterable[Envelope]) -> float | None:
    """Return the median seconds from a reprice decided to its ad repriced, None if none."""
    decided: dict[str, float] = {}
    delays: list[float] = []
    for env in envelopes:
        match env.event:
            case RepriceDecided(adv_no=adv_no, action="reprice"):
                decided[adv_no] = env.t
            case AdRepriced(adv_no=adv_no) if adv_no in decided:
                delays.append(env.t - decided.pop(adv_no))
    return median(delays) if delays else None


def calibrate(orders: Iterable[tuple[str, object]], reprices: Iterable[Envelope],
              cfg: BacktestConfig = BacktestConfig()) -> Calibration:
    """Fit the fill model on the recording.

    Args:
        orders: (side, `backtest.fills.Order`) for every order the recording shows.
        reprices: the recording's RepriceDecided and AdRepriced envelopes.
        cfg: the [backtest] settings; set values win over estimates.
    """
    ranks: list[tuple[int, int]] = []
    mine: list[Decimal] = []
    for _side, order in orders:
        if order.steady:
            ranks.append((order.rank, order.listed, order.later_rank or order.rank,
                          order.later_listed or order.listed))
        share = order.share() if order.mine else None
        if share is not None:
            mine.append(share)
    fitted = len(ranks) >= MIN_ORDERS and cfg.choice_decay is None
    decay = fit_decay(ranks) if fitted else cfg.choice_decay or DEFAULT_DECAY
    reaction = cfg.reaction_s if cfg.reaction_s is not None else measure_reaction(reprices)
    return Calibration(
        decay=decay, reaction_s=reaction or 0.0, tolerance=cfg.price_tolerance,
        order_share=(sum(mine, Decimal(0)) / len(mine)).quantize(SHARE_QUANTUM)
        if mine else None,
        pay_methods=cfg.pay_methods, fee_rate=cfg.fee_rate,
        orders_fitted=len(ranks) if fitted else 0)


def orders_of(snapshots: Iterable[BookSnapshot], tolerance: Decimal):
    """Yield (side, order) for the orders between consecutive snapshots of each side, the
    short ones patched as the backtest patches them."""
    from backtest.fills import detect_orders
    from backtest.side import patch_book

    last: dict[tuple[str, str, str], BookSnapshot] = {}
    for snap in snapshots:
        key = (snap.asset, snap.fiat, snap.ad_side)
        prev = last.get(key)
        book = snap if snap.complete or prev is None else patch_book(prev, snap)
        if prev is not None:
            for order in detect_orders(prev, book, tolerance):
                yield snap.ad_side, order
        last[key] = book
