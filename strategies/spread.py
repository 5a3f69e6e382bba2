"""`spread`: undercut, but keep `min_margin` against the opposite side's best price.

A SELL ad stays at or above the best buyer's price + min_margin; a BUY ad at or below the best
seller's price - min_margin. No opposite book (or nobody in it passes the filters): hold
("no_opposite"), since the margin cannot be checked.
"""

from __future__ import annotations

from decimal import Decimal

from msgspec.structs import replace

from events import BookSnapshot, MyAd
from strategies.book import competitors, is_better, label, other_side
from strategies.params import FiltersConfig, StrategyParams
from strategies.quote import Quote
from strategies.spec import StrategySpec
from strategies.undercut import undercut


class SpreadParams(StrategyParams, frozen=True, tag="spread"):
    min_margin: Decimal = Decimal("0")  # fiat kept against the opposite side's best


def spread(book: BookSnapshot, my_ad: MyAd, cfg: SpreadParams, filters: FiltersConfig,
           opposite: BookSnapshot | None = None) -> Quote:
    """Undercut within `cfg.min_margin` of the opposite side's best (see the module)."""
    if opposite is None:
        return Quote(price=None, rule="no_opposite",
                     reason=f"no {other_side(my_ad.side)} book yet to keep the margin against; "
                            f"holding at {my_ad.price}")
    theirs = competitors(opposite, replace(my_ad, side=opposite.ad_side), filters)
    if not theirs:
        return Quote(price=None, rule="no_opposite",
                     reason=f"nobody in the {opposite.ad_side} book passes the filters; "
                            f"holding at {my_ad.price}")
    anchor = theirs[0]
    bound = (anchor.price + cfg.min_margin if my_ad.side == "SELL"
             else anchor.price - cfg.min_margin)
    quote = undercut(book, my_ad, cfg, filters, opposite)
    candidate = my_ad.price if quote.price is None else quote.price
    if not is_better(my_ad.side, candidate, bound):
        return quote
    return Quote(price=bound, rule="spread", competitor=anchor.adv_no,
                 competitor_price=anchor.price,
                 reason=f"{quote.reason}; but margin {cfg.min_margin} over best "
                        f"{opposite.ad_side.lower()}er {label(anchor)} at {anchor.price} "
                        f"keeps the price at {bound}")


SPEC = StrategySpec(name="spread", fn=spread, params=SpreadParams,
                    about="undercut, but keep `min_margin` against the opposite side's best")
